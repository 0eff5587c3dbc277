/* Regression tests for defects of the C binding found by review (issue 12):
 *  6. a transport or log callback that calls a proposer or a replicated log (a nested
 *     blocking call) panicked inside synodos (SYNODOS_ERR_PANIC);
 *  7. synodos_acceptor_new(log, log, &a) freed the log twice;
 *  8. out-parameters were left unwritten on some failures (the header promises they are
 *     always written, so that freeing them is safe). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "test.h"

static synodos_proposer *proposer_over(synodos_client **clients, size_t n, uint16_t node) {
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(node, &ids));
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)clients, n, ids, NULL, &p));
  synodos_id_generator_free(ids);
  return p;
}

static void three_local(synodos_acceptor **acceptors, synodos_client **clients) {
  for (int i = 0; i < 3; i++) {
    OK(synodos_acceptor_new_memory(&acceptors[i]));
    OK(synodos_client_new_local(acceptors[i], &clients[i]));
  }
}

static void free_three(synodos_acceptor **acceptors, synodos_client **clients) {
  for (int i = 0; i < 3; i++) {
    synodos_client_free(clients[i]);
    synodos_acceptor_free(acceptors[i]);
  }
}

/* ---- 6. callbacks that call a proposer or a replicated log -------------------------------- */

/* A transport whose prepare first records the request in an audit log (a replicated log on
 * other acceptors, appended with a blocking call), then forwards to its acceptor. */
typedef struct audited {
  synodos_acceptor *acceptor;
  synodos_replicated_log *audit;
  synodos_proposer *side; /* also proposes on a side cluster, from accept */
  int appended, proposed;
} audited;

static synodos_status audited_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  audited *a = ud;
  uint64_t slot = UINT64_MAX;
  synodos_status st = synodos_replicated_log_append(a->audit, (const uint8_t *)"prepare", 7, &slot);
  if (st != SYNODOS_OK) return st;
  if (slot == UINT64_MAX) return 99;
  a->appended++;
  return synodos_acceptor_prepare(a->acceptor, req, out);
}

static synodos_status audited_accept(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  audited *a = ud;
  synodos_bytes chosen = {0};
  synodos_status st = synodos_proposer_propose_at(a->side, p->slot, (const uint8_t *)"side", 4, &chosen);
  synodos_bytes_free(&chosen);
  if (st != SYNODOS_OK) return st;
  a->proposed++;
  return synodos_acceptor_accept(a->acceptor, p, out);
}

static void a_callback_may_call_a_proposer_and_a_replicated_log(void) {
  synodos_acceptor *main_acc[3], *audit_acc[3], *side_acc[3];
  synodos_client *main_cl[3], *audit_cl[3], *side_cl[3];
  three_local(main_acc, main_cl);
  three_local(audit_acc, audit_cl);
  three_local(side_acc, side_cl);
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(7, &ids));
  synodos_replicated_log *audit = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)audit_cl, 3, ids, NULL, &audit));
  synodos_id_generator_free(ids);
  synodos_proposer *side = proposer_over(side_cl, 3, 8);

  audited state[3];
  synodos_client *clients[3];
  for (int i = 0; i < 3; i++) {
    state[i] = (audited){.acceptor = main_acc[i], .audit = audit, .side = side};
    synodos_client_callbacks cb = {.user_data = &state[i], .prepare = audited_prepare, .accept = audited_accept};
    OK(synodos_client_new_callbacks(&cb, &clients[i]));
  }
  synodos_proposer *p = proposer_over(clients, 3, 1);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"main", 4, &chosen));
  CHECK_BYTES(chosen, "main");
  synodos_bytes_free(&chosen);
  int appended = 0, proposed = 0;
  for (int i = 0; i < 3; i++) {
    appended += state[i].appended;
    proposed += state[i].proposed;
  }
  CHECK(appended >= 2 && proposed >= 2);
  /* The nested appends really landed in the audit log, one slot each. */
  synodos_entry_list entries;
  OK(synodos_replicated_log_read(audit, 0, 100, &entries));
  CHECK(entries.len == (size_t)appended);
  synodos_entry_list_free(&entries);
  /* The replicated log's own append, with nested calls inside, works the same way. */
  synodos_replicated_log *log = NULL;
  OK(synodos_id_generator_new_counter(2, &ids));
  OK(synodos_replicated_log_new((const synodos_client *const *)clients, 3, ids, NULL, &log));
  synodos_id_generator_free(ids);
  uint64_t slot = UINT64_MAX;
  OK(synodos_replicated_log_append(log, (const uint8_t *)"entry", 5, &slot));
  CHECK(slot == 1); /* slot 0 holds the single decree above */
  synodos_replicated_log_free(log);

  synodos_proposer_free(p);
  for (int i = 0; i < 3; i++) synodos_client_free(clients[i]);
  synodos_proposer_free(side);
  synodos_replicated_log_free(audit);
  free_three(main_acc, main_cl);
  free_three(audit_acc, audit_cl);
  free_three(side_acc, side_cl);
}

