/* The argument sweep: every public function of the C API called with boundary and hostile
 * arguments (NULL pointers, NULL data with a length, 0 and UINT64_MAX ids, SIZE_MAX counts,
 * out-of-range indexes, bad JSON, unknown names, odd statuses from callbacks, re-entrant
 * callbacks), each row with the status it must return. After every row the shared objects
 * must still work, and at the end no Rust panic may have happened anywhere
 * (synodos_panic_count() == 0; run.sh also sets SYNODOS_ABORT_ON_PANIC=1, so a panic would
 * abort the program). Run under ASan+UBSan and valgrind by run.sh. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "test.h"

/* ---- shared objects, checked after every row -------------------------------------------- */

static synodos_acceptor *acc[3];
static synodos_client *cl[3];
static synodos_id_generator *ids;
static synodos_proposer *prop;
static synodos_replicated_log *rlog;
static synodos_log *mlog;
static synodos_promise *promise;
static synodos_proposal *proposal;
static synodos_proposal_list *plist;
static uint64_t next_decree = 1000;

static void setup(void) {
  for (int i = 0; i < 3; i++) {
    OK(synodos_acceptor_new_memory(&acc[i]));
    OK(synodos_client_new_local(acc[i], &cl[i]));
  }
  OK(synodos_id_generator_new_counter(1, &ids));
  OK(synodos_proposer_new((const synodos_client *const *)cl, 3, ids, NULL, &prop));
  synodos_id_generator *log_ids = NULL;
  OK(synodos_id_generator_new_counter(2, &log_ids));
  OK(synodos_replicated_log_new((const synodos_client *const *)cl, 3, log_ids, NULL, &rlog));
  synodos_id_generator_free(log_ids);
  OK(synodos_log_new_memory(&mlog));
  OK(synodos_promise_new(&promise));
  OK(synodos_proposal_new(&proposal));
  OK(synodos_proposal_list_new(&plist));
}

/* The shared objects still do their job. */
static void still_working(const char *after) {
  synodos_bytes chosen = {0};
  synodos_status st = synodos_proposer_propose_at(prop, next_decree++, (const uint8_t *)"ok", 2, &chosen);
  if (st != SYNODOS_OK || chosen.len != 2) {
    fprintf(stderr, "after %s: the proposer no longer works: %s\n", after, synodos_last_error_message());
    exit(1);
  }
  synodos_bytes_free(&chosen);
  uint64_t slot = 0;
  st = synodos_replicated_log_append(rlog, (const uint8_t *)"e", 1, &slot);
  if (st != SYNODOS_OK) {
    fprintf(stderr, "after %s: the replicated log no longer works: %s\n", after, synodos_last_error_message());
    exit(1);
  }
  uint64_t ballot = 0;
  if (synodos_id_generator_next(ids, &ballot) != SYNODOS_OK || ballot == 0) {
    fprintf(stderr, "after %s: the id generator no longer works\n", after);
    exit(1);
  }
  synodos_request r = {.id = ballot, .attempt = 1, .slot = 5000000};
  if (synodos_acceptor_prepare(acc[0], &r, promise) != SYNODOS_OK) {
    fprintf(stderr, "after %s: the acceptor no longer works: %s\n", after, synodos_last_error_message());
    exit(1);
  }
}

/* ---- callbacks for the rows -------------------------------------------------------------- */

static synodos_status fwd_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  return synodos_acceptor_prepare(ud, req, out);
}
static synodos_status fwd_accept(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  return synodos_acceptor_accept(ud, p, out);
}
static synodos_status odd_status;
static synodos_status odd_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  (void)ud, (void)req, (void)out;
  synodos_callback_set_error(NULL); /* clearing is allowed */
  return odd_status;
}
static synodos_status odd_accept(void *ud, const synodos_proposal_view *p, synodos_proposal *out) {
  (void)ud, (void)p, (void)out;
  return odd_status;
}
/* Answers with a promise for another ballot and slot than asked. */
static synodos_status liar_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  (void)ud;
  return synodos_promise_set(out, req->id + 1, req->slot + 7, 0);
}
/* Fills in an answer that claims a higher promise of UINT64_MAX. */
static synodos_status greedy_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  (void)ud;
  return synodos_promise_set(out, req->id, req->slot, UINT64_MAX);
}

/* A proposer over three clients with the given callbacks (the others forward). */
static synodos_status propose_with(synodos_client_callbacks bad, int bad_count, uint32_t attempts) {
  synodos_client *clients[3];
  for (int i = 0; i < 3; i++) {
    synodos_client_callbacks cb = {.user_data = acc[i], .prepare = fwd_prepare, .accept = fwd_accept};
    if (i < bad_count) {
      cb = bad;
      cb.user_data = acc[i];
    }
    OK(synodos_client_new_callbacks(&cb, &clients[i]));
  }
  synodos_id_generator *g = NULL;
  OK(synodos_id_generator_new_counter(30, &g));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.max_attempts = attempts;
  cfg.backoff_min_us = cfg.backoff_max_us = 0;
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)clients, 3, g, &cfg, &p));
  synodos_bytes chosen = {0};
  synodos_status st = synodos_proposer_propose_at(p, next_decree++, (const uint8_t *)"x", 1, &chosen);
  synodos_bytes_free(&chosen);
  synodos_proposer_free(p);
  synodos_id_generator_free(g);
  for (int i = 0; i < 3; i++) synodos_client_free(clients[i]);
  return st;
}

