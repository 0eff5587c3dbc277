#!/usr/bin/env node
// Appends COUNT values `TAG-0` .. `TAG-(COUNT-1)` through a ReplicatedLog over one
// HttpAcceptor per peer. Contract for an orchestrator (`make demo`):
//   node examples/demo/writer.mjs --peers URL,URL,URL --token-file F --cluster C
//        [--count 20] [--tag node] [--node-id N] [--interval-ms MS]
//   stdout: one line `slot <n> <value>` per acknowledged append, in the order acknowledged;
//   exit 0 only if every append was acknowledged, 1 otherwise (the error on stderr), 2 on a
//   bad command line. --node-id names this proposer's ballots (1..65535); give each
//   concurrent writer its own (default: a random one).
// A failed append is tried again (up to 3 times), so a value may land twice in the log.
import { readFileSync } from 'node:fs';
import { HttpAcceptor, ReplicatedLog } from '../../bindings/wasm/pkg/node/index.mjs';
import { parseArgs, fail } from './args.mjs';

const usage =
  'usage: writer.mjs --peers URL,URL,URL --token-file F --cluster C [--count 20] [--tag node] [--node-id N] [--interval-ms MS]\n';
const args = parseArgs(
  process.argv.slice(2),
  {
    names: ['peers', 'token-file', 'cluster', 'count', 'tag', 'node-id', 'interval-ms'],
    required: ['peers', 'token-file', 'cluster'],
    defaults: { count: '20', tag: 'node', 'node-id': String(1 + Math.floor(Math.random() * 65535)), 'interval-ms': '0' },
  },
  usage,
);
const count = Number(args.count);
const nodeId = Number(args['node-id']);
// A pause between appends: the demo paces its writers so that its kill lands mid-stream.
const intervalMs = Number(args['interval-ms']);
if (!Number.isInteger(intervalMs) || intervalMs < 0) fail('--interval-ms must be a non-negative integer', usage);
if (!Number.isInteger(count) || count < 0) fail('--count must be a non-negative integer', usage);
if (!Number.isInteger(nodeId) || nodeId < 1 || nodeId > 65535) fail('--node-id must be in 1..65535', usage);

let acceptors = [];
let code = 0;
try {
  const token = readFileSync(args['token-file'], 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
  acceptors = args.peers.split(',').map((url) => new HttpAcceptor(url, { token, cluster: args.cluster }));
  const log = new ReplicatedLog(acceptors, { nodeId, maxAttempts: 30, callTimeoutMs: 2000 });
  const encoder = new TextEncoder();
  for (let i = 0; i < count; i++) {
    const value = `${args.tag}-${i}`;
    for (let attempt = 1; ; attempt++) {
      try {
        const entry = await log.append(encoder.encode(value));
        process.stdout.write(`slot ${entry.slot} ${value}\n`);
        if (intervalMs > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
        process.stderr.write(`writer: append ${value} failed (${e.code}), trying again: ${e.message}\n`);
      }
    }
  }
  log.free();
} catch (e) {
  process.stderr.write(`writer: error: ${e && e.message ? e.message : e}\n`);
  code = 1;
} finally {
  for (const a of acceptors) a.close();
}
process.exitCode = code;
