// The argument sweep: a generated table that calls every public constructor, method and
// function of the package with boundary and hostile values in every argument position
// (negative, too large, fractional, NaN, huge, wrong type, null/undefined, Symbols, objects
// and Proxies whose getters throw, revoked Proxies, re-entrant callbacks). Each call must
// work or fail cleanly: a SynodosError with a code (never a TypeError from the glue, a
// RuntimeError from a trap, or the user's own exception escaping raw), and a method that
// returns a Promise must return one (rejected) rather than throw. After every row the shared
// objects must still work; panic-guard.mjs fails the file on any Rust panic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import synodos from 'synodos';
import { cluster, enc, dec } from './helpers.mjs';

const {
  Acceptor,
  AsyncAcceptor,
  MemoryLog,
  Proposer,
  ReplicatedLog,
  CounterIdGenerator,
  ServerIdGenerator,
  SynodosError,
  encodeMessage,
  decodeMessage,
  runLogConformance,
  runLogConformanceAsync,
  majority,
} = synodos;

const boom = new Error('boom');
const hostileObject = () =>
  new Proxy(
    {},
    {
      get() {
        throw boom;
      },
      has() {
        throw boom;
      },
      getPrototypeOf() {
        throw boom;
      },
      ownKeys() {
        throw boom;
      },
    },
  );
const revoked = () => {
  const r = Proxy.revocable({}, {});
  r.revoke();
  return r.proxy;
};
const getterEverywhere = () => {
  const o = {};
  for (const k of ['id', 'attempt', 'slot', 'value', 'promised', 'accepted', 'frontier', 'then', 'length', 'nodeId', 'ids',
    'callTimeoutMs', 'maxAttempts', 'seed', 'prepare', 'accept', 'observe', 'record', 'last', 'range', 'trim']) {
    Object.defineProperty(o, k, {
      get() {
        throw boom;
      },
    });
  }
  return o;
};
const lyingBytes = () => {
  const b = new Uint8Array([1, 2]);
  Object.defineProperty(b, 'length', { get: () => 1e12 });
  return b;
};

// Hostile values, by name (the name is what a failing row prints).
const HOSTILE = {
  '-1': () => -1,
  '-1n': () => -1n,
  '2n**64n': () => 2n ** 64n,
  '2n**64n-1n': () => 2n ** 64n - 1n,
  '0': () => 0,
  '0n': () => 0n,
  '1.5': () => 1.5,
  NaN: () => NaN,
  Infinity: () => Infinity,
  '-Infinity': () => -Infinity,
  '2**53+1': () => 2 ** 53 + 1,
  '2**53-1': () => 2 ** 53 - 1,
  '1e300': () => 1e300,
  "'5'": () => '5',
  "''": () => '',
  Symbol: () => Symbol('s'),
  true: () => true,
  null: () => null,
  undefined: () => undefined,
  '{}': () => ({}),
  '[]': () => [],
  'a function': () => () => {},
  'new Uint8Array()': () => new Uint8Array(),
  'a Uint8Array whose length lies': lyingBytes,
  'a Proxy of a Uint8Array': () => new Proxy(new Uint8Array([1]), {}),
  'a Proxy whose traps throw': hostileObject,
  'a revoked Proxy': revoked,
  'an object whose getters throw': getterEverywhere,
  'an array whose items throw': () => new Proxy([1, 2], { get: (t, k) => (k === 'length' ? 2 : (() => { throw boom; })()) }),
};

// Shared objects, checked after every row.
const shared = {
  acceptors: cluster(3),
  ids: new CounterIdGenerator(100),
  log: new MemoryLog(),
  next: 1_000_000,
};
shared.proposer = new Proposer(shared.acceptors, { ids: shared.ids });
shared.rlog = new ReplicatedLog(shared.acceptors, { nodeId: 101 });
await shared.rlog.append(enc('first')); // slot 0 is chosen: waits from 0 return at once

