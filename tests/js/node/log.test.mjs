// Logs written in JS: the core's conformance kit, acceptors over them, storage failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Acceptor, MemoryLog, Proposer, SynodosError, runLogConformance } from 'synodos';
import { cluster, enc, dec } from './helpers.mjs';

/** A correct log in plain JS over a Map of arrays (the "storage"), synchronous. */
class ArrayLog {
  constructor(records) {
    this.records = records; // [[id, Uint8Array], ...], shared with reopens
  }
  record(id, data) {
    const last = this.records.at(-1);
    if (last && id <= last[0]) throw new RangeError(`id ${id} not above ${last[0]}`);
    this.records.push([id, data.slice()]);
  }
  recordBatch(batch) {
    let prev = this.records.at(-1)?.[0];
    for (const [id] of batch) {
      if (prev !== undefined && id <= prev) throw new RangeError(`batch id ${id} not above ${prev}`);
      prev = id;
    }
    for (const [id, data] of batch) this.records.push([id, data.slice()]);
  }
  last() {
    return this.records.at(-1) ?? null;
  }
  range(start, stop, visit) {
    for (const [id, data] of this.records) {
      if (id >= start && id <= stop) visit(id, data);
    }
  }
  trim(before) {
    const keep = this.records.filter(([id]) => id >= before);
    this.records.splice(0, this.records.length, ...keep);
  }
}

function store(LogClass = ArrayLog) {
  const files = new Map();
  return (name) => {
    if (!files.has(name)) files.set(name, []);
    return new LogClass(files.get(name));
  };
}

test('a JS-written log passes the core conformance kit', () => {
  const checks = runLogConformance(store());
  assert.ok(checks.length >= 9, checks.join(', '));
  assert.ok(checks.includes('trim'));
});

test('a log returning its records from range() (instead of visiting) passes too', () => {
  class Returning extends ArrayLog {
    range(start, stop) {
      return this.records.filter(([id]) => id >= start && id <= stop);
    }
  }
  assert.ok(runLogConformance(store(Returning)).length >= 9);
});

test('MemoryLog objects pass the kit', () => {
  const logs = new Map();
  const checks = runLogConformance((name) => {
    if (!logs.has(name)) logs.set(name, new MemoryLog());
    return logs.get(name);
  });
  assert.ok(checks.length >= 9);
});

test('the kit fails on broken logs and names the check', () => {
  const forgetful = () => new ArrayLog([]);
  assert.throws(() => runLogConformance(forgetful), (e) => e instanceof SynodosError && /empty and large values/.test(e.message));
  class NoOrder extends ArrayLog {
    record(id, data) {
      this.records.push([id, data]);
    }
  }
  assert.throws(() => runLogConformance(store(NoOrder)), (e) => /duplicate and lower ids/.test(e.message));
  class Async extends ArrayLog {
    async last() {
      return super.last();
    }
  }
  assert.throws(() => runLogConformance(store(Async)), (e) => /Promise/.test(e.message));
});

test('an acceptor over JS logs survives a restart with its promise and accepted values', async () => {
  const open = store();
  const first = [0, 1, 2].map((i) => new Acceptor(open(`p${i}`), open(`a${i}`)));
  assert.equal(dec(await new Proposer(first, { nodeId: 1 }).propose(enc('durable'))), 'durable');
  const promised = first[0].promised;
  first.forEach((a) => a.free());
  const again = [0, 1, 2].map((i) => new Acceptor(open(`p${i}`), open(`a${i}`)));
  assert.equal(again[0].promised, promised);
  assert.equal(dec(await new Proposer(again, { nodeId: 2 }).propose(enc('late'))), 'durable');
});

test('a MemoryLog shared by two acceptors acts as a restart', () => {
  const [p, a] = [new MemoryLog(), new MemoryLog()];
  const one = new Acceptor(p, a);
  one.prepare({ id: 5n });
  one.accept({ id: 5n, value: enc('kept') });
  assert.equal(p.length, 1);
  assert.equal(a.length, 1);
  const two = new Acceptor(p, a);
  assert.equal(dec(two.prepare({ id: 6n }).accepted.value), 'kept');
});

test('a throwing log: STORAGE error with the cause, then the acceptor refuses (CLOSED)', async () => {
  const disk = new Error('disk on fire');
  class Broken extends ArrayLog {
    record() {
      throw disk;
    }
  }
  const bad = new Acceptor(new Broken([]), new ArrayLog([]));
  assert.throws(() => bad.prepare({ id: 1n }), (e) => e.code === 'STORAGE' && e.cause === disk);
  assert.throws(() => bad.prepare({ id: 2n }), (e) => e.code === 'CLOSED');
  // Through a proposer the failing acceptor is one failure among others.
  const [x, y] = cluster(2);
  const p = new Proposer([new Acceptor(new Broken([]), new ArrayLog([])), x, y], { nodeId: 1 });
  assert.equal(dec(await p.propose(enc('ok'))), 'ok');
});

test('a log that calls back into its own acceptor gets an error, not a crash', () => {
  let acceptor;
  let inner;
  class Reentrant extends ArrayLog {
    record(id, data) {
      try {
        acceptor.prepare({ id: 100n });
      } catch (e) {
        inner = e;
      }
      super.record(id, data);
    }
  }
  acceptor = new Acceptor(new Reentrant([]), new ArrayLog([]));
  assert.equal(acceptor.prepare({ id: 3n }).promised, 0n);
  assert.equal(inner.code, 'INVALID_ARGUMENT');
  assert.match(inner.message, /re-entrant/);
  assert.equal(acceptor.promised, 3n, 'the re-entrant call changed nothing');
});
