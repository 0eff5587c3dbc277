/* The C acceptor of `make demo`: one acceptor over durable file logs, served over HTTP on
 * loopback with a bearer token, until SIGTERM or SIGINT.
 *
 *   acceptor --dir D --port P --token-file F --id N --cluster C
 *
 * Prints exactly one line on stdout once it serves, `READY <url>`, then runs until SIGTERM or
 * SIGINT, stops the server gracefully (requests in flight finish) and exits 0. Errors go to
 * stderr with exit status 1 (2 for a bad command line). The logs live in D/promises and
 * D/accepts; a restart on the same D recovers what the acceptor promised and accepted. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <synodos.h>

static void usage(void) {
  fprintf(stderr, "usage: acceptor --dir D --port P --token-file F --id N --cluster C\n");
  exit(2);
}

static void fail(const char *what) {
  fprintf(stderr, "acceptor: %s: %s\n", what, synodos_last_error_message());
  exit(1);
}

int main(int argc, char **argv) {
  const char *dir = NULL, *port = NULL, *token_file = NULL, *id = NULL, *cluster = NULL;
  for (int i = 1; i < argc; i++) {
    const char **slot = NULL;
    if (!strcmp(argv[i], "--dir")) slot = &dir;
    else if (!strcmp(argv[i], "--port")) slot = &port;
    else if (!strcmp(argv[i], "--token-file")) slot = &token_file;
    else if (!strcmp(argv[i], "--id")) slot = &id;
    else if (!strcmp(argv[i], "--cluster")) slot = &cluster;
    else usage();
    if (++i >= argc) usage();
    *slot = argv[i];
  }
  if (!dir || !port || !token_file || !id || !cluster) usage();
  char *end = NULL;
  unsigned long long acceptor_id = strtoull(id, &end, 10);
  if (!*id || *end) usage();

  /* Block the stop signals before synodos starts its threads, so that they inherit the mask
   * and the signals wait for sigwait() below instead of killing the process mid-write. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
    fprintf(stderr, "acceptor: cannot block signals\n");
    return 1;
  }

  char path[4096];
  synodos_log *promises = NULL, *accepts = NULL;
  snprintf(path, sizeof path, "%s/promises", dir);
  if (synodos_log_new_file(path, &promises) != SYNODOS_OK) fail(path);
  snprintf(path, sizeof path, "%s/accepts", dir);
  if (synodos_log_new_file(path, &accepts) != SYNODOS_OK) {
    synodos_log_free(promises);
    fail(path);
  }
  synodos_acceptor *acceptor = NULL;
  if (synodos_acceptor_new(promises, accepts, &acceptor) != SYNODOS_OK) fail("cannot open the acceptor");

  char bind[64];
  snprintf(bind, sizeof bind, "127.0.0.1:%s", port);
  synodos_server_options options = {0};
  options.acceptor_id = acceptor_id;
  options.cluster = cluster;
  options.token_file = token_file;
  synodos_server *server = NULL;
  if (synodos_server_start(acceptor, bind, &options, &server) != SYNODOS_OK) fail("cannot serve");
  printf("READY %s\n", synodos_server_url(server));
  fflush(stdout);

  int sig = 0;
  while (sigwait(&stop, &sig) != 0) {
  }
  synodos_server_stop(server);
  synodos_acceptor_free(acceptor);
  return 0;
}
