// Logs whose methods return Promises (the shape of an IndexedDB-backed log): the core's
// async conformance kit, and AsyncAcceptors over them behind a Proposer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTask } from 'node:timers/promises';
import { AsyncAcceptor, MemoryLog, Proposer, SynodosError, runLogConformanceAsync } from 'synodos';
import { enc, dec } from './helpers.mjs';

/** Every call completes on a later task, like a storage transaction. */
class DeferredLog {
  constructor(records) {
    this.records = records;
    this.writes = 0;
  }
  async record(id, data) {
    await nextTask();
    const last = this.records.at(-1);
    if (last && id <= last[0]) throw new RangeError(`id ${id} not above ${last[0]}`);
    this.records.push([id, data.slice()]);
    this.writes++;
  }
  async last() {
    await nextTask();
    return this.records.at(-1) ?? null;
  }
  async range(start, stop, visit) {
    await nextTask();
    for (const [id, data] of this.records) if (id >= start && id <= stop) visit(id, data);
  }
  async trim(before) {
    await nextTask();
    const keep = this.records.filter(([id]) => id >= before);
    this.records.splice(0, this.records.length, ...keep);
  }
}

function store(LogClass = DeferredLog) {
  const files = new Map();
  return (name) => {
    if (!files.has(name)) files.set(name, []);
    return new LogClass(files.get(name));
  };
}

test('an async JS log passes the core async conformance kit (same checks as the sync kit)', async () => {
  const checks = await runLogConformanceAsync(store());
  assert.ok(checks.length >= 9, checks.join(', '));
  assert.ok(checks.includes('reopen keeps every record'));
  // open() may itself be async
  const open = store();
  assert.deepEqual(await runLogConformanceAsync(async (name) => open(name)), checks);
});

test('the async kit fails on a broken async log', async () => {
  class NoOrder extends DeferredLog {
    async record(id, data) {
      this.records.push([id, data]);
    }
  }
  await assert.rejects(runLogConformanceAsync(store(NoOrder)), (e) => e instanceof SynodosError && /duplicate and lower ids/.test(e.message));
  await assert.rejects(runLogConformanceAsync(() => new DeferredLog([])), (e) => /empty and large values/.test(e.message));
});

test('a proposer over AsyncAcceptors on async logs; state survives a reopen', async () => {
  const open = store();
  const first = await Promise.all([0, 1, 2].map((i) => AsyncAcceptor.open(open(`p${i}`), open(`a${i}`))));
  const p = new Proposer(first, { nodeId: 1 });
  const q = new Proposer(first, { nodeId: 2 });
  const [x, y] = await Promise.all([p.propose(enc('one')), q.propose(enc('two'))]);
  assert.equal(dec(x), dec(y), 'competing proposers agree over async storage');
  const promised = await first[0].promised();
  first.forEach((a) => a.free());
  const again = await Promise.all([0, 1, 2].map((i) => AsyncAcceptor.open(open(`p${i}`), open(`a${i}`))));
  assert.equal(await again[0].promised(), promised);
  assert.equal(dec(await new Proposer(again, { nodeId: 3 }).propose(enc('late'))), dec(x));
  const observed = await again[1].observe({ id: 0n });
  assert.equal(dec(observed[0].value), dec(x));
});

test('an AsyncAcceptor answers only after its write resolved', async () => {
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  class Gated extends DeferredLog {
    async record(id, data) {
      await gate;
      return super.record(id, data);
    }
  }
  const promises = new Gated([]);
  const acceptor = await AsyncAcceptor.open(promises, new MemoryLog());
  let answered = false;
  const reply = acceptor.prepare({ id: 4n }).then((r) => {
    answered = true;
    return r;
  });
  await nextTask();
  await nextTask();
  assert.equal(answered, false, 'no reply while the promise record is not durable');
  assert.equal(promises.records.length, 0);
  release();
  assert.equal((await reply).promised, 0n);
  assert.equal(promises.records.length, 1);
});

test('a rejecting async log: STORAGE with the cause, then CLOSED', async () => {
  const quota = new Error('QuotaExceededError');
  class Full extends DeferredLog {
    async record() {
      throw quota;
    }
  }
  const acceptor = await AsyncAcceptor.open(new Full([]), new DeferredLog([]));
  await assert.rejects(acceptor.prepare({ id: 1n }), (e) => e.code === 'STORAGE' && e.cause === quota);
  await assert.rejects(acceptor.prepare({ id: 2n }), (e) => e.code === 'CLOSED');
});

test('a dropped AsyncAcceptor call keeps its write: no later answer rests on it before it is durable (hole 4)', async () => {
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  class Gated extends DeferredLog {
    async record(id, data) {
      await gate;
      return super.record(id, data);
    }
  }
  const open = store();
  const fast = await Promise.all([0, 1].map((i) => AsyncAcceptor.open(open(`p${i}`), open(`a${i}`))));
  const slowAccepts = new Gated([]);
  const slow = await AsyncAcceptor.open(new MemoryLog(), slowAccepts);
  // Chosen by the two fast acceptors; the proposer drops the slow one's accept mid-write.
  assert.equal(dec(await new Proposer([...fast, slow], { nodeId: 1 }).propose(enc('v1'))), 'v1');
  let observed = null;
  const seen = slow.observe({ id: 0n }).then((o) => (observed = o));
  for (let i = 0; i < 10; i++) await nextTask();
  assert.equal(observed, null, 'observe waits for the write the dropped call began');
  assert.equal(slowAccepts.records.length, 0);
  release();
  await seen;
  assert.deepEqual(observed.map((p) => dec(p.value)), ['v1']);
  assert.equal(slowAccepts.records.length, 1, 'what was reported is durable');
});

