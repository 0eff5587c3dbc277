// The network example of bindings/wasm/README.md, run verbatim: every
// `console.log(...); // expected` line must print exactly `expected`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('the package README network example runs and prints what its comments say', () => {
  const readme = readFileSync(new URL('../../../bindings/wasm/README.md', import.meta.url), 'utf8');
  const section = readme.split('## On the network')[1];
  assert.ok(section, 'the README has a network section');
  const code = section.match(/```js\n([\s\S]*?)```/)?.[1];
  assert.ok(code, 'the section has a ```js block');
  const expected = code
    .split('\n')
    .filter((line) => /console\.log\(.*\/\/ /.test(line))
    .map((line) => line.split('// ').at(-1).trim());
  assert.equal(expected.length, 3);
  // Inside tests/js so that `import 'synodos'` resolves to the built package.
  const dir = new URL('../.tmp/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL('readme-net-example.mjs', dir);
  writeFileSync(file, code);
  // It must exit by itself: a leaked handle (socket, server, timer) would hang it here.
  const out = execFileSync(process.execPath, [fileURLToPath(file)], { encoding: 'utf8', timeout: 30000 });
  assert.deepEqual(out.trim().split('\n'), expected);
});
