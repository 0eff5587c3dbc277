// Single-decree decisions per second in Node: local acceptors (called inside wasm), JS
// clients answering synchronously, JS clients answering with Promises; and the Rust figure
// for the same loop from the same run (bindings/wasm/examples/native_bench.rs).
// Run: make bench-js (or node tests/js/bench/bench.mjs after a build).
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Acceptor, Proposer } from 'synodos';

const N = Number(process.env.SYNODOS_BENCH_N ?? 100_000);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const value = new TextEncoder().encode('value-0123456789');

async function run(name, makeClients, n) {
  const acceptors = [new Acceptor(), new Acceptor(), new Acceptor()];
  const proposer = new Proposer(makeClients(acceptors), { nodeId: 1 });
  let slot = 0n;
  for (let i = 0; i < n / 10; i++) await proposer.proposeAt(slot++, value);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await proposer.proposeAt(slot++, value);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  proposer.free();
  acceptors.forEach((a) => a.free());
  return { name, perSec: n / secs };
}

// The machine is shared and noisy: run ROUNDS interleaved rounds and keep each
// configuration's best.
const ROUNDS = Number(process.env.SYNODOS_BENCH_ROUNDS ?? 3);
const configs = [
  ['local Acceptor objects', (a) => a, N],
  ['JS clients, sync answers', (a) => a.map((x) => ({ prepare: (r) => x.prepare(r), accept: (p) => x.accept(p) })), N],
  ['JS clients, async answers', (a) => a.map((x) => ({ prepare: async (r) => x.prepare(r), accept: async (p) => x.accept(p) })), N / 4],
];
const best = new Map();
let rust = 0;
for (let round = 0; round < ROUNDS; round++) {
  const native = execFileSync(
    'cargo',
    ['run', '--release', '-q', '-p', 'synodos-wasm', '--example', 'native_bench', '--', String(N)],
    { cwd: root, encoding: 'utf8', env: { ...process.env, CARGO_TARGET_DIR: path.join(root, 'target/wasm-dev') } },
  );
  rust = Math.max(rust, Number(native.match(/decisions_per_sec (\d+)/)[1]));
  for (const [name, make, n] of configs) {
    const r = await run(name, make, n);
    best.set(name, Math.max(best.get(name) ?? 0, r.perSec));
  }
}
const results = configs.map(([name]) => ({ name, perSec: best.get(name) }));

const require = createRequire(import.meta.url);
const wasmFile = path.join(path.dirname(require.resolve('synodos/package.json')), 'web/synodos_wasm_bg.wasm');
const raw = statSync(wasmFile).size;
const gz = gzipSync(readFileSync(wasmFile), { level: 9 }).length;

console.log(`machine: ${os.cpus().length} x ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
console.log(`3 acceptors, one decision at a time at increasing slots, ${N} decisions (async clients: ${N / 4}); best of ${ROUNDS} interleaved rounds`);
console.log('| configuration | decisions/s | vs Rust |');
console.log('|---|---:|---:|');
console.log(`| Rust, native (same loop) | ${rust.toFixed(0)} | 1.00x |`);
for (const r of results) console.log(`| Node, ${r.name} | ${r.perSec.toFixed(0)} | ${(r.perSec / rust).toFixed(2)}x |`);
console.log(`\n.wasm: ${raw} bytes raw (${(raw / 1024).toFixed(0)} KiB), ${gz} bytes gzipped -9 (${(gz / 1024).toFixed(0)} KiB)`);
