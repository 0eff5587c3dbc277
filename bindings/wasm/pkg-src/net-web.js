// Browser build (build.sh pastes this into web/index.js after net.js): the fetch transport
// of HttpAcceptor/NodeClient, with response streams for NodeClient.follow.
function setupWebNet(api) {
  const withTimeout = (ms) => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${ms} ms`)), ms);
    return { signal: controller.signal, controller, done: () => clearTimeout(timer) };
  };
  const headersOf = (res) => {
    const h = {};
    res.headers.forEach((v, k) => {
      h[k.toLowerCase()] = v;
    });
    return h;
  };
  const transport = {
    async request(options) {
      const t = withTimeout(options.timeoutMs);
      try {
        const res = await fetch(options.url, {
          method: options.method,
          headers: options.headers,
          body: options.body,
          signal: t.signal,
        });
        return { status: res.status, headers: headersOf(res), text: await res.text() };
      } finally {
        t.done();
      }
    },
    async stream(options) {
      const t = withTimeout(options.timeoutMs);
      let res;
      try {
        res = await fetch(options.url, { method: options.method, headers: options.headers, signal: t.signal });
      } finally {
        t.done();
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const idleMs = options.idleMs ?? 30000;
      const chunks = (async function* () {
        for (;;) {
          let idle;
          const timeout = new Promise((_, reject) => {
            idle = setTimeout(() => reject(new Error(`nothing for ${idleMs} ms`)), idleMs);
          });
          let step;
          try {
            step = await Promise.race([reader.read(), timeout]);
          } finally {
            clearTimeout(idle);
          }
          if (step.done) return;
          yield decoder.decode(step.value, { stream: true });
        }
      })();
      return {
        status: res.status,
        headers: headersOf(res),
        chunks,
        close: () => {
          reader.cancel().catch(() => {});
        },
      };
    },
  };
  // fetch keeps no pool of ours: every client shares the browser's.
  const pool = { request: transport.request, stream: transport.stream, close() {} };
  return setupNet(api, { pool: () => pool });
}
