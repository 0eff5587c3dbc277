/* A storage log written in C passes the core's conformance kit (and a broken one fails it);
 * an acceptor over C logs, and over file logs, keeps its promises across a restart. */
#define _GNU_SOURCE
#include <stdint.h>
#include <unistd.h>

#include "test.h"

/* ---- the C log: records in a growable array, kept in a named store so a reopen sees them */

typedef struct record {
  uint64_t id;
  uint8_t *data;
  size_t len;
} record;

typedef struct stored_log {
  char name[64];
  record *records;
  size_t count, cap;
} stored_log;

typedef struct store {
  stored_log logs[32];
  int count;
  int forgetful; /* a broken log: every open starts empty */
  int open_handles;
} store;

static void stored_clear(stored_log *l) {
  for (size_t i = 0; i < l->count; i++) free(l->records[i].data);
  free(l->records);
  l->records = NULL;
  l->count = l->cap = 0;
}

static void store_free(store *s) {
  for (int i = 0; i < s->count; i++) stored_clear(&s->logs[i]);
}

typedef struct handle {
  store *store;
  stored_log *log;
} handle;

static synodos_status append(stored_log *l, uint64_t id, const uint8_t *data, size_t len) {
  if (l->count == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->records = realloc(l->records, l->cap * sizeof *l->records);
    CHECK(l->records != NULL);
  }
  record *r = &l->records[l->count++];
  r->id = id;
  r->len = len;
  r->data = malloc(len ? len : 1);
  CHECK(r->data != NULL);
  if (len) memcpy(r->data, data, len);
  return SYNODOS_OK;
}

static synodos_status c_record(void *ud, uint64_t id, const uint8_t *data, size_t len) {
  stored_log *l = ((handle *)ud)->log;
  if (l->count && id <= l->records[l->count - 1].id) {
    synodos_callback_set_error("ids must increase");
    return SYNODOS_ERR_INVALID_ARGUMENT;
  }
  return append(l, id, data, len);
}

static synodos_status c_record_batch(void *ud, const synodos_record *records, size_t n) {
  stored_log *l = ((handle *)ud)->log;
  uint64_t last = l->count ? l->records[l->count - 1].id : 0;
  int any = l->count > 0;
  for (size_t i = 0; i < n; i++) { /* all or nothing: check every id first */
    if (any && records[i].id <= last) return SYNODOS_ERR_INVALID_ARGUMENT;
    last = records[i].id;
    any = 1;
  }
  for (size_t i = 0; i < n; i++) append(l, records[i].id, records[i].data, records[i].len);
  return SYNODOS_OK;
}

static synodos_status c_last(void *ud, synodos_log_last_out *out) {
  stored_log *l = ((handle *)ud)->log;
  if (!l->count) return SYNODOS_OK;
  record *r = &l->records[l->count - 1];
  return synodos_log_last_set(out, r->id, r->data, r->len);
}

static synodos_status c_range(void *ud, uint64_t start, uint64_t stop, synodos_log_range_visitor *v) {
  stored_log *l = ((handle *)ud)->log;
  for (size_t i = 0; i < l->count; i++) {
    record *r = &l->records[i];
    if (r->id < start || r->id > stop) continue;
    synodos_status s = synodos_log_range_visit(v, r->id, r->data, r->len);
    if (s != SYNODOS_OK) return s;
  }
  return SYNODOS_OK;
}

static synodos_status c_trim(void *ud, uint64_t before) {
  stored_log *l = ((handle *)ud)->log;
  size_t keep = 0;
  for (size_t i = 0; i < l->count; i++) {
    if (l->records[i].id < before)
      free(l->records[i].data);
    else
      l->records[keep++] = l->records[i];
  }
  l->count = keep;
  return SYNODOS_OK;
}

static void c_free(void *ud) {
  handle *h = ud;
  h->store->open_handles--;
  if (h->store->forgetful) stored_clear(h->log);
  free(h);
}

static synodos_status store_open(void *ud, const char *name, synodos_log **out) {
  store *s = ud;
  stored_log *l = NULL;
  for (int i = 0; i < s->count; i++)
    if (!strcmp(s->logs[i].name, name)) l = &s->logs[i];
  if (!l) {
    if (s->count == 32) return 99;
    l = &s->logs[s->count++];
    snprintf(l->name, sizeof l->name, "%s", name);
  }
  if (s->forgetful) stored_clear(l);
  handle *h = malloc(sizeof *h);
  CHECK(h != NULL);
  h->store = s;
  h->log = l;
  synodos_log_callbacks cb = {
      .user_data = h,
      .record = c_record,
      .record_batch = c_record_batch,
      .last = c_last,
      .range = c_range,
      .trim = c_trim,
      .free_user_data = c_free,
  };
  synodos_status st = synodos_log_new_callbacks(&cb, out);
  if (st != SYNODOS_OK) {
    free(h);
    return st;
  }
  s->open_handles++;
  return SYNODOS_OK;
}

static void a_c_log_passes_the_conformance_kit(void) {
  store s = {0};
  size_t checks = 0;
  OK(synodos_log_conformance_run(store_open, &s, &checks));
  CHECK(checks >= 9);
  CHECK(s.open_handles == 0); /* synodos freed every log it opened */
  store_free(&s);
}

