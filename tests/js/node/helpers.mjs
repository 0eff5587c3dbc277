// Small helpers shared by the node suites.
import { Acceptor } from 'synodos';

export const enc = (s) => new TextEncoder().encode(s);
export const dec = (b) => new TextDecoder().decode(b);

export function cluster(n) {
  return Array.from({ length: n }, () => new Acceptor());
}

/** A JS-written client over a local acceptor, answering after a random delay (a real
 * timer, standing in for a network round trip; not used to synchronise the test). */
export function delayedClient(acceptor, maxDelayMs, rng = Math.random) {
  const later = (f) =>
    new Promise((resolve, reject) => {
      setTimeout(() => {
        try {
          resolve(f());
        } catch (e) {
          reject(e);
        }
      }, Math.floor(rng() * maxDelayMs));
    });
  return {
    prepare: (req) => later(() => acceptor.prepare(req)),
    accept: (prop) => later(() => acceptor.accept(prop)),
    observe: (req) => later(() => acceptor.observe(req)),
  };
}

/** Deterministic PRNG (mulberry32) so a failing schedule can be replayed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
