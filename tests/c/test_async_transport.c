/* Asynchronous C transports: calls finish later, from a worker thread, through completions.
 * All acceptors are asked at once, a call that never finishes in time is a timeout for that
 * acceptor only, late finishes are harmless, and failure statuses reach the caller. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>

#include "test.h"
#include <sched.h>

/* ---- a worker thread that answers queued calls from in-process acceptors ---------------- */

typedef struct job {
  struct job *next;
  int kind; /* 0 prepare, 1 accept, 2 observe */
  synodos_request request;
  uint64_t id, slot;
  uint8_t *value;
  size_t value_len;
  synodos_acceptor *acceptor;
  synodos_completion *completion;
  int fail; /* finish with this status instead of answering */
} job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static job *queue_head, *queue_tail;
static bool stopping;
static int answered;

static void enqueue(job *j) {
  pthread_mutex_lock(&lock);
  if (queue_tail)
    queue_tail->next = j;
  else
    queue_head = j;
  queue_tail = j;
  pthread_cond_signal(&more);
  pthread_mutex_unlock(&lock);
}

static void run_job(job *j) {
  synodos_status st = SYNODOS_OK;
  if (j->fail) {
    synodos_callback_set_error("remote said no");
    st = j->fail;
  } else if (j->kind == 0) {
    st = synodos_acceptor_prepare(j->acceptor, &j->request, synodos_completion_promise(j->completion));
  } else if (j->kind == 1) {
    synodos_proposal_view v = {.id = j->id, .slot = j->slot, .value = j->value, .value_len = j->value_len};
    st = synodos_acceptor_accept(j->acceptor, &v, synodos_completion_proposal(j->completion));
  } else {
    st = synodos_acceptor_observe(j->acceptor, j->request.slot, synodos_completion_list(j->completion));
  }
  synodos_completion_finish(j->completion, st);
  free(j->value);
  free(j);
}

static void *worker(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  for (;;) {
    while (!queue_head && !stopping) pthread_cond_wait(&more, &lock);
    if (!queue_head && stopping) break;
    job *j = queue_head;
    queue_head = j->next;
    if (!queue_head) queue_tail = NULL;
    answered++;
    pthread_mutex_unlock(&lock);
    run_job(j);
    pthread_mutex_lock(&lock);
  }
  pthread_mutex_unlock(&lock);
  return NULL;
}

/* ---- the transport: queue each call; a "black hole" keeps calls to finish them late ----- */

typedef struct remote {
  synodos_acceptor *acceptor;
  int fail;               /* non-zero: every call finishes with this status */
  bool inline_answer;     /* finish inside the callback */
  bool black_hole;        /* keep the completion; the test finishes it later */
  synodos_completion *held[64];
  int held_count;
  int *freed;
} remote;

static job *new_job(remote *r, int kind, synodos_completion *c) {
  job *j = calloc(1, sizeof *j);
  CHECK(j != NULL);
  j->kind = kind;
  j->acceptor = r->acceptor;
  j->completion = c;
  j->fail = r->fail;
  return j;
}

static void dispatch(remote *r, job *j) {
  if (r->black_hole) {
    CHECK(r->held_count < 64);
    r->held[r->held_count++] = j->completion;
    free(j->value);
    free(j);
  } else if (r->inline_answer) {
    run_job(j);
  } else {
    enqueue(j);
  }
}

static void a_prepare(void *ud, const synodos_request *req, synodos_completion *c) {
  job *j = new_job(ud, 0, c);
  j->request = *req; /* copied: `req` is only borrowed during the call */
  dispatch(ud, j);
}

static void a_accept(void *ud, const synodos_proposal_view *p, synodos_completion *c) {
  job *j = new_job(ud, 1, c);
  j->id = p->id;
  j->slot = p->slot;
  j->value_len = p->value_len;
  j->value = malloc(p->value_len ? p->value_len : 1);
  CHECK(j->value != NULL);
  if (p->value_len) memcpy(j->value, p->value, p->value_len);
  dispatch(ud, j);
}

static void a_observe(void *ud, const synodos_request *req, synodos_completion *c) {
  job *j = new_job(ud, 2, c);
  j->request = *req;
  dispatch(ud, j);
}

static void a_free(void *ud) {
  remote *r = ud;
  /* synodos runs this only once every completion of the client is finished. */
  CHECK(r->held_count == 0);
  if (r->freed) __atomic_add_fetch(r->freed, 1, __ATOMIC_SEQ_CST);
  synodos_acceptor_free(r->acceptor);
  free(r);
}

