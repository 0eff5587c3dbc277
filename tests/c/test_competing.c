/* Competing proposers on pthreads agree: per slot, every thread learns the same value, one
 * of those proposed. Also one proposer shared by several threads, and concurrent appends to
 * a replicated log (each value lands in exactly one slot). */
#define _GNU_SOURCE
#include <pthread.h>

#include "test.h"

#define THREADS 4
#define SLOTS 40

static synodos_acceptor *acceptors[3];
static synodos_client *clients[3]; /* 0 and 1 local, 2 through a C transport */
static pthread_barrier_t barrier;
static char chosen[THREADS][SLOTS][48];

static synodos_proposer *new_proposer(uint16_t node) {
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(node, &ids));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.max_attempts = 1000; /* duelling proposers back off at random until one wins */
  cfg.backoff_min_us = 50;
  cfg.backoff_max_us = 2000;
  synodos_proposer *p = NULL;
  OK(synodos_proposer_new((const synodos_client *const *)clients, 3, ids, &cfg, &p));
  synodos_id_generator_free(ids);
  return p;
}

static void *compete(void *arg) {
  int me = (int)(intptr_t)arg;
  synodos_proposer *p = new_proposer((uint16_t)(me + 1));
  for (int slot = 0; slot < SLOTS; slot++) {
    char value[48];
    snprintf(value, sizeof value, "thread%d-slot%d", me, slot);
    pthread_barrier_wait(&barrier); /* everyone proposes for the slot at once */
    synodos_bytes out = {0};
    OK(synodos_proposer_propose_at(p, (uint64_t)slot, (const uint8_t *)value, strlen(value), &out));
    CHECK(out.len < sizeof chosen[me][slot]);
    memcpy(chosen[me][slot], out.ptr, out.len);
    synodos_bytes_free(&out);
  }
  synodos_proposer_free(p);
  return NULL;
}

static void setup(void) {
  for (int i = 0; i < 3; i++) OK(synodos_acceptor_new_memory(&acceptors[i]));
  OK(synodos_client_new_local(acceptors[0], &clients[0]));
  OK(synodos_client_new_local(acceptors[1], &clients[1]));
  clients[2] = forward_client(acceptors[2], NULL);
}

static void teardown(void) {
  for (int i = 0; i < 3; i++) {
    synodos_client_free(clients[i]);
    synodos_acceptor_free(acceptors[i]);
  }
}

static void competing_proposers_agree(void) {
  setup();
  memset(chosen, 0, sizeof chosen);
  pthread_t threads[THREADS];
  CHECK(pthread_barrier_init(&barrier, NULL, THREADS) == 0);
  for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, compete, (void *)(intptr_t)t) == 0);
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
  pthread_barrier_destroy(&barrier);
  for (int slot = 0; slot < SLOTS; slot++) {
    int proposed_by = -1;
    for (int t = 0; t < THREADS; t++) {
      char want[48];
      snprintf(want, sizeof want, "thread%d-slot%d", t, slot);
      if (!strcmp(chosen[0][slot], want)) proposed_by = t;
      if (strcmp(chosen[t][slot], chosen[0][slot])) {
        fprintf(stderr, "slot %d: thread %d learned %s, thread 0 learned %s\n", slot, t, chosen[t][slot],
                chosen[0][slot]);
        exit(1);
      }
    }
    CHECK(proposed_by >= 0); /* validity: the chosen value was proposed for this slot */
  }
  teardown();
}

static synodos_proposer *shared;
static void *use_shared(void *arg) {
  int me = (int)(intptr_t)arg;
  for (int i = 0; i < 20; i++) {
    uint64_t slot = (uint64_t)(me * 1000 + i); /* each thread its own slots */
    char value[48];
    snprintf(value, sizeof value, "%d-%d", me, i);
    synodos_bytes out = {0};
    OK(synodos_proposer_propose_at(shared, slot, (const uint8_t *)value, strlen(value), &out));
    CHECK_BYTES(out, value);
    synodos_bytes_free(&out);
  }
  return NULL;
}

static void one_proposer_shared_by_threads(void) {
  setup();
  shared = new_proposer(9);
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, use_shared, (void *)(intptr_t)t) == 0);
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);
  synodos_proposer_free(shared);
  teardown();
}

#define APPENDS 15
static synodos_replicated_log *writers[THREADS];
static void *append_many(void *arg) {
  int me = (int)(intptr_t)arg;
  for (int i = 0; i < APPENDS; i++) {
    char value[48];
    snprintf(value, sizeof value, "w%d-%d", me, i); /* unique: values must not merge */
    OK(synodos_replicated_log_append(writers[me], (const uint8_t *)value, strlen(value), NULL));
  }
  return NULL;
}

static void concurrent_appends_land_once_each(void) {
  setup();
  for (int t = 0; t < THREADS; t++) {
    synodos_id_generator *ids = NULL;
    OK(synodos_id_generator_new_counter((uint16_t)(t + 1), &ids));
    synodos_proposer_config cfg = synodos_proposer_config_default();
    cfg.max_attempts = 1000;
    cfg.backoff_min_us = 50;
    cfg.backoff_max_us = 2000;
    OK(synodos_replicated_log_new((const synodos_client *const *)clients, 3, ids, &cfg, &writers[t]));
    synodos_id_generator_free(ids);
  }
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) CHECK(pthread_create(&threads[t], NULL, append_many, (void *)(intptr_t)t) == 0);
  for (int t = 0; t < THREADS; t++) CHECK(pthread_join(threads[t], NULL) == 0);

  synodos_entry_list list = {0};
  OK(synodos_replicated_log_read(writers[0], 0, 1000, &list));
  CHECK(list.len == THREADS * APPENDS);
  int seen[THREADS][APPENDS] = {{0}};
  int next[THREADS] = {0};
  for (size_t i = 0; i < list.len; i++) {
    CHECK(list.entries[i].slot == i);
    char text[32] = {0};
    CHECK(list.entries[i].value.len < sizeof text);
    memcpy(text, list.entries[i].value.ptr, list.entries[i].value.len);
    int w = -1, n = -1;
    CHECK(sscanf(text, "w%d-%d", &w, &n) == 2 && w >= 0 && w < THREADS && n >= 0 && n < APPENDS);
    seen[w][n]++;
    CHECK(n == next[w]++); /* each writer's values stay in its own order */
  }
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < APPENDS; i++) CHECK(seen[t][i] == 1);
  synodos_entry_list_free(&list);
  for (int t = 0; t < THREADS; t++) synodos_replicated_log_free(writers[t]);
  teardown();
}

int main(void) {
  RUN(competing_proposers_agree);
  RUN(one_proposer_shared_by_threads);
  RUN(concurrent_appends_land_once_each);
  DONE();
}
