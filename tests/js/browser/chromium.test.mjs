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