/* Finish every held completion with a failure (late: the proposer stopped waiting). */
static void finish_held(remote *r) {
  int n = r->held_count;
  r->held_count = 0;
  for (int i = 0; i < n; i++) synodos_completion_finish(r->held[i], 1);
}

typedef struct trio {
  synodos_acceptor *acceptors[3];
  synodos_client *clients[3];
  remote *remotes[3];
  int freed;
} trio;

static void trio_new(trio *t) {
  memset(t, 0, sizeof *t);
  for (int i = 0; i < 3; i++) {
    OK(synodos_acceptor_new_memory(&t->acceptors[i]));
    remote *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    OK(synodos_acceptor_clone(t->acceptors[i], &r->acceptor));
    r->freed = &t->freed;
    t->remotes[i] = r;
    synodos_async_client_callbacks cb = {
        .user_data = r, .prepare = a_prepare, .accept = a_accept, .observe = a_observe, .free_user_data = a_free};
    OK(synodos_client_new_async(&cb, &t->clients[i]));
  }
}

static void trio_free(trio *t) {
  for (int i = 0; i < 3; i++) {
    if (t->remotes[i]) finish_held(t->remotes[i]); /* late: the proposers are gone */
    synodos_client_free(t->clients[i]);            /* frees the remote (free_user_data) */
    synodos_acceptor_free(t->acceptors[i]);
  }
  /* A call the proposer stopped waiting for (it had its answer, or knew it never would)
   * may still be on the worker thread: its client, and so its user_data, goes when that
   * call finishes. Wait for that (a readiness wait on the count, bounded), then check. */
  for (long spins = 0; __atomic_load_n(&t->freed, __ATOMIC_SEQ_CST) < 3 && spins < 50000000L; spins++) {
    sched_yield();
  }
  CHECK(__atomic_load_n(&t->freed, __ATOMIC_SEQ_CST) == 3);
}

static synodos_proposer *proposer(trio *t, uint64_t timeout_us, uint32_t attempts) {
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(1, &ids));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.call_timeout_us = timeout_us;
  cfg.max_attempts = attempts;
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)t->clients, 3, ids, &cfg, &p));
  synodos_id_generator_free(ids);
  return p;
}

static void answers_from_a_worker_thread(void) {
  trio t;
  trio_new(&t);
  synodos_proposer *p = proposer(&t, 5000000, 20);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"async", 5, &chosen));
  CHECK_BYTES(chosen, "async");
  synodos_bytes_free(&chosen);

  /* The replicated log reads through async observe too. */
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(2, &ids));
  synodos_replicated_log *log = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)t.clients, 3, ids, NULL, &log));
  uint64_t slot = 0;
  OK(synodos_replicated_log_append(log, (const uint8_t *)"entry", 5, &slot));
  CHECK(slot == 1); /* slot 0 holds "async" */
  synodos_entry_list list = {0};
  OK(synodos_replicated_log_read(log, 0, 10, &list));
  CHECK(list.len == 2);
  CHECK_BYTES(list.entries[0].value, "async");
  CHECK_BYTES(list.entries[1].value, "entry");
  synodos_entry_list_free(&list);
  synodos_replicated_log_free(log);
  synodos_id_generator_free(ids);
  synodos_proposer_free(p);
  trio_free(&t);
}

static void answers_inside_the_callback(void) {
  trio t;
  trio_new(&t);
  for (int i = 0; i < 3; i++) t.remotes[i]->inline_answer = true;
  synodos_proposer *p = proposer(&t, 1000000, 20);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"inline", 6, &chosen));
  CHECK_BYTES(chosen, "inline");
  synodos_bytes_free(&chosen);
  synodos_proposer_free(p);
  trio_free(&t);
}

static void one_silent_acceptor_is_not_waited_for(void) {
  trio t;
  trio_new(&t);
  t.remotes[0]->black_hole = true; /* asked first, never answers in time */
  synodos_proposer *p = proposer(&t, 30000000, 1);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"two of three", 12, &chosen));
  CHECK_BYTES(chosen, "two of three");
  synodos_bytes_free(&chosen);
  CHECK(t.remotes[0]->held_count >= 1); /* it was asked, at the same time as the others */
  /* Finishing after the proposer stopped waiting is harmless. */
  remote *r = t.remotes[0];
  for (int i = 0; i < r->held_count; i++) {
    synodos_promise *out = synodos_completion_promise(r->held[i]);
    if (out) OK(synodos_promise_set(out, 1, 0, 0));
    synodos_completion_finish(r->held[i], SYNODOS_OK);
  }
  r->held_count = 0;
  synodos_proposer_free(p);
  trio_free(&t);
}

