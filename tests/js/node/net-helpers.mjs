// Helpers of the network suites: the `synodos` binary, processes stopped by pid, temp dirs.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const ROOT = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const TARGET = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
/** The Rust CLI (built by `cargo build --release -p synodos-net`; mk/js.mk does it). */
export const SYNODOS = process.env.SYNODOS_BIN || path.join(TARGET, 'release', 'synodos');

export function binaryPresent() {
  return existsSync(SYNODOS);
}

export const TOKEN = 'js-test-token-0123456789abcdef';

export function tempDir(prefix = 'synodos-js-') {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function tokenFile(dir, token = TOKEN) {
  const f = path.join(dir, 'tokens');
  writeFileSync(f, `${token}\n`);
  return f;
}

/** Every process started here, so that `stopAll()` (an after hook) can stop them by pid. */
const started = new Set();

/**
 * Start `cmd args` and resolve once a stdout line matches `ready` (readiness is that line,
 * never a sleep). Resolves to {child, match, lines}. Rejects if it exits first or says
 * nothing matching within `timeoutMs` (and then kills it).
 */
export function startProcess(cmd, args, ready, { timeoutMs = 20000, env } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  started.add(child);
  child.on('exit', () => started.delete(child));
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop(child);
      reject(new Error(`${cmd} not ready within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    const rl = createInterface({ input: child.stdout });
    let done = false;
    rl.on('line', (line) => {
      lines.push(line);
      const m = done ? null : line.match(ready);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolve({ child, match: m, lines, stderr: () => stderr });
      }
    });
    child.on('exit', (code, signal) => {
      if (!done) {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited (${code ?? signal}) before it was ready; stderr: ${stderr}`));
      }
    });
  });
}

/** Stop one process by pid (SIGTERM, then SIGKILL after 5 s) and wait for its exit. */
export function stop(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch (_) {
        // Gone already.
      }
    }, 5000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code);
    });
    try {
      process.kill(child.pid, signal);
    } catch (_) {
      clearTimeout(kill);
      resolve(null);
    }
  });
}

export async function stopAll() {
  await Promise.all([...started].map((c) => stop(c)));
}

/** A `synodos serve` acceptor on an ephemeral port; resolves to {child, url}. */
export async function synodosServe({ id, cluster = 'jsnet', tokenFile: tf, extra = [] }) {
  const args = ['serve', '--id', String(id), '--cluster', cluster, '--listen', '127.0.0.1:0', '--memory'];
  if (tf) args.push('--token-file', tf);
  const p = await startProcess(SYNODOS, [...args, ...extra], /serving acceptor \d+ of cluster \S+ on (\S+)/);
  return { child: p.child, url: p.match[1] };
}

/** A self-signed certificate for 127.0.0.1 (openssl), as {cert, key} PEM strings and paths. */
export function selfSigned(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { keyPath: key, certPath: cert };
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}
