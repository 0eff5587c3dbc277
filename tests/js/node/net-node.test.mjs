// NodeClient against three `synodos serve --peers` nodes (started by `synodos cluster`,
// stopped by its pid in `after`): append, propose, read, follow, info, a wrong token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NodeClient, SynodosError } from 'synodos';
import { binaryPresent, SYNODOS, startProcess, stopAll, tempDir, tokenFile, removeDir, TOKEN } from './net-helpers.mjs';
import { enc, dec } from './helpers.mjs';

const dir = tempDir();
let peers = [];
const clients = [];
const nodeClient = (p, o) => {
  const c = new NodeClient(p, o);
  clients.push(c);
  return c;
};

before(async () => {
  assert.ok(binaryPresent(), `${SYNODOS} missing: cargo build --release -p synodos-net`);
  const p = await startProcess(
    SYNODOS,
    ['cluster', '--nodes', '3', '--dir', dir, '--base-port', '0', '--token-file', tokenFile(dir), '--memory', '--cluster', 'jsnode'],
    /^export SYNODOS_PEERS=(\S+)/,
    { timeoutMs: 30000 },
  );
  peers = p.match[1].split(',');
  assert.equal(peers.length, 3);
});

after(async () => {
  for (const c of clients) c.close();
  await stopAll();
  removeDir(dir);
});

test('append through any node, read back, follow, the single decree', async () => {
  // Start at the last node: a follower forwards, and the client then follows the leader.
  const client = nodeClient([peers[2], peers[0], peers[1]], { token: TOKEN, cluster: 'jsnode' });
  const slots = [];
  for (let i = 0; i < 6; i++) {
    const e = await client.append(enc(`n${i}`));
    assert.equal(dec(e.value), `n${i}`);
    slots.push(e.slot);
  }
  for (let i = 1; i < slots.length; i++) assert.ok(slots[i] > slots[i - 1], 'slots increase');

  // Every node learns the same log; read through each until its learner has the last slot.
  const last = slots.at(-1);
  const it = client.follow(slots[0]);
  const seen = [];
  for await (const entry of it) {
    seen.push(entry);
    if (entry.slot === last) break; // closes the stream
  }
  assert.deepEqual(
    seen.filter((e) => slots.includes(e.slot)).map((e) => dec(e.value)),
    ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'],
  );
  const read = await client.read(slots[0], 100);
  assert.ok(read.length >= 6);
  const bySlot = new Map(read.map((e) => [e.slot, dec(e.value)]));
  slots.forEach((slot, i) => assert.equal(bySlot.get(slot), `n${i}`));
  read.forEach((e, i) => assert.equal(e.slot, slots[0] + BigInt(i), 'read gives consecutive slots'));

  const chosen = await client.propose(enc('decree'));
  assert.equal(dec(await client.propose(enc('another'))), dec(chosen), 'the single decree is decided once');

  const infos = await client.info();
  assert.equal(infos.length, 3);
  for (const { info, error } of infos) {
    assert.equal(error, undefined);
    assert.equal(info.cluster, 'jsnode');
    assert.equal(typeof info.leader, 'bigint');
  }
  const leaders = new Set(infos.map((i) => i.info.leader));
  assert.equal(leaders.size, 1, 'one leader');
});

test('NodeClient with a wrong token: TRANSPORT 401, not retried forever', async () => {
  const client = nodeClient(peers, { token: 'wrong-wrong-wrong-wrong-0' });
  await assert.rejects(client.append(enc('x')), (e) => {
    assert.ok(e instanceof SynodosError);
    assert.equal(e.code, 'TRANSPORT');
    assert.equal(e.status, 401);
    assert.equal(e.server.code, 'UNAUTHORIZED');
    return true;
  });
});

test('NodeClient passes over a node that does not answer', async () => {
  const client = nodeClient(['http://127.0.0.1:9', ...peers], { token: TOKEN, timeoutMs: 3000 });
  const e = await client.append(enc('skip-dead'));
  assert.equal(dec(e.value), 'skip-dead');
});
