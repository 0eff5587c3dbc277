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

  // The host (see bindings/wasm/src/host.rs): what must outlive one wasm instance. Every
  // method is written never to throw. `epoch` counts instances: a callback made for one
  // instance does nothing once a panic has replaced it.
  const MAX_TIMEOUT = 2147483647; // setTimeout's limit (ms); longer timers are chained
  const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  const tagOf = Object.getOwnPropertyDescriptor(TypedArrayPrototype, Symbol.toStringTag).get;
  const lengthOf = Object.getOwnPropertyDescriptor(TypedArrayPrototype, 'length').get;
  const setInto = TypedArrayPrototype.set;
  const pending = new Map(); // Promise handed out -> [resolve, reject]
  let epoch = 0;
  let panics = 0;
  // The exception of the last host call on user values that threw (see host.rs).
  const NONE = {};
  let lastThrow = NONE;
  const threw = (e) => {
    lastThrow = e;
    return undefined;
  };
  const settleIn = (e, key, ok, value) => {
    if (e !== epoch) return; // made for an instance that is gone
    try {
      wasm.__settle(key, ok, value);
    } catch (_) {
      // A panic inside: the hook reported it and restarted the module.
    }
  };
  const runTasks = (e) => {
    if (e !== epoch) return;
    try {
      wasm.__runTasks();
    } catch (_) {
      // As above.
    }
  };
  const host = {
    deferred() {
      let resolve, reject;
      const promise = new Promise((a, b) => {
        resolve = a;
        reject = b;
      });
      pending.set(promise, [resolve, reject]);
      return promise;
    },
    settle(promise, ok, value) {
      const d = pending.get(promise);
      if (d === undefined) return;
      pending.delete(promise);
      d[ok ? 0 : 1](value);
    },
    awaitThen(value, key) {
      const e = epoch;
      let p;
      try {
        p = Promise.resolve(value); // a thenable's `then` runs later, in a job: never here
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (v) => settleIn(e, key, true, v),
        (err) => settleIn(e, key, false, err),
      );
    },
    timer(key, ms) {
      const e = epoch;
      const handle = { id: undefined };
      let left = ms > 0 ? ms : 0;
      const arm = () => {
        const step = Math.min(left, MAX_TIMEOUT);
        left -= step;
        handle.id = setTimeout(() => (left > 0 ? arm() : settleIn(e, key, true, undefined)), step);
      };
      arm();
      return handle;
    },
    clearTimer(handle) {
      if (handle && handle.id !== undefined) clearTimeout(handle.id);
    },
    schedule() {
      const e = epoch;
      queueMicrotask(() => runTasks(e));
    },
    afterPanic(message) {
      panics += 1;
      epoch += 1;
      const lost = [...pending.values()];
      pending.clear();
      for (const [, reject] of lost) {
        reject(
          new SynodosError(
            'PANIC',
            `synodos (wasm) hit an internal error (a bug) and restarted; this call was lost (its value may or may not have been chosen): ${message}`,
          ),
        );
      }
      try {
        // The first call after the panic starts the fresh instance; then it gets the host.
        wasm.__noop();
        install();
      } catch (_) {
        // Nothing more to do: the next call starts it.
      }
    },
    u8len(value) {
      try {
        return tagOf.call(value) === 'Uint8Array' ? lengthOf.call(value) : -1;
      } catch (_) {
        return -1;
      }
    },
    call0(f, self) {
      try {
        return Reflect.apply(f, self, []);
      } catch (e) {
        return threw(e);
      }
    },
    call1(f, self, a) {
      try {
        return Reflect.apply(f, self, [a]);
      } catch (e) {
        return threw(e);
      }
    },
    call2(f, self, a, b) {
      try {
        return Reflect.apply(f, self, [a, b]);
      } catch (e) {
        return threw(e);
      }
    },
    call3(f, self, a, b, c) {
      try {
        return Reflect.apply(f, self, [a, b, c]);
      } catch (e) {
        return threw(e);
      }
    },
    get(obj, key) {
      try {
        return obj[key];
      } catch (e) {
        return threw(e);
      }
    },
    isArray(v) {
      try {
        return Array.isArray(v);
      } catch (e) {
        return threw(e);
      }
    },
    stringify(v) {
      try {
        return JSON.stringify(v);
      } catch (e) {
        return threw(e);
      }
    },
    threw() {
      return lastThrow !== NONE;
    },
    takeThrown() {
      const e = lastThrow;
      lastThrow = NONE;
      return e === NONE ? undefined : e;
    },
    u8copy(value, into) {
      try {
        setInto.call(into, value);
        return true;
      } catch (_) {
        return false;
      }
    },
  };
  const install = () => {
    wasm.__setErrorFactory(makeError);
    wasm.__setHost(host);
  };
  install();

  // Chosen entries from `from` on, forever (break out of the loop to stop). Each step is
  // `wait` on the core's replicated log; nothing here decides what is chosen.
  Object.defineProperty(wasm.ReplicatedLog.prototype, 'entries', {
    configurable: true,
    writable: true,
    value: async function* entries(from = 0n, options = {}) {
      let slot = from; // checked by wait(), like every 64-bit argument
      let waitMs;
      try {
        waitMs = options === undefined || options === null || options.waitMs === undefined ? 1000 : options.waitMs;
      } catch (cause) {
        throw new SynodosError('INVALID_ARGUMENT', 'invalid argument: reading options.waitMs threw', cause);
      }
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
    // Internal (tests): how many Rust panics this package has seen (0 unless synodos has a bug).
    __panicCount: () => panics,
    // Internal (tests): how many JS values the wasm side holds right now.
    __liveValues: wasm.__liveValues,
  });
}
