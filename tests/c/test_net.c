/* The network from C: three C acceptors (one over file logs) served with synodos_server_start
 * and a token, a replicated log over three synodos_http_acceptor_new clients; wrong and
 * missing tokens (401); TLS with a token; servers stopped while calls are in flight; hostile arguments; and a
 * node client against three `synodos serve --peers` processes (the binary named by
 * $SYNODOS_BIN; each is killed by its pid at exit, also when a check fails).
 * All traffic is on 127.0.0.1. */
#define _GNU_SOURCE
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "c-test-token-0123456789abcdef"
#define CLUSTER "c-net"

static char tmp_root[] = "/tmp/synodos-c-net-XXXXXX";

static void rm_tree(void) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
}

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

/* ---- three served C acceptors --------------------------------------------------------- */

typedef struct served {
  synodos_acceptor *acceptors[3];
  synodos_server *servers[3];
} served;

static synodos_acceptor *file_acceptor(const char *name) {
  char p[512], a[512];
  snprintf(p, sizeof p, "%s/%s/promises", tmp_root, name);
  snprintf(a, sizeof a, "%s/%s/accepts", tmp_root, name);
  synodos_log *promises = NULL, *accepts = NULL;
  OK(synodos_log_new_file(p, &promises));
  OK(synodos_log_new_file(a, &accepts));
  synodos_acceptor *acc = NULL;
  OK(synodos_acceptor_new(promises, accepts, &acc));
  return acc;
}

static void serve_three(served *s, const char *file_name) {
  const char *tokens[] = {TOKEN};
  for (int i = 0; i < 3; i++) {
    if (i == 2)
      s->acceptors[i] = file_acceptor(file_name);
    else
      OK(synodos_acceptor_new_memory(&s->acceptors[i]));
    synodos_server_options o = {0};
    o.acceptor_id = (uint64_t)i + 1;
    o.cluster = CLUSTER;
    o.tokens = tokens;
    o.tokens_len = 1;
    OK(synodos_server_start(s->acceptors[i], "127.0.0.1:0", &o, &s->servers[i]));
    CHECK(strncmp(synodos_server_url(s->servers[i]), "http://127.0.0.1:", 17) == 0);
  }
}

static void stop_three(served *s) {
  for (int i = 0; i < 3; i++) {
    synodos_server_stop(s->servers[i]);
    s->servers[i] = NULL;
  }
}

static void free_three(served *s) {
  stop_three(s);
  for (int i = 0; i < 3; i++) synodos_acceptor_free(s->acceptors[i]);
}

static synodos_http_options *options_with(const char *token) {
  synodos_http_options *o = NULL;
  OK(synodos_http_options_new(&o));
  OK(synodos_http_options_set_token(o, token));
  OK(synodos_http_options_set_cluster(o, CLUSTER));
  return o;
}

/* A replicated log over three HTTP clients of `s`, with `token`. */
static synodos_replicated_log *http_log(served *s, const char *token, uint16_t node) {
  synodos_http_options *o = options_with(token);
  synodos_client *clients[3];
  for (int i = 0; i < 3; i++) OK(synodos_http_acceptor_new(synodos_server_url(s->servers[i]), o, &clients[i]));
  synodos_http_options_free(o); /* the clients keep what they need */
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(node, &ids));
  synodos_proposer_config cfg = synodos_proposer_config_default();
  cfg.max_attempts = 3;
  synodos_replicated_log *log = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)clients, 3, ids, &cfg, &log));
  synodos_id_generator_free(ids);
  for (int i = 0; i < 3; i++) synodos_client_free(clients[i]);
  return log;
}

/* A replicated log over the same acceptors, in process (local clients). */
static synodos_replicated_log *local_log(served *s, uint16_t node) {
  synodos_client *clients[3];
  for (int i = 0; i < 3; i++) OK(synodos_client_new_local(s->acceptors[i], &clients[i]));
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(node, &ids));
  synodos_replicated_log *log = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)clients, 3, ids, NULL, &log));
  synodos_id_generator_free(ids);
  for (int i = 0; i < 3; i++) synodos_client_free(clients[i]);
  return log;
}

