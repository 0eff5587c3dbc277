// Hand-written types of the `synodos` npm package (the same for the Node and browser builds).
//
// 64-bit numbers (ballots, slots, attempts, log ids) are `bigint`, exact over the whole
// range. Where an argument is a 64-bit number, a non-negative safe-integer `number` is
// accepted too; anything else (a negative or too large BigInt, a fraction, NaN, Infinity, a
// number above 2^53-1) is refused with INVALID_ARGUMENT, never wrapped. Results are always
// `bigint`. Values are `Uint8Array` (or a subclass such as `Buffer`).
//
// Durations are milliseconds: NaN or negative is INVALID_ARGUMENT; anything longer than
// 2^32 s (about 136 years, `Infinity` included) means "no limit". Timers of any length work
// (those past setTimeout's 2^31-1 ms are chained).
//
// User objects (clients' answers, logs' records, arguments) are read defensively: a getter
// or Proxy that throws makes a SynodosError whose `cause` is what it threw (TRANSPORT for a
// client's answer, STORAGE for a log, INVALID_ARGUMENT for an argument). Methods that
// return a Promise never throw synchronously for bad input; they reject.
//
// Memory: every class is backed by WebAssembly memory. Objects are released when the
// garbage collector reclaims them (FinalizationRegistry); `free()` releases one at once.
// A freed object must not be used again.

/** 64-bit numbers may be passed as `bigint` or as a non-negative safe integer. */
export type U64 = bigint | number;

/** Messages as accepted by the library (inputs): absent numbers are 0. */
/** Phase 1a: ask an acceptor to promise ballot `id` for `slot`. */
export interface Request {
  id: U64;
  /** The proposer's attempt number (informational). */
  attempt?: U64;
  slot?: U64;
}

/** Phase 2a (and its answer, and observed entries): `value` at ballot `id` for `slot`. */
export interface Proposal {
  id: U64;
  slot?: U64;
  value?: Uint8Array;
  /** Non-zero only in a rejected accept: the higher ballot the acceptor has promised. */
  promised?: U64;
}

/** Phase 1b: an acceptor's answer to a `Request`. */
export interface PaxosPromise {
  id: U64;
  slot?: U64;
  /** What the acceptor has accepted for this slot, if anything. */
  accepted?: Proposal | null;
  /** Non-zero only in a rejection: the higher ballot the acceptor has promised. */
  promised?: U64;
  /**
   * One past the highest slot this acceptor has accepted anything at. A hand-written
   * acceptor must send it for a proposer to lead (skip phase 1); left out (`undefined` or
   * `null`), it means unknown, and no lease is taken: safe, one round trip slower.
   */
  frontier?: U64 | null;
  /** Non-zero only when the slot was trimmed there: the first slot the acceptor still holds. */
  trimmed?: U64;
}


/** A message as returned by the library: every field present. */
export interface RequestMessage {
  id: bigint;
  attempt: bigint;
  slot: bigint;
}
export interface ProposalMessage {
  id: bigint;
  slot: bigint;
  value: Uint8Array;
  promised: bigint;
}
export interface PromiseMessage {
  id: bigint;
  slot: bigint;
  accepted: ProposalMessage | null;
  promised: bigint;
  /** Absent when the acceptor did not say (unknown: no lease). */
  frontier?: bigint;
  /** Present only when the slot was trimmed at the acceptor. */
  trimmed?: bigint;
}

/** A chosen log entry. */
export interface Entry {
  slot: bigint;
  value: Uint8Array;
}

/** The transport seam: how a proposer reaches one acceptor. Each method may return the
 * answer or a Promise of it; a throw or a rejection counts as that acceptor failing (the
 * error is kept as `cause`). */
export interface AcceptorClient {
  prepare(request: RequestMessage): PaxosPromise | PromiseLike<PaxosPromise>;
  accept(proposal: ProposalMessage): Proposal | PromiseLike<Proposal>;
  /** Needed only by `ReplicatedLog.read`/`wait`/`entries`. */
  observe?(request: RequestMessage): Proposal[] | PromiseLike<Proposal[]>;
  /** Optional: a leader's batch (many slots, one ballot) as one call; without it, one
   * `accept` per entry. Answered as to one accept. */
  acceptBatch?(batch: BatchMessage): Proposal | PromiseLike<Proposal>;
}

/** A leader's phase 2a for many slots at one ballot (`POST /v1/accept-batch`). */
export interface Batch {
  id: U64;
  entries: Array<{ slot: U64; value: Uint8Array }>;
}
export interface BatchMessage {
  id: bigint;
  entries: Array<{ slot: bigint; value: Uint8Array }>;
}

