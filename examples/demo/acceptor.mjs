#!/usr/bin/env node
// A synodos acceptor served by Node over two durable FileLogs (DIR/promises, DIR/accepts).
// Contract for an orchestrator (`make demo`):
//   node examples/demo/acceptor.mjs --dir D --port P --token-file F --id N --cluster C [--host H]
//        [--allow-origin ORIGIN,ORIGIN]  (CORS: pages of these origins may call it)
//   stdout: exactly one line `READY <url>` once it serves; errors go to stderr;
//   SIGTERM or SIGINT: stop serving, close the logs, exit 0. Exit 1 on a failure to start
//   (e.g. the port is taken, or DIR is in use or damaged), 2 on a bad command line.
// Restarted on the same DIR it serves what it promised and accepted before.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Acceptor, FileLog, serve } from '../../bindings/wasm/pkg/node/index.mjs';
import { parseArgs } from './args.mjs';

const usage =
  'usage: acceptor.mjs --dir D --port P --token-file F --id N --cluster C [--host 127.0.0.1] [--allow-origin O,O]\n';
const args = parseArgs(
  process.argv.slice(2),
  { names: ['dir', 'port', 'token-file', 'id', 'cluster', 'host', 'allow-origin'], required: ['dir', 'port', 'token-file', 'id', 'cluster'], defaults: { host: '127.0.0.1' } },
  usage,
);

try {
  // The first token of the file (one per line; blank lines and # comments skipped).
  const token = readFileSync(args['token-file'], 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l && !l.startsWith('#'));
  const promises = new FileLog(path.join(args.dir, 'promises'));
  const accepts = new FileLog(path.join(args.dir, 'accepts'));
  const acceptor = new Acceptor(promises, accepts);
  const server = await serve(acceptor, {
    host: args.host,
    port: Number(args.port),
    token,
    cluster: args.cluster,
    acceptorId: Number(args.id),
    allowOrigins: args['allow-origin'] ? args['allow-origin'].split(',') : undefined,
  });
  process.stdout.write(`READY ${server.url}\n`);
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`acceptor ${args.id}: ${signal}: stopping\n`);
    await server.close();
    promises.close();
    accepts.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (e) {
  process.stderr.write(`acceptor ${args.id}: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
}