/* An asynchronous transport that finishes each call inside its callback, after a nested
 * propose on another cluster. */
typedef struct nested_async {
  synodos_acceptor *acceptor;
  synodos_proposer *side;
} nested_async;

static void nested_async_prepare(void *ud, const synodos_request *req, synodos_completion *c) {
  nested_async *n = ud;
  synodos_bytes chosen = {0};
  synodos_status st = synodos_proposer_propose(n->side, (const uint8_t *)"x", 1, &chosen);
  synodos_bytes_free(&chosen);
  if (st == SYNODOS_OK) st = synodos_acceptor_prepare(n->acceptor, req, synodos_completion_promise(c));
  synodos_completion_finish(c, st);
}

static void nested_async_accept(void *ud, const synodos_proposal_view *p, synodos_completion *c) {
  nested_async *n = ud;
  synodos_completion_finish(c, synodos_acceptor_accept(n->acceptor, p, synodos_completion_proposal(c)));
}

static void an_async_callback_may_call_a_proposer(void) {
  synodos_acceptor *main_acc[3], *side_acc[3];
  synodos_client *main_cl[3], *side_cl[3];
  three_local(main_acc, main_cl);
  three_local(side_acc, side_cl);
  synodos_proposer *side = proposer_over(side_cl, 3, 9);
  nested_async state[3];
  synodos_client *clients[3];
  for (int i = 0; i < 3; i++) {
    state[i] = (nested_async){.acceptor = main_acc[i], .side = side};
    synodos_async_client_callbacks cb = {
        .user_data = &state[i], .prepare = nested_async_prepare, .accept = nested_async_accept};
    OK(synodos_client_new_async(&cb, &clients[i]));
  }
  synodos_proposer *p = proposer_over(clients, 3, 1);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"async", 5, &chosen));
  CHECK_BYTES(chosen, "async");
  synodos_bytes_free(&chosen);
  synodos_proposer_free(p);
  for (int i = 0; i < 3; i++) synodos_client_free(clients[i]);
  synodos_proposer_free(side);
  free_three(main_acc, main_cl);
  free_three(side_acc, side_cl);
}

/* ---- 7. one log handle passed as both logs of an acceptor ----------------------------------- */

static int log_freed;
static synodos_status nop_record(void *ud, uint64_t id, const uint8_t *d, size_t n) {
  (void)ud, (void)id, (void)d, (void)n;
  return SYNODOS_OK;
}
static synodos_status nop_last(void *ud, synodos_log_last_out *out) {
  (void)ud, (void)out;
  return SYNODOS_OK;
}
static synodos_status nop_range(void *ud, uint64_t a, uint64_t b, synodos_log_range_visitor *v) {
  (void)ud, (void)a, (void)b, (void)v;
  return SYNODOS_OK;
}
static synodos_status nop_trim(void *ud, uint64_t before) {
  (void)ud, (void)before;
  return SYNODOS_OK;
}
static void count_free(void *ud) {
  (void)ud;
  log_freed++;
}

