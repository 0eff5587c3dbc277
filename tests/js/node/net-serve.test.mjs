// serve(): the acceptor API over node:http, used by JS HttpAcceptors and by the Rust CLI;
// FileLog: the conformance kit, a restart, torn and damaged tails; hostile bodies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { appendFileSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Acceptor, FileLog, HttpAcceptor, ReplicatedLog, SynodosError, decodeMessage, runLogConformance, serve } from 'synodos';
import { tempDir, removeDir, TOKEN, tokenFile, SYNODOS, binaryPresent } from './net-helpers.mjs';
import { enc, dec } from './helpers.mjs';

const dir = tempDir();
const logs = [];
const servers = [];
const clients = [];
const fileLog = (d) => {
  const log = new FileLog(d);
  logs.push(log);
  return log;
};
const acceptorIn = (d) => new Acceptor(fileLog(path.join(d, 'promises')), fileLog(path.join(d, 'accepts')));
const start = async (acceptor, options) => {
  const s = await serve(acceptor, options);
  servers.push(s);
  return s;
};

after(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close()));
  for (const l of logs) l.close();
  removeDir(dir);
});

test('FileLog passes the core conformance kit', () => {
  const base = path.join(dir, 'kit');
  const checks = runLogConformance((name) => fileLog(path.join(base, name)));
  assert.ok(checks.length >= 9, checks.join(', '));
  assert.ok(checks.includes('trim'));
});

test('an acceptor over FileLogs survives a restart with its promise and accepts', () => {
  const d = path.join(dir, 'restart');
  let a = acceptorIn(d);
  assert.equal(a.prepare({ id: 70000n, slot: 3n }).promised, 0n);
  assert.equal(a.accept({ id: 70000n, slot: 3n, value: enc('kept') }).promised, 0n);
  a.free();
  for (const l of logs.splice(0)) l.close();
  a = acceptorIn(d);
  assert.equal(a.promised, 70000n);
  assert.equal(a.prepare({ id: 69999n, slot: 3n }).promised, 70000n, 'the old promise still binds');
  const again = a.prepare({ id: 80000n, slot: 3n });
  assert.equal(dec(again.accepted.value), 'kept');
  assert.equal(again.accepted.id, 70000n);
  a.free();
});

test('FileLog truncates a torn tail and refuses damage in the middle', () => {
  const d = path.join(dir, 'torn');
  let log = fileLog(d);
  log.record(1n, enc('one'));
  log.record(2n, enc('two'));
  log.close();
  const file = path.join(d, 'log');
  const good = statSync(file).size;
  appendFileSync(file, Buffer.from([1, 3, 0, 0, 0, 0, 0, 0])); // half a frame header
  log = fileLog(d);
  assert.deepEqual(log.last(), [2n, enc('two')]);
  assert.equal(statSync(file).size, good, 'the torn bytes are gone');
  log.record(3n, enc('three'));
  log.close();
  // Flip a byte of the first record's data: damage followed by intact frames.
  const bytes = readFileSync(file);
  bytes[8 + 17] ^= 0xff;
  writeFileSync(file, bytes);
  assert.throws(() => new FileLog(d), (e) => e instanceof SynodosError && e.code === 'STORAGE' && /offset 8/.test(e.message));
});

test('a ReplicatedLog over three JS serve() acceptors on FileLogs, with a token', async () => {
  const urls = [];
  for (const id of [1, 2, 3]) {
    const s = await start(acceptorIn(path.join(dir, `node-${id}`)), { token: TOKEN, cluster: 'js', acceptorId: id });
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    urls.push(s.url);
  }
  const acceptors = urls.map((u) => new HttpAcceptor(u, { token: TOKEN, cluster: 'js' }));
  clients.push(...acceptors);
  const log = new ReplicatedLog(acceptors, { nodeId: 1 });
  for (let i = 0; i < 4; i++) assert.equal((await log.append(enc(`e${i}`))).slot, BigInt(i));
  const read = await new ReplicatedLog(acceptors, { nodeId: 2 }).read(0n, 10);
  assert.deepEqual(read.map((e) => dec(e.value)), ['e0', 'e1', 'e2', 'e3']);
  const info = await acceptors[1].info();
  assert.equal(info.acceptor, 2n);
  assert.equal(info.cluster, 'js');
  assert.equal(info.frontier, 4n);
  // A batch goes as one request and one write.
  const b = await acceptors[0].acceptBatch({ id: info.promised, entries: [{ slot: 10n, value: enc('x') }, { slot: 11n, value: enc('y') }] });
  assert.equal(b.promised, 0n);
  assert.equal((await acceptors[0].info()).frontier, 12n);
  log.free();
});