/** A log record: `[id, data]`. */
export type LogRecord = [id: bigint, data: Uint8Array];

/** Acceptor storage written in JS: an append-only sequence of records with increasing ids.
 * The methods are called synchronously (a returned Promise is an error). The contract is
 * checked by `runLogConformance`. */
export interface Log {
  /** Append one record; durable on return. Throw on an id not above the last one. */
  record(id: bigint, data: Uint8Array): void;
  /** Append several records as one unit (optional; otherwise `record` is called for each). */
  recordBatch?(records: LogRecord[]): void;
  /** The record with the highest id, or null. */
  last(): LogRecord | null | undefined;
  /** Visit the records with `start <= id <= stop`, in id order (or return them). */
  range(start: bigint, stop: bigint, visit: (id: bigint, data: Uint8Array) => void): void | LogRecord[];
  /** Forget every record with `id < before` (needed only by `Acceptor.trim`). */
  trim?(before: bigint): void;
}

/** Error codes (`SynodosError.code`). */
export type ErrorCode =
  | 'NO_QUORUM'
  | 'TIMEOUT'
  | 'REJECTED'
  | 'STORAGE'
  | 'TRANSPORT'
  | 'INVALID_MESSAGE'
  | 'INVALID_ARGUMENT'
  | 'ID_EXHAUSTED'
  | 'CLOSED'
  /** A slot below what an acceptor still holds (over HTTP: a 409 with `slot` and `first`). */
  | 'TRIMMED'
  /** Two values at one ballot and slot. */
  | 'PROTOCOL_VIOLATION'
  /** The wasm instance hit an internal error (a bug) and restarted: every Promise still
   * pending then rejects with this code (its value may or may not have been chosen). */
  | 'PANIC';

/** Every error synodos throws or rejects with (`code` PANIC: see ErrorCode). */
export class SynodosError extends Error {
  readonly name: 'SynodosError';
  readonly code: ErrorCode;
  /** The exception a user's client or log threw (for NO_QUORUM: the first one among the
   * failures), unchanged. */
  readonly cause?: unknown;
  /** NO_QUORUM: why each failing acceptor failed in the last attempt. */
  readonly failures?: SynodosError[];
  /** NO_QUORUM: acceptors needed, acceptors in all, ballots tried. */
  readonly needed?: number;
  readonly acceptors?: number;
  readonly attempts?: number;
  /** In an entry of `failures`: the acceptor's index. */
  readonly acceptor?: number;
  /** REJECTED: the ballot the acceptor had promised. */
  readonly promised?: bigint;
  /** Network errors (HttpAcceptor, NodeClient): the HTTP status (0: no answer, or refused by
   * the client itself on first contact, e.g. another cluster). */
  readonly status?: number;
  /** Network errors with an answer: the server's error body. */
  readonly server?: { code: string; message: string };
}

/** A source of ballots, shared by proposers of one node. */
export interface IdGenerator {
  next(): bigint;
  observe(seen: U64): void;
  free(): void;
}

/** Ballots `round << 16 | nodeId`, no clock. Every proposer needs its own `nodeId`. */
export class CounterIdGenerator implements IdGenerator {
  constructor(nodeId: number);
  next(): bigint;
  observe(seen: U64): void;
  free(): void;
}

/** `millis << 16 | serverId` over `Date.now()` (the layout of every generator, so kinds never collide), strictly increasing. */
export class ServerIdGenerator implements IdGenerator {
  constructor(serverId: number);
  next(): bigint;
  observe(seen: U64): void;
  free(): void;
}

/** Proposer settings. One of `nodeId` and `ids` is required. */
export interface ProposerOptions {
  /** This proposer's node id (0..65535): ballots from a `CounterIdGenerator(nodeId)`. */
  nodeId?: number;
  /** A shared id generator. */
  ids?: CounterIdGenerator | ServerIdGenerator;
  /** How long one prepare or accept may take (default 1000). */
  callTimeoutMs?: number;
  /** Ballots to try before NO_QUORUM (default 20). */
  maxAttempts?: number;
  /** Backoff before the second attempt is drawn from [0, backoffMinMs] (default 1). */
  backoffMinMs?: number;
  /** Largest backoff range (default 200). */
  backoffMaxMs?: number;
  /** How often `ReplicatedLog.wait` asks again (default 10). */
  pollIntervalMs?: number;
  /** Seed of the backoff jitter (default: random). */
  seed?: U64;
}

