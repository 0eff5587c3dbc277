// Proposers over local acceptors and JS-written clients: agreement, failures, timeouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Acceptor,
  Proposer,
  ReplicatedLog,
  CounterIdGenerator,
  ServerIdGenerator,
  SynodosError,
  decodeMessage,
  majority,
} from 'synodos';
import { cluster, delayedClient, enc, dec, rng } from './helpers.mjs';

for (const n of [3, 5]) {
  test(`${n} local acceptors: the first value is chosen and stays chosen`, async () => {
    const acceptors = cluster(n);
    const alice = new Proposer(acceptors, { nodeId: 1 });
    const bob = new Proposer(acceptors, { nodeId: 2 });
    const chosen = await alice.propose(enc('alice'));
    assert.ok(chosen instanceof Uint8Array);
    assert.equal(dec(chosen), 'alice');
    assert.equal(dec(await bob.propose(enc('bob'))), 'alice');
    // every acceptor that answered has the value accepted at slot 0
    const holding = acceptors.filter((a) => a.observe({ id: 0n }).some((p) => dec(p.value) === 'alice'));
    assert.ok(holding.length >= majority(n));
  });

  test(`${n} acceptors: competing proposers started together agree`, async () => {
    for (let round = 0; round < 20; round++) {
      const acceptors = cluster(n);
      const r = rng(round + 1);
      const proposers = [1, 2, 3].map(
        (id) =>
          new Proposer(
            acceptors.map((a) => delayedClient(a, 3, r)),
            { nodeId: id, seed: BigInt(round * 10 + id), backoffMinMs: 1, backoffMaxMs: 5 },
          ),
      );
      const results = await Promise.all(proposers.map((p, i) => p.propose(enc(`value-${i}`))));
      const values = new Set(results.map(dec));
      assert.equal(values.size, 1, `round ${round}: ${[...values]}`);
      assert.match([...values][0], /^value-[012]$/);
    }
  });
}

test('async JS clients with random delays reach a value; the acceptors agree with it', async () => {
  const acceptors = cluster(5);
  const r = rng(42);
  const p = new Proposer(
    acceptors.map((a) => delayedClient(a, 10, r)),
    { nodeId: 9 },
  );
  assert.equal(dec(await p.propose(enc('slow'))), 'slow');
  const direct = new Proposer(acceptors, { nodeId: 10 });
  assert.equal(dec(await direct.propose(enc('other'))), 'slow');
});

test('a mix of local acceptors and JS clients (sync and async answers)', async () => {
  const [a, b, c] = cluster(3);
  const syncClient = { prepare: (r) => b.prepare(r), accept: (p) => b.accept(p) };
  const asyncClient = { prepare: async (r) => c.prepare(r), accept: async (p) => c.accept(p) };
  const p = new Proposer([asyncClient, syncClient, a], { nodeId: 1 });
  assert.equal(dec(await p.propose(enc('mixed'))), 'mixed');
  assert.equal(dec(b.observe({}).at(0).value), 'mixed');
  assert.equal(dec(a.observe({}).at(0).value), 'mixed');
});

test('requests go to all acceptors at once: every prepare is sent before any answers', async () => {
  const acceptors = cluster(3);
  const pending = [];
  const gated = acceptors.map((a) => ({
    prepare: (r) => new Promise((resolve) => pending.push(() => resolve(a.prepare(r)))),
    accept: (p) => a.accept(p),
  }));
  const p = new Proposer(gated, { nodeId: 1 });
  const result = p.propose(enc('fan-out'));
  // Let the proposer run until it waits on the clients (a macrotask boundary, not a delay).
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(pending.length, 3, 'all three prepares in flight at once');
  pending.forEach((release) => release());
  assert.equal(dec(await result), 'fan-out');
});

test('clients receive plain messages with BigInt ids', async () => {
  const [a, b, c] = cluster(3);
  const seen = [];
  const spy = {
    prepare(req) {
      seen.push(['prepare', req]);
      return a.prepare(req);
    },
    accept(prop) {
      seen.push(['accept', prop]);
      return a.accept(prop);
    },
  };
  const ids = new CounterIdGenerator(7);
  await new Proposer([spy, b, c], { ids }).propose(enc('x'));
  const [, req] = seen.find(([k]) => k === 'prepare');
  assert.equal(typeof req.id, 'bigint');
  assert.equal(req.id & 0xffffn, 7n, 'node id in the low 16 bits');
  assert.equal(req.slot, 0n);
  assert.equal(req.attempt, 1n);
  const [, prop] = seen.find(([k]) => k === 'accept');
  assert.equal(prop.id, req.id);
  assert.equal(dec(prop.value), 'x');
  assert.ok(ids.next() > req.id, 'the shared generator moved on');
});

