/* The C benchmark (make bench-c): single-decree decisions per second through the C API, with
 * in-process acceptors and with C callback transports, against the same loop run in Rust in
 * the same process; and the overhead of one C callback. One slot per decision, 8-byte values,
 * 3 acceptors, one proposer on one thread. */
#define _POSIX_C_SOURCE 199309L
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <synodos.h>
#include <time.h>

#define N_ACC 3

static void ok(synodos_status s, const char *what) {
  if (s != SYNODOS_OK) {
    fprintf(stderr, "%s: %s\n", what, synodos_last_error_message());
    exit(1);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: other processes' load does not count */
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Callback calls made (one thread: a plain counter). */
static long callback_calls;

static synodos_status fwd_prepare(void *ud, const synodos_request *r, synodos_promise *out) {
  callback_calls++;
  return synodos_acceptor_prepare(ud, r, out);
}
static synodos_status fwd_accept(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  callback_calls++;
  return synodos_acceptor_accept(ud, p, out);
}
/* The cheapest correct transport: grant and acknowledge without an acceptor. */
static synodos_status nop_prepare(void *ud, const synodos_request *r, synodos_promise *out) {
  (void)ud;
  callback_calls++;
  return synodos_promise_set(out, r->id, r->slot, 0);
}
static synodos_status nop_accept(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  (void)ud;
  callback_calls++;
  synodos_proposal_view a = {.id = p->id, .slot = p->slot};
  return synodos_proposal_set(out, &a);
}

typedef enum { LOCAL, CALLBACK_FORWARD, CALLBACK_NOP } mode;

/* Seconds for `n` decisions; also counts the callback calls made. */
static double run(mode m, uint64_t n, long *calls) {
  /* Timed from set-up to tear-down, like the Rust twin measured around its call. */
  double t0 = now_s();
  callback_calls = 0;
  synodos_acceptor *acc[N_ACC];
  synodos_client *cl[N_ACC];
  for (int i = 0; i < N_ACC; i++) {
    ok(synodos_acceptor_new_memory(&acc[i]), "acceptor");
    if (m == LOCAL) {
      ok(synodos_client_new_local(acc[i], &cl[i]), "client");
    } else {
      synodos_client_callbacks cb = {
          .user_data = acc[i],
          .prepare = m == CALLBACK_FORWARD ? fwd_prepare : nop_prepare,
          .accept = m == CALLBACK_FORWARD ? fwd_accept : nop_accept,
      };
      ok(synodos_client_new_callbacks(&cb, &cl[i]), "client");
    }
  }
  synodos_id_generator *ids;
  ok(synodos_id_generator_new_counter(1, &ids), "ids");
  synodos_proposer *p;
  ok(synodos_proposer_new((const synodos_client *const *)cl, N_ACC, ids, NULL, &p), "proposer");
  for (uint64_t slot = 0; slot < n; slot++) {
    synodos_bytes chosen;
    ok(synodos_proposer_propose_at(p, slot, (const uint8_t *)&slot, sizeof slot, &chosen), "propose");
    if (chosen.len != 8) exit(2);
    synodos_bytes_free(&chosen);
  }
  /* Every acceptor is asked in both phases: 3 prepares + 3 accepts per decision. */
  *calls = callback_calls;
  synodos_proposer_free(p);
  synodos_id_generator_free(ids);
  for (int i = 0; i < N_ACC; i++) {
    synodos_client_free(cl[i]);
    synodos_acceptor_free(acc[i]);
  }
  return now_s() - t0;
}

static double rust_run(uint64_t n, bool trivial) {
  uint64_t ns; /* wall time measured by Rust; we use this thread's CPU time like the C loops */
  double t0 = now_s();
  ok(synodos_bench_rust_decisions(N_ACC, n, trivial, &ns), "rust bench");
  return now_s() - t0;
}

static double min(double a, double b) { return a < b ? a : b; }

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
  int reps = 7;
  long calls = 0;
  if (argc > 2) { /* one loop, once: for `valgrind --tool=callgrind` instruction counts */
    if (!strcmp(argv[2], "rust")) rust_run(n, false);
    else if (!strcmp(argv[2], "rust-trivial")) rust_run(n, true);
    else if (!strcmp(argv[2], "local")) run(LOCAL, n, &calls);
    else if (!strcmp(argv[2], "forward")) run(CALLBACK_FORWARD, n, &calls);
    else if (!strcmp(argv[2], "trivial")) run(CALLBACK_NOP, n, &calls);
    else return 2;
    return 0;
  }
  run(LOCAL, n / 10 + 1, &calls); /* warm up */
  /* Interleave the loops, keep each one's best run: the machine is shared and noisy. */
  double rust = 1e9, rust_trivial = 1e9, local = 1e9, fwd = 1e9, nop = 1e9;
  for (int r = 0; r < reps; r++) {
    rust = min(rust, rust_run(n, false));
    local = min(local, run(LOCAL, n, &calls));
    fwd = min(fwd, run(CALLBACK_FORWARD, n, &calls));
    rust_trivial = min(rust_trivial, rust_run(n, true));
    nop = min(nop, run(CALLBACK_NOP, n, &calls));
  }
  printf("decisions per run: %llu, thread CPU time, best of %d interleaved runs, 3 acceptors, 8-byte values, one slot per decision\n",
         (unsigned long long)n, reps);
  printf("| loop | decisions/s | ns/decision | vs its Rust twin |\n|---|---|---|---|\n");
  printf("| Rust, local acceptors (`synodos_bench_rust_decisions`) | %.0f | %.0f | 1.00 |\n", n / rust, rust / n * 1e9);
  printf("| C API, local acceptors | %.0f | %.0f | %.2f |\n", n / local, local / n * 1e9, rust / local);
  printf("| C API, C callbacks forwarding to acceptors | %.0f | %.0f | %.2f |\n", n / fwd, fwd / n * 1e9, rust / fwd);
  printf("| Rust, trivial clients (grant/ack, no acceptor) | %.0f | %.0f | 1.00 |\n", n / rust_trivial,
         rust_trivial / n * 1e9);
  printf("| C API, trivial C callbacks (grant/ack, no acceptor) | %.0f | %.0f | %.2f |\n", n / nop, nop / n * 1e9,
         rust_trivial / nop);
  printf("C callback overhead: %.1f ns per call ((C callbacks forwarding - local acceptors) / %ld calls per decision)\n",
         (fwd - local) / (double)calls * 1e9, calls / (long)n);
  printf("whole C API overhead with trivial clients: %.1f ns per call ((trivial C callbacks - trivial Rust clients) / %ld)\n",
         (nop - rust_trivial) / (double)calls * 1e9, calls / (long)n);
  return 0;
}