static void the_same_log_twice_is_refused_and_freed_once(void) {
  synodos_log *log = NULL;
  OK(synodos_log_new_memory(&log));
  synodos_acceptor *a = (synodos_acceptor *)(uintptr_t)1; /* must be overwritten */
  EXPECT_STATUS(synodos_acceptor_new(log, log, &a), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(a == NULL);
  CHECK(strstr(synodos_last_error_message(), "same log") != NULL);
  /* The log was taken over (and freed) exactly once: a C log's finalizer runs once. */
  synodos_log_callbacks cb = {.record = nop_record, .last = nop_last, .range = nop_range, .trim = nop_trim,
                              .free_user_data = count_free};
  OK(synodos_log_new_callbacks(&cb, &log));
  log_freed = 0;
  EXPECT_STATUS(synodos_acceptor_new(log, log, &a), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(log_freed == 1);
  /* Two different logs still work. */
  synodos_log *p = NULL, *q = NULL;
  OK(synodos_log_new_memory(&p));
  OK(synodos_log_new_memory(&q));
  OK(synodos_acceptor_new(p, q, &a));
  synodos_acceptor_free(a);
}

/* ---- 8. out-parameters are written on every failure ------------------------------------ */

#define GARBAGE ((void *)(uintptr_t)0x5a5a5a5a)

static void out_parameters_are_written_on_failure(void) {
  /* id generator: a NULL handle must still clear *ballot. */
  uint64_t ballot = 12345;
  EXPECT_STATUS(synodos_id_generator_next(NULL, &ballot), SYNODOS_ERR_NULL_POINTER);
  CHECK(ballot == 0);
  /* ... and so must an exhausted generator. */
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(1, &ids));
  OK(synodos_id_generator_observe(ids, UINT64_MAX));
  ballot = 12345;
  EXPECT_STATUS(synodos_id_generator_next(ids, &ballot), SYNODOS_ERR_ID_EXHAUSTED);
  CHECK(ballot == 0);
  synodos_id_generator_free(ids);

  /* replicated log append: a NULL log, a NULL value with a length, a failed append. */
  uint64_t slot = 777;
  EXPECT_STATUS(synodos_replicated_log_append(NULL, (const uint8_t *)"v", 1, &slot), SYNODOS_ERR_NULL_POINTER);
  CHECK(slot == 0);
  synodos_acceptor *acc[3];
  synodos_client *cl[3];
  three_local(acc, cl);
  OK(synodos_id_generator_new_counter(3, &ids));
  synodos_replicated_log *log = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)cl, 3, ids, NULL, &log));
  slot = 777;
  EXPECT_STATUS(synodos_replicated_log_append(log, NULL, 3, &slot), SYNODOS_ERR_NULL_POINTER);
  CHECK(slot == 0);
  OK(synodos_id_generator_observe(ids, UINT64_MAX)); /* the log's ballots are used up */
  slot = 777;
  EXPECT_STATUS(synodos_replicated_log_append(log, (const uint8_t *)"v", 1, &slot), SYNODOS_ERR_ID_EXHAUSTED);
  CHECK(slot == 0);
  synodos_replicated_log_free(log);
  synodos_id_generator_free(ids);

  /* Handles: every constructor writes NULL when it fails. */
  synodos_acceptor *a = GARBAGE;
  EXPECT_STATUS(synodos_acceptor_clone(NULL, &a), SYNODOS_ERR_NULL_POINTER);
  CHECK(a == NULL);
  a = GARBAGE;
  EXPECT_STATUS(synodos_acceptor_new(NULL, NULL, &a), SYNODOS_ERR_NULL_POINTER);
  CHECK(a == NULL);
  synodos_client *c = GARBAGE;
  EXPECT_STATUS(synodos_client_new_local(NULL, &c), SYNODOS_ERR_NULL_POINTER);
  CHECK(c == NULL);
  c = GARBAGE;
  EXPECT_STATUS(synodos_client_new_callbacks(NULL, &c), SYNODOS_ERR_NULL_POINTER);
  CHECK(c == NULL);
  c = GARBAGE;
  EXPECT_STATUS(synodos_client_new_async(NULL, &c), SYNODOS_ERR_NULL_POINTER);
  CHECK(c == NULL);
  synodos_proposer *p = GARBAGE;
  EXPECT_STATUS(synodos_proposer_new(NULL, 0, NULL, NULL, &p), SYNODOS_ERR_NULL_POINTER);
  CHECK(p == NULL);
  synodos_replicated_log *rl = GARBAGE;
  EXPECT_STATUS(synodos_replicated_log_new((const synodos_client *const *)cl, 3, NULL, NULL, &rl),
                SYNODOS_ERR_NULL_POINTER);
  CHECK(rl == NULL);
  synodos_log *l = GARBAGE;
  EXPECT_STATUS(synodos_log_new_callbacks(NULL, &l), SYNODOS_ERR_NULL_POINTER);
  CHECK(l == NULL);
  l = GARBAGE;
  EXPECT_STATUS(synodos_log_new_file(NULL, &l), SYNODOS_ERR_NULL_POINTER);
  CHECK(l == NULL);

  /* Views: a failed getter leaves an all-zero view, not stale pointers. */
  synodos_proposal_view view = {.id = 9, .slot = 9, .promised = 9, .value = GARBAGE, .value_len = 9};
  EXPECT_STATUS(synodos_proposal_get(NULL, &view), SYNODOS_ERR_NULL_POINTER);
  CHECK(view.id == 0 && view.slot == 0 && view.value == NULL && view.value_len == 0);
  synodos_proposal_list *list = NULL;
  OK(synodos_proposal_list_new(&list));
  view = (synodos_proposal_view){.id = 9, .value = GARBAGE, .value_len = 9};
  EXPECT_STATUS(synodos_proposal_list_get(list, 5, &view), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(view.id == 0 && view.value == NULL && view.value_len == 0);
  synodos_proposal_list_free(list);
  synodos_promise_view pv;
  memset(&pv, 0x5a, sizeof pv);
  EXPECT_STATUS(synodos_promise_get(NULL, &pv), SYNODOS_ERR_NULL_POINTER);
  CHECK(pv.id == 0 && !pv.has_accepted && pv.accepted.value == NULL && pv.accepted.value_len == 0);

  /* Bytes and lists. */
  synodos_bytes b = {.ptr = GARBAGE, .len = 9};
  EXPECT_STATUS(synodos_proposer_propose(NULL, (const uint8_t *)"v", 1, &b), SYNODOS_ERR_NULL_POINTER);
  CHECK(b.ptr == NULL && b.len == 0);
  synodos_entry_list el = {.entries = GARBAGE, .len = 9};
  EXPECT_STATUS(synodos_replicated_log_read(NULL, 0, 10, &el), SYNODOS_ERR_NULL_POINTER);
  CHECK(el.entries == NULL && el.len == 0);
  synodos_request r = {.id = 9, .attempt = 9, .slot = 9};
  EXPECT_STATUS(synodos_request_from_json((const uint8_t *)"{", 1, &r), SYNODOS_ERR_INVALID_MESSAGE);
  CHECK(r.id == 0 && r.attempt == 0 && r.slot == 0);
  bool found = true;
  uint64_t id = 9;
  b = (synodos_bytes){.ptr = GARBAGE, .len = 9};
  EXPECT_STATUS(synodos_log_last(NULL, &found, &id, &b), SYNODOS_ERR_NULL_POINTER);
  CHECK(!found && id == 0 && b.ptr == NULL && b.len == 0);
  size_t checks = 9;
  EXPECT_STATUS(synodos_log_conformance_run(NULL, NULL, &checks), SYNODOS_ERR_NULL_POINTER);
  CHECK(checks == 0);
  uint64_t nanos = 9;
  EXPECT_STATUS(synodos_bench_rust_decisions(0, 0, false, &nanos), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(nanos == 0);
  free_three(acc, cl);
}

int main(void) {
  RUN(a_callback_may_call_a_proposer_and_a_replicated_log);
  RUN(an_async_callback_may_call_a_proposer);
  RUN(the_same_log_twice_is_refused_and_freed_once);
  RUN(out_parameters_are_written_on_failure);
  CHECK(synodos_panic_count() == 0);
  DONE();
}
