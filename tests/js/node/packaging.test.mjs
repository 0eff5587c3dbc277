// The npm package's shape: one API from require() and import, an exports map with a Node
// and a browser build, the same .wasm in both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as esm from 'synodos';

const require = createRequire(import.meta.url);

test('require() and import give the same API (one module instance)', async () => {
  const cjs = require('synodos');
  for (const name of ['Acceptor', 'AsyncAcceptor', 'Proposer', 'ReplicatedLog', 'MemoryLog', 'SynodosError', 'encodeMessage']) {
    assert.equal(typeof cjs[name], 'function', name);
    assert.equal(cjs[name], esm[name], `${name} is the same object`);
  }
  const chosen = await new cjs.Proposer([new esm.Acceptor(), new esm.Acceptor(), new esm.Acceptor()], { nodeId: 1 }).propose(
    new Uint8Array([7]),
  );
  assert.deepEqual([...chosen], [7]);
});

test('exports map: types, node (import/require) and browser builds; same .wasm in both', () => {
  const dir = path.dirname(require.resolve('synodos/package.json'));
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'synodos');
  const entry = pkg.exports['.'];
  assert.equal(entry.types, './synodos.d.ts');
  assert.equal(entry.node.import, './node/index.mjs');
  assert.equal(entry.node.require, './node/index.cjs');
  assert.equal(entry.browser, './web/index.js');
  const nodeWasm = readFileSync(path.join(dir, 'node/synodos_wasm_bg.wasm'));
  const webWasm = readFileSync(path.join(dir, 'web/synodos_wasm_bg.wasm'));
  assert.ok(nodeWasm.equals(webWasm));
  assert.ok(nodeWasm.length > 10_000);
  // The FinalizationRegistry glue (GC frees wasm objects) is in both builds.
  for (const glue of ['node/synodos_wasm.js', 'web/synodos_wasm.js']) {
    assert.match(readFileSync(path.join(dir, glue), 'utf8'), /FinalizationRegistry/);
  }
});

test('the network API: both builds have HttpAcceptor and NodeClient; serve and FileLog are Node only', async () => {
  const cjs = require('synodos');
  for (const name of ['HttpAcceptor', 'NodeClient', 'ApiError', 'serve', 'FileLog']) {
    assert.equal(typeof cjs[name], 'function', name);
    assert.equal(cjs[name], esm[name], `${name} is the same object`);
  }
  const dir = path.dirname(require.resolve('synodos/package.json'));
  const web = readFileSync(path.join(dir, 'web/index.js'), 'utf8');
  const exported = web.match(/export const \{ ([^}]*) \}/)[1].split(',').map((s) => s.trim());
  assert.ok(exported.includes('HttpAcceptor') && exported.includes('NodeClient'));
  assert.ok(!exported.includes('serve') && !exported.includes('FileLog'), 'no node:http or fs in the browser build');
  assert.doesNotMatch(web, /require\('node:/);
});
