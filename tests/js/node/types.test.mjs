// The hand-written declarations: no `any` in the public API (tsc --strict checks the rest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

test('synodos.d.ts has no `any`', () => {
  const require = createRequire(import.meta.url);
  const dts = readFileSync(require.resolve('synodos/package.json').replace(/package\.json$/, 'synodos.d.ts'), 'utf8');
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  assert.ok(code.includes('export class Proposer'));
  assert.doesNotMatch(code, /\bany\b/);
});