async function stillWorking(row) {
  const slot = shared.next++;
  const chosen = await shared.proposer.proposeAt(slot, enc('ok'));
  assert.equal(dec(chosen), 'ok', `after ${row}: the proposer`);
  assert.ok(shared.ids.next() > 0n, `after ${row}: the id generator`);
  const p = shared.acceptors[0].prepare({ id: shared.ids.next(), attempt: 1n, slot: 2n ** 64n - 2n });
  assert.ok(typeof p.id === 'bigint', `after ${row}: the acceptor`);
  const last = shared.log.last();
  const top = last === null ? 0n : last[0];
  if (top < 2n ** 64n - 1n) shared.log.record(top + 1n, new Uint8Array([1]));
}

// A clean failure: a SynodosError with a code other than PANIC.
function cleanError(e) {
  return e instanceof SynodosError && typeof e.code === 'string' && e.code !== 'PANIC';
}

// Run one row: `call` must return (or resolve), or fail cleanly. `promise`: it must return a
// Promise, never throw. `settle`: await it (false for calls that may wait for long).
async function row(name, call, { promise = false, settle = true } = {}) {
  let result;
  try {
    result = call();
  } catch (e) {
    assert.ok(!promise, `${name}: threw synchronously instead of rejecting: ${e}`);
    assert.ok(cleanError(e), `${name}: threw ${e && e.constructor && e.constructor.name}: ${e}`);
    return;
  }
  if (promise) assert.ok(result instanceof Promise, `${name}: did not return a Promise`);
  if (result instanceof Promise && settle) {
    try {
      await result;
    } catch (e) {
      assert.ok(cleanError(e), `${name}: rejected with ${e && e.constructor && e.constructor.name}: ${e}`);
    }
  }
}

// The table: [name, arity, make(args) -> call, options, valid default arguments].
const req = () => ({ id: 5n, attempt: 1n, slot: 3n });
const prop = () => ({ id: 5n, slot: 3n, value: enc('v') });
const freshAcceptor = () => new Acceptor();
const TARGETS = [
  ['new Acceptor', 2, (a, b) => new Acceptor(a, b), {}, [undefined, undefined]],
  ['Acceptor.prepare', 1, (a) => freshAcceptor().prepare(a), {}, [req()]],
  ['Acceptor.accept', 1, (a) => freshAcceptor().accept(a), {}, [prop()]],
  ['Acceptor.observe', 1, (a) => shared.acceptors[1].observe(a), {}, [req()]],
  ['Acceptor.trim', 1, (a) => freshAcceptor().trim(a), {}, [0n]],
  ['AsyncAcceptor.open', 2, (a, b) => AsyncAcceptor.open(a, b), { promise: true }, [undefined, undefined]],
  ['AsyncAcceptor.prepare', 1, async (a) => (await AsyncAcceptor.open()).prepare(a), { promise: true }, [req()]],
  ['AsyncAcceptor.accept', 1, async (a) => (await AsyncAcceptor.open()).accept(a), { promise: true }, [prop()]],
  ['AsyncAcceptor.observe', 1, async (a) => (await AsyncAcceptor.open()).observe(a), { promise: true }, [req()]],
  ['AsyncAcceptor.trim', 1, async (a) => (await AsyncAcceptor.open()).trim(a), { promise: true }, [0n]],
  ['MemoryLog.record', 2, (a, b) => new MemoryLog().record(a, b), {}, [1n, enc('x')]],
  ['MemoryLog.range', 3, (a, b, c) => shared.log.range(a, b, c), {}, [0n, 5n, () => {}]],
  ['MemoryLog.trim', 1, (a) => new MemoryLog().trim(a), {}, [0n]],
  ['new Proposer', 2, (a, b) => new Proposer(a, b), {}, [cluster(3), { nodeId: 1 }]],
  ['Proposer.propose', 1, (a) => new Proposer(cluster(3), { nodeId: 1 }).propose(a), { promise: true }, [enc('v')]],
  ['Proposer.proposeAt', 2, (a, b) => new Proposer(cluster(3), { nodeId: 1 }).proposeAt(a, b), { promise: true }, [0n, enc('v')]],
  ['new ReplicatedLog', 2, (a, b) => new ReplicatedLog(a, b), {}, [cluster(3), { nodeId: 1 }]],
  ['ReplicatedLog.append', 1, (a) => new ReplicatedLog(cluster(3), { nodeId: 1 }).append(a), { promise: true }, [enc('v')]],
  ['ReplicatedLog.read', 2, (a, b) => shared.rlog.read(a, b), { promise: true }, [0n, 10]],
  // From slot 0 (chosen), so that a valid but huge timeout returns at once.
  ['ReplicatedLog.wait', 3, (a, b, c) => shared.rlog.wait(a, b, c), { promise: true }, [0n, 10, 0]],
  ['new CounterIdGenerator', 1, (a) => new CounterIdGenerator(a), {}, [1]],
  ['CounterIdGenerator.observe', 1, (a) => new CounterIdGenerator(1).observe(a), {}, [5n]],
  ['new ServerIdGenerator', 1, (a) => new ServerIdGenerator(a), {}, [1]],
  ['ServerIdGenerator.observe', 1, (a) => new ServerIdGenerator(1).observe(a), {}, [5n]],
  ['encodeMessage', 2, (a, b) => encodeMessage(a, b), {}, ['request', req()]],
  ['decodeMessage', 2, (a, b) => decodeMessage(a, b), {}, ['request', '{"id":1}']],
  ['runLogConformance', 1, (a) => runLogConformance(a), {}, [() => new MemoryLog()]],
  ['runLogConformanceAsync', 1, (a) => runLogConformanceAsync(a), { promise: true }, [() => new MemoryLog()]],
  ['majority', 1, (a) => majority(a), {}, [3]],
];

