// A Rust panic (a bug: none is reachable from input or callbacks) must not leave the module
// unusable. The build is panic=abort; the panic hook schedules a fresh wasm instance, so
// the panicking call throws, objects from the aborted instance refuse use, and the next
// calls work (also after many panics: no leaked wasm stack).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import synodos from 'synodos';
import { enc, dec } from './helpers.mjs';
import { expectPanics } from './panic-guard.mjs';

const { Acceptor, Proposer, SynodosError, decodeMessage } = synodos;

test('after a panic, the next call works', async (t) => {
  expectPanics(1);
  const logged = [];
  t.mock.method(console, 'error', (msg) => logged.push(String(msg)));
  const before = new Acceptor();
  assert.throws(() => synodos.__panicForTest('one'), (e) => e instanceof WebAssembly.RuntimeError);
  assert.equal(logged.length, 1);
  assert.match(logged[0], /deliberate panic: one/);
  assert.equal(synodos.__panicCount(), 1);
  // Objects of the aborted instance refuse use instead of running on interrupted state.
  assert.throws(() => before.prepare({ id: 1n }), /stale object/);
  // Everything created afterwards works, errors included.
  const chosen = await new Proposer([new Acceptor(), new Acceptor(), new Acceptor()], { nodeId: 1 }).propose(enc('after'));
  assert.equal(dec(chosen), 'after');
  assert.throws(() => decodeMessage('request', '{"id":-1}'), (e) => e instanceof SynodosError && e.code === 'INVALID_MESSAGE');
});

test('many panics in a row leave the module usable', async (t) => {
  expectPanics(2000);
  t.mock.method(console, 'error', () => {});
  for (let i = 0; i < 2000; i++) {
    assert.throws(() => synodos.__panicForTest(`#${i}`));
  }
  const p = new Proposer([new Acceptor(), new Acceptor(), new Acceptor()], { nodeId: 2 });
  assert.equal(dec(await p.propose(enc('still here'))), 'still here');
});
