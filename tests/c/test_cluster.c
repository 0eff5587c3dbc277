/* Clusters of 3 and 5 acceptors, reached in-process and through C transports; the replicated
 * log; the acceptor's own API (direct and JSON); id generators; NULL pointers. */
#include "test.h"

#define MAX_N 5

typedef struct cluster {
  int n;
  synodos_acceptor *acceptors[MAX_N];
  synodos_client *clients[MAX_N];
  forward *state[MAX_N]; /* only for C-transport clusters */
} cluster;

static void cluster_new(cluster *c, int n, int c_transport) {
  memset(c, 0, sizeof *c);
  c->n = n;
  for (int i = 0; i < n; i++) {
    OK(synodos_acceptor_new_memory(&c->acceptors[i]));
    if (c_transport)
      c->clients[i] = forward_client(c->acceptors[i], &c->state[i]);
    else
      OK(synodos_client_new_local(c->acceptors[i], &c->clients[i]));
  }
}

static void cluster_free(cluster *c) {
  for (int i = 0; i < c->n; i++) {
    synodos_client_free(c->clients[i]);
    synodos_acceptor_free(c->acceptors[i]);
  }
}

static synodos_proposer *proposer_for(cluster *c, uint16_t node) {
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(node, &ids));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.use_seed = true;
  cfg.seed = node;
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)c->clients, (size_t)c->n, ids, &cfg, &p));
  synodos_id_generator_free(ids); /* the proposer keeps its own reference */
  return p;
}

static void propose(synodos_proposer *p, const char *value, const char *expect) {
  synodos_bytes chosen = {0};
  OK(synodos_proposer_propose(p, (const uint8_t *)value, strlen(value), &chosen));
  CHECK_BYTES(chosen, expect);
  synodos_bytes_free(&chosen);
}

/* How many acceptors of `c` have accepted `value` for slot 0. */
static int accepted_by(cluster *c, const char *value) {
  int count = 0;
  for (int i = 0; i < c->n; i++) {
    synodos_proposal_list *list = NULL;
    OK(synodos_proposal_list_new(&list));
    OK(synodos_acceptor_observe(c->acceptors[i], 0, list));
    for (size_t j = 0; j < synodos_proposal_list_len(list); j++) {
      synodos_proposal_view v;
      OK(synodos_proposal_list_get(list, j, &v));
      if (v.slot == 0 && v.value_len == strlen(value) && !memcmp(v.value, value, v.value_len)) count++;
    }
    synodos_proposal_list_free(list);
  }
  return count;
}

static void single_decree(int n, int c_transport) {
  cluster c;
  cluster_new(&c, n, c_transport);
  synodos_proposer *alice = proposer_for(&c, 1);
  synodos_proposer *bob = proposer_for(&c, 2);
  propose(alice, "alice", "alice");
  /* Once chosen, every later proposal returns the chosen value. */
  propose(bob, "bob", "alice");
  propose(alice, "again", "alice");
  CHECK(accepted_by(&c, "alice") >= n / 2 + 1);
  CHECK(accepted_by(&c, "bob") == 0);
  if (c_transport) {
    /* Synchronous callbacks finish one by one, so the proposer stops at a majority. */
    int called = 0;
    for (int i = 0; i < n; i++) called += c.state[i]->calls > 0;
    CHECK(called >= n / 2 + 1);
  }
  synodos_proposer_free(alice);
  synodos_proposer_free(bob);
  cluster_free(&c);
}

static void three_local_acceptors_choose_one_value(void) { single_decree(3, 0); }
static void five_local_acceptors_choose_one_value(void) { single_decree(5, 0); }
static void three_c_transport_acceptors_choose_one_value(void) { single_decree(3, 1); }
static void five_c_transport_acceptors_choose_one_value(void) { single_decree(5, 1); }

static void five_acceptors_survive_two_down(void) {
  cluster c;
  cluster_new(&c, 5, 1);
  c.state[1]->fail_prepare = c.state[1]->fail_accept = 7;
  c.state[4]->fail_prepare = c.state[4]->fail_accept = 7;
  synodos_proposer *p = proposer_for(&c, 1);
  propose(p, "majority", "majority");
  CHECK(accepted_by(&c, "majority") >= 3);
  /* The two that were down come back: a second proposer learns the chosen value. */
  c.state[1]->fail_prepare = c.state[1]->fail_accept = 0;
  c.state[4]->fail_prepare = c.state[4]->fail_accept = 0;
  synodos_proposer *q = proposer_for(&c, 2);
  propose(q, "other", "majority");
  synodos_proposer_free(p);
  synodos_proposer_free(q);
  cluster_free(&c);
}

