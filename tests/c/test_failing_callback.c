/* C transports that fail: the caller sees each callback's status and message in the
 * no-quorum failure list; a minority of failures is survived; misuse is reported; the
 * finalizer runs exactly once. Also: a C log that fails under an acceptor. */
#include "test.h"

typedef struct trio {
  synodos_acceptor *acceptors[3];
  synodos_client *clients[3];
  forward *state[3];
  int freed;
} trio;

static void trio_new(trio *t) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < 3; i++) {
    OK(synodos_acceptor_new_memory(&t->acceptors[i]));
    t->clients[i] = forward_client(t->acceptors[i], &t->state[i]);
    t->state[i]->freed = &t->freed;
  }
}

static void trio_free(trio *t) {
  for (int i = 0; i < 3; i++) {
    synodos_client_free(t->clients[i]);
    synodos_acceptor_free(t->acceptors[i]);
  }
}

static synodos_proposer *proposer_over(trio *t, uint32_t attempts) {
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(1, &ids));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.max_attempts = attempts;
  cfg.backoff_min_us = 0; /* no waiting between attempts */
  cfg.backoff_max_us = 0;
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)t->clients, 3, ids, &cfg, &p));
  synodos_id_generator_free(ids);
  return p;
}

static void majority_failing_gives_no_quorum_with_each_status(void) {
  trio t;
  trio_new(&t);
  t.state[0]->fail_prepare = 42;
  t.state[0]->why = "link down";
  t.state[2]->fail_prepare = 43;
  synodos_proposer *p = proposer_over(&t, 2);
  synodos_bytes chosen = {0};
  EXPECT_STATUS(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen), SYNODOS_ERR_NO_QUORUM);
  CHECK(chosen.ptr == NULL && chosen.len == 0);
  CHECK(synodos_last_error_status() == SYNODOS_ERR_NO_QUORUM);
  const char *msg = synodos_last_error_message();
  CHECK(strstr(msg, "no quorum after 2 attempt(s)") != NULL);
  CHECK(strstr(msg, "acceptor 0: transport: prepare callback returned status 42: link down") != NULL);
  CHECK(strstr(msg, "acceptor 2: transport: prepare callback returned status 43") != NULL);

  /* The failures of the last attempt, as data. */
  size_t n = synodos_last_error_failure_count();
  CHECK(n == 2);
  int seen42 = 0, seen43 = 0;
  for (size_t i = 0; i < n; i++) {
    synodos_failure f;
    OK(synodos_last_error_failure(i, &f));
    CHECK(f.status == SYNODOS_ERR_TRANSPORT);
    if (f.acceptor == 0 && f.callback_status == 42) seen42 = 1;
    if (f.acceptor == 2 && f.callback_status == 43) seen43 = 1;
  }
  CHECK(seen42 && seen43);
  synodos_failure f;
  EXPECT_STATUS(synodos_last_error_failure(n, &f), SYNODOS_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(synodos_last_error_failure(0, NULL), SYNODOS_ERR_NULL_POINTER);
  /* Reading the failures did not replace the last error. */
  CHECK(synodos_last_error_failure_count() == 2);

  /* The acceptors come back: the same proposer now succeeds. */
  t.state[0]->fail_prepare = t.state[2]->fail_prepare = 0;
  OK(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen));
  CHECK_BYTES(chosen, "v");
  synodos_bytes_free(&chosen);
  synodos_proposer_free(p);
  trio_free(&t);
  CHECK(t.freed == 3);
}

static void a_minority_failing_is_survived(void) {
  trio t;
  trio_new(&t);
  t.state[0]->fail_prepare = 5;
  t.state[0]->fail_accept = 5;
  synodos_proposer *p = proposer_over(&t, 1);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"ok", 2, &chosen));
  CHECK_BYTES(chosen, "ok");
  synodos_bytes_free(&chosen);
  CHECK(t.state[0]->calls >= 1); /* it was asked, and its failure did not matter */
  synodos_proposer_free(p);
  trio_free(&t);
}

static void failing_accepts_give_no_quorum(void) {
  trio t;
  trio_new(&t);
  for (int i = 0; i < 3; i++) t.state[i]->fail_accept = 100 + i;
  synodos_proposer *p = proposer_over(&t, 1);
  synodos_bytes chosen = {0};
  EXPECT_STATUS(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen), SYNODOS_ERR_NO_QUORUM);
  CHECK(strstr(synodos_last_error_message(), "accept callback returned status 10") != NULL);
  CHECK(synodos_last_error_failure_count() >= 2);
  synodos_failure f;
  OK(synodos_last_error_failure(0, &f));
  CHECK(f.callback_status == 100 + (int)f.acceptor);
  synodos_proposer_free(p);
  trio_free(&t);
}

/* The failure list holds what the proposer had counted when it gave up: with synchronous
 * transports every acceptor is asked in turn, and one that fails after the outcome was
 * decided is not listed (documented at synodos_last_error_failure_count). */
static void failures_after_the_decision_are_not_listed(void) {
  trio t;
  trio_new(&t);
  for (int i = 0; i < 3; i++) t.state[i]->fail_prepare = 50 + i;
  synodos_proposer *p = proposer_over(&t, 1);
  synodos_bytes chosen = {0};
  EXPECT_STATUS(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen), SYNODOS_ERR_NO_QUORUM);
  for (int i = 0; i < 3; i++) CHECK(t.state[i]->calls == 1); /* all three were asked */
  /* Two failures out of three already make a majority impossible: those two are listed. */
  CHECK(synodos_last_error_failure_count() == 2);
  for (size_t i = 0; i < 2; i++) {
    synodos_failure f;
    OK(synodos_last_error_failure(i, &f));
    CHECK(f.acceptor == i && f.callback_status == 50 + (int)i);
  }
  CHECK(strstr(synodos_last_error_message(), "acceptor 2") == NULL);
  synodos_proposer_free(p);
  trio_free(&t);
}

