// The README's JavaScript example, run verbatim: every `console.log(...); // expected` line
// must print exactly `expected`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

test('the README JavaScript quick start runs and prints what its comments say', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.split('## JavaScript quick start')[1]?.split('\n## ')[0];
  assert.ok(section, 'README has a JavaScript quick start section');
  const code = section.match(/```js\n([\s\S]*?)```/)?.[1];
  assert.ok(code, 'the section has a ```js block');
  const expected = code
    .split('\n')
    .filter((line) => /console\.log\(.*\/\/ /.test(line))
    .map((line) => line.split('// ').at(-1).trim());
  assert.ok(expected.length >= 4);
  // Inside tests/js so that `import 'synodos'` resolves to the built package.
  const dir = new URL('../.tmp/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL('readme-example.mjs', dir);
  writeFileSync(file, code);
  const out = execFileSync(process.execPath, [fileURLToPath(file)], { encoding: 'utf8' });
  assert.deepEqual(out.trim().split('\n'), expected);
});
