// HttpAcceptors over fetch: a ReplicatedLog in the page appends to three served acceptors
// acceptors (which allow this page's origin by CORS), reads back, and meets a wrong token.
// The acceptor URLs and the token come in the query string; the result is left in
// window.__synodosNet for the test to read.
import { HttpAcceptor, ReplicatedLog, ServerIdGenerator, SynodosError } from 'synodos';

const enc = (s) => new TextEncoder().encode(s);
const dec = (b) => new TextDecoder().decode(b);

async function main() {
  const q = new URLSearchParams(location.search);
  const urls = q.get('acceptors').split(',');
  const token = q.get('token');
  const acceptors = urls.map((u) => new HttpAcceptor(u, { token, cluster: 'web' }));
  // Ballots from the clock are above 2^53: they must cross fetch exactly.
  const log = new ReplicatedLog(acceptors, { ids: new ServerIdGenerator(5) });
  const slots = [];
  for (const v of ['a', 'b', 'c']) slots.push(String((await log.append(enc(v))).slot));
  const read = await new ReplicatedLog(acceptors, { nodeId: 6 }).read(0n, 10);
  const info = await acceptors[0].info();
  let wrong = null;
  try {
    await new HttpAcceptor(urls[0], { token: 'wrong-token-wrong-token' }).info();
  } catch (e) {
    wrong = e instanceof SynodosError ? { code: e.code, status: e.status, server: e.server.code } : String(e);
  }
  return {
    slots,
    values: read.map((e) => dec(e.value)),
    promisedAbove2p53: info.promised > 2n ** 53n,
    promisedLow: Number(info.promised & 0xffffn),
    wrong,
  };
}

main().then(
  (r) => {
    window.__synodosNet = r;
  },
  (e) => {
    window.__synodosNet = { error: `${e && e.code}: ${e && e.message}` };
  },
);
