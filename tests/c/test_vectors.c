/* Golden wire vectors (tests/vectors/messages.json), decoded and re-encoded through the C
 * API's JSON functions, byte for byte; invalid ones must fail with the named status. */
#define _GNU_SOURCE
#include "json_mini.h"
#include "test.h"

static uint64_t num(const jval *fields, const char *key) {
  const jval *v = jget(fields, key);
  CHECK(v && v->kind == J_STR);
  return strtoull(v->text, NULL, 10);
}

static void check_value(const synodos_proposal_view *p, const jval *fields) {
  const jval *hex = jget(fields, "value_hex");
  CHECK(hex && hex->kind == J_STR);
  CHECK(p->value_len * 2 == hex->len);
  for (size_t i = 0; i < p->value_len; i++) {
    char pair[3] = {hex->text[2 * i], hex->text[2 * i + 1], 0};
    CHECK(p->value[i] == (uint8_t)strtoul(pair, NULL, 16));
  }
}

static void check_proposal_fields(const synodos_proposal_view *p, const jval *fields) {
  CHECK(p->id == num(fields, "id"));
  CHECK(p->slot == num(fields, "slot"));
  CHECK(p->promised == num(fields, "promised"));
  check_value(p, fields);
}

static void check_reencoded(synodos_bytes *out, const jval *json, const char *name) {
  if (out->len != json->len || memcmp(out->ptr, json->text, out->len)) {
    fprintf(stderr, "%s: re-encoded as %.*s, expected %s\n", name, (int)out->len, (char *)out->ptr, json->text);
    exit(1);
  }
  synodos_bytes_free(out);
  CHECK(out->ptr == NULL && out->len == 0);
  synodos_bytes_free(out); /* a second free of the same struct is harmless */
}

static int vectors_checked, errors_checked;

static void one_vector(const jval *v) {
  const char *name = jget(v, "name")->text;
  const char *kind = jget(v, "kind")->text;
  const jval *json = jget(v, "json");
  const jval *error = jget(v, "error");
  const jval *fields = jget(v, "fields");
  const jval *encoded = jget(v, "encoded") ? jget(v, "encoded") : json;
  const uint8_t *in = (const uint8_t *)json->text;
  synodos_status st;
  synodos_bytes out = {0};

  if (!strcmp(kind, "request")) {
    synodos_request r;
    st = synodos_request_from_json(in, json->len, &r);
    if (!error) {
      OK(st);
      CHECK(r.id == num(fields, "id") && r.attempt == num(fields, "attempt") && r.slot == num(fields, "slot"));
      OK(synodos_request_to_json(&r, &out));
      check_reencoded(&out, encoded, name);
    } else {
      CHECK(r.id == 0 && r.attempt == 0 && r.slot == 0); /* zeroed on failure */
    }
  } else if (!strcmp(kind, "promise")) {
    synodos_promise *p = NULL;
    OK(synodos_promise_new(&p));
    st = synodos_promise_from_json(p, in, json->len);
    if (!error) {
      OK(st);
      synodos_promise_view view;
      OK(synodos_promise_get(p, &view));
      CHECK(view.id == num(fields, "id") && view.slot == num(fields, "slot"));
      CHECK(view.promised == num(fields, "promised"));
      const jval *acc = jget(fields, "accepted");
      CHECK(view.has_accepted == (acc->kind != J_NULL));
      if (view.has_accepted) check_proposal_fields(&view.accepted, acc);
      /* An absent frontier is unknown (has_frontier false), never 0. */
      const jval *frontier = jget(fields, "frontier");
      CHECK(view.has_frontier == (frontier && frontier->kind != J_NULL));
      if (view.has_frontier) CHECK(view.frontier == num(fields, "frontier"));
      CHECK(view.trimmed == (jget(fields, "trimmed") ? num(fields, "trimmed") : 0));
      OK(synodos_promise_to_json(p, &out));
      check_reencoded(&out, encoded, name);
    }
    synodos_promise_free(p);
  } else if (!strcmp(kind, "proposal")) {
    synodos_proposal *p = NULL;
    OK(synodos_proposal_new(&p));
    st = synodos_proposal_from_json(p, in, json->len);
    if (!error) {
      OK(st);
      synodos_proposal_view view;
      OK(synodos_proposal_get(p, &view));
      check_proposal_fields(&view, fields);
      OK(synodos_proposal_to_json(p, &out));
      check_reencoded(&out, encoded, name);
    }
    synodos_proposal_free(p);
  } else if (!strcmp(kind, "batch")) {
    synodos_batch *b = NULL;
    OK(synodos_batch_new(&b));
    st = synodos_batch_from_json(b, in, json->len);
    if (!error) {
      OK(st);
      uint64_t id = 0;
      size_t len = 0;
      OK(synodos_batch_get(b, &id, &len));
      CHECK(id == num(fields, "id"));
      const jval *entries = jget(fields, "entries");
      CHECK(entries && entries->kind == J_ARR && entries->count == len);
      for (size_t i = 0; i < len; i++) {
        synodos_proposal_view e;
        OK(synodos_batch_entry(b, i, &e));
        CHECK(e.id == id && e.slot == num(entries->items[i], "slot"));
        check_value(&e, entries->items[i]);
      }
      synodos_proposal_view past;
      EXPECT_STATUS(synodos_batch_entry(b, len, &past), SYNODOS_ERR_INVALID_ARGUMENT);
      OK(synodos_batch_to_json(b, &out));
      check_reencoded(&out, json, name);
    }
    synodos_batch_free(b);
  } else {
    fprintf(stderr, "%s: unknown kind %s\n", name, kind);
    exit(1);
  }
  if (error) {
    if (st == SYNODOS_OK || strcmp(synodos_status_name(st), error->text)) {
      fprintf(stderr, "%s: status %s, expected %s\n", name, synodos_status_name(st), error->text);
      exit(1);
    }
    CHECK(strlen(synodos_last_error_message()) > 0);
    errors_checked++;
  } else {
    vectors_checked++;
  }
}

