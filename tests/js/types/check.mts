// Type-checked (tsc --strict) use of the package's hand-written declarations.
import {
  Acceptor,
  AcceptorClient,
  CounterIdGenerator,
  Entry,
  Log,
  LogRecord,
  MemoryLog,
  PaxosPromise,
  Proposal,
  Proposer,
  ReplicatedLog,
  RequestMessage,
  SynodosError,
  decodeMessage,
  encodeMessage,
  runLogConformance,
} from 'synodos';

const acceptors: Acceptor[] = [new Acceptor(), new Acceptor(new MemoryLog(), new MemoryLog())];
const client: AcceptorClient = {
  prepare: async (r: RequestMessage): Promise<PaxosPromise> => acceptors[0].prepare(r),
  accept: (p) => acceptors[0].accept(p),
};
const proposer = new Proposer([...acceptors, client], { nodeId: 1, callTimeoutMs: 100 });
const chosen: Promise<Uint8Array> = proposer.propose(new Uint8Array([1]));
const log = new ReplicatedLog(acceptors, { ids: new CounterIdGenerator(2) });
const entry: Promise<Entry> = log.append(new Uint8Array());
const slot: bigint = log.nextSlot;
const ballot: bigint = new CounterIdGenerator(3).next();
const p: Proposal = decodeMessage('proposal', '{}');
const json: string = encodeMessage('request', { id: 1n, slot: 2 });

class ArrayLog implements Log {
  records: LogRecord[] = [];
  record(id: bigint, data: Uint8Array): void {
    this.records.push([id, data]);
  }
  last(): LogRecord | null {
    return this.records.at(-1) ?? null;
  }
  range(start: bigint, stop: bigint, visit: (id: bigint, data: Uint8Array) => void): void {
    for (const [id, d] of this.records) if (id >= start && id <= stop) visit(id, d);
  }
}
const checks: string[] = runLogConformance(() => new ArrayLog());

async function errors(): Promise<string> {
  try {
    await chosen;
  } catch (e) {
    if (e instanceof SynodosError) {
      const code: 'NO_QUORUM' | 'TIMEOUT' | string = e.code;
      const failures: SynodosError[] | undefined = e.failures;
      return `${code} ${failures?.length} ${String(e.cause)}`;
    }
  }
  for await (const e of log.entries(0n)) {
    const s: bigint = e.slot;
    return String(s);
  }
  return '';
}

// @ts-expect-error: values are Uint8Array, not strings
proposer.propose('text');
// @ts-expect-error: a client needs accept()
new Proposer([{ prepare: () => acceptors[0].prepare({ id: 1n }) }], { nodeId: 1 });
// @ts-expect-error: unknown message kind
decodeMessage('nonsense', '{}');

export { entry, slot, ballot, p, json, checks, errors };

// The network API (types only: tsc does not run this).
import { FileLog, HttpAcceptor, NodeClient, serve, Server, AcceptorInfo } from 'synodos';
async function network(): Promise<void> {
  const server: Server = await serve(new Acceptor(new FileLog('/tmp/p'), FileLog.open('/tmp/a')), {
    token: 'x'.repeat(16),
    cluster: 'c',
    acceptorId: 1,
  });
  const remote = new HttpAcceptor(server.url, { token: 'x'.repeat(16), cluster: 'c', acceptorId: 1n });
  const info: AcceptorInfo = await remote.info();
  const promised: bigint = info.promised;
  const viaHttp = new ReplicatedLog([remote], { nodeId: 4 });
  await viaHttp.append(new Uint8Array([1]));
  try {
    await remote.check();
  } catch (e) {
    if (e instanceof SynodosError && e.code === 'TRANSPORT') {
      const status: number | undefined = e.status;
      const serverCode: string | undefined = e.server?.code;
      void [status, serverCode];
    }
  }
  const nodes = new NodeClient([server.url], { token: 'x' });
  const appended: Entry = await nodes.append(new Uint8Array([2]));
  for await (const e of nodes.follow(appended.slot)) {
    const s: bigint = e.slot;
    void s;
    break;
  }
  remote.close();
  await server.close();
  void promised;
}
void network;