for (const [name, arity, make, opts, defaults] of TARGETS) {
  test(`sweep: ${name}`, async () => {
    let rows = 0;
    for (let pos = 0; pos < arity; pos++) {
      for (const [valueName, value] of Object.entries(HOSTILE)) {
        const args = defaults.slice();
        args[pos] = value();
        const rowName = `${name}(argument ${pos} = ${valueName})`;
        await row(rowName, () => make(...args), opts);
        await stillWorking(rowName);
        rows++;
      }
    }
    assert.equal(rows, arity * Object.keys(HOSTILE).length);
  });
}

test('sweep: every proposer option with every hostile value', async () => {
  const keys = ['nodeId', 'ids', 'callTimeoutMs', 'maxAttempts', 'backoffMinMs', 'backoffMaxMs', 'pollIntervalMs', 'seed'];
  for (const key of keys) {
    for (const [valueName, value] of Object.entries(HOSTILE)) {
      const options = { nodeId: 7, [key]: value() };
      const rowName = `options.${key} = ${valueName}`;
      for (const Cls of [Proposer, ReplicatedLog]) {
        let made;
        await row(`new ${Cls.name}(${rowName})`, () => {
          made = new Cls(cluster(3), options);
        });
        // Made: it works (local acceptors answer at once: no timeout or backoff is waited for).
        if (made instanceof Proposer) assert.equal(dec(await made.propose(enc('v'))), 'v', rowName);
        if (made instanceof ReplicatedLog) assert.equal(dec((await made.append(enc('e'))).value), 'e', rowName);
      }
      await stillWorking(rowName);
    }
  }
});

