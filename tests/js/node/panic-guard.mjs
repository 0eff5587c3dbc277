// Loaded into every Node test process (`node --import ./node/panic-guard.mjs --test`): the
// process fails if synodos saw a Rust panic that its test did not announce with
// expectPanics(n), even when the panic was turned into an error or a restart that the test
// did not look at. "No input path can panic" is then checked by every test file.
import synodos from 'synodos';

let expected = 0;

/** Announce `n` deliberate panics (tests of the panic restart itself). */
export function expectPanics(n) {
  expected += n;
}

process.on('exit', () => {
  const seen = synodos.__panicCount();
  if (seen !== expected) {
    console.error(`panic-guard: ${seen} Rust panic(s) in this test file, ${expected} expected: a bug in synodos`);
    process.exitCode = 1;
  }
});
