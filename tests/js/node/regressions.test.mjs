// Regression tests for defects of the JS binding found by review (issue 12):
//  1. a getter or Proxy that throws, on a client's answer or a log's record, unwound through
//     wasm (an uncaught exception, a propose that never settled or threw synchronously, an
//     acceptor stuck "re-entrant");
//  2. a huge but finite milliseconds option (1e300) panicked in Duration::from_secs_f64;
//  3. after the panic restart, late answers and timers threw "Cannot invoke closure from
//     previous WASM instance" and pending promises never settled;
//  4. callTimeoutMs >= 2^31 gave a 1 ms timeout (setTimeout clamps);
//  5. u64 arguments refused numbers and wrapped out-of-range BigInts (trim(-1n) forgot
//     every accepted proposal).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import synodos from 'synodos';
import { cluster, enc, dec } from './helpers.mjs';
import { expectPanics } from './panic-guard.mjs';

const { Acceptor, MemoryLog, Proposer, ReplicatedLog, CounterIdGenerator, ServerIdGenerator, SynodosError } = synodos;

const isSynodos = (code) => (e) => e instanceof SynodosError && e.code === code;
const boom = new Error('boom');
const throwingGetter = (obj, key) =>
  Object.defineProperty({ ...obj }, key, {
    get() {
      throw boom;
    },
    enumerable: true,
  });
const throwingProxy = (target = {}) =>
  new Proxy(target, {
    get() {
      throw boom;
    },
    getPrototypeOf() {
      throw boom;
    },
  });

// ---- 1. reads of user objects that throw -----------------------------------------------

for (const how of ['sync', 'async']) {
  for (const hostile of ['getter', 'proxy', 'accepted getter', 'value getter']) {
    test(`1: a ${how} client answer whose ${hostile} throws is that acceptor's failure, with the exception as cause`, async () => {
      const acceptors = cluster(3);
      const answer = (r, a) => {
        const p = a.prepare(r);
        if (hostile === 'getter') return throwingGetter(p, 'id');
        if (hostile === 'proxy') return throwingProxy(p);
        if (hostile === 'accepted getter') return throwingGetter(p, 'accepted');
        return p;
      };
      const accept = (p, a) => {
        const r = a.accept(p);
        return hostile === 'value getter' ? throwingGetter(r, 'value') : r;
      };
      const bad = (a) => ({
        prepare: (r) => (how === 'sync' ? answer(r, a) : Promise.resolve().then(() => answer(r, a))),
        accept: (p) => (how === 'sync' ? accept(p, a) : Promise.resolve().then(() => accept(p, a))),
      });
      // Two hostile clients of three: no quorum, and the propose settles (rejects).
      const p = new Proposer([bad(acceptors[0]), bad(acceptors[1]), acceptors[2]], { nodeId: 1, maxAttempts: 1 });
      let returned;
      assert.doesNotThrow(() => {
        returned = p.propose(enc('v'));
      });
      assert.ok(returned instanceof Promise);
      await assert.rejects(returned, (e) => {
        assert.ok(isSynodos('NO_QUORUM')(e), String(e));
        assert.equal(e.cause, boom);
        assert.ok(e.failures.length >= 1);
        for (const f of e.failures) assert.ok(f.code === 'TRANSPORT' && f.cause === boom, `${f.code} ${f.message}`);
        return true;
      });
      // One hostile client: the other two decide. (With a hostile accept answer, the two
      // acceptors behind the hostile clients did accept 'v' above: 'v' was chosen.)
      const q = new Proposer([bad(acceptors[0]), acceptors[1], acceptors[2]], { nodeId: 2 });
      assert.equal(dec(await q.propose(enc('w'))), hostile === 'value getter' ? 'v' : 'w');
    });
  }
}

