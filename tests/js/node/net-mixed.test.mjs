// Rust HttpAcceptors against JS serve(): a `synodos serve --peers` node (Rust proposer,
// leader and learner) whose other two members are acceptors served by this process over
// FileLogs. Appends through the Rust CLI and through a JS NodeClient land in one log that
// the JS acceptors hold. The node is stopped by pid in `after`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { Acceptor, FileLog, NodeClient, serve } from 'synodos';
import { binaryPresent, SYNODOS, startProcess, stopAll, tempDir, tokenFile, removeDir, TOKEN } from './net-helpers.mjs';
import { enc, dec } from './helpers.mjs';

const dir = tempDir();
const tokens = tokenFile(dir);
const servers = [];
const logs = [];
const acceptors = [];
let nodeUrl;
let client;

/** A port that was free a moment ago (the node needs its URL before it starts: --peers). */
const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

before(async () => {
  assert.ok(binaryPresent(), `${SYNODOS} missing: cargo build --release -p synodos-net`);
  for (const id of [2, 3]) {
    const p = new FileLog(path.join(dir, `a${id}`, 'promises'));
    const a = new FileLog(path.join(dir, `a${id}`, 'accepts'));
    logs.push(p, a);
    const acceptor = new Acceptor(p, a);
    acceptors.push(acceptor);
    servers.push(await serve(acceptor, { token: TOKEN, cluster: 'mixed', acceptorId: id }));
  }
  const port = await freePort();
  nodeUrl = `http://127.0.0.1:${port}`;
  const peers = [nodeUrl, ...servers.map((s) => s.url)].join(',');
  await startProcess(
    SYNODOS,
    ['serve', '--id', '1', '--cluster', 'mixed', '--listen', `127.0.0.1:${port}`, '--memory', '--token-file', tokens, '--peers', peers],
    /serving node 1 of cluster mixed on/,
  );
  client = new NodeClient([nodeUrl], { token: TOKEN, cluster: 'mixed' });
});

after(async () => {
  client?.close();
  await stopAll();
  await Promise.all(servers.map((s) => s.close()));
  for (const l of logs) l.close();
  removeDir(dir);
});

const cli = (args) =>
  new Promise((resolve, reject) =>
    execFile(SYNODOS, [...args, '--peers', nodeUrl, '--token-file', tokens, '--cluster', 'mixed'], (e, stdout, stderr) =>
      e ? reject(new Error(`${e.message}: ${stderr}`)) : resolve(stdout.trim()),
    ),
  );

test('a Rust node appends through Rust HttpAcceptors to two JS acceptors', async () => {
  const first = BigInt(await cli(['append', 'from-rust']));
  const second = await client.append(enc('from-js'));
  assert.ok(second.slot > first);
  // A majority is the node's own acceptor plus at least one JS acceptor: together the two
  // JS acceptors must hold both values, at the slots the node acknowledged.
  const held = new Map();
  for (const a of acceptors) for (const p of a.observe({ id: 0n, slot: 0n })) held.set(p.slot, dec(p.value));
  assert.equal(held.get(first), 'from-rust');
  assert.equal(held.get(second.slot), 'from-js');
  // The node's learner learns them from the acceptors (the JS ones included): follow waits
  // until it has.
  const seen = [];
  for await (const e of client.follow(first)) {
    seen.push(dec(e.value));
    if (e.slot >= second.slot) break;
  }
  assert.deepEqual([seen[0], seen.at(-1)], ['from-rust', 'from-js']);
});