static void a_forgetful_c_log_fails_the_conformance_kit(void) {
  store s = {.forgetful = 1};
  size_t checks = 123;
  EXPECT_STATUS(synodos_log_conformance_run(store_open, &s, &checks), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(checks == 0);
  CHECK(strstr(synodos_last_error_message(), "log conformance check") != NULL);
  CHECK(s.open_handles == 0);
  store_free(&s);
  EXPECT_STATUS(synodos_log_conformance_run(NULL, NULL, NULL), SYNODOS_ERR_NULL_POINTER);
}

static synodos_status open_file_log(void *ud, const char *name, synodos_log **out) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", (const char *)ud, name);
  return synodos_log_new_file(path, out);
}

static char tmpdir[256];
static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/synodos-c-test-XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
}
static void remove_tmpdir(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  CHECK(system(cmd) == 0);
}

static void the_file_log_passes_the_conformance_kit_from_c(void) {
  make_tmpdir();
  size_t checks = 0;
  OK(synodos_log_conformance_run(open_file_log, tmpdir, &checks));
  CHECK(checks >= 9);
  remove_tmpdir();
}

/* Promise 10 and accept (10, "x"), then restart the acceptor over the same logs. */
static void restart_keeps_promises(synodos_log *(*open)(const char *name, void *ctx), void *ctx) {
  synodos_acceptor *a = NULL;
  OK(synodos_acceptor_new(open("promises", ctx), open("accepts", ctx), &a));
  synodos_promise *promise = NULL;
  synodos_proposal *answer = NULL;
  OK(synodos_promise_new(&promise));
  OK(synodos_proposal_new(&answer));
  synodos_request r10 = {.id = 10, .attempt = 1};
  OK(synodos_acceptor_prepare(a, &r10, promise));
  synodos_proposal_view p10 = {.id = 10, .value = (const uint8_t *)"x", .value_len = 1};
  OK(synodos_acceptor_accept(a, &p10, answer));
  synodos_acceptor_free(a); /* frees both logs too */

  OK(synodos_acceptor_new(open("promises", ctx), open("accepts", ctx), &a));
  synodos_request r5 = {.id = 5, .attempt = 1};
  OK(synodos_acceptor_prepare(a, &r5, promise));
  synodos_promise_view v;
  OK(synodos_promise_get(promise, &v));
  CHECK(v.promised == 10); /* the promise survived the restart */
  CHECK(v.has_accepted && v.accepted.id == 10 && v.accepted.value_len == 1 && v.accepted.value[0] == 'x');
  synodos_promise_free(promise);
  synodos_proposal_free(answer);
  synodos_acceptor_free(a);
}

static synodos_log *open_from_store(const char *name, void *ctx) {
  synodos_log *log = NULL;
  OK(store_open(ctx, name, &log));
  return log;
}

static synodos_log *open_from_dir(const char *name, void *ctx) {
  synodos_log *log = NULL;
  OK(open_file_log(ctx, name, &log));
  return log;
}

static void an_acceptor_over_c_logs_survives_a_restart(void) {
  store s = {0};
  restart_keeps_promises(open_from_store, &s);
  CHECK(s.open_handles == 0);
  store_free(&s);
}

static void an_acceptor_over_file_logs_survives_a_restart(void) {
  make_tmpdir();
  restart_keeps_promises(open_from_dir, tmpdir);
  /* The lock keeps a second opener out while a handle is open. */
  synodos_log *one = open_from_dir("promises", tmpdir);
  synodos_log *two = (synodos_log *)tmpdir; /* overwritten on failure */
  char path[512];
  snprintf(path, sizeof path, "%s/promises", tmpdir);
  EXPECT_STATUS(synodos_log_new_file(path, &two), SYNODOS_ERR_STORAGE);
  CHECK(two == NULL);
  synodos_log_free(one);
  remove_tmpdir();
}

static void log_handles_used_directly(void) {
  synodos_log *log = NULL;
  OK(synodos_log_new_memory(&log));
  bool found = true;
  uint64_t id = 1;
  synodos_bytes data = {0};
  OK(synodos_log_last(log, &found, &id, &data));
  CHECK(!found && id == 0 && data.len == 0);
  OK(synodos_log_record(log, 3, (const uint8_t *)"abc", 3));
  EXPECT_STATUS(synodos_log_record(log, 3, (const uint8_t *)"again", 5), SYNODOS_ERR_INVALID_ARGUMENT);
  OK(synodos_log_last(log, &found, &id, &data));
  CHECK(found && id == 3);
  CHECK_BYTES(data, "abc");
  synodos_bytes_free(&data);
  synodos_log_free(log);
}

int main(void) {
  RUN(a_c_log_passes_the_conformance_kit);
  RUN(a_forgetful_c_log_fails_the_conformance_kit);
  RUN(the_file_log_passes_the_conformance_kit_from_c);
  RUN(an_acceptor_over_c_logs_survives_a_restart);
  RUN(an_acceptor_over_file_logs_survives_a_restart);
  RUN(log_handles_used_directly);
  DONE();
}