static const char *vectors_path = "tests/vectors/messages.json";

static void golden_vectors_round_trip(void) {
  char *text = read_file(vectors_path);
  if (!text) {
    fprintf(stderr, "cannot read %s\n", vectors_path);
    exit(1);
  }
  jval *doc = json_parse(text);
  const jval *vectors = jget(doc, "vectors");
  CHECK(vectors && vectors->kind == J_ARR && vectors->count >= 15);
  for (size_t i = 0; i < vectors->count; i++) one_vector(vectors->items[i]);
  CHECK(vectors_checked + errors_checked == (int)vectors->count);
  CHECK(errors_checked >= 4);
  json_free(doc);
  free(text);
}

static void messages_built_in_c_encode_like_the_vectors(void) {
  synodos_promise *p = NULL;
  OK(synodos_promise_new(&p));
  OK(synodos_promise_set(p, 9, 2, 0));
  synodos_proposal_view acc = {.id = 5, .slot = 2, .value = (const uint8_t *)"hello", .value_len = 5};
  OK(synodos_promise_set_accepted(p, &acc));
  synodos_bytes out = {0};
  OK(synodos_promise_to_json(p, &out));
  CHECK_BYTES(out, "{\"id\":9,\"slot\":2,\"accepted\":{\"id\":5,\"slot\":2,\"value\":\"aGVsbG8=\"}}");
  synodos_bytes_free(&out);
  OK(synodos_promise_set_accepted(p, NULL)); /* clears */
  OK(synodos_promise_to_json(p, &out));
  CHECK_BYTES(out, "{\"id\":9,\"slot\":2}");
  synodos_bytes_free(&out);
  /* A frontier of 0 is sent (it is known); an unknown one is left out. So is trimmed 0. */
  OK(synodos_promise_set_frontier(p, true, 0));
  OK(synodos_promise_to_json(p, &out));
  CHECK_BYTES(out, "{\"id\":9,\"slot\":2,\"frontier\":0}");
  synodos_bytes_free(&out);
  OK(synodos_promise_set_frontier(p, false, 77));
  OK(synodos_promise_set_trimmed(p, 5));
  OK(synodos_promise_to_json(p, &out));
  CHECK_BYTES(out, "{\"id\":9,\"slot\":2,\"trimmed\":5}");
  synodos_bytes_free(&out);
  synodos_promise_view view;
  OK(synodos_promise_get(p, &view));
  CHECK(!view.has_frontier && view.frontier == 0 && view.trimmed == 5);
  EXPECT_STATUS(synodos_promise_set_frontier(NULL, true, 1), SYNODOS_ERR_NULL_POINTER);
  synodos_promise_free(p);

  synodos_request r = {.id = 7, .attempt = 1, .slot = 0};
  OK(synodos_request_to_json(&r, &out));
  CHECK_BYTES(out, "{\"id\":7,\"attempt\":1}");
  synodos_bytes_free(&out);

  /* Not UTF-8: an invalid message, not a crash. */
  const uint8_t bad[] = {'{', 0xff, '}'};
  synodos_request back;
  EXPECT_STATUS(synodos_request_from_json(bad, sizeof bad, &back), SYNODOS_ERR_INVALID_MESSAGE);
}

int main(int argc, char **argv) {
  if (argc > 1) vectors_path = argv[1];
  RUN(golden_vectors_round_trip);
  RUN(messages_built_in_c_encode_like_the_vectors);
  DONE();
}