static synodos_status odd_statuses(synodos_status s) {
  odd_status = s;
  synodos_client_callbacks bad = {.prepare = odd_prepare, .accept = odd_accept};
  synodos_status st = propose_with(bad, 2, 1);
  /* The failure list names the callback's own status, whatever it was. */
  if (st == SYNODOS_ERR_NO_QUORUM) {
    synodos_failure f;
    OK(synodos_last_error_failure(0, &f));
    CHECK(f.callback_status == s && f.status == SYNODOS_ERR_TRANSPORT);
  }
  return st;
}

/* A transport whose prepare re-enters the proposer that called it (once). */
static synodos_proposer *reentrant_target;
static int reentered;
static synodos_status reentrant_prepare(void *ud, const synodos_request *req, synodos_promise *out) {
  if (!reentered) {
    reentered = 1;
    synodos_bytes chosen = {0};
    synodos_status st = synodos_proposer_propose_at(reentrant_target, req->slot + 1, (const uint8_t *)"in", 2, &chosen);
    synodos_bytes_free(&chosen);
    if (st != SYNODOS_OK) return st;
  }
  return synodos_acceptor_prepare(ud, req, out);
}
static synodos_status reentrant_proposer(void) {
  synodos_acceptor *a[3];
  synodos_client *c[3];
  for (int i = 0; i < 3; i++) {
    OK(synodos_acceptor_new_memory(&a[i]));
    synodos_client_callbacks cb = {.user_data = a[i], .prepare = reentrant_prepare, .accept = fwd_accept};
    OK(synodos_client_new_callbacks(&cb, &c[i]));
  }
  synodos_id_generator *g = NULL;
  OK(synodos_id_generator_new_counter(31, &g));
  OK(synodos_proposer_new((const synodos_client *const *)c, 3, g, NULL, &reentrant_target));
  reentered = 0;
  synodos_bytes chosen = {0};
  synodos_status st = synodos_proposer_propose_at(reentrant_target, 10, (const uint8_t *)"out", 3, &chosen);
  CHECK(st != SYNODOS_OK || (chosen.len == 3 && reentered));
  synodos_bytes_free(&chosen);
  synodos_proposer_free(reentrant_target);
  synodos_id_generator_free(g);
  for (int i = 0; i < 3; i++) {
    synodos_client_free(c[i]);
    synodos_acceptor_free(a[i]);
  }
  return st;
}

/* A C log whose record calls back into the acceptor that owns it. */
static synodos_acceptor *log_owner;
static synodos_status reentrant_record(void *ud, uint64_t id, const uint8_t *d, size_t n) {
  (void)ud, (void)id, (void)d, (void)n;
  if (!log_owner) return SYNODOS_OK; /* recovery, before the acceptor exists */
  synodos_request r = {.id = 99, .attempt = 1};
  synodos_promise *p = NULL;
  OK(synodos_promise_new(&p));
  synodos_status st = synodos_acceptor_prepare(log_owner, &r, p);
  synodos_promise_free(p);
  return st; /* SYNODOS_ERR_INVALID_ARGUMENT: re-entrant */
}
static synodos_status empty_last(void *ud, synodos_log_last_out *out) {
  (void)ud, (void)out;
  return SYNODOS_OK;
}
static synodos_status empty_range(void *ud, uint64_t a, uint64_t b, synodos_log_range_visitor *v) {
  (void)ud, (void)a, (void)b, (void)v;
  return SYNODOS_OK;
}
static synodos_status ok_trim(void *ud, uint64_t before) {
  (void)ud, (void)before;
  return SYNODOS_OK;
}
static synodos_status reentrant_log(void) {
  synodos_log_callbacks cb = {.record = reentrant_record, .last = empty_last, .range = empty_range, .trim = ok_trim};
  synodos_log *p = NULL, *a = NULL;
  OK(synodos_log_new_callbacks(&cb, &p));
  OK(synodos_log_new_memory(&a));
  log_owner = NULL;
  OK(synodos_acceptor_new(p, a, &log_owner));
  synodos_promise *out = NULL;
  OK(synodos_promise_new(&out));
  synodos_request r = {.id = 5, .attempt = 1};
  synodos_status st = synodos_acceptor_prepare(log_owner, &r, out);
  CHECK(strstr(synodos_last_error_message(), "log record callback returned status 7") != NULL);
  synodos_promise_free(out);
  synodos_acceptor_free(log_owner);
  log_owner = NULL;
  return st;
}