test('a throwing client: propose still succeeds with a majority, and reports the cause without one', async () => {
  const boom = new TypeError('boom');
  const thrower = {
    prepare() {
      throw boom;
    },
    accept() {
      throw boom;
    },
  };
  const acceptors = cluster(2);
  const ok = new Proposer([...acceptors, thrower], { nodeId: 1 });
  assert.equal(dec(await ok.propose(enc('fine'))), 'fine');

  const rejecter = { prepare: () => Promise.reject(boom), accept: () => Promise.reject(boom) };
  const doomed = new Proposer([cluster(1)[0], thrower, rejecter], { nodeId: 2, maxAttempts: 2, backoffMaxMs: 1 });
  await assert.rejects(doomed.propose(enc('no')), (e) => {
    assert.ok(e instanceof SynodosError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'SynodosError');
    assert.equal(e.code, 'NO_QUORUM');
    assert.equal(e.cause, boom, 'the original exception, unchanged');
    assert.equal(e.attempts, 2);
    assert.equal(e.needed, 2);
    assert.deepEqual(e.failures.map((f) => [f.acceptor, f.code]).sort(), [
      [1, 'TRANSPORT'],
      [2, 'TRANSPORT'],
    ]);
    assert.ok(e.failures.every((f) => f.cause === boom));
    return true;
  });
  // The module is still usable: the next call works.
  assert.equal(dec(await new Proposer(cluster(3), { nodeId: 3 }).propose(enc('after'))), 'after');
});

test('a throwing non-Error value (a string) still arrives as the cause', async () => {
  const p = new Proposer([{ prepare() { throw 'plain string'; }, accept() {} }], { nodeId: 1, maxAttempts: 1 });
  await assert.rejects(p.propose(enc('x')), (e) => e.code === 'NO_QUORUM' && e.cause === 'plain string');
});

test('a client returning garbage is a failure of that acceptor, not a crash', async () => {
  const garbage = { prepare: () => 42, accept: () => ({ id: 'x' }) };
  const p = new Proposer([garbage], { nodeId: 1, maxAttempts: 1 });
  await assert.rejects(p.propose(enc('x')), (e) => e.code === 'NO_QUORUM' && e.failures[0].code === 'INVALID_MESSAGE');
});

test('a hanging client is cut off by the timeout', async () => {
  const hang = { prepare: () => new Promise(() => {}), accept: () => new Promise(() => {}) };
  const acceptors = cluster(2);
  const start = Date.now();
  // Two answer at once: the majority decides without waiting for the hanging one.
  const p = new Proposer([hang, ...acceptors], { nodeId: 1, callTimeoutMs: 60_000 });
  assert.equal(dec(await p.propose(enc('quick'))), 'quick');
  assert.ok(Date.now() - start < 5_000, 'did not wait for the hanging client');

  // Without a majority the hanging calls time out and propose rejects.
  const stuck = new Proposer([hang, hang, acceptors[0]], { nodeId: 2, callTimeoutMs: 50, maxAttempts: 2, backoffMaxMs: 1 });
  const t0 = Date.now();
  await assert.rejects(stuck.propose(enc('never')), (e) => {
    assert.equal(e.code, 'NO_QUORUM');
    assert.deepEqual(e.failures.map((f) => f.code), ['TIMEOUT', 'TIMEOUT']);
    return true;
  });
  assert.ok(Date.now() - t0 >= 100, 'two attempts of 50 ms timeouts');
});

test('invalid arguments throw SynodosError INVALID_ARGUMENT', async () => {
  const acceptors = cluster(3);
  const invalid = (e) => e instanceof SynodosError && e.code === 'INVALID_ARGUMENT';
  assert.throws(() => new Proposer(acceptors, {}), invalid, 'no node id');
  assert.throws(() => new Proposer([], { nodeId: 1 }), invalid, 'no acceptors');
  assert.throws(() => new Proposer([{}], { nodeId: 1 }), invalid, 'not a client');
  assert.throws(() => new Proposer(acceptors, { nodeId: 70000 }), invalid);
  assert.throws(() => new Proposer(acceptors, { nodeId: 1, maxAttempts: 0 }), invalid);
  assert.throws(() => new Proposer(acceptors, { ids: {} }), invalid);
  await assert.rejects(new Proposer(acceptors, { nodeId: 1 }).propose('text'), invalid);
  assert.throws(() => new CounterIdGenerator(-1), invalid);
  assert.throws(() => new Acceptor({ record() {} }), invalid, 'a log without last/range');
});

test('acceptor rules through the JS API: rejections carry the promised ballot', () => {
  const a = new Acceptor();
  assert.equal(a.prepare({ id: 10n }).promised, 0n);
  assert.equal(a.promised, 10n);
  const low = a.prepare({ id: 9n });
  assert.equal(low.promised, 10n);
  assert.equal(a.accept({ id: 9n, value: enc('v') }).promised, 10n);
  assert.equal(a.accept({ id: 10n, value: enc('v') }).promised, 0n);
  assert.equal(dec(a.prepare({ id: 11n }).accepted.value), 'v');
  assert.throws(() => a.prepare({ id: 0n }), (e) => e.code === 'INVALID_MESSAGE');
});