test('1: a log record (or range answer) whose getter throws is STORAGE with the cause, and the acceptor is not left stuck', () => {
  const getOnly = (target) =>
    new Proxy(target, {
      get() {
        throw boom;
      },
    });
  const inner = new MemoryLog();
  let armed = false;
  const log = {
    record: (id, data) => inner.record(id, data),
    last: () => (armed ? getOnly([1n, new Uint8Array()]) : inner.last()),
    range: (a, b, visit) => (armed ? getOnly([]) : inner.range(a, b, visit)),
    trim: (before) => inner.trim(before),
  };
  const acceptor = new Acceptor(log, new MemoryLog());
  acceptor.prepare({ id: 5n, attempt: 1n });
  armed = true;
  // trim reads the promise log's last record inside the acceptor.
  assert.throws(() => acceptor.trim(1n), (e) => isSynodos('STORAGE')(e) && e.cause === boom);
  armed = false;
  // Later calls are answered, or refused because the log failed (CLOSED): never "re-entrant".
  let after = 'answered';
  try {
    acceptor.prepare({ id: 6n, attempt: 1n });
  } catch (e) {
    after = e;
  }
  assert.ok(after === 'answered' || isSynodos('CLOSED')(after), String(after));
  // Recovery reads both logs: a throwing record or range answer is STORAGE with the cause.
  armed = true;
  assert.throws(() => new Acceptor(log, new MemoryLog()), (e) => isSynodos('STORAGE')(e) && e.cause === boom);
  assert.throws(() => new Acceptor(new MemoryLog(), log), (e) => isSynodos('STORAGE')(e) && e.cause === boom);
});

test('1: arguments whose getters throw are INVALID_ARGUMENT with the cause; nothing throws through', async () => {
  const a = new Acceptor();
  for (const call of [
    () => a.prepare(throwingGetter({ id: 1n }, 'id')),
    () => a.prepare(throwingProxy()),
    () => a.accept(throwingGetter({ id: 1n, value: new Uint8Array([1]) }, 'value')),
    () => a.observe(throwingGetter({}, 'slot')),
    () => new Proposer(throwingProxy([]), { nodeId: 1 }),
    () => new Proposer([a], throwingGetter({ nodeId: 1 }, 'callTimeoutMs')),
    () => new Proposer([throwingGetter({ accept() {} }, 'prepare')], { nodeId: 1 }),
    () => new Acceptor(throwingGetter({ last() {}, range() {} }, 'record')),
  ]) {
    assert.throws(call, (e) => isSynodos('INVALID_ARGUMENT')(e) && e.cause === boom, String(call));
  }
  // A Proxy of a Uint8Array, or one whose length lies, is not taken for one.
  const lying = new Uint8Array([1, 2, 3]);
  Object.defineProperty(lying, 'length', { value: 1e9 });
  const chosen = await new Proposer(cluster(3), { nodeId: 2 }).propose(lying);
  assert.deepEqual([...chosen], [1, 2, 3]);
  await assert.rejects(new Proposer(cluster(3), { nodeId: 3 }).propose(throwingProxy(new Uint8Array([1]))), isSynodos('INVALID_ARGUMENT'));
  // The acceptor still works.
  assert.equal(a.prepare({ id: 9n, attempt: 1n }).id, 9n);
});

// ---- 2. huge milliseconds --------------------------------------------------------------

test('2: callTimeoutMs, backoff and poll options and wait timeouts of 1e300 (or Infinity) mean "no limit"', async () => {
  const acceptors = cluster(3);
  for (const huge of [1e300, Number.MAX_VALUE, Infinity]) {
    const opts = { nodeId: 1, callTimeoutMs: huge, backoffMinMs: huge, backoffMaxMs: huge, pollIntervalMs: huge };
    const p = new Proposer(acceptors, opts);
    assert.equal(dec(await p.propose(enc('v'))), 'v');
    const log = new ReplicatedLog(acceptors, { ...opts, nodeId: 2 });
    const got = await log.wait(0n, 1, huge); // slot 0 is chosen: returns at once
    assert.equal(dec(got[0].value), 'v');
  }
  for (const bad of [-1, NaN, -Infinity]) {
    assert.throws(() => new Proposer(acceptors, { nodeId: 1, callTimeoutMs: bad }), isSynodos('INVALID_ARGUMENT'));
    await assert.rejects(new ReplicatedLog(acceptors, { nodeId: 3 }).wait(0n, 1, bad), isSynodos('INVALID_ARGUMENT'));
  }
});

// ---- 3. a restart with work in flight ----------------------------------------------------

