/* The C writer of `make demo`: appends COUNT values TAG-0 .. TAG-(COUNT-1) to a replicated log
 * over three HTTP acceptor clients, one at a time.
 *
 *   writer --peers URL,URL,URL --token-file F --cluster C --count 20 --tag c [--node-id N] [--interval-ms MS]
 *
 * Prints `slot <n> <value>` on stdout (flushed) for each acknowledged append, and exits 0 only
 * if every append succeeded (1 after the first failure, with the reason on stderr; 2 for a bad
 * command line). The token is the first one in F (blank lines and # comments skipped).
 * --node-id is the proposer's node id in its ballots (default: from the process id); give
 * each concurrent writer its own. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <synodos.h>
#include <unistd.h>

#define MAX_PEERS 16

static void usage(void) {
  fprintf(stderr, "usage: writer --peers URL,URL,URL --token-file F --cluster C --count N --tag T [--node-id N] [--interval-ms MS]\n");
  exit(2);
}

static void fail(const char *what) {
  fprintf(stderr, "writer: %s: %s (%s)\n", what, synodos_last_error_message(),
          synodos_status_name(synodos_last_error_status()));
  exit(1);
}

/* The first token of a token file, into `out`. */
static int first_token(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[1024];
  int found = -1;
  while (found < 0 && fgets(line, sizeof line, f)) {
    char *s = line, *e;
    while (isspace((unsigned char)*s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    if (!*s || *s == '#') continue;
    if (strlen(s) + 1 > cap) break;
    strcpy(out, s);
    found = 0;
  }
  fclose(f);
  return found;
}

int main(int argc, char **argv) {
  const char *peers = NULL, *token_file = NULL, *cluster = NULL, *count_s = NULL, *tag = NULL, *node_s = NULL,
             *interval_s = NULL;
  for (int i = 1; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--peers")) slot = &peers;
    else if (!strcmp(argv[i], "--token-file")) slot = &token_file;
    else if (!strcmp(argv[i], "--cluster")) slot = &cluster;
    else if (!strcmp(argv[i], "--count")) slot = &count_s;
    else if (!strcmp(argv[i], "--tag")) slot = &tag;
    else if (!strcmp(argv[i], "--node-id")) slot = &node_s;
    else if (!strcmp(argv[i], "--interval-ms")) slot = &interval_s;
    else usage();
    if (++i >= argc) usage();
    *slot = argv[i];
  }
  if (!peers || !token_file || !cluster || !count_s || !tag) usage();
  char *end = NULL;
  long count = strtol(count_s, &end, 10);
  if (!*count_s || *end || count < 0) usage();
  /* Node ids 1000..60999 by default: apart from the small ids people give by hand. */
  long node = node_s ? strtol(node_s, &end, 10) : 1000 + (long)(getpid() % 60000);
  if ((node_s && (!*node_s || *end)) || node < 0 || node > 65535) usage();
  /* A pause between appends: the demo paces its writers so that its kill lands mid-stream. */
  long interval_ms = interval_s ? strtol(interval_s, &end, 10) : 0;
  if ((interval_s && (!*interval_s || *end)) || interval_ms < 0 || interval_ms > 60000) usage();

  char token[1024];
  if (first_token(token_file, token, sizeof token) != 0) {
    fprintf(stderr, "writer: no token in %s\n", token_file);
    return 1;
  }
  synodos_http_options *options = NULL;
  if (synodos_http_options_new(&options) != SYNODOS_OK || synodos_http_options_set_token(options, token) != SYNODOS_OK ||
      synodos_http_options_set_cluster(options, cluster) != SYNODOS_OK)
    fail("options");

  /* One client per URL, all from one options handle (so one acceptor is never counted twice). */
  synodos_client *clients[MAX_PEERS];
  size_t n = 0;
  char *list = strdup(peers);
  if (!list) return 1;
  for (char *save = NULL, *url = strtok_r(list, ",", &save); url; url = strtok_r(NULL, ",", &save)) {
    if (n == MAX_PEERS) usage();
    if (synodos_http_acceptor_new(url, options, &clients[n]) != SYNODOS_OK) fail(url);
    n++;
  }
  free(list);
  synodos_http_options_free(options);
  if (n == 0) usage();

  synodos_id_generator *ids = NULL;
  if (synodos_id_generator_new_counter((uint16_t)node, &ids) != SYNODOS_OK) fail("id generator");
  synodos_replicated_log *log = NULL;
  if (synodos_replicated_log_new((const synodos_client *const *)clients, n, ids, NULL, &log) != SYNODOS_OK)
    fail("replicated log");
  synodos_id_generator_free(ids);
  for (size_t i = 0; i < n; i++) synodos_client_free(clients[i]);

  int rc = 0;
  char value[256];
  for (long i = 0; i < count; i++) {
    snprintf(value, sizeof value, "%s-%ld", tag, i);
    uint64_t slot = 0;
    if (synodos_replicated_log_append(log, (const uint8_t *)value, strlen(value), &slot) != SYNODOS_OK) {
      fprintf(stderr, "writer: append %s: %s\n", value, synodos_last_error_message());
      rc = 1;
      break;
    }
    printf("slot %llu %s\n", (unsigned long long)slot, value);
    fflush(stdout);
    if (interval_ms > 0) {
      struct timespec pause = {interval_ms / 1000, (interval_ms % 1000) * 1000000L};
      nanosleep(&pause, NULL);
    }
  }
  synodos_replicated_log_free(log);
  return rc;
}