/* A log whose last() claims a record with NULL data and a length. */
static synodos_status lying_last(void *ud, synodos_log_last_out *out) {
  (void)ud;
  return synodos_log_last_set(out, 1, NULL, 5);
}
static synodos_status bad_range_visit(void *ud, uint64_t a, uint64_t b, synodos_log_range_visitor *v) {
  (void)ud, (void)a, (void)b;
  return synodos_log_range_visit(v, 1, NULL, 9);
}
static synodos_status log_with(synodos_log_callbacks cb) {
  synodos_log *p = NULL, *a = NULL;
  OK(synodos_log_new_memory(&p));
  OK(synodos_log_new_callbacks(&cb, &a)); /* the accept log: read back with range() */
  synodos_acceptor *x = NULL;
  synodos_status st = synodos_acceptor_new(p, a, &x);
  CHECK((st == SYNODOS_OK) == (x != NULL));
  synodos_acceptor_free(x);
  return st;
}
static synodos_status log_lying_last(void) {
  synodos_log_callbacks cb = {.record = reentrant_record, .last = lying_last, .range = empty_range, .trim = ok_trim};
  return log_with(cb);
}
static synodos_status log_bad_visit(void) {
  synodos_log_callbacks cb = {.record = reentrant_record, .last = empty_last, .range = bad_range_visit, .trim = ok_trim};
  return log_with(cb);
}

/* Conformance with an open() that misbehaves. */
static synodos_status open_fails(void *ud, const char *name, synodos_log **out) {
  (void)ud, (void)name, (void)out;
  return -1;
}
static synodos_status open_nothing(void *ud, const char *name, synodos_log **out) {
  (void)ud, (void)name, (void)out;
  return SYNODOS_OK;
}

/* Proposers with odd configurations; each must work or refuse, never hang or panic. */
static synodos_status config_propose(synodos_proposer_config cfg) {
  synodos_proposer *p = NULL;
  synodos_status st = synodos_proposer_new((const synodos_client *const *)cl, 3, ids, &cfg, &p);
  if (st != SYNODOS_OK) {
    CHECK(p == NULL);
    return st;
  }
  synodos_bytes chosen = {0};
  st = synodos_proposer_propose_at(p, next_decree++, (const uint8_t *)"c", 1, &chosen);
  synodos_bytes_free(&chosen);
  if (st == SYNODOS_OK) {
    synodos_replicated_log *l = NULL;
    OK(synodos_replicated_log_new((const synodos_client *const *)cl, 3, ids, &cfg, &l));
    synodos_entry_list list = {0};
    st = synodos_replicated_log_wait(l, 0, 1, cfg.poll_interval_us, &list); /* slot 0 is chosen: returns */
    synodos_entry_list_free(&list);
    synodos_replicated_log_free(l);
  }
  synodos_proposer_free(p);
  return st;
}
static synodos_status config_huge(void) {
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.call_timeout_us = UINT64_MAX;
  cfg.backoff_min_us = UINT64_MAX;
  cfg.backoff_max_us = UINT64_MAX;
  cfg.poll_interval_us = UINT64_MAX;
  cfg.max_attempts = UINT32_MAX;
  cfg.use_seed = true;
  cfg.seed = UINT64_MAX;
  return config_propose(cfg);
}
static synodos_status config_zero(void) {
  synodos_proposer_config cfg = {0};
  return config_propose(cfg); /* max_attempts 0 */
}
static synodos_status config_inverted(void) {
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.backoff_min_us = 1000000;
  cfg.backoff_max_us = 1;
  cfg.call_timeout_us = 0;
  cfg.poll_interval_us = 0;
  return config_propose(cfg);
}