/** An in-process acceptor over two logs (omitted: new `MemoryLog`s). Pass it to a
 * `Proposer` directly, or serve it over your RPC with `prepare`/`accept`/`observe`. */
export class Acceptor {
  constructor(promiseLog?: MemoryLog | Log, acceptLog?: MemoryLog | Log);
  prepare(request: Request): PromiseMessage;
  accept(proposal: Proposal): ProposalMessage;
  observe(request: Request): ProposalMessage[];
  /** Phase 2b for many slots at one ballot: all taken in one write, or none; answered as
   * to one accept (`promised` set when refused). */
  acceptBatch(batch: Batch): ProposalMessage;
  /** Forget accepted proposals below `slot`. */
  trim(slot: U64): void;
  /** The highest ballot promised. */
  readonly promised: bigint;
  free(): void;
}

/** Acceptor storage whose methods may return Promises (e.g. over IndexedDB). Same contract
 * as `Log`; checked by `runLogConformanceAsync`. */
export interface AsyncLog {
  record(id: bigint, data: Uint8Array): void | PromiseLike<void>;
  recordBatch?(records: LogRecord[]): void | PromiseLike<void>;
  last(): LogRecord | null | undefined | PromiseLike<LogRecord | null | undefined>;
  range(
    start: bigint,
    stop: bigint,
    visit: (id: bigint, data: Uint8Array) => void,
  ): void | LogRecord[] | PromiseLike<void | LogRecord[]>;
  trim?(before: bigint): void | PromiseLike<void>;
}

/** An acceptor over logs whose methods may return Promises. Requests are handled one at a
 * time; each reply resolves only after its record's Promise resolved. Pass it to a
 * `Proposer` like an `Acceptor` (it is then called inside wasm). */
export class AsyncAcceptor {
  private constructor();
  /** Open an acceptor over two logs (omitted: new `MemoryLog`s), recovering what they hold. */
  static open(promiseLog?: MemoryLog | AsyncLog, acceptLog?: MemoryLog | AsyncLog): Promise<AsyncAcceptor>;
  prepare(request: Request): Promise<PromiseMessage>;
  accept(proposal: Proposal): Promise<ProposalMessage>;
  observe(request: Request): Promise<ProposalMessage[]>;
  trim(slot: U64): Promise<void>;
  promised(): Promise<bigint>;
  free(): void;
}

/** A log in memory. Acceptors built over the same `MemoryLog`s share their records. */
export class MemoryLog implements Log {
  constructor();
  record(id: U64, data: Uint8Array): void;
  last(): LogRecord | null;
  range(start: U64, stop: U64, visit: (id: bigint, data: Uint8Array) => void): void;
  trim(before: U64): void;
  readonly length: number;
  free(): void;
}

/** Proposes values; the core fans out to all acceptors, finishes at a majority, times out
 * each call, backs off and retries with higher ballots. */
export class Proposer {
  constructor(clients: Array<Acceptor | AsyncAcceptor | AcceptorClient>, options: ProposerOptions);
  /** Propose `value` for the single decree; resolves to the value actually chosen. */
  propose(value: Uint8Array): Promise<Uint8Array>;
  /** Propose `value` for one slot of a log. */
  proposeAt(slot: U64, value: Uint8Array): Promise<Uint8Array>;
  free(): void;
}

/** A replicated log: one Paxos instance per slot. */
export class ReplicatedLog {
  constructor(clients: Array<Acceptor | AsyncAcceptor | AcceptorClient>, options: ProposerOptions);
  /** Append at the first free slot; resolves to where `value` landed. */
  append(value: Uint8Array): Promise<Entry>;
  /** Chosen entries from `from` on (at most `max`), stopping at the first unknown slot. */
  read(from: U64, max?: number): Promise<Entry[]>;
  /** `read`, polling until something is chosen at `from` or `timeoutMs` passes. */
  wait(from: U64, max: number, timeoutMs: number): Promise<Entry[]>;
  /** Every chosen entry from `from` on, in order, waiting for new ones (never ends by
   * itself: `break` out of the loop). */
  entries(from?: U64, options?: { waitMs?: number }): AsyncGenerator<Entry, never, undefined>;
  /** The lowest slot this handle has not yet seen chosen. */
  readonly nextSlot: bigint;
  free(): void;
}

export type MessageKind = 'request' | 'promise' | 'proposal' | 'batch';