static void mixed_local_and_c_transport_clients(void) {
  cluster c;
  cluster_new(&c, 3, 0);
  /* Replace client 0 by a C transport to the same acceptor (asked first). */
  synodos_client_free(c.clients[0]);
  forward *st = NULL;
  c.clients[0] = forward_client(c.acceptors[0], &st);
  synodos_proposer *p = proposer_for(&c, 3);
  propose(p, "mixed", "mixed");
  CHECK(st->calls >= 1);
  synodos_proposer_free(p);
  cluster_free(&c);
}

static void replicated_log_appends_and_reads(void) {
  cluster c;
  cluster_new(&c, 3, 1);
  synodos_id_generator *ids1 = NULL, *ids2 = NULL;
  OK(synodos_id_generator_new_counter(1, &ids1));
  OK(synodos_id_generator_new_counter(2, &ids2));
  synodos_replicated_log *w1 = NULL, *w2 = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)c.clients, 3, ids1, NULL, &w1));
  OK(synodos_replicated_log_new((const synodos_client *const *)c.clients, 3, ids2, NULL, &w2));
  uint64_t slot = 99;
  OK(synodos_replicated_log_append(w1, (const uint8_t *)"first", 5, &slot));
  CHECK(slot == 0);
  OK(synodos_replicated_log_append(w1, (const uint8_t *)"second", 6, &slot));
  CHECK(slot == 1);
  CHECK(synodos_replicated_log_next_slot(w1) == 2);
  /* The other writer learns the taken slots and appends after them. */
  OK(synodos_replicated_log_append(w2, (const uint8_t *)"third", 5, &slot));
  CHECK(slot == 2);
  OK(synodos_replicated_log_append(w2, NULL, 0, NULL)); /* an empty value is a value */

  synodos_entry_list list = {0};
  OK(synodos_replicated_log_read(w1, 0, 100, &list));
  CHECK(list.len == 4);
  const char *want[] = {"first", "second", "third", ""};
  for (size_t i = 0; i < list.len; i++) {
    CHECK(list.entries[i].slot == i);
    CHECK_BYTES(list.entries[i].value, want[i]);
  }
  synodos_entry_list_free(&list);
  CHECK(list.entries == NULL && list.len == 0);
  OK(synodos_replicated_log_read(w1, 1, 2, &list)); /* from and max */
  CHECK(list.len == 2 && list.entries[0].slot == 1 && list.entries[1].slot == 2);
  synodos_entry_list_free(&list);
  /* Nothing at slot 4 yet: wait gives up after its timeout with an empty list. */
  OK(synodos_replicated_log_wait(w1, 4, 10, 20000, &list));
  CHECK(list.len == 0 && list.entries == NULL);
  synodos_entry_list_free(&list);

  synodos_replicated_log_free(w1);
  synodos_replicated_log_free(w2);
  synodos_id_generator_free(ids1);
  synodos_id_generator_free(ids2);
  cluster_free(&c);
}