static int entry_is(const synodos_entry *e, const char *value) {
  return e->value.len == strlen(value) && memcmp(e->value.ptr, value, e->value.len) == 0;
}

static void http_replicated_log(void) {
  served s;
  serve_three(&s, "log");
  synodos_replicated_log *log = http_log(&s, TOKEN, 1);
  char value[32];
  for (int i = 0; i < 10; i++) {
    snprintf(value, sizeof value, "v-%d", i);
    uint64_t slot = 99;
    OK(synodos_replicated_log_append(log, (const uint8_t *)value, strlen(value), &slot));
    CHECK(slot == (uint64_t)i);
  }
  synodos_entry_list entries;
  OK(synodos_replicated_log_read(log, 0, 100, &entries));
  CHECK(entries.len == 10);
  for (size_t i = 0; i < entries.len; i++) {
    snprintf(value, sizeof value, "v-%zu", i);
    CHECK(entries.entries[i].slot == i);
    CHECK(entry_is(&entries.entries[i], value));
  }
  synodos_entry_list_free(&entries);

  /* The served acceptors are the process's own: a local log over them reads the same entries,
   * and the file-log acceptor holds the accepted values. */
  synodos_replicated_log *local = local_log(&s, 2);
  OK(synodos_replicated_log_read(local, 0, 100, &entries));
  CHECK(entries.len == 10);
  CHECK(entry_is(&entries.entries[9], "v-9"));
  synodos_entry_list_free(&entries);
  /* An append in process, then read over HTTP: one log. */
  uint64_t slot = 0;
  OK(synodos_replicated_log_append(local, (const uint8_t *)"local", 5, &slot));
  CHECK(slot == 10);
  OK(synodos_replicated_log_read(log, 10, 100, &entries));
  CHECK(entries.len == 1 && entry_is(&entries.entries[0], "local"));
  synodos_entry_list_free(&entries);
  synodos_proposal_list *accepted = NULL;
  OK(synodos_proposal_list_new(&accepted));
  OK(synodos_acceptor_observe(s.acceptors[2], 0, accepted));
  CHECK(synodos_proposal_list_len(accepted) >= 10);
  synodos_proposal_list_free(accepted);

  synodos_replicated_log_free(local);
  synodos_replicated_log_free(log);
  free_three(&s);
}

