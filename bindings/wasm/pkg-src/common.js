// Shared by the Node and browser entry points (build.sh pastes it into both).
// The wasm-bindgen module `wasm` is already loaded; this adds the error class and the
// async iterator, and returns the public API.
function setupSynodos(wasm) {
  /** Every error synodos throws or rejects with. `code` names the kind (NO_QUORUM, ...);
   * `cause` is the exception a user's client or log threw, unchanged. */
  class SynodosError extends Error {
    constructor(code, message, cause, details) {
      super(message, cause === undefined ? undefined : { cause });
      this.name = 'SynodosError';
      this.code = code;
      if (details !== undefined && details !== null) {
        for (const key of Object.keys(details)) this[key] = details[key];
      }
    }
  }
  const makeError = (code, message, cause, details) => new SynodosError(code, message, cause, details);
  wasm.__setErrorFactory(makeError);
  // Found there by a fresh wasm instance after a panic restarted the module.
  globalThis[Symbol.for('synodos.errorFactory')] = makeError;
  // Called by the panic hook: start the fresh wasm instance at once (see `start` in lib.rs).
  globalThis[Symbol.for('synodos.afterPanic')] = () => wasm.__noop();

  // Chosen entries from `from` on, forever (break out of the loop to stop). Each step is
  // `wait` on the core's replicated log; nothing here decides what is chosen.
  Object.defineProperty(wasm.ReplicatedLog.prototype, 'entries', {
    configurable: true,
    writable: true,
    value: async function* entries(from = 0n, options = {}) {
      let slot = BigInt(from);
      const waitMs = options.waitMs === undefined ? 1000 : options.waitMs;
      for (;;) {
        const batch = await this.wait(slot, 256, waitMs);
        for (const entry of batch) {
          yield entry;
          slot = entry.slot + 1n;
        }
      }
    },
  });

  return Object.freeze({
    SynodosError,
    Acceptor: wasm.Acceptor,
    AsyncAcceptor: wasm.AsyncAcceptor,
    MemoryLog: wasm.MemoryLog,
    Proposer: wasm.Proposer,
    ReplicatedLog: wasm.ReplicatedLog,
    CounterIdGenerator: wasm.CounterIdGenerator,
    ServerIdGenerator: wasm.ServerIdGenerator,
    encodeMessage: wasm.encodeMessage,
    decodeMessage: wasm.decodeMessage,
    runLogConformance: wasm.runLogConformance,
    runLogConformanceAsync: wasm.runLogConformanceAsync,
    majority: wasm.majority,
    __memoryBytes: wasm.__memoryBytes,
    __panicForTest: wasm.__panicForTest,
  });
}
