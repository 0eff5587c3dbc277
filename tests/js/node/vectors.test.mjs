// Golden wire vectors (tests/vectors/messages.json): decode, compare fields, re-encode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeMessage, encodeMessage, SynodosError } from 'synodos';

const vectors = JSON.parse(readFileSync(new URL('../../vectors/messages.json', import.meta.url), 'utf8')).vectors;

const hex = (b) => Buffer.from(b).toString('hex');

function checkFields(kind, got, want) {
  for (const [key, expected] of Object.entries(want)) {
    if (key === 'value_hex') {
      assert.equal(hex(got.value), expected, 'value');
    } else if (key === 'entries') {
      assert.equal(got.entries.length, expected.length, 'entries');
      expected.forEach((e, i) => checkFields('entry', got.entries[i], e));
    } else if (key === 'accepted') {
      if (expected === null) assert.equal(got.accepted, null);
      else checkFields('proposal', got.accepted, expected);
    } else if (expected === null) {
      // An absent frontier is unknown: left out, never 0.
      assert.equal(got[key], undefined, `${kind}.${key} is absent`);
    } else {
      assert.equal(typeof got[key], 'bigint', `${kind}.${key} is a BigInt`);
      assert.equal(got[key], BigInt(expected), `${kind}.${key}`);
    }
  }
}

test('there are valid and invalid vectors', () => {
  assert.ok(vectors.filter((v) => v.error).length >= 3);
  assert.ok(vectors.filter((v) => !v.error).length >= 8);
});

for (const v of vectors) {
  test(`vector ${v.name}`, () => {
    if (v.error) {
      assert.throws(
        () => decodeMessage(v.kind, v.json),
        (e) => e instanceof SynodosError && e instanceof Error && e.code === v.error,
      );
      return;
    }
    const msg = decodeMessage(v.kind, v.json);
    checkFields(v.kind, msg, v.fields);
    assert.equal(encodeMessage(v.kind, msg), v.encoded ?? v.json);
  });
}

test('numbers are accepted where they are safe integers, rejected otherwise', () => {
  assert.equal(encodeMessage('request', { id: 7, attempt: 1 }), '{"id":7,"attempt":1}');
  for (const bad of [-1, 1.5, 2 ** 53, '7', -1n, 2n ** 64n]) {
    assert.throws(() => encodeMessage('request', { id: bad }), (e) => e.code === 'INVALID_MESSAGE', String(bad));
  }
  assert.throws(() => encodeMessage('proposal', { id: 1n, value: [1, 2] }), (e) => e.code === 'INVALID_MESSAGE');
  assert.throws(() => encodeMessage('nonsense', {}), (e) => e.code === 'INVALID_MESSAGE');
});