static void acceptor_api_directly(void) {
  synodos_acceptor *a = NULL;
  OK(synodos_acceptor_new_memory(&a));
  synodos_promise *promise = NULL;
  OK(synodos_promise_new(&promise));
  synodos_promise_view pv;

  synodos_request r5 = {.id = 5, .attempt = 1, .slot = 0};
  OK(synodos_acceptor_prepare(a, &r5, promise));
  OK(synodos_promise_get(promise, &pv));
  CHECK(pv.id == 5 && pv.promised == 0 && !pv.has_accepted);

  synodos_proposal *answer = NULL;
  OK(synodos_proposal_new(&answer));
  synodos_proposal_view p5 = {.id = 5, .slot = 0, .value = (const uint8_t *)"v", .value_len = 1};
  OK(synodos_acceptor_accept(a, &p5, answer));
  synodos_proposal_view av;
  OK(synodos_proposal_get(answer, &av));
  CHECK(av.id == 5 && av.promised == 0 && av.value_len == 0);

  /* A lower ballot is rejected, and the promise still carries the accepted value. */
  synodos_request r4 = {.id = 4, .attempt = 1, .slot = 0};
  OK(synodos_acceptor_prepare(a, &r4, promise));
  OK(synodos_promise_get(promise, &pv));
  CHECK(pv.promised == 5 && pv.has_accepted && pv.accepted.id == 5);
  CHECK(pv.accepted.value_len == 1 && pv.accepted.value[0] == 'v');
  synodos_proposal_view p4 = {.id = 4, .slot = 0};
  OK(synodos_acceptor_accept(a, &p4, answer));
  OK(synodos_proposal_get(answer, &av));
  CHECK(av.promised == 5);

  /* Ballot 0 breaks a protocol rule. */
  synodos_request r0 = {0};
  EXPECT_STATUS(synodos_acceptor_prepare(a, &r0, promise), SYNODOS_ERR_INVALID_MESSAGE);
  CHECK(synodos_last_error_status() == SYNODOS_ERR_INVALID_MESSAGE);
  CHECK(strstr(synodos_last_error_message(), "ballot 0") != NULL);

  /* The same acceptor served over JSON. */
  synodos_bytes reply = {0};
  const char *req = "{\"id\":9,\"attempt\":1}";
  OK(synodos_acceptor_handle_json(a, "prepare", (const uint8_t *)req, strlen(req), &reply));
  /* (Fields the core may add to a promise, like "frontier", are left out of this check.) */
  CHECK(reply.len > 8 && !memcmp(reply.ptr, "{\"id\":9,", 7));
  {
    char text[256] = {0};
    memcpy(text, reply.ptr, reply.len < 255 ? reply.len : 255);
    CHECK(strstr(text, "\"accepted\":{\"id\":5,\"value\":\"dg==\"}") != NULL);
    CHECK(strstr(text, "promised") == NULL);
  }
  synodos_bytes_free(&reply);
  const char *acc = "{\"id\":9,\"value\":\"dw==\"}";
  OK(synodos_acceptor_handle_json(a, "accept", (const uint8_t *)acc, strlen(acc), &reply));
  CHECK_BYTES(reply, "{\"id\":9}");
  synodos_bytes_free(&reply);
  OK(synodos_acceptor_handle_json(a, "observe", (const uint8_t *)"{}", 2, &reply));
  CHECK_BYTES(reply, "[{\"id\":9,\"value\":\"dw==\"}]");
  synodos_bytes_free(&reply);
  EXPECT_STATUS(synodos_acceptor_handle_json(a, "vote", (const uint8_t *)"{}", 2, &reply), SYNODOS_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(synodos_acceptor_handle_json(a, "prepare", (const uint8_t *)"{", 1, &reply), SYNODOS_ERR_INVALID_MESSAGE);
  CHECK(reply.ptr == NULL && reply.len == 0);

  /* Trim forgets slot 0; a second handle sees the same acceptor. */
  synodos_acceptor *again = NULL;
  OK(synodos_acceptor_clone(a, &again));
  OK(synodos_acceptor_trim(a, 1));
  synodos_proposal_list *list = NULL;
  OK(synodos_proposal_list_new(&list));
  OK(synodos_acceptor_observe(again, 0, list));
  /* Only the trim marker: ballot 0 at the first slot still held, so a reader learns where the log starts. */
  CHECK(synodos_proposal_list_len(list) == 1);
  synodos_proposal_view marker;
  OK(synodos_proposal_list_get(list, 0, &marker));
  CHECK(marker.id == 0 && marker.slot == 1);
  synodos_proposal_view out_of_range;
  EXPECT_STATUS(synodos_proposal_list_get(list, 1, &out_of_range), SYNODOS_ERR_INVALID_ARGUMENT);
  synodos_proposal_list_free(list);

  synodos_acceptor_free(again);
  synodos_proposal_free(answer);
  synodos_promise_free(promise);
  synodos_acceptor_free(a);
}

static void id_generators(void) {
  synodos_id_generator *a = NULL, *b = NULL, *s = NULL;
  OK(synodos_id_generator_new_counter(1, &a));
  OK(synodos_id_generator_new_counter(2, &b));
  OK(synodos_id_generator_new_server(7, &s));
  uint64_t x = 0, y = 0, z = 0;
  OK(synodos_id_generator_next(a, &x));
  CHECK(x == ((1u << 16) | 1));
  OK(synodos_id_generator_next(a, &y));
  CHECK(y > x);
  OK(synodos_id_generator_observe(b, y));
  OK(synodos_id_generator_next(b, &z));
  CHECK(z > y && (z & 0xffff) == 2);
  OK(synodos_id_generator_next(s, &x));
  OK(synodos_id_generator_next(s, &y));
  CHECK(y > x && (x & 0xff) == 7 && (y & 0xff) == 7);
  synodos_id_generator_free(a);
  synodos_id_generator_free(b);
  synodos_id_generator_free(s);
}

static void bad_arguments_give_status_codes(void) {
  synodos_bytes out = {0};
  synodos_acceptor *a = NULL;
  OK(synodos_acceptor_new_memory(&a));
  synodos_request r = {.id = 1};
  EXPECT_STATUS(synodos_acceptor_prepare(NULL, &r, NULL), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_acceptor_prepare(a, &r, NULL), SYNODOS_ERR_NULL_POINTER);
  CHECK(strstr(synodos_last_error_message(), "out") != NULL);
  EXPECT_STATUS(synodos_acceptor_new_memory(NULL), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_proposer_propose(NULL, (const uint8_t *)"x", 1, &out), SYNODOS_ERR_NULL_POINTER);
  CHECK(out.ptr == NULL && out.len == 0);
  EXPECT_STATUS(synodos_request_to_json(NULL, &out), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_request_from_json(NULL, 3, &r), SYNODOS_ERR_NULL_POINTER);
  synodos_acceptor *none = a; /* out is cleared on failure */
  EXPECT_STATUS(synodos_acceptor_new(NULL, NULL, &none), SYNODOS_ERR_NULL_POINTER);
  CHECK(none == NULL);
  synodos_log *one = NULL; /* taken over even when the other log is missing: no leak */
  OK(synodos_log_new_memory(&one));
  EXPECT_STATUS(synodos_acceptor_new(one, NULL, &none), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_client_new_callbacks(NULL, NULL), SYNODOS_ERR_NULL_POINTER);
  synodos_client_callbacks no_prepare = {0};
  synodos_client *client = (synodos_client *)&out; /* garbage that must be overwritten */
  EXPECT_STATUS(synodos_client_new_callbacks(&no_prepare, &client), SYNODOS_ERR_NULL_POINTER);
  CHECK(client == NULL);
  CHECK(strstr(synodos_last_error_message(), "prepare") != NULL);

  /* A proposer needs at least one acceptor, and at least one attempt. */
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(1, &ids));
  synodos_proposer *p = NULL;
  EXPECT_STATUS(synodos_proposer_new(NULL, 0, ids, NULL, &p), SYNODOS_ERR_INVALID_ARGUMENT);
  OK(synodos_client_new_local(a, &client));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  CHECK(cfg.max_attempts == 20 && cfg.call_timeout_us == 1000000);
  cfg.max_attempts = 0;
  EXPECT_STATUS(synodos_proposer_new((const synodos_client *const *)&client, 1, ids, &cfg, &p), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(p == NULL);
  const synodos_client *holes[2] = {client, NULL};
  EXPECT_STATUS(synodos_proposer_new(holes, 2, ids, NULL, &p), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_proposer_new(holes, 1, NULL, NULL, &p), SYNODOS_ERR_NULL_POINTER);

  /* Free functions accept NULL; getters of NULL answer 0. */
  synodos_acceptor_free(NULL);
  synodos_client_free(NULL);
  synodos_proposer_free(NULL);
  synodos_replicated_log_free(NULL);
  synodos_id_generator_free(NULL);
  synodos_log_free(NULL);
  synodos_promise_free(NULL);
  synodos_proposal_free(NULL);
  synodos_proposal_list_free(NULL);
  synodos_bytes_free(NULL);
  synodos_entry_list_free(NULL);
  CHECK(synodos_proposal_list_len(NULL) == 0);
  CHECK(synodos_replicated_log_next_slot(NULL) == 0);
  CHECK(!strcmp(synodos_status_name(SYNODOS_ERR_NO_QUORUM), "NO_QUORUM"));
  CHECK(!strcmp(synodos_status_name(12345), "UNKNOWN"));

  synodos_client_free(client);
  synodos_id_generator_free(ids);
  synodos_acceptor_free(a);
}

int main(void) {
  RUN(three_local_acceptors_choose_one_value);
  RUN(five_local_acceptors_choose_one_value);
  RUN(three_c_transport_acceptors_choose_one_value);
  RUN(five_c_transport_acceptors_choose_one_value);
  RUN(five_acceptors_survive_two_down);
  RUN(mixed_local_and_c_transport_clients);
  RUN(replicated_log_appends_and_reads);
  RUN(acceptor_api_directly);
  RUN(id_generators);
  RUN(bad_arguments_give_status_codes);
  DONE();
}