static void a_callback_that_fills_nothing_is_a_transport_error(void) {
  trio t;
  trio_new(&t);
  for (int i = 0; i < 3; i++) t.state[i]->fill_nothing = 1;
  synodos_proposer *p = proposer_over(&t, 1);
  synodos_bytes chosen = {0};
  EXPECT_STATUS(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen), SYNODOS_ERR_NO_QUORUM);
  CHECK(strstr(synodos_last_error_message(), "prepare callback returned 0 but did not fill in its answer") != NULL);
  synodos_failure f;
  OK(synodos_last_error_failure(0, &f));
  CHECK(f.status == SYNODOS_ERR_TRANSPORT && f.callback_status == 0);
  synodos_proposer_free(p);
  trio_free(&t);
}

static void failing_observe_makes_reads_fail(void) {
  trio t;
  trio_new(&t);
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(1, &ids));
  synodos_replicated_log *log = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)t.clients, 3, ids, NULL, &log));
  OK(synodos_replicated_log_append(log, (const uint8_t *)"a", 1, NULL));
  t.state[1]->fail_prepare = 9; /* forward_observe fails with it too */
  t.state[2]->fail_prepare = 9;
  synodos_entry_list list = {0};
  EXPECT_STATUS(synodos_replicated_log_read(log, 0, 10, &list), SYNODOS_ERR_NO_QUORUM);
  CHECK(list.len == 0 && list.entries == NULL);
  CHECK(strstr(synodos_last_error_message(), "observe callback returned status 9") != NULL);
  synodos_replicated_log_free(log);
  synodos_id_generator_free(ids);
  trio_free(&t);
}

static int finalized;
static synodos_status grant(void *ud, const synodos_request *req, synodos_promise *out) {
  (void)ud;
  return synodos_promise_set(out, req->id, req->slot, 0);
}
static synodos_status ack(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  (void)ud;
  synodos_proposal_view answer = {.id = p->id, .slot = p->slot};
  return synodos_proposal_set(out, &answer);
}
static void count_free(void *ud) {
  CHECK(ud == &finalized);
  finalized++;
}

static void the_finalizer_runs_once_after_the_last_user(void) {
  synodos_client_callbacks cb = {.user_data = &finalized, .prepare = grant, .accept = ack, .free_user_data = count_free};
  synodos_client *client = NULL;
  OK(synodos_client_new_callbacks(&cb, &client));
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(1, &ids));
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)&client, 1, ids, NULL, &p));
  synodos_client_free(client);
  CHECK(finalized == 0); /* the proposer still uses it */
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"solo", 4, &chosen));
  CHECK_BYTES(chosen, "solo");
  synodos_bytes_free(&chosen);
  synodos_proposer_free(p);
  CHECK(finalized == 1);
  synodos_id_generator_free(ids);

  /* A failed creation takes nothing: the finalizer is not called. */
  cb.accept = NULL;
  EXPECT_STATUS(synodos_client_new_callbacks(&cb, &client), SYNODOS_ERR_NULL_POINTER);
  CHECK(finalized == 1);
}

/* ---- a C log that fails ------------------------------------------------------------- */

static synodos_status bad_record(void *ud, uint64_t id, const uint8_t *d, size_t n) {
  (void)ud, (void)id, (void)d, (void)n;
  synodos_callback_set_error("disk full");
  return 77;
}
static synodos_status empty_last(void *ud, synodos_log_last_out *out) {
  (void)ud, (void)out;
  return SYNODOS_OK;
}
static synodos_status empty_range(void *ud, uint64_t a, uint64_t b, synodos_log_range_visitor *v) {
  (void)ud, (void)a, (void)b, (void)v;
  return SYNODOS_OK;
}
static synodos_status no_trim(void *ud, uint64_t before) {
  (void)ud, (void)before;
  return SYNODOS_OK;
}

static void a_failing_log_closes_its_acceptor(void) {
  synodos_log_callbacks cb = {.record = bad_record, .last = empty_last, .range = empty_range, .trim = no_trim};
  synodos_log *promises = NULL, *accepts = NULL;
  OK(synodos_log_new_callbacks(&cb, &promises));
  OK(synodos_log_new_memory(&accepts));
  synodos_acceptor *a = NULL;
  OK(synodos_acceptor_new(promises, accepts, &a));
  synodos_promise *out = NULL;
  OK(synodos_promise_new(&out));
  synodos_request r = {.id = 3, .attempt = 1};
  EXPECT_STATUS(synodos_acceptor_prepare(a, &r, out), SYNODOS_ERR_STORAGE);
  CHECK(strstr(synodos_last_error_message(), "log record callback returned status 77: disk full") != NULL);
  /* Nothing that might not be durable is ever acknowledged: the acceptor stays closed. */
  EXPECT_STATUS(synodos_acceptor_prepare(a, &r, out), SYNODOS_ERR_CLOSED);
  synodos_promise_free(out);
  synodos_acceptor_free(a);
}

int main(void) {
  RUN(majority_failing_gives_no_quorum_with_each_status);
  RUN(a_minority_failing_is_survived);
  RUN(failing_accepts_give_no_quorum);
  RUN(failures_after_the_decision_are_not_listed);
  RUN(a_callback_that_fills_nothing_is_a_transport_error);
  RUN(failing_observe_makes_reads_fail);
  RUN(the_finalizer_runs_once_after_the_last_user);
  RUN(a_failing_log_closes_its_acceptor);
  DONE();
}
