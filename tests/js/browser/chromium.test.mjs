// The ES module build in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): two proposers and three acceptors reach one value; the test reads the
// result from the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { after } from 'node:test';
import { Acceptor, serve as serveAcceptor } from 'synodos';
import { binaryPresent, SYNODOS, synodosServe, stopAll, tempDir, tokenFile, removeDir, TOKEN } from '../node/net-helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const roots = {
  '/pkg/': path.resolve(here, '../../../bindings/wasm/pkg'),
  '/page/': here,
};
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

function serve() {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const prefix = Object.keys(roots).find((p) => url.pathname.startsWith(p));
    const file = prefix && path.resolve(roots[prefix], '.' + url.pathname.slice(prefix.length - 1));
    if (!file || !file.startsWith(roots[prefix])) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const launch = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });

const netDir = tempDir();
after(async () => {
  await stopAll();
  removeDir(netDir);
});

test('browser build: HttpAcceptors over fetch append to two `synodos serve` and one JS serve() (CORS allows the page)', async () => {
  assert.ok(binaryPresent(), `${SYNODOS} missing: cargo build --release -p synodos-net`);
  const server = await serve();
  const browser = await launch();
  try {
    const { port } = server.address();
    const origin = `http://127.0.0.1:${port}`;
    const tokens = tokenFile(netDir);
    const acceptors = await Promise.all(
      [1, 2].map((id) => synodosServe({ id, cluster: 'web', tokenFile: tokens, extra: ['--allow-origin', origin] })),
    );
    const js = await serveAcceptor(new Acceptor(), { token: TOKEN, cluster: 'web', acceptorId: 3, allowOrigins: [origin] });
    acceptors.push(js);
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    const query = new URLSearchParams({ acceptors: acceptors.map((a) => a.url).join(','), token: TOKEN });
    await page.goto(`${origin}/page/net.html?${query}`);
    await page.waitForFunction(() => window.__synodosNet !== undefined, null, { timeout: 60_000 });
    const result = await page.evaluate(() => window.__synodosNet);
    assert.deepEqual(problems, []);
    assert.equal(result.error, undefined, result.error);
    assert.deepEqual(result.slots, ['0', '1', '2']);
    assert.deepEqual(result.values, ['a', 'b', 'c']);
    assert.equal(result.promisedAbove2p53, true);
    assert.equal(result.promisedLow, 5);
    assert.deepEqual(result.wrong, { code: 'TRANSPORT', status: 401, server: 'UNAUTHORIZED' });
    await js.close();
  } finally {
    await browser.close();
    server.close();
  }
});

test('browser build: two proposers and three acceptors agree in headless Chromium', async () => {
  const server = await serve();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    const { port } = server.address();
    await page.goto(`http://127.0.0.1:${port}/page/index.html`);
    await page.waitForFunction(() => window.__synodosResult !== undefined, null, { timeout: 60_000 });
    const result = await page.evaluate(() => window.__synodosResult);
    assert.deepEqual(problems, []);
    assert.equal(result.error, undefined, result.error);
    assert.match(result.userAgent, /Chrome/);
    assert.equal(result.values.length, 2);
    assert.equal(result.values[0], result.values[1], 'both proposers got the same value');
    assert.ok(['alice', 'bob'].includes(result.values[0]));
    const holding = result.accepted.filter((vals) => vals.includes(result.values[0]));
    assert.ok(holding.length >= 2, 'a majority of acceptors accepted the chosen value');
    assert.equal(result.isUint8Array, true);
    assert.equal(result.errorCode, 'INVALID_MESSAGE');
  } finally {
    await browser.close();
    server.close();
  }
});