static void silent_majority_times_out(void) {
  trio t;
  trio_new(&t);
  t.remotes[1]->black_hole = true;
  t.remotes[2]->black_hole = true;
  synodos_proposer *p = proposer(&t, 20000, 1); /* 20 ms per call */
  synodos_bytes chosen = {0};
  EXPECT_STATUS(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen), SYNODOS_ERR_NO_QUORUM);
  CHECK(synodos_last_error_failure_count() == 2);
  for (size_t i = 0; i < 2; i++) {
    synodos_failure f;
    OK(synodos_last_error_failure(i, &f));
    CHECK(f.status == SYNODOS_ERR_TIMEOUT && f.callback_status == 0 && (f.acceptor == 1 || f.acceptor == 2));
  }
  CHECK(strstr(synodos_last_error_message(), "timed out") != NULL);
  synodos_proposer_free(p);
  trio_free(&t); /* finishes the held completions late: no leak */
}

/* The client's user_data outlives every completion it handed out: freeing the client (and
 * its proposer) while a call is still out does not run free_user_data; finishing that call
 * does, after the answer is delivered (or dropped). */
static void user_data_outlives_outstanding_completions(void) {
  trio t;
  trio_new(&t);
  t.remotes[0]->black_hole = true;
  synodos_proposer *p = proposer(&t, 30000000, 1);
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen));
  synodos_bytes_free(&chosen);
  remote *r = t.remotes[0];
  CHECK(r->held_count >= 1);
  synodos_proposer_free(p);
  synodos_client_free(t.clients[0]);
  t.clients[0] = NULL;
  CHECK(t.freed == 0); /* a completion is still out: user_data must stay valid */
  /* The transport uses its user_data while finishing, as a real one would. */
  int n = r->held_count;
  for (int i = 0; i < n; i++) {
    synodos_completion *c = r->held[i];
    r->held[i] = NULL;
    r->held_count--;
    synodos_promise *out = synodos_completion_promise(c);
    if (out) OK(synodos_acceptor_prepare(r->acceptor, &(synodos_request){.id = 1}, out));
    CHECK(t.freed == 0);
    synodos_completion_finish(c, out ? SYNODOS_OK : 1); /* the last one runs free_user_data */
  }
  CHECK(t.freed == 1);
  t.remotes[0] = NULL; /* freed */
  trio_free(&t);
  CHECK(t.freed == 3);
}

static void failing_completions_reach_the_caller(void) {
  trio t;
  trio_new(&t);
  t.remotes[0]->fail = 33;
  t.remotes[2]->fail = 34;
  synodos_proposer *p = proposer(&t, 5000000, 1);
  synodos_bytes chosen = {0};
  EXPECT_STATUS(synodos_proposer_propose(p, (const uint8_t *)"v", 1, &chosen), SYNODOS_ERR_NO_QUORUM);
  CHECK(synodos_last_error_failure_count() == 2);
  for (size_t i = 0; i < 2; i++) {
    synodos_failure f;
    OK(synodos_last_error_failure(i, &f));
    CHECK(f.status == SYNODOS_ERR_TRANSPORT);
    CHECK((f.acceptor == 0 && f.callback_status == 33) || (f.acceptor == 2 && f.callback_status == 34));
  }
  CHECK(strstr(synodos_last_error_message(), "prepare callback returned status 33: remote said no") != NULL);
  synodos_proposer_free(p);
  trio_free(&t);
}

static void completion_accessors_check_the_kind(void) {
  CHECK(synodos_completion_promise(NULL) == NULL);
  CHECK(synodos_completion_proposal(NULL) == NULL);
  CHECK(synodos_completion_list(NULL) == NULL);
  synodos_completion_finish(NULL, 0);
  synodos_async_client_callbacks none = {0};
  synodos_client *c = NULL;
  EXPECT_STATUS(synodos_client_new_async(&none, &c), SYNODOS_ERR_NULL_POINTER);
  CHECK(c == NULL);
}

int main(void) {
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, worker, NULL) == 0);
  RUN(answers_from_a_worker_thread);
  RUN(answers_inside_the_callback);
  RUN(one_silent_acceptor_is_not_waited_for);
  RUN(silent_majority_times_out);
  RUN(failing_completions_reach_the_caller);
  RUN(user_data_outlives_outstanding_completions);
  RUN(completion_accessors_check_the_kind);
  pthread_mutex_lock(&lock);
  stopping = true;
  pthread_cond_signal(&more);
  pthread_mutex_unlock(&lock);
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(answered > 0);
  DONE();
}
