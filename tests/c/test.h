/* Helpers shared by the C tests: checks that stop the program with a clear message, and a
 * C transport that forwards to an in-process acceptor (optionally failing on demand). */
#ifndef SYNODOS_TEST_H
#define SYNODOS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <synodos.h>

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* The call must return `want`; otherwise print the status and the last error, and stop. */
#define EXPECT_STATUS(call, want)                                                \
  do {                                                                           \
    synodos_status got_ = (call);                                                \
    if (got_ != (want)) {                                                        \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s: %s\n", __FILE__, \
              __LINE__, #call, got_, synodos_status_name(got_), #want,           \
              synodos_last_error_message());                                     \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

#define OK(call) EXPECT_STATUS(call, SYNODOS_OK)

#define CHECK_BYTES(bytes, text)                                                 \
  do {                                                                           \
    const char *want_ = (text);                                                  \
    if ((bytes).len != strlen(want_) || ((bytes).len && memcmp((bytes).ptr, want_, (bytes).len))) { \
      fprintf(stderr, "%s:%d: bytes are \"%.*s\", expected \"%s\"\n", __FILE__,  \
              __LINE__, (int)(bytes).len, (const char *)(bytes).ptr, want_);     \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

static int tests_run;
#define RUN(test)                                                                \
  do {                                                                           \
    test();                                                                      \
    tests_run++;                                                                 \
    printf("ok %s\n", #test);                                                    \
  } while (0)
#define DONE()                                                                   \
  do {                                                                           \
    printf("%d passed, 0 failed\n", tests_run);                                  \
    return 0;                                                                    \
  } while (0)

/* ---- a C transport over an in-process acceptor ---------------------------------------- */

typedef struct forward {
  synodos_acceptor *acceptor; /* our own handle, freed by forward_free */
  int fail_prepare;           /* non-zero: prepare returns this status */
  int fail_accept;            /* non-zero: accept returns this status */
  int fill_nothing;           /* return 0 without filling in the answer */
  const char *why;            /* message attached to failures (may be NULL) */
  int *freed;                 /* incremented by the finalizer (may be NULL) */
  long calls;
} forward;

static inline synodos_status forward_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  forward *f = ud;
  __atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
  if (f->fail_prepare) {
    if (f->why) synodos_callback_set_error(f->why);
    return f->fail_prepare;
  }
  if (f->fill_nothing) return SYNODOS_OK;
  return synodos_acceptor_prepare(f->acceptor, req, out);
}

static inline synodos_status forward_accept(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  forward *f = ud;
  __atomic_add_fetch(&f->calls, 1, __ATOMIC_RELAXED);
  if (f->fail_accept) {
    if (f->why) synodos_callback_set_error(f->why);
    return f->fail_accept;
  }
  if (f->fill_nothing) return SYNODOS_OK;
  return synodos_acceptor_accept(f->acceptor, p, out);
}

static inline synodos_status forward_observe(void *ud, const synodos_request *req, synodos_proposal_list *out) {
  forward *f = ud;
  if (f->fail_prepare) return f->fail_prepare;
  return synodos_acceptor_observe(f->acceptor, req->slot, out);
}

static inline void forward_free(void *ud) {
  forward *f = ud;
  if (f->freed) (*f->freed)++;
  synodos_acceptor_free(f->acceptor);
  free(f);
}

/* A client that reaches `acceptor` through C callbacks; `*state` (optional) lets the test
 * switch failures on and off. The client owns the state (freed by its finalizer). */
static inline synodos_client *forward_client(const synodos_acceptor *acceptor, forward **state) {
  forward *f = calloc(1, sizeof *f);
  CHECK(f != NULL);
  OK(synodos_acceptor_clone(acceptor, &f->acceptor)); /* our own handle on the same acceptor */
  synodos_client_callbacks cb = {
      .user_data = f,
      .prepare = forward_prepare,
      .accept = forward_accept,
      .observe = forward_observe,
      .free_user_data = forward_free,
  };
  synodos_client *client = NULL;
  OK(synodos_client_new_callbacks(&cb, &client));
  if (state) *state = f;
  return client;
}

#endif