test('sweep: ReplicatedLog.entries with hostile arguments rejects on the first step', async () => {
  const valid = new Set(['0', '0n', '2n**64n-1n', '2**53-1', 'undefined', 'null']);
  for (const [valueName, value] of Object.entries(HOSTILE)) {
    const it = shared.rlog.entries(value(), { waitMs: 0 });
    if (valid.has(valueName)) {
      await it.return(); // a valid start: it would wait for entries for ever
      continue;
    }
    await row(`entries(${valueName})`, () => it.next(), { promise: true });
  }
  for (const [valueName, value] of Object.entries(HOSTILE)) {
    const it = shared.rlog.entries(0n, value());
    // From slot 0 (chosen), the first step returns at once, or fails cleanly.
    await row(`entries(0n, ${valueName})`, () => it.next(), { promise: true });
    await it.return();
  }
});

test('sweep: hostile and re-entrant clients and logs fail cleanly', async () => {
  const acceptors = cluster(3);
  const answers = Object.entries(HOSTILE);
  for (const [valueName, value] of answers) {
    for (const phase of ['prepare', 'accept', 'observe']) {
      const client = (a) => ({
        prepare: (r) => (phase === 'prepare' ? value() : a.prepare(r)),
        accept: (p) => (phase === 'accept' ? value() : a.accept(p)),
        observe: (r) => (phase === 'observe' ? value() : a.observe(r)),
      });
      const clients = [client(acceptors[0]), client(acceptors[1]), acceptors[2]];
      await row(`a client answering ${phase} with ${valueName}`, () =>
        new ReplicatedLog(clients, { nodeId: 8, maxAttempts: 2, backoffMinMs: 0, backoffMaxMs: 0 }).append(enc('x')),
      { promise: true });
      await row(`a client answering ${phase} with ${valueName} (read)`, () =>
        new ReplicatedLog(clients, { nodeId: 9 }).read(0n), { promise: true });
      // Answers that are Promises of the hostile value.
      const later = (a) => ({
        prepare: async (r) => (phase === 'prepare' ? value() : a.prepare(r)),
        accept: async (p) => (phase === 'accept' ? value() : a.accept(p)),
      });
      await row(`a client answering ${phase} later with ${valueName}`, () =>
        new Proposer([later(acceptors[0]), later(acceptors[1]), acceptors[2]], { nodeId: 10, maxAttempts: 1 }).propose(enc('y')),
      { promise: true });
      // A log whose method returns the hostile value.
      const log = {
        record: () => (phase === 'prepare' ? value() : undefined),
        last: () => (phase === 'accept' ? value() : null),
        range: () => (phase === 'observe' ? value() : []),
        trim: () => undefined,
      };
      await row(`a log answering with ${valueName} (${phase})`, () => new Acceptor(log, log).prepare(req()));
      await row(`an async log answering with ${valueName} (${phase})`, async () =>
        (await AsyncAcceptor.open(log, log)).prepare(req()), { promise: true });
    }
  }
  // Re-entrant: a client that proposes through the proposer calling it, a log that calls
  // its own acceptor, a range visitor that calls back into its log.
  const inner = cluster(3);
  let proposer;
  let reentered = 0;
  const reentrant = inner.map((a) => ({
    prepare: async (r) => {
      if (reentered++ === 0) await proposer.proposeAt(r.slot + 1n, enc('inner'));
      return a.prepare(r);
    },
    accept: (p) => a.accept(p),
  }));
  proposer = new Proposer(reentrant, { nodeId: 11 });
  assert.equal(dec(await proposer.proposeAt(0n, enc('outer'))), 'outer');
  let owner;
  const selfLog = {
    record: (id) => owner && owner.prepare({ id: id + 100n, attempt: 1n }),
    last: () => null,
    range: () => [],
    trim: () => undefined,
  };
  owner = new Acceptor(selfLog, new MemoryLog());
  assert.throws(() => owner.prepare({ id: 5n, attempt: 1n }), (e) => cleanError(e) && /re-entr/.test(String(e.cause ?? e.message)));
  const memory = new MemoryLog();
  memory.record(1n, enc('a'));
  memory.range(0n, 5n, (id) => memory.record(id + 10n, enc('b')));
  assert.equal(memory.length, 2);
  await stillWorking('re-entrant calls');
});
