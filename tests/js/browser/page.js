// Two proposers and three acceptors in one page, with JS clients answering after random
// timer delays; the result is left in window.__synodosResult for the test to read.
import { Acceptor, Proposer, SynodosError, decodeMessage } from 'synodos';

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

function delayed(acceptor) {
  const later = (f) => new Promise((resolve) => setTimeout(() => resolve(f()), Math.random() * 5));
  return { prepare: (r) => later(() => acceptor.prepare(r)), accept: (p) => later(() => acceptor.accept(p)) };
}

async function main() {
  const acceptors = [new Acceptor(), new Acceptor(), new Acceptor()];
  const alice = new Proposer(acceptors.map(delayed), { nodeId: 1 });
  const bob = new Proposer(acceptors.map(delayed), { nodeId: 2 });
  const results = await Promise.all([alice.propose(enc('alice')), bob.propose(enc('bob'))]);
  const accepted = acceptors.map((a) => a.observe({ id: 0n }).map((p) => dec(p.value)));
  let errorCode = null;
  try {
    decodeMessage('request', '{"id":-1}');
  } catch (e) {
    errorCode = e instanceof SynodosError ? e.code : `not a SynodosError: ${e}`;
  }
  return {
    userAgent: navigator.userAgent,
    values: results.map(dec),
    accepted,
    errorCode,
    isUint8Array: results.every((r) => r instanceof Uint8Array),
  };
}

main().then(
  (result) => {
    window.__synodosResult = result;
    document.getElementById('out').textContent = JSON.stringify(result);
  },
  (e) => {
    window.__synodosResult = { error: `${e && e.stack ? e.stack : e}` };
  },
);