/** Encode a message as wire JSON (the ancestor's field names, bytes as base64). */
export function encodeMessage(kind: 'request', message: Request): string;
export function encodeMessage(kind: 'promise', message: PaxosPromise): string;
export function encodeMessage(kind: 'proposal', message: Proposal): string;
export function encodeMessage(kind: 'batch', message: Batch): string;
/** Decode wire JSON; throws SynodosError INVALID_MESSAGE. */
export function decodeMessage(kind: 'request', json: string): RequestMessage;
export function decodeMessage(kind: 'promise', json: string): PromiseMessage;
export function decodeMessage(kind: 'proposal', json: string): ProposalMessage;
export function decodeMessage(kind: 'batch', json: string): BatchMessage;

/** Run the core's storage conformance kit against a JS log. `open(name)` returns the log
 * stored under `name` (a second `open` of a name is a reopen). Returns the checks passed;
 * throws SynodosError naming the first failure. */
export function runLogConformance(open: (name: string) => Log): string[];

/** `runLogConformance` for logs whose methods may return Promises (the core's async kit,
 * same checks). `open(name)` returns the log or a Promise of it. */
export function runLogConformanceAsync(open: (name: string) => AsyncLog | PromiseLike<AsyncLog>): Promise<string[]>;

/** How many acceptors make a majority of `n`. */
export function majority(n: number): number;


// ---- The network (see the package README): HttpAcceptor, NodeClient; in the Node build
// also serve() and FileLog. The HTTP API is synodos-net's (net/README.md). ----

/** The error body of a non-200 answer: the `cause` of the SynodosError it became. */
export class ApiError extends Error {
  readonly name: 'ApiError';
  /** The HTTP status (0: a refusal by the client on first contact). */
  readonly status: number;
  /** The server's code: UNAUTHORIZED, WRONG_CLUSTER, TOO_LARGE, DRAINING, ... */
  readonly code: string;
  readonly serverMessage: string;
}

/** TLS material for `https://` URLs (PEM). Node only; browsers use their own trust. */
export interface TlsOptions {
  /** The CA that signed the server's certificate. */
  ca?: string | Uint8Array;
  /** A client certificate and key, for servers that ask (mTLS). */
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
}

export interface HttpAcceptorOptions extends TlsOptions {
  /** Sent as `Authorization: Bearer TOKEN`. */
  token?: string;
  /** Expect this cluster (sent as `synodos-cluster`; another is refused on first contact). */
  cluster?: string;
  /** Expect this acceptor id on first contact. */
  acceptorId?: U64;
  /** The longest one request may take (10000). */
  timeoutMs?: number;
}

/** `GET /v1/info`, every integer a `bigint`. */
export interface AcceptorInfo {
  acceptor: bigint;
  cluster: string;
  promised: bigint;
  frontier: bigint;
  trimmed: bigint;
  observers: bigint;
  requests: bigint;
  batches: bigint;
  http1_requests: bigint;
  http2_requests: bigint;
  closed: boolean;
  version: string;
  /** Nodes only: the node id this one takes for the leader (0: none yet). */
  leader?: bigint;
  /** Nodes only: every slot below it is in this node's log. */
  chosen_up_to?: bigint;
}

/** An acceptor served over HTTP (`synodos serve`, or `serve()`): goes wherever acceptors
 * go. On first contact it reads `/v1/info` and then names the acceptor and cluster in every
 * request. A non-200 answer rejects with a SynodosError (TRANSPORT, or the protocol code)
 * with `status`, `server` and an `ApiError` cause; a 200 with `promised` is a rejection as
 * in process. Node: node:http(s) with a keep-alive Agent; browsers: fetch. */
export class HttpAcceptor implements AcceptorClient {
  constructor(url: string, options?: HttpAcceptorOptions);
  readonly url: string;
  /** Found on first contact. */
  readonly acceptorId: bigint | undefined;
  /** Make first contact now; resolves to the acceptor id. */
  check(): Promise<bigint>;
  prepare(request: Request): Promise<PromiseMessage>;
  accept(proposal: Proposal): Promise<ProposalMessage>;
  /** One `POST /v1/accept-batch` (to a server without it: one accept per entry). */
  acceptBatch(batch: Batch): Promise<ProposalMessage>;
  /** `GET /v1/observe?slot=N`: what the acceptor accepted from `request.slot` on. */
  observe(request: Request): Promise<ProposalMessage[]>;
  info(): Promise<AcceptorInfo>;
  /** Release pooled connections (Node: every client of the process). */
  close(): void;
}

export interface NodeClientOptions extends TlsOptions {
  token?: string;
  cluster?: string;
  /** The longest one request may take (10000). */
  timeoutMs?: number;
  /** How many times each node is tried before a call gives up (3). */
  rounds?: number;
}