test('the Rust CLI reads a JS server: `synodos status --json` parses its /v1/info', async () => {
  assert.ok(binaryPresent(), `${SYNODOS} missing: cargo build --release -p synodos-net`);
  const s = await start(new Acceptor(), { token: TOKEN, cluster: 'js', acceptorId: 9 });
  const tf = tokenFile(dir);
  const out = await new Promise((resolve, reject) =>
    execFile(SYNODOS, ['status', '--json', '--peers', s.url, '--token-file', tf, '--cluster', 'js'], (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}: ${stderr}`)) : resolve(stdout),
    ),
  );
  assert.match(out, /"acceptor":\s*9/);
  assert.match(out, /"cluster":\s*"js"/);
  assert.match(out, /"reachable":\s*true/);
});

/** One raw request; resolves to {status, headers, body}. */
function raw(url, { method = 'POST', path: p = '/v1/prepare', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${p}`, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('serve() answers hostile requests with the API error bodies and keeps serving', async () => {
  const s = await start(new Acceptor(), { token: TOKEN, cluster: 'js', acceptorId: 4, maxBody: 4096 });
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const cases = [
    [{ headers: { 'content-type': 'application/json' }, body: '{}' }, 401, 'UNAUTHORIZED'],
    [{ headers: { ...auth, authorization: `Bearer ${TOKEN}x` }, body: '{}' }, 401, 'UNAUTHORIZED'],
    [{ headers: { ...auth, authorization: `Basic ${TOKEN}` }, body: '{}' }, 401, 'UNAUTHORIZED'],
    [{ headers: { ...auth, 'synodos-cluster': 'other' }, body: '{}' }, 403, 'WRONG_CLUSTER'],
    [{ headers: { ...auth, 'synodos-acceptor': '5' }, body: '{}' }, 403, 'WRONG_ACCEPTOR'],
    [{ headers: auth, body: '{"id": 1, "slot": ' }, 400, 'INVALID_MESSAGE'],
    [{ headers: auth, body: '[1,2,3]' }, 400, 'INVALID_MESSAGE'],
    [{ headers: auth, body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }, 400, 'INVALID_MESSAGE'],
    [{ headers: auth, body: '{"id":18446744073709551616}' }, 400, 'INVALID_MESSAGE'],
    [{ headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [{ headers: auth, body: 'x'.repeat(5000) }, 413, 'TOO_LARGE'],
    [{ headers: { ...auth, 'transfer-encoding': 'chunked' }, body: 'y'.repeat(9000) }, 413, 'TOO_LARGE'],
    [{ headers: auth, path: '/v1/nothing', body: '{}' }, 404, 'NOT_FOUND'],
    [{ headers: auth, method: 'GET' }, 405, 'METHOD_NOT_ALLOWED'],
    [{ headers: auth, method: 'GET', path: '/v1/observe?slot=-1' }, 400, 'BAD_REQUEST'],
    [{ headers: auth, method: 'GET', path: '/v1/observe?slot=1&x=2' }, 400, 'BAD_REQUEST'],
    [{ headers: auth, method: 'GET', path: '/v1/observe?follow=maybe' }, 400, 'BAD_REQUEST'],
    [{ headers: auth, path: '/v1/accept', body: '{"id":1,"slot":0,"value":"***"}' }, 400, 'INVALID_MESSAGE'],
  ];
  for (const [req, status, code] of cases) {
    const r = await raw(s.url, req);
    assert.equal(r.status, status, `${JSON.stringify(req).slice(0, 120)} -> ${r.body}`);
    const body = JSON.parse(r.body);
    assert.equal(body.code, code);
    assert.equal(typeof body.message, 'string');
    if (status === 401) assert.equal(r.headers['www-authenticate'], 'Bearer');
  }
  assert.match(JSON.parse((await raw(s.url, { headers: auth, body: 'x'.repeat(5000) })).body).message, /4096 bytes/);
  // Health needs no token; the server still answers real requests after all that.
  assert.equal((await raw(s.url, { method: 'GET', path: '/healthz' })).status, 200);
  const ok = await raw(s.url, { headers: auth, body: '{"id":65536,"slot":0}' });
  assert.equal(ok.status, 200);
  const client = new HttpAcceptor(s.url, { token: TOKEN });
  clients.push(client);
  assert.equal((await client.info()).promised, 65536n);
});

test('serve() CORS: preflights answered before the token check, only for allowed origins', async () => {
  const s = await start(new Acceptor(), { token: TOKEN, allowOrigins: ['http://page.example'] });
  const preflight = (origin) =>
    raw(s.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
  const ok = await preflight('http://page.example');
  assert.equal(ok.status, 204);
  assert.equal(ok.headers['access-control-allow-origin'], 'http://page.example');
  assert.match(ok.headers['access-control-allow-headers'], /authorization/);
  const other = await preflight('http://evil.example');
  assert.equal(other.status, 403);
  assert.equal(JSON.parse(other.body).code, 'FORBIDDEN_ORIGIN');
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  // The request itself still needs the token, and carries the origin back.
  const r = await raw(s.url, { method: 'GET', path: '/v1/info', headers: { origin: 'http://page.example' } });
  assert.equal(r.status, 401);
  assert.equal(r.headers['access-control-allow-origin'], 'http://page.example');
  const off = await start(new Acceptor(), {});
  const refused = await raw(off.url, { method: 'OPTIONS', headers: { origin: 'http://page.example', 'access-control-request-method': 'POST' } });
  assert.equal(refused.status, 403);
  assert.match(JSON.parse(refused.body).message, /CORS is off/);
});

test('serve() observe with follow: the range, then each new accept, heartbeats, end at close', async () => {
  const acceptor = new Acceptor();
  acceptor.prepare({ id: 65536n, slot: 0n });
  acceptor.accept({ id: 65536n, slot: 0n, value: enc('before') });
  const s = await serve(acceptor, { token: TOKEN, heartbeatMs: 50 });
  const lines = [];
  let wake;
  const next = () => new Promise((resolve) => (wake = resolve));
  let ended;
  const done = new Promise((resolve) => (ended = resolve));
  const req = http.get(`${s.url}/v1/observe?slot=0&follow=true`, { headers: { authorization: `Bearer ${TOKEN}` }, agent: false }, (res) => {
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/x-ndjson');
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (c) => {
      buf += c;
      let at;
      while ((at = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, at));
        buf = buf.slice(at + 1);
        wake?.();
      }
    });
    res.on('end', ended);
  });
  req.on('error', () => {});
  const waitFor = async (pred) => {
    while (!lines.some(pred)) await next();
  };
  // Slot 0 is omitted on the wire (omitempty): the range's one line has no "slot".
  const proposalAt = (slot) => (l) => !l.startsWith('{"event"') && decodeMessage('proposal', l).slot === slot;
  await waitFor(proposalAt(0n));
  const client = new HttpAcceptor(s.url, { token: TOKEN });
  clients.push(client);
  assert.equal((await client.info()).observers, 1n);
  await client.accept({ id: 65536n, slot: 1n, value: enc('live') });
  await waitFor(proposalAt(1n));
  assert.equal(dec(decodeMessage('proposal', lines.find(proposalAt(1n))).value), 'live');
  await waitFor((l) => l === '{"event":"heartbeat"}');
  await s.close();
  await done;
  assert.equal(lines.at(-1), '{"event":"end","reason":"draining"}');
});

test('serve() refuses a non-loopback address without TLS and a token', async () => {
  await assert.rejects(serve(new Acceptor(), { host: '0.0.0.0', token: TOKEN }), (e) => e.code === 'INVALID_ARGUMENT');
  await assert.rejects(serve(new Acceptor(), { token: 'short' }), (e) => e.code === 'INVALID_ARGUMENT');
});

test('close() drains: healthz then fails and the port is released', async () => {
  const s = await serve(new Acceptor(), {});
  assert.equal((await raw(s.url, { method: 'GET', path: '/healthz' })).status, 200);
  await s.close();
  await assert.rejects(raw(s.url, { method: 'GET', path: '/healthz' }), /ECONNREFUSED/);
});