static void wrong_token_is_a_401(void) {
  served s;
  serve_three(&s, "token");
  const char *url = synodos_server_url(s.servers[0]);

  /* First contact, directly: a transport error carrying the HTTP status and the server's
   * message. */
  synodos_http_options *wrong = options_with("not-the-token-0123456789");
  synodos_client *client = NULL;
  OK(synodos_http_acceptor_new(url, wrong, &client));
  uint64_t id = 7;
  EXPECT_STATUS(synodos_http_acceptor_check(client, &id), SYNODOS_ERR_TRANSPORT);
  CHECK(id == 0);
  CHECK(contains(synodos_last_error_message(), "401"));
  CHECK(contains(synodos_last_error_message(), "UNAUTHORIZED"));
  CHECK(contains(synodos_last_error_message(), url));
  CHECK(synodos_last_error_http_status() == 401);
  synodos_client_free(client);
  synodos_http_options_free(wrong);

  /* No token at all: 401 too. */
  synodos_http_options *none = options_with(NULL);
  OK(synodos_http_acceptor_new(url, none, &client));
  EXPECT_STATUS(synodos_http_acceptor_check(client, NULL), SYNODOS_ERR_TRANSPORT);
  CHECK(synodos_last_error_http_status() == 401);
  synodos_client_free(client);
  synodos_http_options_free(none);

  /* The right token: first contact names the acceptor. */
  synodos_http_options *right = options_with(TOKEN);
  OK(synodos_http_acceptor_new(url, right, &client));
  OK(synodos_http_acceptor_check(client, &id));
  CHECK(id == 1);
  /* A second client of the same options reaching the same acceptor is refused: it must not
   * count twice toward a majority. */
  synodos_client *twice = NULL;
  OK(synodos_http_acceptor_new(url, right, &twice));
  CHECK(synodos_http_acceptor_check(twice, NULL) != SYNODOS_OK);
  synodos_client_free(twice);
  synodos_client_free(client);
  synodos_http_options_free(right);

  /* Through a replicated log: no quorum, each acceptor a transport failure with 401. */
  synodos_replicated_log *log = http_log(&s, "not-the-token-0123456789", 3);
  EXPECT_STATUS(synodos_replicated_log_append(log, (const uint8_t *)"x", 1, NULL), SYNODOS_ERR_NO_QUORUM);
  CHECK(contains(synodos_last_error_message(), "401"));
  CHECK(synodos_last_error_http_status() == 401);
  size_t n = synodos_last_error_failure_count();
  CHECK(n >= 2);
  for (size_t i = 0; i < n; i++) {
    synodos_failure f;
    OK(synodos_last_error_failure(i, &f));
    CHECK(f.status == SYNODOS_ERR_TRANSPORT);
    CHECK(f.http_status == 401);
    CHECK(f.callback_status == 0);
  }
  synodos_replicated_log_free(log);

  /* Not an HTTP client. */
  synodos_client *local = NULL;
  OK(synodos_client_new_local(s.acceptors[0], &local));
  EXPECT_STATUS(synodos_http_acceptor_check(local, NULL), SYNODOS_ERR_INVALID_ARGUMENT);
  synodos_client_free(local);
  free_three(&s);
}

/* ---- servers stopped while appends are in flight --------------------------------------- */

#define WRITERS 4
#define MAX_ACKED 4096

typedef struct shared_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int acked;                 /* appends acknowledged so far, all writers */
  char *values[MAX_ACKED];   /* the acknowledged values */
  synodos_replicated_log *log;
} shared_state;

typedef struct writer {
  shared_state *shared;
  int id;
  synodos_status last; /* the status that ended the loop */
} writer;

static void *write_until_error(void *arg) {
  writer *w = arg;
  char value[64];
  for (int i = 0;; i++) {
    snprintf(value, sizeof value, "w%d-%d", w->id, i);
    synodos_status st = synodos_replicated_log_append(w->shared->log, (const uint8_t *)value, strlen(value), NULL);
    if (st != SYNODOS_OK) {
      w->last = st;
      return NULL;
    }
    pthread_mutex_lock(&w->shared->lock);
    if (w->shared->acked < MAX_ACKED) w->shared->values[w->shared->acked++] = strdup(value);
    pthread_cond_broadcast(&w->shared->cond);
    pthread_mutex_unlock(&w->shared->lock);
  }
}