/** A client of a cluster's nodes (`synodos serve --peers`). Tries the nodes in turn (a node
 * that cannot be reached or answers 5xx is left for the next), and after an answer naming
 * the leader sends the next calls there. Delivery of appends is at least once. */
export class NodeClient {
  constructor(peers: string[], options?: NodeClientOptions);
  readonly peers: string[];
  append(value: Uint8Array): Promise<Entry>;
  /** The single decree (slot 0): resolves to the value chosen, maybe another's. */
  propose(value: Uint8Array): Promise<Uint8Array>;
  /** Up to `limit` (at most 10000) entries from `from` on, as the node asked has learned them. */
  read(from?: U64, limit?: number): Promise<Entry[]>;
  /** Every chosen entry from `from` on, then each new one; `break` to stop. */
  follow(from?: U64): AsyncGenerator<Entry, never, undefined>;
  /** Every node's `/v1/info`, in peer order. */
  info(): Promise<Array<{ url: string; info?: AcceptorInfo; error?: SynodosError }>>;
  close(): void;
}

export interface ServeOptions {
  /** Default 127.0.0.1. A non-loopback host needs `tls` and a token (or `insecure`). */
  host?: string;
  /** Default 0: any free port (see `Server.url`). */
  port?: number;
  /** Bearer token(s) required (at least 16 characters each); omitted: none. */
  token?: string | string[];
  /** Default "default". A request naming another cluster gets 403. */
  cluster?: string;
  /** Default 1. Unique in the cluster. */
  acceptorId?: U64;
  /** Largest request body in bytes (1 MiB); more is a 413. */
  maxBody?: number;
  /** A request body must arrive within this (30000 ms; 408 after). */
  requestTimeoutMs?: number;
  maxConnections?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Uint8Array; key: string | Uint8Array };
  /** Allow a non-loopback host without TLS and a token. */
  insecure?: boolean;
  /** Origins whose pages may call this server (CORS; `*` for any). Omitted: CORS is off. A
   * preflight is answered before the token check; the request itself still needs one. */
  allowOrigins?: string[];
}

export interface Server {
  /** `http://127.0.0.1:PORT` (with the real port). */
  readonly url: string;
  readonly port: number;
  /** Stop: new requests get 503 DRAINING, connections close; resolves once closed. */
  close(): Promise<void>;
}

/** Node build only: serve `acceptor` with the HTTP API of `synodos serve` (/v1/prepare,
 * /v1/accept, /v1/accept-batch, /v1/observe with or without follow, /v1/info, /healthz). */
export function serve(
  acceptor: Acceptor | AsyncAcceptor | (AcceptorClient & { observe(request: RequestMessage): Proposal[] | PromiseLike<Proposal[]> }),
  options?: ServeOptions,
): Promise<Server>;

/** Node build only: a durable `Log` in a directory (`DIR/log`, append-only frames with a
 * CRC-32, fdatasync before return; a torn tail is truncated on open, damage in the middle
 * fails the open with its offset). Passes `runLogConformance`. */
export class FileLog implements Log {
  constructor(dir: string);
  static open(dir: string): FileLog;
  record(id: bigint, data: Uint8Array): void;
  recordBatch(records: LogRecord[]): void;
  last(): LogRecord | null;
  range(start: bigint, stop: bigint, visit: (id: bigint, data: Uint8Array) => void): void;
  trim(before: bigint): void;
  /** Close the file and release the directory's lock. */
  close(): void;
}

declare const synodos: {
  SynodosError: typeof SynodosError;
  Acceptor: typeof Acceptor;
  AsyncAcceptor: typeof AsyncAcceptor;
  MemoryLog: typeof MemoryLog;
  Proposer: typeof Proposer;
  ReplicatedLog: typeof ReplicatedLog;
  CounterIdGenerator: typeof CounterIdGenerator;
  ServerIdGenerator: typeof ServerIdGenerator;
  encodeMessage: typeof encodeMessage;
  decodeMessage: typeof decodeMessage;
  runLogConformance: typeof runLogConformance;
  runLogConformanceAsync: typeof runLogConformanceAsync;
  majority: typeof majority;
  HttpAcceptor: typeof HttpAcceptor;
  NodeClient: typeof NodeClient;
  ApiError: typeof ApiError;
  /** Node build only. */
  serve: typeof serve;
  /** Node build only. */
  FileLog: typeof FileLog;
};
export default synodos;