static synodos_status clients_with_null(void) {
  const synodos_client *list[3] = {cl[0], NULL, cl[2]};
  synodos_proposer *p = (synodos_proposer *)(uintptr_t)1;
  synodos_status st = synodos_proposer_new(list, 3, ids, NULL, &p);
  CHECK(p == NULL);
  return st;
}
static synodos_status no_clients(void) {
  synodos_proposer *p = NULL;
  synodos_status st = synodos_proposer_new((const synodos_client *const *)cl, 0, ids, NULL, &p);
  CHECK(p == NULL);
  return st;
}
static synodos_status exhausted_ids(void) {
  synodos_id_generator *g = NULL;
  OK(synodos_id_generator_new_server(255, &g));
  OK(synodos_id_generator_observe(g, UINT64_MAX));
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)cl, 3, g, NULL, &p));
  synodos_bytes chosen = {0};
  synodos_status st = synodos_proposer_propose_at(p, next_decree++, (const uint8_t *)"v", 1, &chosen);
  CHECK(chosen.ptr == NULL);
  synodos_proposer_free(p);
  synodos_id_generator_free(g);
  return st;
}
static synodos_status extreme_slots(void) {
  synodos_bytes chosen = {0};
  /* UINT64_MAX is reserved: the last slot is UINT64_MAX - 1. */
  EXPECT_STATUS(synodos_proposer_propose_at(prop, UINT64_MAX, (const uint8_t *)"x", 1, &chosen),
                SYNODOS_ERR_INVALID_ARGUMENT);
  OK(synodos_proposer_propose_at(prop, UINT64_MAX - 1, (const uint8_t *)"last", 4, &chosen));
  synodos_bytes_free(&chosen);
  synodos_entry_list list = {0};
  OK(synodos_replicated_log_read(rlog, UINT64_MAX, SIZE_MAX, &list));
  synodos_entry_list_free(&list);
  OK(synodos_replicated_log_read(rlog, 0, 0, &list));
  CHECK(list.len == 0);
  synodos_proposal_list *l = NULL;
  OK(synodos_proposal_list_new(&l));
  OK(synodos_acceptor_observe(acc[0], UINT64_MAX, l));
  synodos_proposal_list_free(l);
  return SYNODOS_OK;
}
static synodos_status trim_everything_then_use(void) {
  synodos_acceptor *a = NULL;
  OK(synodos_acceptor_new_memory(&a));
  OK(synodos_acceptor_trim(a, UINT64_MAX));
  synodos_promise *p = NULL;
  OK(synodos_promise_new(&p));
  synodos_request r = {.id = 5, .attempt = 1, .slot = 3};
  synodos_status st = synodos_acceptor_prepare(a, &r, p);
  /* A trimmed slot: the prepare is refused with where the log starts. */
  synodos_promise_view v;
  OK(synodos_promise_get(p, &v));
  CHECK(v.trimmed == UINT64_MAX && v.promised == 0 && !v.has_frontier);
  synodos_promise_free(p);
  synodos_acceptor_free(a);
  return st;
}
static synodos_status ballot_zero(void) {
  synodos_request r = {.id = 0};
  return synodos_acceptor_prepare(acc[1], &r, promise);
}
static synodos_status accept_null_value(void) {
  synodos_proposal_view v = {.id = 1, .value = NULL, .value_len = 4};
  return synodos_acceptor_accept(acc[1], &v, proposal);
}
static synodos_status log_records(void) {
  synodos_log *l = NULL;
  OK(synodos_log_new_memory(&l));
  OK(synodos_log_record(l, 0, NULL, 0));
  OK(synodos_log_record(l, UINT64_MAX, (const uint8_t *)"x", 1));
  synodos_status st = synodos_log_record(l, 5, (const uint8_t *)"y", 1); /* not above the last */
  bool found = false;
  uint64_t id = 0;
  synodos_bytes data = {0};
  OK(synodos_log_last(l, &found, &id, &data));
  CHECK(found && id == UINT64_MAX && data.len == 1);
  synodos_bytes_free(&data);
  synodos_bytes_free(&data); /* twice is harmless */
  synodos_log_free(l);
  return st;
}
static synodos_status json_not_utf8(void) {
  const uint8_t bad[] = {'{', 0xff, 0xfe, '}'};
  return synodos_promise_from_json(promise, bad, sizeof bad);
}
static synodos_status json_huge_numbers(void) {
  const char *j = "{\"id\":18446744073709551616}";
  return synodos_proposal_from_json(proposal, (const uint8_t *)j, strlen(j));
}
static synodos_status json_negative(void) {
  const char *j = "{\"id\":-1,\"slot\":1.5}";
  synodos_request r;
  return synodos_request_from_json((const uint8_t *)j, strlen(j), &r);
}
static synodos_status json_deep(void) {
  static char deep[20001];
  for (int i = 0; i < 10000; i++) deep[i] = '[';
  for (int i = 10000; i < 20000; i++) deep[i] = ']';
  return synodos_promise_from_json(promise, (const uint8_t *)deep, 20000);
}
static synodos_status handle_json_unknown(void) {
  synodos_bytes reply = {0};
  synodos_status st = synodos_acceptor_handle_json(acc[0], "steal", (const uint8_t *)"{}", 2, &reply);
  CHECK(reply.ptr == NULL);
  return st;
}
static synodos_status handle_json_null_method(void) {
  synodos_bytes reply = {0};
  return synodos_acceptor_handle_json(acc[0], NULL, (const uint8_t *)"{}", 2, &reply);
}
static synodos_status handle_json_ballot_zero(void) {
  synodos_bytes reply = {0};
  return synodos_acceptor_handle_json(acc[0], "prepare", (const uint8_t *)"{}", 2, &reply);
}
static synodos_status handle_json_observe_max(void) {
  synodos_bytes reply = {0};
  const char *j = "{\"slot\":18446744073709551615}";
  synodos_status st = synodos_acceptor_handle_json(acc[0], "observe", (const uint8_t *)j, strlen(j), &reply);
  synodos_bytes_free(&reply);
  return st;
}
static synodos_status list_get_far(void) {
  synodos_proposal_view v;
  return synodos_proposal_list_get(plist, SIZE_MAX, &v);
}
static synodos_status list_push_null_value(void) {
  synodos_proposal_view v = {.id = 1, .value = NULL, .value_len = 1};
  return synodos_proposal_list_push(plist, &v);
}
static synodos_status failure_far(void) {
  synodos_failure f;
  return synodos_last_error_failure(SIZE_MAX, &f);
}
static synodos_status frees_of_null(void) {
  synodos_acceptor_free(NULL);
  synodos_client_free(NULL);
  synodos_id_generator_free(NULL);
  synodos_proposer_free(NULL);
  synodos_replicated_log_free(NULL);
  synodos_log_free(NULL);
  synodos_promise_free(NULL);
  synodos_proposal_free(NULL);
  synodos_proposal_list_free(NULL);
  synodos_bytes_free(NULL);
  synodos_entry_list_free(NULL);
  synodos_completion_finish(NULL, 5);
  synodos_http_options_free(NULL);
  synodos_server_stop(NULL);
  synodos_node_client_free(NULL);
  CHECK(strcmp(synodos_server_url(NULL), "") == 0);
  synodos_callback_set_error(NULL);
  synodos_callback_set_error("outside any callback");
  CHECK(synodos_completion_promise(NULL) == NULL);
  CHECK(synodos_proposal_list_len(NULL) == 0);
  CHECK(synodos_replicated_log_next_slot(NULL) == 0);
  CHECK(strcmp(synodos_status_name(INT_MIN), "UNKNOWN") == 0);
  CHECK(strcmp(synodos_status_name(-1), "UNKNOWN") == 0);
  CHECK(synodos_last_error_message() != NULL);
  return SYNODOS_OK;
}
static synodos_status same_log_twice(void) {
  synodos_log *l = NULL;
  OK(synodos_log_new_memory(&l));
  synodos_acceptor *a = NULL;
  return synodos_acceptor_new(l, l, &a);
}
static synodos_status one_log_null(void) {
  synodos_log *l = NULL;
  OK(synodos_log_new_memory(&l));
  synodos_acceptor *a = NULL;
  return synodos_acceptor_new(l, NULL, &a); /* takes (frees) `l` anyway */
}
static synodos_status file_log_bad_dir(void) {
  synodos_log *l = NULL;
  return synodos_log_new_file("/proc/definitely/not/a/dir", &l);
}
static synodos_status file_log_empty_name(void) {
  synodos_log *l = NULL;
  return synodos_log_new_file("", &l);
}
static synodos_status async_missing_callbacks(void) {
  synodos_async_client_callbacks cb = {0};
  synodos_client *c = NULL;
  return synodos_client_new_async(&cb, &c);
}
static synodos_status sync_missing_accept(void) {
  synodos_client_callbacks cb = {.prepare = fwd_prepare};
  synodos_client *c = NULL;
  return synodos_client_new_callbacks(&cb, &c);
}
static synodos_status log_missing_trim(void) {
  synodos_log_callbacks cb = {.record = reentrant_record, .last = empty_last, .range = empty_range};
  synodos_log *l = NULL;
  return synodos_log_new_callbacks(&cb, &l);
}
static synodos_status liars(void) {
  synodos_client_callbacks bad = {.prepare = liar_prepare, .accept = fwd_accept};
  return propose_with(bad, 3, 2);
}
static synodos_status greedy(void) {
  synodos_client_callbacks bad = {.prepare = greedy_prepare, .accept = fwd_accept};
  return propose_with(bad, 2, 3);
}
static synodos_status bench_none(void) {
  uint64_t nanos = 0;
  return synodos_bench_rust_decisions(0, 1, true, &nanos);
}
static synodos_status conformance_failing_open(void) {
  size_t n = 7;
  synodos_status st = synodos_log_conformance_run(open_fails, NULL, &n);
  CHECK(n == 0);
  return st;
}
static synodos_status conformance_null_log(void) {
  return synodos_log_conformance_run(open_nothing, NULL, NULL);
}
static synodos_status odd_status_int_min(void) { return odd_statuses(INT_MIN); }
static synodos_status odd_status_minus_one(void) { return odd_statuses(-1); }
static synodos_status odd_status_ok_without_answer(void) { return odd_statuses(SYNODOS_OK); }
static synodos_status odd_status_panic_code(void) { return odd_statuses(SYNODOS_ERR_PANIC); }