static void stop_with_calls_in_flight(void) {
  served s;
  serve_three(&s, "stop");
  shared_state sh;
  memset(&sh, 0, sizeof sh);
  pthread_mutex_init(&sh.lock, NULL);
  pthread_cond_init(&sh.cond, NULL);
  sh.log = http_log(&s, TOKEN, 4);
  writer ws[WRITERS];
  pthread_t threads[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    ws[i] = (writer){.shared = &sh, .id = i, .last = SYNODOS_OK};
    CHECK(pthread_create(&threads[i], NULL, write_until_error, &ws[i]) == 0);
  }
  /* Wait (on the condition, not a timer) until appends flow, then stop every server while
   * the writers keep calling. */
  pthread_mutex_lock(&sh.lock);
  while (sh.acked < 12) pthread_cond_wait(&sh.cond, &sh.lock);
  pthread_mutex_unlock(&sh.lock);
  stop_three(&s);
  for (int i = 0; i < WRITERS; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    /* Each writer ends on an error a caller can act on, not a crash or a hang. */
    CHECK(ws[i].last == SYNODOS_ERR_NO_QUORUM || ws[i].last == SYNODOS_ERR_TRANSPORT ||
          ws[i].last == SYNODOS_ERR_TIMEOUT);
  }
  /* Every acknowledged append is in the log, read in process from the same acceptors. */
  synodos_replicated_log *local = local_log(&s, 5);
  synodos_entry_list entries;
  OK(synodos_replicated_log_read(local, 0, 100000, &entries));
  for (int i = 0; i < sh.acked; i++) {
    int found = 0;
    for (size_t j = 0; j < entries.len && !found; j++) found = entry_is(&entries.entries[j], sh.values[i]);
    if (!found) fprintf(stderr, "acknowledged %s is not in the log\n", sh.values[i]);
    CHECK(found);
    free(sh.values[i]);
  }
  synodos_entry_list_free(&entries);
  synodos_replicated_log_free(local);
  synodos_replicated_log_free(sh.log);
  pthread_cond_destroy(&sh.cond);
  pthread_mutex_destroy(&sh.lock);
  /* The file-log acceptor's directory is free again once the acceptor is freed: open it again
   * and find what it had accepted. */
  free_three(&s);
  synodos_acceptor *again = file_acceptor("stop");
  synodos_proposal_list *accepted = NULL;
  OK(synodos_proposal_list_new(&accepted));
  OK(synodos_acceptor_observe(again, 0, accepted));
  CHECK(synodos_proposal_list_len(accepted) > 0);
  synodos_proposal_list_free(accepted);
  synodos_acceptor_free(again);
}

/* ---- TLS plus a token ------------------------------------------------------------------ */

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  CHECK(fseek(f, 0, SEEK_END) == 0);
  long n = ftell(f);
  CHECK(n > 0);
  rewind(f);
  char *buf = malloc((size_t)n);
  CHECK(buf != NULL);
  CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command. */
static void make_certificates(void) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext"
           " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem"
           " -days 2 -subj /CN=synodos-test-ca -addext basicConstraints=critical,CA:TRUE"
           " -addext keyUsage=critical,keyCertSign 2>/dev/null"
           " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr"
           " -subj /CN=127.0.0.1 2>/dev/null"
           " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2"
           " -extfile ext 2>/dev/null",
           tmp_root);
  CHECK(system(cmd) == 0);
}

static void tls_with_a_token(void) {
  make_certificates();
  char path[600];
  size_t cert_len, key_len, ca_len;
  snprintf(path, sizeof path, "%s/server.pem", tmp_root);
  char *cert = read_all(path, &cert_len);
  snprintf(path, sizeof path, "%s/server.key", tmp_root);
  char *key = read_all(path, &key_len);
  snprintf(path, sizeof path, "%s/ca.pem", tmp_root);
  char *ca = read_all(path, &ca_len);

  const char *tokens[] = {TOKEN};
  synodos_acceptor *acceptors[3];
  synodos_server *servers[3];
  synodos_client *clients[3];
  synodos_http_options *o = options_with(TOKEN);
  OK(synodos_http_options_set_ca_pem(o, (const uint8_t *)ca, ca_len));
  for (int i = 0; i < 3; i++) {
    OK(synodos_acceptor_new_memory(&acceptors[i]));
    synodos_server_options so = {0};
    so.acceptor_id = (uint64_t)i + 1;
    so.cluster = CLUSTER;
    so.tokens = tokens;
    so.tokens_len = 1;
    so.tls_cert = (const uint8_t *)cert;
    so.tls_cert_len = cert_len;
    so.tls_key = (const uint8_t *)key;
    so.tls_key_len = key_len;
    OK(synodos_server_start(acceptors[i], "127.0.0.1:0", &so, &servers[i]));
    CHECK(strncmp(synodos_server_url(servers[i]), "https://127.0.0.1:", 18) == 0);
    OK(synodos_http_acceptor_new(synodos_server_url(servers[i]), o, &clients[i]));
  }
  synodos_id_generator *ids = NULL;
  OK(synodos_id_generator_new_counter(6, &ids));
  synodos_replicated_log *log = NULL;
  OK(synodos_replicated_log_new((const synodos_client *const *)clients, 3, ids, NULL, &log));
  uint64_t slot = 9;
  OK(synodos_replicated_log_append(log, (const uint8_t *)"over tls", 8, &slot));
  CHECK(slot == 0);
  synodos_entry_list entries;
  OK(synodos_replicated_log_read(log, 0, 10, &entries));
  CHECK(entries.len == 1 && entry_is(&entries.entries[0], "over tls"));
  synodos_entry_list_free(&entries);

  /* A client that trusts another CA (the server certificate itself is no CA) is refused in
   * the handshake: a transport error, no HTTP status. It also hangs up while the in-process
   * server still writes to it: before synodos blocked SIGPIPE in its network threads, that
   * write killed this (C) process with SIGPIPE. */
  synodos_http_options *other = options_with(TOKEN);
  OK(synodos_http_options_set_ca_pem(other, (const uint8_t *)cert, cert_len));
  synodos_client *untrusting = NULL;
  OK(synodos_http_acceptor_new(synodos_server_url(servers[0]), other, &untrusting));
  EXPECT_STATUS(synodos_http_acceptor_check(untrusting, NULL), SYNODOS_ERR_TRANSPORT);
  CHECK(synodos_last_error_http_status() == 0);
  synodos_client_free(untrusting);
  synodos_http_options_free(other);

  synodos_replicated_log_free(log);
  synodos_id_generator_free(ids);
  synodos_http_options_free(o);
  for (int i = 0; i < 3; i++) {
    synodos_client_free(clients[i]);
    synodos_server_stop(servers[i]);
    synodos_acceptor_free(acceptors[i]);
  }
  free(cert);
  free(key);
  free(ca);
}

