// HttpAcceptor against real `synodos serve` processes (the Rust server): a replicated log
// over three of them, 64-bit ballots exact across the wire, a wrong token, a wrong cluster,
// TLS with a token. Every process is stopped by pid in `after`, also on failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HttpAcceptor, ReplicatedLog, Proposer, ServerIdGenerator, SynodosError } from 'synodos';
import { binaryPresent, SYNODOS, synodosServe, stopAll, tempDir, tokenFile, removeDir, selfSigned, TOKEN } from './net-helpers.mjs';
import { enc, dec } from './helpers.mjs';

const dir = tempDir();
const tokens = tokenFile(dir);
let servers = [];
const clients = [];
const client = (url, options) => {
  const c = new HttpAcceptor(url, options);
  clients.push(c);
  return c;
};

before(async () => {
  assert.ok(binaryPresent(), `${SYNODOS} missing: cargo build --release -p synodos-net`);
  servers = await Promise.all([1, 2, 3].map((id) => synodosServe({ id, tokenFile: tokens })));
});

after(async () => {
  for (const c of clients) c.close();
  await stopAll();
  removeDir(dir);
});

test('a ReplicatedLog over three HttpAcceptors to `synodos serve` appends and reads back', async () => {
  const acceptors = servers.map((s) => client(s.url, { token: TOKEN, cluster: 'jsnet' }));
  const log = new ReplicatedLog(acceptors, { nodeId: 7 });
  const slots = [];
  for (let i = 0; i < 5; i++) slots.push((await log.append(enc(`v${i}`))).slot);
  assert.deepEqual(slots, [0n, 1n, 2n, 3n, 4n]);
  const read = await new ReplicatedLog(acceptors, { nodeId: 8 }).read(0n, 100);
  assert.deepEqual(read.map((e) => dec(e.value)), ['v0', 'v1', 'v2', 'v3', 'v4']);
  // The acceptor id was found on first contact, and every acceptor saw the accepts.
  assert.deepEqual(acceptors.map((a) => a.acceptorId), [1n, 2n, 3n]);
  for (const a of acceptors) assert.equal((await a.info()).frontier, 5n);
  log.free();
});

test('64-bit ballots cross exactly (decoded by wasm, not JSON.parse)', async () => {
  const acceptors = servers.map((s) => client(s.url, { token: TOKEN }));
  const ids = new ServerIdGenerator(3);
  const proposer = new Proposer(acceptors, { ids });
  const chosen = await proposer.proposeAt(100n, enc('big'));
  assert.equal(dec(chosen), 'big');
  const info = await acceptors[0].info();
  assert.equal(typeof info.promised, 'bigint');
  assert.ok(info.promised > 2n ** 53n, `ballot ${info.promised} is above 2^53`);
  assert.equal(info.promised & 0xffffn, 3n, 'the node id survives in the low bits: no rounding');
  // A prepare below the promise is refused with that exact ballot.
  const refused = await acceptors[0].prepare({ id: 5n, slot: 100n, attempt: 1n });
  assert.equal(refused.promised, info.promised);
  proposer.free();
});

test('a wrong token is a TRANSPORT error with status 401 and the server message', async () => {
  const bad = client(servers[0].url, { token: 'not-the-token-at-all-0000' });
  await assert.rejects(bad.prepare({ id: 1n, slot: 0n }), (e) => {
    assert.ok(e instanceof SynodosError);
    assert.equal(e.code, 'TRANSPORT');
    assert.equal(e.status, 401);
    assert.equal(e.server.code, 'UNAUTHORIZED');
    assert.match(e.message, /401 UNAUTHORIZED: wrong token/);
    assert.equal(e.cause.status, 401);
    return true;
  });
  const none = client(servers[0].url, {});
  await assert.rejects(none.info(), (e) => e.code === 'TRANSPORT' && e.status === 401 && /no token/.test(e.message));
});

test('a proposer over acceptors that refuse the token fails with NO_QUORUM naming 401', async () => {
  const acceptors = servers.map((s) => client(s.url, { token: 'wrong-token-wrong-token-00' }));
  const proposer = new Proposer(acceptors, { nodeId: 9, maxAttempts: 1 });
  await assert.rejects(proposer.propose(enc('x')), (e) => {
    assert.equal(e.code, 'NO_QUORUM');
    assert.ok(e.failures.length >= 2);
    assert.ok(e.failures.every((f) => f.cause?.status === 401), 'each failure carries the 401');
    return true;
  });
  proposer.free();
});

test('another cluster is refused: by the client on first contact, and by the server (403)', async () => {
  const wrong = client(servers[0].url, { token: TOKEN, cluster: 'other' });
  await assert.rejects(wrong.prepare({ id: 1n, slot: 0n }), (e) => {
    assert.equal(e.code, 'TRANSPORT');
    assert.equal(e.server.code, 'WRONG_CLUSTER');
    assert.equal(e.status, 403);
    return true;
  });
  const id = client(servers[0].url, { token: TOKEN, acceptorId: 2 });
  await assert.rejects(id.check(), (e) => e.server.code === 'WRONG_ACCEPTOR' && e.status === 0);
});

test('a dead server is a TRANSPORT error with status 0', async () => {
  const gone = client('http://127.0.0.1:9', { token: TOKEN, timeoutMs: 2000 });
  await assert.rejects(gone.info(), (e) => e.code === 'TRANSPORT' && e.status === 0 && /ECONNREFUSED/.test(e.message));
});

test('TLS plus a token: an https HttpAcceptor against `synodos serve --tls-cert`', async () => {
  const tls = selfSigned(dir);
  const s = await synodosServe({ id: 4, tokenFile: tokens, extra: ['--tls-cert', tls.certPath, '--tls-key', tls.keyPath] });
  assert.match(s.url, /^https:\/\//);
  const ca = readFileSync(tls.certPath, 'utf8');
  const a = client(s.url, { token: TOKEN, ca });
  const promise = await a.prepare({ id: 65537n, slot: 0n, attempt: 1n });
  assert.equal(promise.promised, 0n);
  assert.equal((await a.info()).promised, 65537n);
  // Without the CA the handshake fails: a TRANSPORT error, status 0.
  const untrusted = client(s.url, { token: TOKEN });
  await assert.rejects(untrusted.info(), (e) => e.code === 'TRANSPORT' && e.status === 0);
});
