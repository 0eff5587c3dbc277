// The demo programs' CLI contract (examples/demo/): three acceptor.mjs over FileLogs, a
// writer.mjs appending through them, one acceptor killed with SIGKILL and restarted on its
// directory, and SIGTERM exiting 0. Every process is stopped by pid in `after`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { HttpAcceptor } from 'synodos';
import { ROOT, startProcess, stop, stopAll, tempDir, tokenFile, removeDir, TOKEN } from './net-helpers.mjs';

const dir = tempDir();
const tokens = tokenFile(dir);
const demo = (name) => path.join(ROOT, 'examples', 'demo', name);
const clients = [];

after(async () => {
  for (const c of clients) c.close();
  await stopAll();
  removeDir(dir);
});

const acceptor = (id, port = 0) =>
  startProcess(
    process.execPath,
    [demo('acceptor.mjs'), '--dir', path.join(dir, `a${id}`), '--port', String(port), '--token-file', tokens, '--id', String(id), '--cluster', 'demo'],
    /^READY (http:\/\/\S+)$/,
  );

const writer = (peers, tag, count) =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [demo('writer.mjs'), '--peers', peers.join(','), '--token-file', tokens, '--cluster', 'demo', '--count', String(count), '--tag', tag],
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });

test('acceptors and a writer from the command line; a killed acceptor restarts with its data', async () => {
  const procs = await Promise.all([1, 2, 3].map((id) => acceptor(id)));
  const urls = procs.map((p) => p.match[1]);
  const first = await writer(urls, 'node', 20);
  assert.equal(first.code, 0, first.stderr);
  const lines = first.stdout.trim().split('\n');
  assert.equal(lines.length, 20);
  lines.forEach((line, i) => assert.match(line, new RegExp(`^slot \\d+ node-${i}$`)));

  // kill -9 one acceptor: appends go on over two of three.
  const port = new URL(urls[2]).port;
  procs[2].child.kill('SIGKILL');
  await new Promise((resolve) => procs[2].child.once('exit', resolve));
  const second = await writer(urls, 'more', 3);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.trim().split('\n').length, 3);

  // Restarted on its directory (same port), it still holds the 20 accepts it had.
  const again = await acceptor(3, port);
  const a = new HttpAcceptor(again.match[1], { token: TOKEN, cluster: 'demo', acceptorId: 3 });
  clients.push(a);
  const info = await a.info();
  assert.ok(info.frontier >= 20n, `frontier ${info.frontier}`);
  assert.ok(info.promised > 0n);

  // SIGTERM: a clean exit, 0.
  assert.equal(await stop(again.child), 0);
});

test('the writer exits 1 when no majority answers, 2 on a bad command line', async () => {
  const dead = await writer(['http://127.0.0.1:9', 'http://127.0.0.1:10', 'http://127.0.0.1:11'], 'x', 1);
  assert.equal(dead.code, 1);
  assert.match(dead.stderr, /writer: error:/);
  const bad = await new Promise((resolve) =>
    execFile(process.execPath, [demo('writer.mjs'), '--nope', '1'], (error, _o, stderr) => resolve({ code: error?.code, stderr })),
  );
  assert.equal(bad.code, 2);
});