test('3: after a panic, pending promises reject with PANIC, and late answers and timers are harmless', async (t) => {
  expectPanics(1);
  t.mock.method(console, 'error', () => {});
  const uncaught = [];
  const onUncaught = (e) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  try {
    const acceptors = cluster(3);
    let answerLater;
    const late = new Promise((resolve) => {
      answerLater = resolve;
    });
    const waiting = {
      prepare: (r) => late.then(() => acceptors[0].prepare(r)),
      accept: (p) => acceptors[0].accept(p),
    };
    const silent = { prepare: () => new Promise(() => {}), accept: () => new Promise(() => {}) };
    // One call waits for a late answer, others for a 50 ms timeout.
    const p = new Proposer([waiting, silent, silent], { nodeId: 1, callTimeoutMs: 50, maxAttempts: 1 });
    const pending = p.propose(enc('lost'));
    assert.throws(() => synodos.__panicForTest('mid-flight'), (e) => e instanceof WebAssembly.RuntimeError);
    await assert.rejects(pending, (e) => isSynodos('PANIC')(e) && /restarted/.test(e.message));
    answerLater(); // a late answer for the aborted instance
    // Let the aborted instance's 50 ms timer come due (a later timer fires after it).
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.deepEqual(uncaught, []);
    // New objects work.
    assert.equal(dec(await new Proposer(cluster(3), { nodeId: 2 }).propose(enc('after'))), 'after');
  } finally {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  }
});

// ---- 4. long call timeouts ----------------------------------------------------------------

test('4: callTimeoutMs of 2^31 ms or more is long, not 1 ms', async () => {
  const acceptors = cluster(3);
  // Clients that answer after a few milliseconds (a network round trip).
  const slow = (a) => ({
    prepare: (r) => new Promise((resolve) => setTimeout(() => resolve(a.prepare(r)), 5)),
    accept: (p) => new Promise((resolve) => setTimeout(() => resolve(a.accept(p)), 5)),
  });
  // One node id per proposer: a second one with the same id is a restart of the first.
  for (const [i, ms] of [2 ** 31, 2 ** 31 + 1, 2 ** 32, 1e12].entries()) {
    const p = new Proposer(acceptors.map(slow), { nodeId: i + 1, callTimeoutMs: ms, maxAttempts: 1 });
    assert.equal(dec(await p.proposeAt(BigInt(ms), enc('v'))), 'v', `callTimeoutMs ${ms}`);
  }
});

// ---- 5. 64-bit arguments -----------------------------------------------------------------

const BAD_U64 = [-1n, 2n ** 64n, -(2n ** 64n), 1.5, NaN, Infinity, -Infinity, -1, 2 ** 53 + 1, 2 ** 64, '5', null, undefined, {}];

test('5: every 64-bit argument takes a safe-integer number or a BigInt in range, and refuses the rest', async () => {
  const a = new Acceptor();
  const log = new MemoryLog();
  const ids = new CounterIdGenerator(1);
  const sids = new ServerIdGenerator(1);
  // Numbers are accepted where the types say `bigint | number`.
  a.trim(0);
  log.record(5, new Uint8Array([5]));
  log.range(0, 10, () => {});
  log.trim(1);
  ids.observe(7);
  sids.observe(7);
  // A value was accepted at slot 3: trim(-1n) must not forget it.
  const p = new Proposer([a], { nodeId: 2 });
  await p.proposeAt(3, enc('kept'));
  for (const bad of BAD_U64) {
    const what = typeof bad === 'bigint' ? `${bad}n` : String(bad);
    for (const call of [
      () => a.trim(bad),
      () => log.record(bad, new Uint8Array()),
      () => log.range(bad, 10, () => {}),
      () => log.range(0, bad, () => {}),
      () => log.trim(bad),
      () => ids.observe(bad),
      () => sids.observe(bad),
    ]) {
      assert.throws(call, isSynodos('INVALID_ARGUMENT'), `${call} with ${what}`);
    }
    await assert.rejects(p.proposeAt(bad, enc('x')), isSynodos('INVALID_ARGUMENT'), `proposeAt ${what}`);
    await assert.rejects(new ReplicatedLog([a], { nodeId: 3 }).read(bad), isSynodos('INVALID_ARGUMENT'), `read ${what}`);
  }
  // Nothing was lost or exhausted by the refused calls.
  assert.equal(dec(a.observe({ slot: 3n }).at(0).value), 'kept');
  assert.ok(ids.next() > 0n);
  assert.ok(sids.next() > 0n);
  assert.equal(log.length, 1);
  // The extremes that are valid work.
  a.trim(2n ** 64n - 1n);
  ids.observe(2n ** 64n - 1n);
  assert.throws(() => ids.next(), isSynodos('ID_EXHAUSTED'));
});
