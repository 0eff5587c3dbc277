// The network clients, shared by the Node and browser builds (build.sh pastes this file in
// after common.js): `HttpAcceptor` (an acceptor client over the HTTP API of net/README.md)
// and `NodeClient` (the node's append/read/follow). They speak through a `transport` that
// each build supplies (node:http(s) with a keep-alive Agent in Node, fetch in browsers).
// Each client has a pool of its own, `transport.pool(tls)`, so closing one client never
// cuts another's requests:
//   pool.request({method, url, headers, body, timeoutMs}) ->
//       Promise<{status, headers, text}>  (headers lower-case; rejects on network failure)
//   pool.stream({method, url, headers, timeoutMs, idleMs}) ->
//       Promise<{status, headers, chunks: AsyncIterable<string>, close()}>
//   pool.close()  (releases the pooled connections)
// Messages are encoded and decoded by the wasm codec (encodeMessage/decodeMessage): never
// by JSON.parse, which rounds 64-bit ids. No protocol logic lives here.
function setupNet(api, transport) {
  const { SynodosError, encodeMessage, decodeMessage } = api;
  const CLUSTER_HEADER = 'synodos-cluster';
  const ACCEPTOR_HEADER = 'synodos-acceptor';
  const LEADER_HEADER = 'synodos-leader';
  const JSON_TYPE = 'application/json';

  // JSON with every integer as a BigInt (for /v1/info and error bodies, whose 64-bit
  // numbers JSON.parse would round). Each token is tagged before JSON.parse: strings (keys
  // too) get an "s" after their opening quote, integers become "i<digits>" strings; the
  // reviver strips the tags and turns the integers into BigInts.
  const losslessParse = (text) => {
    const tagged = String(text).replace(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g, (tok) =>
      tok[0] === '"' ? `"s${tok.slice(1)}` : /[.eE]/.test(tok) ? tok : `"i${tok}"`,
    );
    return JSON.parse(tagged, (_, v) => {
      if (typeof v === 'string') return v[0] === 'i' ? BigInt(v.slice(1)) : v.slice(1);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.slice(1), x]));
      }
      return v;
    });
  };

  const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const base64 = (bytes) => {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
      out += b64chars[(n >> 18) & 63] + b64chars[(n >> 12) & 63];
      out += i + 1 < bytes.length ? b64chars[(n >> 6) & 63] : '=';
      out += i + 2 < bytes.length ? b64chars[n & 63] : '=';
    }
    return out;
  };
  const toBytes = (value, what) => {
    if (!(value instanceof Uint8Array)) {
      throw new SynodosError('INVALID_ARGUMENT', `invalid argument: ${what} must be a Uint8Array`);
    }
    return value;
  };

  /** The error body of a non-200 answer, as the cause of the SynodosError. */
  class ApiError extends Error {
    constructor(status, code, message, extra) {
      super(`${code}: ${message}`);
      this.name = 'ApiError';
      this.status = status;
      this.code = code;
      this.serverMessage = message;
      if (extra) Object.assign(this, extra);
    }
  }

  // The error a non-200 answer becomes; the same mapping as the Rust client's
  // ApiError::into_core: protocol and storage codes keep their code, the rest is TRANSPORT.
  const KEEP = new Set(['INVALID_MESSAGE', 'INVALID_ARGUMENT', 'PROTOCOL_VIOLATION', 'CLOSED', 'STORAGE', 'TRIMMED']);
  const failure = (url, status, text) => {
    let body;
    try {
      body = losslessParse(text);
    } catch (_) {
      body = undefined;
    }
    const code = body && typeof body.code === 'string' ? body.code : 'HTTP';
    const message = body && typeof body.message === 'string' ? body.message : String(text).slice(0, 200);
    const extra = {};
    if (body && typeof body.slot === 'bigint') extra.slot = body.slot;
    if (body && typeof body.first === 'bigint') extra.first = body.first;
    const cause = new ApiError(status, code, message, extra);
    const kind = KEEP.has(code) ? code : 'TRANSPORT';
    return new SynodosError(kind, `${url}: HTTP ${status} ${code}: ${message}`, cause, {
      status,
      server: { code, message },
      ...extra,
    });
  };
  const networkError = (url, what, e) =>
    new SynodosError('TRANSPORT', `${url}: ${what}: ${e && e.message ? e.message : String(e)}`, e, { status: 0 });
  // A client-side refusal (first contact found the wrong acceptor): status 0, as in Rust.
  const refusal = (code, message) =>
    new SynodosError('TRANSPORT', message, new ApiError(0, code, message), { status: 0, server: { code, message } });

  const checkUrl = (url) => {
    let u;
    try {
      u = new URL(url);
    } catch (e) {
      throw new SynodosError('INVALID_ARGUMENT', `invalid argument: ${url}: not a URL`, e);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new SynodosError('INVALID_ARGUMENT', `invalid argument: ${url}: expected http:// or https://`);
    }
    if (u.search) throw new SynodosError('INVALID_ARGUMENT', `invalid argument: ${url}: a query is not allowed`);
    return String(url).replace(/\/+$/, '');
  };
  const readOptions = (options) => {
    if (options === undefined || options === null) return {};
    if (typeof options !== 'object') throw new SynodosError('INVALID_ARGUMENT', 'invalid argument: options must be an object');
    const o = { ...options };
    for (const k of ['token', 'cluster']) {
      if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') {
        throw new SynodosError('INVALID_ARGUMENT', `invalid argument: options.${k} must be a string`);
      }
      // A header cannot carry control characters: refuse them here, not at the first call.
      if (typeof o[k] === 'string' && /[\u0000-\u001f\u007f]/.test(o[k])) {
        throw new SynodosError('INVALID_ARGUMENT', `invalid argument: options.${k} has characters a header cannot carry`);
      }
    }
    return o;
  };

  /** An acceptor served over HTTP (`synodos serve`, or `serve()` of this package): goes
   * wherever acceptors go (`Proposer`, `ReplicatedLog`). */
  class HttpAcceptor {
    constructor(url, options) {
      this._url = checkUrl(url);
      const o = readOptions(options);
      this._token = o.token ?? undefined;
      this._cluster = o.cluster ?? undefined;
      this._expectId = o.acceptorId === undefined || o.acceptorId === null ? undefined : BigInt(o.acceptorId);
      this._timeoutMs = o.timeoutMs ?? 10000;
      this._pool = transport.pool({ ca: o.ca, cert: o.cert, key: o.key });
      this._checked = undefined; // {acceptor, cluster} after first contact
      this._contacting = undefined;
      this._noBatches = false;
    }
    get url() {
      return this._url;
    }
    /** The acceptor id found on first contact (undefined before). */
    get acceptorId() {
      return this._checked?.acceptor;
    }
    _headers(checked, json) {
      const h = {};
      if (this._token !== undefined) h.authorization = `Bearer ${this._token}`;
      const cluster = checked ? checked.cluster : this._cluster;
      if (cluster !== undefined) h[CLUSTER_HEADER] = cluster;
      if (checked) h[ACCEPTOR_HEADER] = String(checked.acceptor);
      if (json) h['content-type'] = JSON_TYPE;
      return h;
    }
    async _send(method, path, body, checked) {
      const url = this._url + path;
      let answer;
      try {
        answer = await this._pool.request({
          method,
          url,
          headers: this._headers(checked, body !== undefined),
          body,
          timeoutMs: this._timeoutMs,
        });
      } catch (e) {
        throw networkError(this._url, `${method} ${path} failed`, e);
      }
      if (answer.status === 200) return answer.text;
      const err = failure(this._url, answer.status, answer.text);
      if (err.server && (err.server.code === 'WRONG_ACCEPTOR' || err.server.code === 'WRONG_CLUSTER')) {
        this._checked = undefined; // the URL reaches another acceptor now: check again
      }
      throw err;
    }
    /** First contact, once: /v1/info, then the cluster and acceptor id checks. */
    async check() {
      return (await this._contact()).acceptor;
    }
    async _contact() {
      if (this._checked) return this._checked;
      if (!this._contacting) {
        this._contacting = (async () => {
          const info = this._parseInfo(await this._send('GET', '/v1/info', undefined, undefined));
          if (this._cluster !== undefined && info.cluster !== this._cluster) {
            throw refusal(
              'WRONG_CLUSTER',
              `${this._url} is acceptor ${info.acceptor} of cluster ${JSON.stringify(info.cluster)}, not of ${JSON.stringify(this._cluster)}: check the URL`,
            );
          }
          if (this._expectId !== undefined && info.acceptor !== this._expectId) {
            throw refusal('WRONG_ACCEPTOR', `${this._url} is acceptor ${info.acceptor}, not ${this._expectId}: check the URL`);
          }
          this._checked = { acceptor: info.acceptor, cluster: info.cluster };
          return this._checked;
        })().finally(() => {
          this._contacting = undefined;
        });
      }
      return this._contacting;
    }
    _parseInfo(text) {
      let info;
      try {
        info = losslessParse(text);
      } catch (e) {
        throw networkError(this._url, 'not a synodos acceptor (/v1/info)', e);
      }
      if (!info || typeof info.acceptor !== 'bigint' || typeof info.cluster !== 'string') {
        throw networkError(this._url, 'not a synodos acceptor (/v1/info)', new Error('no acceptor or cluster'));
      }
      return info;
    }
    async _post(path, kind, body) {
      const checked = await this._contact();
      return decodeMessage(kind, await this._send('POST', path, body, checked));
    }
    /** Phase 1: a `Request` in, a `PromiseMessage` out. */
    async prepare(request) {
      return this._post('/v1/prepare', 'promise', encodeMessage('request', request));
    }
    /** Phase 2: a `Proposal` in, the answer (`promised` set when refused) out. */
    async accept(proposal) {
      return this._post('/v1/accept', 'proposal', encodeMessage('proposal', proposal));
    }
    /** Many slots at one ballot in one request (`POST /v1/accept-batch`); to a server
     * without the route (404), one accept per entry. */
    async acceptBatch(batch) {
      const body = encodeMessage('batch', batch);
      if (!this._noBatches) {
        try {
          return await this._post('/v1/accept-batch', 'proposal', body);
        } catch (e) {
          if (!(e instanceof SynodosError && e.status === 404)) throw e;
          this._noBatches = true;
        }
      }
      const b = decodeMessage('batch', body);
      const answers = await Promise.all(
        b.entries.map((entry) => this.accept({ id: b.id, slot: entry.slot, value: entry.value })),
      );
      let refused = 0n;
      for (const a of answers) if (a.promised > refused) refused = a.promised;
      const first = b.entries[0];
      return { id: b.id, slot: first ? first.slot : 0n, value: new Uint8Array(0), promised: refused };
    }
    /** Every proposal accepted from `request.slot` on (`GET /v1/observe`, no follow). */
    async observe(request) {
      const r = decodeMessage('request', encodeMessage('request', request));
      const checked = await this._contact();
      const text = await this._send('GET', `/v1/observe?slot=${r.slot}`, undefined, checked);
      const out = [];
      for (const line of text.split('\n')) {
        const t = line.trim();
        if (t === '' || t.startsWith('{"event"')) continue;
        out.push(decodeMessage('proposal', t));
      }
      return out;
    }
    /** The server's `/v1/info`, every integer a BigInt. */
    async info() {
      const checked = await this._contact();
      return this._parseInfo(await this._send('GET', '/v1/info', undefined, checked));
    }
    /** Release this client's pooled connections (Node: lets the process exit at once). */
    close() {
      this._pool.close();
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const retryable = (e) =>
    !(e instanceof SynodosError) ||
    e.status === undefined ||
    e.status === 0 ||
    e.status === 408 ||
    e.status >= 500 ||
    e.code === 'CLOSED' ||
    e.code === 'STORAGE';
  const entryOf = (line) => {
    const p = decodeMessage('proposal', line); // {"slot","value"}: a proposal's fields
    return { slot: p.slot, value: p.value };
  };

  /** A client of a cluster's nodes (`synodos serve --peers`): tries the nodes in turn
   * and follows the leader, as the Rust NodeClient does (net/src/node/client.rs). */
  class NodeClient {
    constructor(peers, options) {
      if (!Array.isArray(peers) || peers.length === 0) {
        throw new SynodosError('INVALID_ARGUMENT', 'invalid argument: peers must be a non-empty array of URLs');
      }
      this._peers = peers.map(checkUrl);
      const o = readOptions(options);
      this._token = o.token ?? undefined;
      this._cluster = o.cluster ?? undefined;
      this._timeoutMs = o.timeoutMs ?? 10000;
      this._rounds = Math.max(1, o.rounds ?? 3);
      this._pool = transport.pool({ ca: o.ca, cert: o.cert, key: o.key });
      this._current = 0;
    }
    get peers() {
      return [...this._peers];
    }
    _headers(json) {
      const h = {};
      if (this._token !== undefined) h.authorization = `Bearer ${this._token}`;
      if (this._cluster !== undefined) h[CLUSTER_HEADER] = this._cluster;
      if (json) h['content-type'] = JSON_TYPE;
      return h;
    }
    async _once(url, method, path, body) {
      let answer;
      try {
        answer = await this._pool.request({
          method,
          url: url + path,
          headers: this._headers(body !== undefined),
          body,
          timeoutMs: this._timeoutMs,
        });
      } catch (e) {
        throw networkError(url, `${method} ${path} failed`, e);
      }
      if (answer.status !== 200) throw failure(url, answer.status, answer.text);
      return answer;
    }
    // The current node, then the others in turn, `rounds` times over, with a pause after
    // each round (20, 80, 320 ms: a leader change takes a moment).
    async _call(method, path, body) {
      const n = this._peers.length;
      let last;
      let pause = 20;
      for (let attempt = 0; attempt < n * this._rounds; attempt++) {
        const i = this._current % n;
        const url = this._peers[i];
        try {
          const answer = await this._once(url, method, path, body);
          const leader = answer.headers[LEADER_HEADER];
          if (typeof leader === 'string') {
            const at = this._peers.indexOf(leader.replace(/\/+$/, ''));
            if (at >= 0) this._current = at;
          }
          return answer.text;
        } catch (e) {
          if (!retryable(e)) throw e;
          last = e;
        }
        if (this._current === i) this._current = (i + 1) % n;
        if ((attempt + 1) % n === 0 && attempt + 1 < n * this._rounds) {
          await sleep(pause);
          pause = Math.min(pause * 4, 1000);
        }
      }
      throw last ?? new SynodosError('TRANSPORT', 'no node answered', undefined, { status: 0 });
    }
    async _postValue(path, value) {
      const body = JSON.stringify({ value: base64(toBytes(value, 'value')) });
      return entryOf((await this._call('POST', path, body)).trim());
    }
    /** Append `value`; resolves to its entry `{slot, value}`. */
    async append(value) {
      return this._postValue('/v1/append', value);
    }
    /** Propose `value` for the single decree (slot 0); resolves to the value chosen. */
    async propose(value) {
      return (await this._postValue('/v1/propose', value)).value;
    }
    /** Up to `limit` chosen entries from `from` on, as the node asked has learned them. */
    async read(from = 0n, limit = 10000) {
      const start = decodeMessage('request', encodeMessage('request', { id: 1n, slot: from })).slot;
      const max = Math.min(Math.max(1, Math.floor(Number(limit)) || 1), 10000);
      const text = await this._call('GET', `/v1/log?from=${start}&limit=${max}`, undefined);
      const out = [];
      for (const line of text.split('\n')) {
        const t = line.trim();
        if (t !== '' && !t.startsWith('{"event"')) out.push(entryOf(t));
      }
      return out;
    }
    /** `/v1/info` of every node: `[{url, info}]` or `[{url, error}]`, in peer order. */
    async info() {
      return Promise.all(
        this._peers.map(async (url) => {
          try {
            const answer = await this._once(url, 'GET', '/v1/info', undefined);
            return { url, info: losslessParse(answer.text) };
          } catch (error) {
            return { url, error };
          }
        }),
      );
    }
    /** The chosen entries from `from` on, then each new one (an async iterator over the
     * node's NDJSON `/v1/log?follow=true`). A node that goes away is left for the next,
     * from the slot after the last delivered; a refusal (4xx) ends it with an error.
     * `break` out of the loop to stop (the connection is closed). */
    async *follow(from = 0n) {
      let next = decodeMessage('request', encodeMessage('request', { id: 1n, slot: from })).slot;
      let pause = 50;
      const n = this._peers.length;
      for (;;) {
        const i = this._current % n;
        const url = this._peers[i];
        let stream;
        try {
          stream = await this._pool.stream({
            method: 'GET',
            url: `${url}/v1/log?from=${next}&follow=true`,
            headers: this._headers(false),
            timeoutMs: this._timeoutMs,
            idleMs: 16000, // heartbeats come every 5 s: three missed mean the node is gone
          });
        } catch (e) {
          stream = undefined;
        }
        if (stream && stream.status !== 200) {
          const text = await collect(stream);
          const err = failure(url, stream.status, text);
          if (!retryable(err)) throw err;
        } else if (stream) {
          try {
            let buf = '';
            for await (const chunk of stream.chunks) {
              buf += chunk;
              let at;
              while ((at = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, at).trim();
                buf = buf.slice(at + 1);
                if (line === '' || line.startsWith('{"event"')) continue;
                const entry = entryOf(line);
                if (entry.slot < next) continue;
                next = entry.slot + 1n;
                pause = 50;
                yield entry;
              }
              if (buf.length > 64 << 20) break;
            }
          } catch (e) {
            // A bad line is the node's fault and ends the follow; a broken connection only
            // moves it to the next node.
            if (e instanceof SynodosError) throw e;
          } finally {
            stream.close();
          }
        }
        if (this._current === i) this._current = (i + 1) % n;
        await sleep(pause);
        pause = Math.min(pause * 2, 2000);
      }
    }
    /** Release pooled connections. */
    close() {
      this._pool.close();
    }
  }

  async function collect(stream) {
    let text = '';
    try {
      for await (const chunk of stream.chunks) {
        text += chunk;
        if (text.length > 1 << 16) break;
      }
    } catch (_) {
      // The error body is best effort.
    } finally {
      stream.close();
    }
    return text;
  }

  return { HttpAcceptor, NodeClient, ApiError };
}