/* ---- the table ------------------------------------------------------------------------- */

static const uint8_t V[] = "v";

/* ---- the network functions (no traffic: every row fails before anything is sent) -------- */

/* URLs an HTTP client must refuse: each INVALID_ARGUMENT, with *out NULL. */
static synodos_status http_bad_urls(void) {
  const char *urls[] = {"", "ftp://127.0.0.1:1", "127.0.0.1:1", "http://", "http://127.0.0.1:1/?q=1",
                        "https://127.0.0.1:1" /* no CA */, "http://[::1", "\x01\xff"};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    synodos_client *c = (synodos_client *)&urls;
    synodos_status st = synodos_http_acceptor_new(urls[i], NULL, &c);
    CHECK(c == NULL);
    if (st != SYNODOS_ERR_INVALID_ARGUMENT) return st;
  }
  return SYNODOS_ERR_INVALID_ARGUMENT;
}

/* Options a client must refuse when it is made: a token with a line break, a CA that is not
 * PEM, a client key without its certificate. */
static synodos_status http_bad_options(void) {
  synodos_http_options *o = NULL;
  OK(synodos_http_options_new(&o));
  synodos_client *c = NULL;
  OK(synodos_http_options_set_token(o, "line\nbreak"));
  EXPECT_STATUS(synodos_http_acceptor_new("http://127.0.0.1:1", o, &c), SYNODOS_ERR_INVALID_ARGUMENT);
  OK(synodos_http_options_set_token(o, NULL));
  OK(synodos_http_options_set_cluster(o, "bad\ncluster"));
  EXPECT_STATUS(synodos_http_acceptor_new("http://127.0.0.1:1", o, &c), SYNODOS_ERR_INVALID_ARGUMENT);
  OK(synodos_http_options_set_cluster(o, NULL));
  OK(synodos_http_options_set_timeouts(o, UINT64_MAX, UINT64_MAX)); /* cut, not overflowed */
  OK(synodos_http_options_set_ca_pem(o, (const uint8_t *)"\0\0\0", 3));
  synodos_status st = synodos_http_acceptor_new("https://127.0.0.1:1", o, &c);
  CHECK(c == NULL);
  synodos_http_options_free(o);
  return st;
}