test('id generators: increasing BigInts that leap past observed ballots', () => {
  const c = new CounterIdGenerator(3);
  const a = c.next();
  const b = c.next();
  assert.equal(typeof a, 'bigint');
  assert.ok(b > a);
  c.observe(1n << 40n);
  assert.ok(c.next() > 1n << 40n);
  const s = new ServerIdGenerator(5);
  const x = s.next();
  assert.equal(x & 0xffffn, 5n);
  assert.ok(x >> 16n >= BigInt(Date.now() - 60_000), 'millis in the high bits (millis << 16 | id, as every generator)');
  assert.ok(s.next() > x);
});

test('replicated log: appends land in order; read and entries() see them', async () => {
  const acceptors = cluster(3);
  const w1 = new ReplicatedLog(acceptors, { nodeId: 1 });
  const w2 = new ReplicatedLog(acceptors, { nodeId: 2 });
  assert.deepEqual(await w1.append(enc('a')), { slot: 0n, value: enc('a') });
  assert.equal((await w1.append(enc('b'))).slot, 1n);
  assert.equal((await w2.append(enc('c'))).slot, 2n, 'another writer skips taken slots');
  const read = await w2.read(0n, 10);
  assert.deepEqual(read.map((e) => dec(e.value)), ['a', 'b', 'c']);
  assert.equal(w2.nextSlot, 3n);

  const got = [];
  const appended = w1.append(enc('d'));
  for await (const entry of w2.entries(1n, { waitMs: 100 })) {
    got.push(`${entry.slot}:${dec(entry.value)}`);
    if (got.length === 3) break;
  }
  await appended;
  assert.deepEqual(got, ['1:b', '2:c', '3:d']);
});

test('concurrent appends from two writers get distinct slots', async () => {
  const acceptors = cluster(3);
  const r = rng(7);
  const w = [1, 2].map((id) => new ReplicatedLog(acceptors.map((a) => delayedClient(a, 3, r)), { nodeId: id }));
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => w[i % 2].append(enc(`e${i}`))));
  const slots = results.map((e) => e.slot);
  assert.equal(new Set(slots.map(String)).size, 6, `distinct slots ${slots}`);
  const all = await w[0].read(0n, 100);
  assert.deepEqual(all.map((e) => dec(e.value)).sort(), ['e0', 'e1', 'e2', 'e3', 'e4', 'e5']);
});

test('re-entrancy: a client may call back into the proposer and acceptors', async () => {
  const acceptors = cluster(3);
  const inner = new Proposer(acceptors, { nodeId: 2 });
  let nested;
  const reentrant = {
    async prepare(req) {
      nested ??= inner.proposeAt(5n, enc('nested'));
      return acceptors[0].prepare(req);
    },
    accept: (p) => acceptors[0].accept(p),
  };
  const outer = new Proposer([reentrant, acceptors[1], acceptors[2]], { nodeId: 1 });
  assert.equal(dec(await outer.proposeAt(4n, enc('outer'))), 'outer');
  assert.equal(dec(await nested), 'nested');
});

test('free() releases objects; using a freed object throws, others keep working', async () => {
  const acceptors = cluster(3);
  const p = new Proposer(acceptors, { nodeId: 1 });
  p.free();
  assert.throws(() => p.propose(enc('x')));
  acceptors[0].free();
  // The proposer built before holds its own reference to the acceptor state.
  const q = new Proposer(acceptors.slice(1), { nodeId: 2 });
  assert.equal(dec(await q.propose(enc('y'))), 'y');
});

test('a proposer restarted with the same nodeId cannot choose a second value (hole 1)', async () => {
  const acceptors = cluster(3);
  // Node 1's first life: ballot B promised by all three, its accept of "old" reaches one.
  const b = new CounterIdGenerator(1).next();
  for (const a of acceptors) assert.equal(a.prepare({ id: b, attempt: 1n }).promised, 0n);
  acceptors[0].accept({ id: b, slot: 0n, value: enc('old') });
  const down = { prepare: () => { throw new Error('link down'); }, accept: () => { throw new Error('link down'); } };
  // Restarted with nodeId 1 again, it draws B again but reaches only the other two.
  const restarted = new Proposer([down, acceptors[1], acceptors[2]], { nodeId: 1, maxAttempts: 5 });
  assert.equal(dec(await restarted.propose(enc('new'))), 'new');
  const later = new Proposer([acceptors[0], acceptors[1], down], { nodeId: 3, maxAttempts: 5 });
  assert.equal(dec(await later.propose(enc('later'))), 'new', 'the later proposer learns the same value');
  const again = acceptors[1].prepare({ id: b, attempt: 1n });
  assert.ok(again.promised > b, 'a ballot is granted once');
});

test('a promise without frontier decodes as unknown, and one with frontier 0 as 0n', () => {
  assert.equal(decodeMessage('promise', '{"id":7}').frontier, undefined);
  assert.equal(decodeMessage('promise', '{"id":7,"frontier":0}').frontier, 0n);
});

