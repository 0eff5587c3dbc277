// Memory stays flat over 100,000 proposals: wasm objects are released by free() and by the
// garbage collector (FinalizationRegistry), JS errors kept as causes are dropped, and
// awaited Promises and timers leave nothing behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { setImmediate as nextTask } from 'node:timers/promises';
import synodos from 'synodos';
import { enc } from './helpers.mjs';

const { Acceptor, Proposer } = synodos;
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

async function settle() {
  // Collect, then give FinalizationRegistry callbacks a task turn to free wasm objects.
  for (let i = 0; i < 3; i++) {
    gc();
    await nextTask();
  }
}

const PER_CLUSTER = 100;
const CLUSTERS = 1000; // 100,000 proposals

async function round(i) {
  const acceptors = [new Acceptor(), new Acceptor(), new Acceptor()];
  const jsClients = i % 2 === 1;
  const clients = jsClients
    ? acceptors.map((a, k) =>
        i % 10 === 1 && k === 0
          ? { prepare() { throw new Error(`down ${i}`); }, accept() { throw new Error('down'); } }
          : i % 3 === 0
            ? { prepare: async (r) => a.prepare(r), accept: async (p) => a.accept(p) }
            : { prepare: (r) => a.prepare(r), accept: (p) => a.accept(p) },
      )
    : acceptors;
  const proposer = new Proposer(clients, { nodeId: 1 });
  const value = enc(`value ${i}`);
  for (let k = 0; k < PER_CLUSTER; k++) {
    const chosen = await proposer.propose(value);
    if (chosen.length !== value.length) throw new Error('wrong value');
  }
  if (i % 4 === 0) {
    // explicit release; the others are left to the garbage collector
    proposer.free();
    acceptors.forEach((a) => a.free());
  }
}

test('memory stays flat over 100,000 proposals (local acceptors, sync and async JS clients, failing clients)', async () => {
  const warmup = 100;
  for (let i = 0; i < warmup; i++) await round(i);
  await settle();
  const wasmBefore = synodos.__memoryBytes();
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = warmup; i < CLUSTERS; i++) {
    await round(i);
    if (i % 100 === 0) await settle();
  }
  await settle();
  const wasmAfter = synodos.__memoryBytes();
  const heapAfter = process.memoryUsage().heapUsed;
  const mib = (n) => (n / 1048576).toFixed(2);
  console.log(`# wasm memory ${mib(wasmBefore)} -> ${mib(wasmAfter)} MiB; JS heap ${mib(heapBefore)} -> ${mib(heapAfter)} MiB`);
  assert.ok(wasmBefore > 0);
  // 90,000 proposals after warm-up: a leak of even 16 bytes per proposal would be 1.4 MiB.
  assert.ok(wasmAfter - wasmBefore <= 1 << 20, `wasm memory grew by ${mib(wasmAfter - wasmBefore)} MiB`);
  assert.ok(heapAfter - heapBefore < 8 << 20, `JS heap grew by ${mib(heapAfter - heapBefore)} MiB`);
});

// Regression (issue 12, "memory grows in steps when clients throw"): every exception that
// wasm-bindgen's own `catch` caught kept an externref table slot (and so the thrown value)
// for good. User code is now called through the host, which catches in JS.
test('a client that always throws, a throwing getter and a throwing range visitor leave nothing behind', async () => {
  const throwing = { prepare() { throw new Error('down'); }, accept() { throw new Error('down'); } };
  const getter = { get prepare() { throw new Error('getter'); }, accept() {} };
  const log = new synodos.MemoryLog();
  log.record(1n, new Uint8Array([1]));
  const work = async (n) => {
    for (let c = 0; c < n; c++) {
      const acceptors = [new Acceptor(), new Acceptor()];
      const proposer = new Proposer([throwing, ...acceptors], { nodeId: 1 });
      for (let k = 0; k < 50; k++) await proposer.propose(enc('v'));
      proposer.free();
      acceptors.forEach((a) => a.free());
      try {
        new Proposer([getter], { nodeId: 1 });
      } catch {}
      try {
        log.range(0n, 5n, () => {
          throw new Error('visitor');
        });
      } catch {}
    }
  };
  await work(20);
  await settle();
  const liveBefore = synodos.__liveValues();
  const wasmBefore = synodos.__memoryBytes();
  await work(400); // 20,000 throwing calls, 400 throwing getters and visitors
  await settle();
  const kept = synodos.__liveValues() - liveBefore;
  assert.ok(kept < 100, `${kept} JS values still held by wasm`);
  assert.ok(synodos.__memoryBytes() - wasmBefore <= 1 << 20);
});