/* A server whose options hold a huge token count with NULL tokens. */
static synodos_status server_null_tokens(void) {
  synodos_server_options o = {0};
  o.acceptor_id = UINT64_MAX;
  o.cluster = "sweep";
  o.tokens_len = SIZE_MAX;
  synodos_server *s = NULL;
  return synodos_server_start(acc[0], "127.0.0.1:0", &o, &s);
}

/* TLS material that is not PEM, and a cluster that cannot go in a header. */
static synodos_status server_bad_tls(void) {
  synodos_server_options o = {0};
  o.cluster = "sweep";
  o.tls_cert = (const uint8_t *)"\xff";
  o.tls_cert_len = 1;
  o.tls_key = (const uint8_t *)"\xff";
  o.tls_key_len = 1;
  synodos_server *s = NULL;
  synodos_status st = synodos_server_start(acc[0], "127.0.0.1:0", &o, &s);
  CHECK(s == NULL);
  return st;
}

static synodos_status node_client_null_peer(void) {
  const char *peers[] = {"http://127.0.0.1:1", NULL};
  synodos_node_client *c = (synodos_node_client *)&peers;
  synodos_status st = synodos_node_client_new(peers, 2, NULL, &c);
  CHECK(c == NULL);
  return st;
}

#define SWEEP(X)                                                                                          \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_new_memory(NULL))                                        \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_new(NULL, NULL, NULL))                                   \
  X(SYNODOS_ERR_INVALID_ARGUMENT, same_log_twice())                                                     \
  X(SYNODOS_ERR_NULL_POINTER, one_log_null())                                                           \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_clone(acc[0], NULL))                                     \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_prepare(NULL, NULL, NULL))                               \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_prepare(acc[0], &(synodos_request){.id = 1}, NULL))      \
  X(SYNODOS_ERR_INVALID_MESSAGE, ballot_zero())                                                         \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_accept(acc[0], NULL, proposal))                          \
  X(SYNODOS_ERR_NULL_POINTER, accept_null_value())                                                      \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_observe(acc[0], 0, NULL))                                \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_trim(NULL, 0))                                           \
  X(SYNODOS_OK, trim_everything_then_use())                                                             \
  X(SYNODOS_ERR_INVALID_ARGUMENT, handle_json_unknown())                                                \
  X(SYNODOS_ERR_NULL_POINTER, handle_json_null_method())                                                \
  X(SYNODOS_ERR_INVALID_MESSAGE, handle_json_ballot_zero())                                             \
  X(SYNODOS_OK, handle_json_observe_max())                                                              \
  X(SYNODOS_ERR_NULL_POINTER, synodos_acceptor_handle_json(acc[0], "prepare", NULL, 3, NULL))           \
  X(SYNODOS_ERR_NULL_POINTER, synodos_client_new_local(acc[0], NULL))                                   \
  X(SYNODOS_ERR_NULL_POINTER, sync_missing_accept())                                                    \
  X(SYNODOS_ERR_NULL_POINTER, async_missing_callbacks())                                                \
  X(SYNODOS_ERR_NULL_POINTER, synodos_id_generator_new_counter(65535, NULL))                            \
  X(SYNODOS_ERR_NULL_POINTER, synodos_id_generator_new_server(255, NULL))                               \
  X(SYNODOS_ERR_NULL_POINTER, synodos_id_generator_next(ids, NULL))                                     \
  X(SYNODOS_ERR_NULL_POINTER, synodos_id_generator_observe(NULL, UINT64_MAX))                           \
  X(SYNODOS_ERR_ID_EXHAUSTED, exhausted_ids())                                                          \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposer_new(NULL, 3, ids, NULL, &(synodos_proposer *){0}))       \
  X(SYNODOS_ERR_NULL_POINTER, clients_with_null())                                                      \
  X(SYNODOS_ERR_INVALID_ARGUMENT, no_clients())                                                         \
  X(SYNODOS_OK, config_huge())                                                                          \
  X(SYNODOS_ERR_INVALID_ARGUMENT, config_zero())                                                        \
  X(SYNODOS_OK, config_inverted())                                                                      \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposer_propose(prop, NULL, 1, &(synodos_bytes){0}))             \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposer_propose(prop, V, 1, NULL))                               \
  X(SYNODOS_OK, extreme_slots())                                                                        \
  X(SYNODOS_ERR_NULL_POINTER, synodos_replicated_log_new((const synodos_client *const *)cl, 3, NULL, NULL, &(synodos_replicated_log *){0})) \
  X(SYNODOS_ERR_NULL_POINTER, synodos_replicated_log_append(rlog, NULL, SIZE_MAX, NULL))                \
  X(SYNODOS_ERR_NULL_POINTER, synodos_replicated_log_read(rlog, 0, 1, NULL))                            \
  X(SYNODOS_ERR_NULL_POINTER, synodos_replicated_log_wait(NULL, 0, 1, UINT64_MAX, &(synodos_entry_list){0})) \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_new_memory(NULL))                                             \
  X(SYNODOS_ERR_NULL_POINTER, log_missing_trim())                                                       \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_record(NULL, 1, V, 1))                                        \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_record(mlog, 1, NULL, 1))                                     \
  X(SYNODOS_ERR_INVALID_ARGUMENT, log_records())                                                        \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_last(mlog, NULL, NULL, NULL))                                 \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_last_set(NULL, 1, V, 1))                                      \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_range_visit(NULL, 1, V, 1))                                   \
  X(SYNODOS_ERR_STORAGE, log_lying_last())                                                              \
  X(SYNODOS_ERR_INVALID_ARGUMENT, log_bad_visit())                                                      \
  X(SYNODOS_ERR_INVALID_ARGUMENT, conformance_failing_open())                                                    \
  X(SYNODOS_ERR_INVALID_ARGUMENT, conformance_null_log())                                               \
  X(SYNODOS_ERR_NULL_POINTER, synodos_log_conformance_run(NULL, NULL, NULL))                            \
  X(SYNODOS_ERR_STORAGE, file_log_bad_dir())                                                            \
  X(SYNODOS_ERR_INVALID_ARGUMENT, file_log_empty_name())                                                         \
  X(SYNODOS_ERR_NULL_POINTER, synodos_request_from_json(NULL, 5, &(synodos_request){0}))                \
  X(SYNODOS_ERR_INVALID_MESSAGE, json_negative())                                                       \
  X(SYNODOS_ERR_NULL_POINTER, synodos_request_to_json(NULL, &(synodos_bytes){0}))                       \
  X(SYNODOS_ERR_NULL_POINTER, synodos_promise_new(NULL))                                                \
  X(SYNODOS_ERR_NULL_POINTER, synodos_promise_set(NULL, 1, 2, 3))                                       \
  X(SYNODOS_OK, synodos_promise_set(promise, UINT64_MAX, UINT64_MAX, UINT64_MAX))                       \
  X(SYNODOS_OK, synodos_promise_set_accepted(promise, NULL))                                            \
  X(SYNODOS_ERR_NULL_POINTER, synodos_promise_set_accepted(promise, &(synodos_proposal_view){.value_len = 2})) \
  X(SYNODOS_ERR_NULL_POINTER, synodos_promise_get(promise, NULL))                                       \
  X(SYNODOS_ERR_INVALID_MESSAGE, json_not_utf8())                                                       \
  X(SYNODOS_ERR_INVALID_MESSAGE, json_deep())                                                           \
  X(SYNODOS_ERR_NULL_POINTER, synodos_promise_to_json(promise, NULL))                                   \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposal_new(NULL))                                               \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposal_set(proposal, NULL))                                     \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposal_get(proposal, NULL))                                     \
  X(SYNODOS_ERR_INVALID_MESSAGE, json_huge_numbers())                                                   \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposal_from_json(NULL, V, 1))                                   \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposal_to_json(NULL, NULL))                                     \
  X(SYNODOS_ERR_NULL_POINTER, synodos_proposal_list_new(NULL))                                          \
  X(SYNODOS_ERR_NULL_POINTER, list_push_null_value())                                                   \
  X(SYNODOS_ERR_INVALID_ARGUMENT, list_get_far())                                                       \
  X(SYNODOS_ERR_INVALID_ARGUMENT, failure_far())                                                        \
  X(SYNODOS_ERR_NULL_POINTER, synodos_last_error_failure(0, NULL))                                      \
  X(SYNODOS_OK, frees_of_null())                                                                        \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_new(NULL))                                           \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_set_token(NULL, NULL))                               \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_set_cluster(NULL, NULL))                             \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_set_ca_pem(NULL, NULL, 0))                           \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_set_ca_file(NULL, NULL))                             \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_set_identity(NULL, NULL, SIZE_MAX, NULL, SIZE_MAX))  \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_options_set_timeouts(NULL, UINT64_MAX, 0))                   \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_acceptor_new(NULL, NULL, NULL))                              \
  X(SYNODOS_ERR_INVALID_ARGUMENT, http_bad_urls())                                                      \
  X(SYNODOS_ERR_INVALID_ARGUMENT, http_bad_options())                                                   \
  X(SYNODOS_ERR_NULL_POINTER, synodos_http_acceptor_check(NULL, NULL))                                  \
  X(SYNODOS_ERR_INVALID_ARGUMENT, synodos_http_acceptor_check(cl[0], NULL))                             \
  X(SYNODOS_ERR_NULL_POINTER, synodos_server_start(NULL, NULL, NULL, NULL))                             \
  X(SYNODOS_ERR_NULL_POINTER, server_null_tokens())                                                     \
  X(SYNODOS_ERR_INVALID_ARGUMENT, server_bad_tls())                                                     \
  X(SYNODOS_ERR_NULL_POINTER, synodos_node_client_new(NULL, SIZE_MAX, NULL, NULL))                      \
  X(SYNODOS_ERR_NULL_POINTER, node_client_null_peer())                                                  \
  X(SYNODOS_ERR_NULL_POINTER, synodos_node_client_append(NULL, NULL, SIZE_MAX, NULL))                   \
  X(SYNODOS_ERR_NULL_POINTER, synodos_node_client_read(NULL, UINT64_MAX, SIZE_MAX, NULL))               \
  X(SYNODOS_ERR_NULL_POINTER, synodos_node_client_propose(NULL, NULL, 0, NULL))                         \
  X(SYNODOS_ERR_NO_QUORUM, odd_status_int_min())                                                        \
  X(SYNODOS_ERR_NO_QUORUM, odd_status_minus_one())                                                      \
  X(SYNODOS_ERR_NO_QUORUM, odd_status_ok_without_answer())                                              \
  X(SYNODOS_ERR_NO_QUORUM, odd_status_panic_code())                                                     \
  X(SYNODOS_ERR_NO_QUORUM, liars())                                                                     \
  X(SYNODOS_ERR_ID_EXHAUSTED, greedy())                                                                    \
  X(SYNODOS_OK, reentrant_proposer())                                                                   \
  X(SYNODOS_ERR_INVALID_ARGUMENT, reentrant_log())                                                               \
  X(SYNODOS_ERR_INVALID_ARGUMENT, bench_none())

