// Node only (build.sh pastes this into node/index.cjs after net.js): the node:http(s)
// transport of HttpAcceptor/NodeClient, `serve(acceptor, ...)`, and `FileLog`.
function setupNodeNet(api) {
  const http = require('node:http');
  const https = require('node:https');
  const crypto = require('node:crypto');
  const fs = require('node:fs');
  const path = require('node:path');
  const { SynodosError, encodeMessage, decodeMessage } = api;

  // --- the transport: keep-alive Agents per client (about 0.33 ms a call, against about
  // 1.4 ms for fetch in Node) ---
  const open = (agents, options, onResponse, onError) => {
    const url = new URL(options.url);
    const isHttps = url.protocol === 'https:';
    const headers = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const req = (isHttps ? https : http).request(url, {
      method: options.method,
      headers,
      agent: isHttps ? agents.https() : agents.http(),
    });
    req.on('response', onResponse);
    req.on('error', onError);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
    return req;
  };
  const request = (agents, options) => {
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (f, v) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        f(v);
      };
      const req = open(
        agents,
        options,
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            finish(resolve, { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', (e) => finish(reject, e));
          // After 'end' this does nothing; before it, the answer was cut short.
          res.on('close', () => finish(reject, new Error('the connection closed before the answer was complete')));
        },
        (e) => finish(reject, e),
      );
      const timer = setTimeout(() => {
        finish(reject, new Error(`no answer within ${options.timeoutMs} ms`));
        req.destroy();
      }, options.timeoutMs);
    });
  };
  const stream = (agents, options) =>
    new Promise((resolve, reject) => {
      let settled = false;
      const req = open(
        agents,
        options,
        (res) => {
          settled = true;
          clearTimeout(timer);
          res.setEncoding('utf8');
          const idleMs = options.idleMs ?? 30000;
          // A stream that says nothing (not even a heartbeat) for idleMs is dead.
          const chunks = (async function* () {
            let idle;
            const arm = () => {
              clearTimeout(idle);
              idle = setTimeout(() => res.destroy(new Error(`nothing for ${idleMs} ms`)), idleMs);
            };
            arm();
            try {
              for await (const chunk of res) {
                arm();
                yield chunk;
              }
            } finally {
              clearTimeout(idle);
            }
          })();
          resolve({ status: res.statusCode, headers: res.headers, chunks, close: () => req.destroy() });
        },
        (e) => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(e);
          }
        },
      );
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(new Error(`no answer within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
    });
  const transport = {
    pool(tls) {
      let plain;
      let secure;
      const agents = {
        http: () => (plain ??= new http.Agent({ keepAlive: true, maxSockets: 256 })),
        https: () =>
          (secure ??= new https.Agent({ keepAlive: true, maxSockets: 256, ca: tls.ca, cert: tls.cert, key: tls.key })),
      };
      return {
        request: (options) => request(agents, options),
        stream: (options) => stream(agents, options),
        // Idle keep-alive sockets are unref'd by Node; destroying the agents closes them now.
        close() {
          plain?.destroy();
          secure?.destroy();
          plain = undefined;
          secure = undefined;
        },
      };
    },
  };
  const net = setupNet(api, transport);

  // --- serve(): the acceptor API of `synodos serve` over node:http(s) ---
  const ROUTES = new Set(['/v1/prepare', '/v1/accept', '/v1/accept-batch', '/v1/observe', '/v1/info']);
  const STATUS_OF = {
    INVALID_MESSAGE: 400,
    INVALID_ARGUMENT: 400,
    TRIMMED: 409,
    PROTOCOL_VIOLATION: 409,
    STORAGE: 500,
    CLOSED: 500,
  };
  class Refusal {
    constructor(status, code, message, headers) {
      this.status = status;
      this.code = code;
      this.message = message;
      this.headers = headers;
    }
  }
  const isLoopback = (host) => host === 'localhost' || host === '::1' || /^127\./.test(host);
  const digest = (s) => crypto.createHash('sha256').update(s).digest();

  /** Serve `acceptor` (an `Acceptor`, `AsyncAcceptor`, or any object with prepare/accept/
   * observe[/acceptBatch]) over HTTP; resolves to `{url, port, close()}`. */
  async function serve(acceptor, options = {}) {
    const o = { ...options };
    const host = o.host ?? '127.0.0.1';
    const tokens = o.token === undefined || o.token === null ? [] : Array.isArray(o.token) ? o.token : [o.token];
    for (const t of tokens) {
      if (typeof t !== 'string' || t.length < 16) {
        throw new SynodosError('INVALID_ARGUMENT', 'invalid argument: a token must be a string of at least 16 characters');
      }
    }
    const cluster = o.cluster ?? 'default';
    if (typeof cluster !== 'string') throw new SynodosError('INVALID_ARGUMENT', 'invalid argument: cluster must be a string');
    const acceptorId = BigInt(o.acceptorId ?? 1);
    const maxBody = o.maxBody ?? 1 << 20;
    const requestTimeoutMs = o.requestTimeoutMs ?? 30000;
    const tls = o.tls; // {cert, key} PEM
    if (!isLoopback(host) && !o.insecure && (!tls || tokens.length === 0)) {
      throw new SynodosError(
        'INVALID_ARGUMENT',
        `invalid argument: refusing to serve on ${host} (not loopback) without TLS and a token; pass insecure: true to do it anyway`,
      );
    }
    for (const m of ['prepare', 'accept', 'observe']) {
      if (!acceptor || typeof acceptor[m] !== 'function') {
        throw new SynodosError('INVALID_ARGUMENT', `invalid argument: the acceptor has no ${m}() method`);
      }
    }
    const origins = o.allowOrigins === undefined ? [] : [...o.allowOrigins].map(String);
    const tokenDigests = tokens.map(digest);
    const stopStreams = new Set(); // ends each live observe stream (at close: draining)
    let draining = false;
    let closed = false;
    let requests = 0n;
    // One past the highest slot accepted here: from what the acceptor holds, then kept up
    // to date from the accepts it grants (the JS Acceptor does not report it).
    let frontier = 0n;
    for (const p of await acceptor.observe({ id: 0n, slot: 0n })) {
      if (p.slot + 1n > frontier) frontier = p.slot + 1n;
    }
    const promisedNow = async () => {
      const p = typeof acceptor.promised === 'function' ? await acceptor.promised() : acceptor.promised;
      return typeof p === 'bigint' ? p : 0n;
    };

    const authenticate = (req) => {
      if (tokenDigests.length === 0) return;
      const h = req.headers.authorization;
      if (typeof h !== 'string') throw new Refusal(401, 'UNAUTHORIZED', 'no token: send Authorization: Bearer <token>');
      if (h.slice(0, 7).toLowerCase() !== 'bearer ') {
        throw new Refusal(401, 'UNAUTHORIZED', 'send Authorization: Bearer <token>');
      }
      // Digests have one length, so timingSafeEqual applies; every token is compared.
      const given = digest(h.slice(7));
      let ok = false;
      for (const d of tokenDigests) ok = crypto.timingSafeEqual(given, d) || ok;
      if (!ok) throw new Refusal(401, 'UNAUTHORIZED', 'wrong token: use one of the server\'s tokens');
    };
    const checkCluster = (req) => {
      const c = req.headers['synodos-cluster'];
      if (c !== undefined && c !== cluster) {
        throw new Refusal(
          403,
          'WRONG_CLUSTER',
          `this is acceptor ${acceptorId} of cluster ${JSON.stringify(cluster)}, not of ${JSON.stringify(String(c))}: check the client's cluster and URLs`,
        );
      }
      const a = req.headers['synodos-acceptor'];
      if (a !== undefined && a !== String(acceptorId)) {
        throw new Refusal(403, 'WRONG_ACCEPTOR', `this is acceptor ${acceptorId}, not ${a}: the URL now reaches another acceptor`);
      }
    };
    const readBody = (req) =>
      new Promise((resolve, reject) => {
        const type = String(req.headers['content-type'] ?? '');
        if (type.split(';')[0].trim().toLowerCase() !== 'application/json') {
          reject(new Refusal(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(type)}: send Content-Type: application/json`));
          return;
        }
        const tooLarge = () =>
          new Refusal(413, 'TOO_LARGE', `the request body is larger than this server's limit of ${maxBody} bytes`, {
            connection: 'close',
          });
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBody) {
          reject(tooLarge());
          return;
        }
        const chunks = [];
        let size = 0;
        const timer = setTimeout(() => {
          reject(new Refusal(408, 'REQUEST_TIMEOUT', `the request body took longer than ${requestTimeoutMs} ms`, { connection: 'close' }));
        }, requestTimeoutMs);
        req.on('data', (c) => {
          size += c.length;
          if (size > maxBody) {
            clearTimeout(timer);
            req.removeAllListeners('data');
            reject(tooLarge());
          } else chunks.push(c);
        });
        req.on('end', () => {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks));
        });
        req.on('error', (e) => {
          clearTimeout(timer);
          reject(new Refusal(400, 'BAD_REQUEST', `cannot read the request body: ${e.message}`));
        });
      });
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    const decodeBody = async (req, kind) => {
      const bytes = await readBody(req);
      let text;
      try {
        text = utf8.decode(bytes);
      } catch (_) {
        throw new Refusal(400, 'INVALID_MESSAGE', 'the body is not UTF-8');
      }
      return decodeMessage(kind, text); // a SynodosError INVALID_MESSAGE becomes a 400
    };
    // Live observe streams: each gets every accept granted from its slot on.
    const followers = new Set();
    const maxObservers = o.maxObservers ?? 64;
    const granted = (answer, accepted) => {
      if (answer.promised !== 0n) return;
      if (answer.slot + 1n > frontier) frontier = answer.slot + 1n;
      if (followers.size > 0) {
        const line = encodeMessage('proposal', accepted) + '\n';
        for (const f of followers) f(accepted.slot, line);
      }
    };
    const json = (res, status, body, headers = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    const refuse = (res, r) => {
      const headers = { ...(r.headers || {}) };
      if (r.status === 401) headers['www-authenticate'] = 'Bearer';
      if (r.status === 503) headers['retry-after'] = '1';
      json(res, r.status, JSON.stringify({ code: r.code, message: r.message }), headers);
    };
    const infoBody = async () =>
      `{"acceptor":${acceptorId},"cluster":${JSON.stringify(cluster)},"promised":${await promisedNow()},` +
      `"frontier":${frontier},"trimmed":0,"observers":${followers.size},"requests":${requests},"batches":${requests},` +
      `"http1_requests":${requests},"http2_requests":0,"closed":${closed},"version":"js"}`;

    const route = async (req, res, url) => {
      const p = url.pathname;
      if (p === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new Refusal(405, 'METHOD_NOT_ALLOWED', 'use GET /healthz');
        if (draining) throw new Refusal(503, 'DRAINING', 'the server is shutting down');
        return json(res, 200, '{"status":"ok"}');
      }
      authenticate(req);
      checkCluster(req);
      if (!ROUTES.has(p)) throw new Refusal(404, 'NOT_FOUND', `no route ${p}: see net/README.md for the API`);
      const getRoute = p === '/v1/observe' || p === '/v1/info';
      if (req.method !== (getRoute ? 'GET' : 'POST')) {
        const allow = getRoute ? 'GET' : 'POST';
        throw new Refusal(405, 'METHOD_NOT_ALLOWED', `${req.method} ${p}: use ${allow}`, { allow });
      }
      if (draining) throw new Refusal(503, 'DRAINING', 'the server is shutting down: try another acceptor, or again later');
      requests += 1n;
      switch (p) {
        case '/v1/prepare': {
          const r = await decodeBody(req, 'request');
          return json(res, 200, encodeMessage('promise', await acceptor.prepare(r)));
        }
        case '/v1/accept': {
          const m = await decodeBody(req, 'proposal');
          const answer = await acceptor.accept(m);
          granted(answer, m);
          return json(res, 200, encodeMessage('proposal', answer));
        }
        case '/v1/accept-batch': {
          if (typeof acceptor.acceptBatch !== 'function') throw new Refusal(404, 'NOT_FOUND', 'this acceptor takes no batches');
          const b = await decodeBody(req, 'batch');
          const answer = await acceptor.acceptBatch(b);
          if (answer.promised === 0n) {
            for (const e of b.entries) granted({ promised: 0n, slot: e.slot }, { id: b.id, slot: e.slot, value: e.value });
          }
          return json(res, 200, encodeMessage('proposal', answer));
        }
        case '/v1/observe': {
          let slot = 0n;
          let follow = false;
          for (const [k, v] of url.searchParams) {
            if (k === 'slot') {
              if (!/^\d{1,20}$/.test(v) || BigInt(v) > 0xffffffffffffffffn) {
                throw new Refusal(400, 'BAD_REQUEST', `slot=${JSON.stringify(v)}: expected a slot number`);
              }
              slot = BigInt(v);
            } else if (k === 'follow') {
              if (v === 'true' || v === '1' || v === '') follow = true;
              else if (v !== 'false' && v !== '0') throw new Refusal(400, 'BAD_REQUEST', `follow=${JSON.stringify(v)}: expected true or false`);
            } else throw new Refusal(400, 'BAD_REQUEST', `unknown parameter ${JSON.stringify(k)}: use slot and follow`);
          }
          if (!follow) {
            const proposals = await acceptor.observe({ id: 0n, slot });
            res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
            res.end(proposals.map((m) => encodeMessage('proposal', m) + '\n').join(''));
            return undefined;
          }
          if (followers.size >= maxObservers) {
            throw new Refusal(503, 'TOO_MANY_STREAMS', `this server already serves ${maxObservers} observe streams: retry later`);
          }
          // Subscribe before reading the range, so no accept falls between them (one may
          // come twice: delivery is at least once).
          const early = [];
          let live = false;
          let ended = false;
          let heartbeat;
          const end = (reason) => {
            if (ended) return;
            ended = true;
            followers.delete(send);
            clearInterval(heartbeat);
            res.end(`{"event":"end","reason":"${reason}"}\n`);
          };
          const send = (at, line) => {
            if (at < slot || ended) return;
            if (!live) early.push(line);
            // A reader that stopped reading is cut off rather than buffered without bound.
            else if (res.writableLength > 16 << 20) end('behind');
            else res.write(line);
          };
          followers.add(send);
          stopStreams.add(end);
          res.on('close', () => {
            ended = true;
            followers.delete(send);
            stopStreams.delete(end);
            clearInterval(heartbeat);
          });
          const proposals = await acceptor.observe({ id: 0n, slot });
          res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
          res.write(proposals.map((m) => encodeMessage('proposal', m) + '\n').join('') + early.join(''));
          live = true;
          heartbeat = setInterval(() => res.write('{"event":"heartbeat"}\n'), o.heartbeatMs ?? 5000);
          return undefined;
        }
        default:
          return json(res, 200, await infoBody());
      }
    };

    // The origin to echo in Access-Control-Allow-Origin, if the request's is allowed.
    const allowedOrigin = (req) => {
      const origin = req.headers.origin;
      if (origins.length === 0 || typeof origin !== 'string') return undefined;
      return origins.some((x) => x === '*' || x === origin) ? origin : undefined;
    };
    const handler = (req, res) => {
      const origin = allowedOrigin(req);
      if (origin !== undefined) {
        res.setHeader('access-control-allow-origin', origin);
        res.setHeader('vary', 'Origin');
      }
      let url;
      try {
        url = new URL(req.url ?? '/', 'http://x');
      } catch (_) {
        return refuse(res, new Refusal(400, 'BAD_REQUEST', 'a bad request target'));
      }
      // A CORS preflight carries no token (browsers never send one): answered first.
      if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
        if (origin === undefined) {
          const why =
            origins.length === 0
              ? 'CORS is off: serve with allowOrigins: [ORIGIN] to let a browser page call it'
              : 'this origin is not allowed: add it to allowOrigins';
          return refuse(res, new Refusal(403, 'FORBIDDEN_ORIGIN', why));
        }
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST',
          'access-control-allow-headers': 'authorization, content-type, synodos-cluster, synodos-acceptor',
          'access-control-max-age': '600',
        });
        res.end();
        return undefined;
      }
      route(req, res, url).catch((e) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (e instanceof Refusal) return refuse(res, e);
        if (e instanceof SynodosError) {
          if (e.code === 'STORAGE' || e.code === 'CLOSED') closed = true;
          return refuse(res, new Refusal(STATUS_OF[e.code] ?? 500, e.code, e.message));
        }
        return refuse(res, new Refusal(500, 'INTERNAL', e && e.message ? e.message : String(e)));
      });
      return undefined;
    };

    const serverOptions = { maxHeaderSize: 16 << 10, requestTimeout: requestTimeoutMs, headersTimeout: 5000, keepAliveTimeout: 60000 };
    const server = tls
      ? https.createServer({ ...serverOptions, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler)
      : http.createServer(serverOptions, handler);
    server.maxConnections = o.maxConnections ?? 1024;
    // A malformed request line or header: a 400, never a crash.
    server.on('clientError', (err, socket) => {
      if (socket.writable && !socket.destroyed) {
        const body = JSON.stringify({ code: 'BAD_REQUEST', message: `malformed HTTP: ${err.code ?? err.message}` });
        socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else socket.destroy();
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {}); // after listening: per-connection errors are handled above
    const address = server.address();
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
    return {
      url,
      port: address.port,
      /** Stop: new requests get 503 DRAINING, open connections are closed once idle. */
      close() {
        draining = true;
        for (const end of [...stopStreams]) end('draining');
        return new Promise((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Connections still busy get their answer first; whatever is left then goes.
          setImmediate(() => server.closeAllConnections());
        });
      },
    };
  }

  // --- FileLog: a durable Log over node:fs ---
  // Format of `<dir>/log`, append-only, little-endian:
  //   file header: "SYNJSLG1" (8 bytes)
  //   frame: kind u8 (1 record, 2 trim mark) | id u64 | length u32 | crc u32 | data[length]
  //   crc: CRC-32 (IEEE) of kind, id, length and data.
  // A write is one writeSync of whole frames (a batch is one write) then fdatasync: durable
  // on return. On open, a torn tail (a frame cut short, or a bad checksum in the last frame)
  // is truncated away; a bad frame followed by more data is damage and fails the open with
  // the offset. `trim(before)` appends a trim mark (no compaction yet). `<dir>/lock` holds
  // the pid of the process that has the log open: another live process is refused.
  const MAGIC = Buffer.from('SYNJSLG1');
  const FRAME = 17;
  const CRC_TABLE = (() => {
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c >>> 0;
    }
    return t;
  })();
  const crc32 = (buf, crc = 0xffffffff) => {
    for (let i = 0; i < buf.length; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    return crc;
  };
  const frame = (kind, id, data) => {
    const b = Buffer.allocUnsafe(FRAME + data.length);
    b.writeUInt8(kind, 0);
    b.writeBigUInt64LE(id, 1);
    b.writeUInt32LE(data.length, 9);
    b.set(data, FRAME);
    const crc = (crc32(b.subarray(FRAME), crc32(b.subarray(0, 13))) ^ 0xffffffff) >>> 0;
    b.writeUInt32LE(crc, 13);
    return b;
  };
  const storageError = (message, cause) => new SynodosError('STORAGE', `storage: ${message}`, cause);
  const alive = (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return e.code === 'EPERM';
    }
  };

  class FileLog {
    /** Open (or create) the log in directory `dir`, recovering what it holds. */
    constructor(dir) {
      this.dir = path.resolve(String(dir));
      this.records = []; // [[id, Uint8Array], ...], ids increasing
      this.poisoned = undefined;
      fs.mkdirSync(this.dir, { recursive: true });
      this._lock();
      const file = path.join(this.dir, 'log');
      const fresh = !fs.existsSync(file);
      this.fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT);
      if (fresh || fs.fstatSync(this.fd).size === 0) {
        fs.writeSync(this.fd, MAGIC, 0, MAGIC.length, 0);
        fs.fdatasyncSync(this.fd);
        this._syncDir();
        this.size = MAGIC.length;
      } else {
        this._recover(file);
      }
    }
    static open(dir) {
      return new FileLog(dir);
    }
    _lock() {
      const lock = path.join(this.dir, 'lock');
      try {
        const pid = Number(fs.readFileSync(lock, 'utf8'));
        if (pid && pid !== process.pid && alive(pid)) {
          throw storageError(`${this.dir} is in use by process ${pid}`);
        }
      } catch (e) {
        if (e instanceof SynodosError) throw e;
      }
      fs.writeFileSync(lock, String(process.pid));
    }
    _syncDir() {
      const d = fs.openSync(this.dir, 'r');
      try {
        fs.fsyncSync(d);
      } finally {
        fs.closeSync(d);
      }
    }
    _recover(file) {
      const buf = fs.readFileSync(file);
      if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
        if (buf.length < MAGIC.length && MAGIC.subarray(0, buf.length).equals(buf)) {
          // A header write cut short by a crash: nothing was ever recorded.
          fs.ftruncateSync(this.fd, 0);
          fs.writeSync(this.fd, MAGIC, 0, MAGIC.length, 0);
          fs.fdatasyncSync(this.fd);
          this.size = MAGIC.length;
          return;
        }
        throw storageError(`${file}: not a synodos JS log (bad header at offset 0)`);
      }
      let at = MAGIC.length;
      while (at < buf.length) {
        const left = buf.length - at;
        const len = left >= FRAME ? buf.readUInt32LE(at + 9) : 0;
        if (left < FRAME || left < FRAME + len) break; // torn tail
        const kind = buf[at];
        const id = buf.readBigUInt64LE(at + 1);
        const want = buf.readUInt32LE(at + 13);
        const got = (crc32(buf.subarray(at + FRAME, at + FRAME + len), crc32(buf.subarray(at, at + 13))) ^ 0xffffffff) >>> 0;
        if (got !== want || (kind !== 1 && kind !== 2)) {
          if (at + FRAME + len >= buf.length) break; // the last frame: torn
          throw storageError(`${file}: damaged record at offset ${at} (checksum); restore the file, do not delete it`);
        }
        const data = new Uint8Array(buf.subarray(at + FRAME, at + FRAME + len));
        if (kind === 1) {
          this.records.push([id, data]);
          this.lastId = id; // kept past a trim, so ids stay increasing across reopens
        }
        else this.records = this.records.filter(([r]) => r >= id);
        at += FRAME + len;
      }
      if (at < buf.length) {
        fs.ftruncateSync(this.fd, at);
        fs.fdatasyncSync(this.fd);
      }
      this.size = at;
    }
    _check() {
      if (this.poisoned) throw storageError(`the log failed before and is closed: ${this.poisoned}`);
      if (this.fd === undefined) throw storageError('the log is closed');
    }
    _write(buf) {
      try {
        let off = 0;
        while (off < buf.length) off += fs.writeSync(this.fd, buf, off, buf.length - off, this.size + off);
        fs.fdatasyncSync(this.fd);
      } catch (e) {
        // What reached the disk is unknown: refuse everything from now on.
        this.poisoned = e.message;
        throw storageError(`write failed: ${e.message}`, e);
      }
      this.size += buf.length;
    }
    _top() {
      return this.records.length ? this.records[this.records.length - 1][0] : this.lastId;
    }
    record(id, data) {
      this.recordBatch([[id, data]]);
    }
    recordBatch(batch) {
      this._check();
      let prev = this._top();
      for (const [id] of batch) {
        if (typeof id !== 'bigint') throw new SynodosError('INVALID_ARGUMENT', 'invalid argument: record ids must be BigInts');
        if (prev !== undefined && id <= prev) throw storageError(`record id ${id} is not above ${prev}`);
        prev = id;
      }
      if (batch.length === 0) return;
      const frames = batch.map(([id, data]) => frame(1, id, data));
      this._write(Buffer.concat(frames));
      for (const [id, data] of batch) this.records.push([id, Uint8Array.from(data)]);
      this.lastId = prev;
    }
    last() {
      this._check();
      return this.records.length ? this.records[this.records.length - 1] : null;
    }
    range(start, stop, visit) {
      this._check();
      for (const [id, data] of this.records) {
        if (id > stop) break;
        if (id >= start) visit(id, data);
      }
    }
    trim(before) {
      this._check();
      this._write(frame(2, BigInt(before), new Uint8Array(0)));
      this.records = this.records.filter(([id]) => id >= before);
    }
    /** Close the file (and give up the lock). */
    close() {
      if (this.fd === undefined) return;
      fs.closeSync(this.fd);
      this.fd = undefined;
      try {
        if (Number(fs.readFileSync(path.join(this.dir, 'lock'), 'utf8')) === process.pid) fs.unlinkSync(path.join(this.dir, 'lock'));
      } catch (_) {
        // Already gone.
      }
    }
  }

  return { ...net, serve, FileLog };
}