/* ---- hostile arguments ----------------------------------------------------------------- */

static void bad_arguments(void) {
  synodos_acceptor *acc = NULL;
  OK(synodos_acceptor_new_memory(&acc));
  synodos_server_options o = {0};
  o.acceptor_id = 1;
  o.cluster = CLUSTER;
  synodos_server *server = (synodos_server *)1;
  EXPECT_STATUS(synodos_server_start(NULL, "127.0.0.1:0", &o, &server), SYNODOS_ERR_NULL_POINTER);
  CHECK(server == NULL);
  EXPECT_STATUS(synodos_server_start(acc, NULL, &o, &server), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", NULL, &server), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &o, NULL), SYNODOS_ERR_NULL_POINTER);
  synodos_server_options no_cluster = {0};
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &no_cluster, &server), SYNODOS_ERR_NULL_POINTER);
  no_cluster.cluster = "";
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &no_cluster, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  /* Tokens: too short, two in one string, NULL array, NULL entry. */
  const char *shorty[] = {"short"};
  synodos_server_options t = o;
  t.tokens = shorty;
  t.tokens_len = 1;
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &t, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  const char *two[] = {TOKEN "\n" TOKEN "x"};
  t.tokens = two;
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &t, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  t.tokens = NULL;
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &t, &server), SYNODOS_ERR_NULL_POINTER);
  const char *null_entry[] = {NULL};
  t.tokens = null_entry;
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &t, &server), SYNODOS_ERR_NULL_POINTER);
  synodos_server_options f = o;
  f.token_file = "/nonexistent/synodos-tokens";
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &f, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  /* TLS: a key without a certificate; a certificate that is not PEM. */
  synodos_server_options k = o;
  k.tls_key = (const uint8_t *)"key";
  k.tls_key_len = 3;
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &k, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  k.tls_cert = (const uint8_t *)"cert";
  k.tls_cert_len = 4;
  EXPECT_STATUS(synodos_server_start(acc, "127.0.0.1:0", &k, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  /* Secure by default: not off loopback without TLS. */
  EXPECT_STATUS(synodos_server_start(acc, "0.0.0.0:0", &o, &server), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(contains(synodos_last_error_message(), "TLS"));
  EXPECT_STATUS(synodos_server_start(acc, "not an address", &o, &server), SYNODOS_ERR_TRANSPORT);
  /* A port in use. */
  OK(synodos_server_start(acc, "127.0.0.1:0", &o, &server));
  const char *url = synodos_server_url(server);
  synodos_server *second = NULL;
  EXPECT_STATUS(synodos_server_start(acc, url + strlen("http://"), &o, &second), SYNODOS_ERR_TRANSPORT);
  CHECK(second == NULL);
  synodos_server_stop(server);
  synodos_server_stop(NULL);
  CHECK(strcmp(synodos_server_url(NULL), "") == 0);

  /* Clients. */
  synodos_client *client = (synodos_client *)1;
  EXPECT_STATUS(synodos_http_acceptor_new(NULL, NULL, &client), SYNODOS_ERR_NULL_POINTER);
  CHECK(client == NULL);
  EXPECT_STATUS(synodos_http_acceptor_new("http://127.0.0.1:1", NULL, NULL), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_acceptor_new("ftp://127.0.0.1:1", NULL, &client), SYNODOS_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(synodos_http_acceptor_new("not a url", NULL, &client), SYNODOS_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(synodos_http_acceptor_new("https://127.0.0.1:1", NULL, &client), SYNODOS_ERR_INVALID_ARGUMENT);
  synodos_http_options *opts = NULL;
  OK(synodos_http_options_new(&opts));
  OK(synodos_http_options_set_ca_pem(opts, (const uint8_t *)"not pem", 7));
  EXPECT_STATUS(synodos_http_acceptor_new("https://127.0.0.1:1", opts, &client), SYNODOS_ERR_INVALID_ARGUMENT);
  OK(synodos_http_options_set_token(opts, "bad\ntoken"));
  EXPECT_STATUS(synodos_http_acceptor_new("http://127.0.0.1:1", opts, &client), SYNODOS_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(synodos_http_options_set_ca_file(opts, "/nonexistent/ca.pem"), SYNODOS_ERR_INVALID_ARGUMENT);
  EXPECT_STATUS(synodos_http_options_set_ca_file(opts, NULL), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_options_set_ca_pem(opts, NULL, 3), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_options_set_identity(opts, NULL, 1, NULL, 0), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_options_set_token(NULL, "x"), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_options_set_cluster(NULL, "x"), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_options_set_timeouts(NULL, 1, 1), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_http_options_new(NULL), SYNODOS_ERR_NULL_POINTER);
  synodos_http_options_free(opts);
  synodos_http_options_free(NULL);
  EXPECT_STATUS(synodos_http_acceptor_check(NULL, NULL), SYNODOS_ERR_NULL_POINTER);

  /* Nobody listening: a transport error, bounded by the connect timeout. */
  OK(synodos_http_options_new(&opts));
  OK(synodos_http_options_set_timeouts(opts, 2000000, 1000000));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
  socklen_t alen = sizeof addr;
  CHECK(getsockname(fd, (struct sockaddr *)&addr, &alen) == 0);
  char dead[64];
  snprintf(dead, sizeof dead, "http://127.0.0.1:%d", ntohs(addr.sin_port));
  close(fd); /* bound then closed: nothing listens there */
  OK(synodos_http_acceptor_new(dead, opts, &client));
  EXPECT_STATUS(synodos_http_acceptor_check(client, NULL), SYNODOS_ERR_TRANSPORT);
  CHECK(synodos_last_error_http_status() == 0);
  synodos_client_free(client);

  /* Node clients. */
  synodos_node_client *nc = (synodos_node_client *)1;
  EXPECT_STATUS(synodos_node_client_new(NULL, 0, NULL, &nc), SYNODOS_ERR_INVALID_ARGUMENT);
  CHECK(nc == NULL);
  EXPECT_STATUS(synodos_node_client_new(NULL, 2, NULL, &nc), SYNODOS_ERR_NULL_POINTER);
  const char *peers[] = {"http://127.0.0.1:1", NULL};
  EXPECT_STATUS(synodos_node_client_new(peers, 2, NULL, &nc), SYNODOS_ERR_NULL_POINTER);
  const char *bad_peers[] = {"ftp://x"};
  EXPECT_STATUS(synodos_node_client_new(bad_peers, 1, NULL, &nc), SYNODOS_ERR_INVALID_ARGUMENT);
  const char *dead_peers[] = {dead};
  OK(synodos_node_client_new(dead_peers, 1, opts, &nc));
  uint64_t slot = 5;
  EXPECT_STATUS(synodos_node_client_append(nc, (const uint8_t *)"x", 1, &slot), SYNODOS_ERR_TRANSPORT);
  CHECK(slot == 0);
  EXPECT_STATUS(synodos_node_client_append(nc, NULL, 1, &slot), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_node_client_append(NULL, (const uint8_t *)"x", 1, &slot), SYNODOS_ERR_NULL_POINTER);
  synodos_entry_list entries;
  EXPECT_STATUS(synodos_node_client_read(nc, 0, 10, NULL), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_node_client_read(NULL, 0, 10, &entries), SYNODOS_ERR_NULL_POINTER);
  CHECK(entries.len == 0 && entries.entries == NULL);
  synodos_bytes chosen;
  EXPECT_STATUS(synodos_node_client_propose(nc, (const uint8_t *)"x", 1, NULL), SYNODOS_ERR_NULL_POINTER);
  EXPECT_STATUS(synodos_node_client_propose(NULL, (const uint8_t *)"x", 1, &chosen), SYNODOS_ERR_NULL_POINTER);
  synodos_node_client_free(nc);
  synodos_node_client_free(NULL);
  synodos_http_options_free(opts);
  synodos_acceptor_free(acc);
}

/* ---- a node client against `synodos serve --peers` processes --------------------------- */

#define NODES 3
static pid_t node_pids[NODES];

/* Kill every node still running, by its pid: at exit, so also after a failed CHECK. */
static void kill_nodes(void) {
  for (int i = 0; i < NODES; i++) {
    if (node_pids[i] > 0) {
      kill(node_pids[i], SIGKILL);
      waitpid(node_pids[i], NULL, 0);
      node_pids[i] = 0;
    }
  }
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
  CHECK(bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
  socklen_t len = sizeof addr;
  CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

/* Start `synodos serve --peers` node `id` and wait for its ready line on stdout (the pipe's
 * EOF, or 20 s without a line, fails the test). */
static void start_node(const char *bin, int id, const char *listen, const char *peers, const char *token_file) {
  int out[2];
  CHECK(pipe(out) == 0);
  char data[512], ids[16];
  snprintf(data, sizeof data, "%s/node-%d", tmp_root, id);
  snprintf(ids, sizeof ids, "%d", id);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(bin, bin, "serve", "--id", ids, "--cluster", CLUSTER, "--listen", listen, "--data", data, "--token-file",
          token_file, "--peers", peers, "--log-level", "warn", (char *)NULL);
    _exit(127);
  }
  node_pids[id - 1] = pid;
  close(out[1]);
  char line[512];
  size_t used = 0;
  for (;;) {
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    int r = poll(&p, 1, 20000);
    if (r < 0 && errno == EINTR) continue;
    CHECK(r == 1); /* 0: no ready line within 20 s */
    ssize_t n = read(out[0], line + used, sizeof line - 1 - used);
    CHECK(n > 0); /* 0: the node exited before it was ready */
    used += (size_t)n;
    line[used] = '\0';
    if (strchr(line, '\n')) break;
    CHECK(used < sizeof line - 1);
  }
  CHECK(contains(line, "synodos: serving"));
  close(out[0]); /* the node prints nothing more on stdout */
}

static void node_client_against_nodes(void) {
  const char *bin = getenv("SYNODOS_BIN");
  if (!bin || !*bin) {
    fprintf(stderr, "SYNODOS_BIN is not set: the path of the `synodos` binary (tests/c/run.sh sets it)\n");
    exit(1);
  }
  char token_file[512];
  snprintf(token_file, sizeof token_file, "%s/tokens", tmp_root);
  FILE *tf = fopen(token_file, "w");
  CHECK(tf != NULL);
  fprintf(tf, "%s\n", TOKEN);
  fclose(tf);
  char listen[NODES][64], urls[NODES][80], peers[512] = "";
  for (int i = 0; i < NODES; i++) {
    snprintf(listen[i], sizeof listen[i], "127.0.0.1:%d", free_port());
    snprintf(urls[i], sizeof urls[i], "http://%s", listen[i]);
    if (i) strcat(peers, ",");
    strcat(peers, urls[i]);
  }
  for (int i = 0; i < NODES; i++) start_node(bin, i + 1, listen[i], peers, token_file);

  synodos_http_options *o = options_with(TOKEN);
  const char *list[NODES] = {urls[0], urls[1], urls[2]};
  synodos_node_client *client = NULL;
  OK(synodos_node_client_new(list, NODES, o, &client));
  char value[32];
  uint64_t slots[5];
  for (int i = 0; i < 5; i++) {
    snprintf(value, sizeof value, "node-%d", i);
    OK(synodos_node_client_append(client, (const uint8_t *)value, strlen(value), &slots[i]));
    if (i) CHECK(slots[i] > slots[i - 1]);
  }
  /* Every appended value is in the log, at its slot. An acknowledgement means a majority of
   * acceptors took it; the node that answers a read learns it a moment later. So the read is
   * polled (a pause of 10 ms between tries, 20 s at most), as the Rust node tests do. */
  synodos_entry_list entries;
  for (int tries = 0;; tries++) {
    OK(synodos_node_client_read(client, slots[0], 100, &entries));
    if (entries.len > 0 && entries.entries[entries.len - 1].slot >= slots[4]) break;
    synodos_entry_list_free(&entries);
    CHECK(tries < 2000);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  for (int i = 0; i < 5; i++) {
    snprintf(value, sizeof value, "node-%d", i);
    int found = 0;
    for (size_t j = 0; j < entries.len; j++)
      if (entries.entries[j].slot == slots[i]) found = entry_is(&entries.entries[j], value);
    CHECK(found);
  }
  synodos_entry_list_free(&entries);
  OK(synodos_node_client_read(client, 0, 0, &entries)); /* max 0: nothing asked, nothing sent */
  CHECK(entries.len == 0);

  /* The single decree: the first value proposed is chosen, later proposals return it. */
  synodos_bytes chosen;
  OK(synodos_node_client_propose(client, (const uint8_t *)"decree", 6, &chosen));
  synodos_bytes_free(&chosen);
  synodos_node_client_free(client);
  synodos_http_options_free(o);

  /* A wrong token: a transport error with 401 and the server's message. */
  synodos_http_options *wrong = options_with("not-the-token-0123456789");
  OK(synodos_node_client_new(list, NODES, wrong, &client));
  EXPECT_STATUS(synodos_node_client_append(client, (const uint8_t *)"x", 1, NULL), SYNODOS_ERR_TRANSPORT);
  CHECK(contains(synodos_last_error_message(), "401"));
  CHECK(synodos_last_error_http_status() == 401);
  synodos_node_client_free(client);
  synodos_http_options_free(wrong);

  /* SIGTERM: each node stops gracefully and exits 0. */
  for (int i = 0; i < NODES; i++) {
    CHECK(kill(node_pids[i], SIGTERM) == 0);
    int status = 0;
    CHECK(waitpid(node_pids[i], &status, 0) == node_pids[i]);
    node_pids[i] = 0;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

int main(void) {
  CHECK(mkdtemp(tmp_root) != NULL);
  atexit(rm_tree);
  atexit(kill_nodes); /* runs first: no node outlives the test */
  RUN(http_replicated_log);
  RUN(wrong_token_is_a_401);
  RUN(stop_with_calls_in_flight);
  RUN(tls_with_a_token);
  RUN(bad_arguments);
  RUN(node_client_against_nodes);
  CHECK(synodos_panic_count() == 0);
  DONE();
}