typedef struct row {
  const char *call;
  synodos_status want;
} row;

#define ENTRY(want, ...) {#__VA_ARGS__, want},
static const row rows[] = {SWEEP(ENTRY)};

static void run_all(void) {
  size_t i = 0;
  int failures = 0;
#define RUN_ROW(want, ...)                                                                                     \
  {                                                                                                          \
    synodos_status got = (__VA_ARGS__);                                                                      \
    if (got != (want)) {                                                                                     \
      fprintf(stderr, "row %zu: %s returned %s (%d), expected %s: %s\n", i, rows[i].call, synodos_status_name(got), \
              got, synodos_status_name(want), synodos_last_error_message());                                 \
      failures++;                                                                                            \
    } else if (got != SYNODOS_OK && synodos_last_error_message()[0] == '\0') {                               \
      fprintf(stderr, "row %zu: %s failed without a message\n", i, rows[i].call);                            \
      failures++;                                                                                            \
    }                                                                                                        \
    still_working(rows[i].call);                                                                             \
    i++;                                                                                                     \
  }
  SWEEP(RUN_ROW)
  CHECK(i == sizeof rows / sizeof rows[0]);
  printf("sweep: %zu rows\n", i);
  CHECK(failures == 0);
}

static void teardown(void) {
  synodos_proposal_list_free(plist);
  synodos_proposal_free(proposal);
  synodos_promise_free(promise);
  synodos_log_free(mlog);
  synodos_replicated_log_free(rlog);
  synodos_proposer_free(prop);
  synodos_id_generator_free(ids);
  for (int i = 0; i < 3; i++) {
    synodos_client_free(cl[i]);
    synodos_acceptor_free(acc[i]);
  }
}

int main(void) {
  setup();
  RUN(run_all);
  teardown();
  CHECK(synodos_panic_count() == 0);
  DONE();
}
