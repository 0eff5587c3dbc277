/* A minimal JSON reader for the golden vectors file (objects, arrays, strings with the
 * usual escapes, numbers kept as text, true/false/null). Test code only. */
#ifndef JSON_MINI_H
#define JSON_MINI_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jkind;

typedef struct jval {
  jkind kind;
  char *text;          /* J_STR: decoded string; J_NUM: the literal; J_BOOL: "true"/"false" */
  size_t len;          /* J_STR: decoded length */
  struct jval **items; /* J_ARR, J_OBJ values */
  char **keys;         /* J_OBJ keys */
  size_t count;
} jval;

static const char *jp;

static void jskip(void) {
  while (*jp && isspace((unsigned char)*jp)) jp++;
}

static jval *jparse(void);

static char *jstring(size_t *out_len) {
  /* at the opening quote */
  jp++;
  size_t cap = 16, n = 0;
  char *s = malloc(cap);
  while (*jp && *jp != '"') {
    char c = *jp++;
    if (c == '\\') {
      char e = *jp++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          char hex[5] = {0};
          memcpy(hex, jp, 4);
          jp += 4;
          c = (char)strtol(hex, NULL, 16); /* the vectors only escape ASCII */
          break;
        }
        default: c = e; break;
      }
    }
    if (n + 1 >= cap) s = realloc(s, cap *= 2);
    s[n++] = c;
  }
  if (*jp == '"') jp++;
  s[n] = 0;
  *out_len = n;
  return s;
}

static jval *jnew(jkind k) {
  jval *v = calloc(1, sizeof *v);
  v->kind = k;
  return v;
}

static void jpush(jval *v, char *key, jval *item) {
  v->items = realloc(v->items, (v->count + 1) * sizeof *v->items);
  v->keys = realloc(v->keys, (v->count + 1) * sizeof *v->keys);
  v->items[v->count] = item;
  v->keys[v->count] = key;
  v->count++;
}

static jval *jparse(void) {
  jskip();
  jval *v;
  if (*jp == '{' || *jp == '[') {
    int obj = *jp == '{';
    char close = obj ? '}' : ']';
    v = jnew(obj ? J_OBJ : J_ARR);
    jp++;
    jskip();
    while (*jp && *jp != close) {
      char *key = NULL;
      if (obj) {
        size_t kl;
        key = jstring(&kl);
        jskip();
        jp++; /* ':' */
      }
      jpush(v, key, jparse());
      jskip();
      if (*jp == ',') jp++;
      jskip();
    }
    if (*jp) jp++;
  } else if (*jp == '"') {
    v = jnew(J_STR);
    v->text = jstring(&v->len);
  } else if (!strncmp(jp, "null", 4)) {
    v = jnew(J_NULL);
    jp += 4;
  } else if (!strncmp(jp, "true", 4) || !strncmp(jp, "false", 5)) {
    v = jnew(J_BOOL);
    v->text = strdup(*jp == 't' ? "true" : "false");
    jp += *jp == 't' ? 4 : 5;
  } else {
    v = jnew(J_NUM);
    const char *start = jp;
    while (*jp && (isdigit((unsigned char)*jp) || strchr("+-.eE", *jp))) jp++;
    v->text = strndup(start, (size_t)(jp - start));
  }
  return v;
}

static jval *json_parse(const char *text) {
  jp = text;
  return jparse();
}

/* The member `key` of an object, or NULL. */
static jval *jget(const jval *obj, const char *key) {
  if (!obj || obj->kind != J_OBJ) return NULL;
  for (size_t i = 0; i < obj->count; i++)
    if (!strcmp(obj->keys[i], key)) return obj->items[i];
  return NULL;
}

static void json_free(jval *v) {
  if (!v) return;
  for (size_t i = 0; i < v->count; i++) {
    json_free(v->items[i]);
    if (v->keys[i]) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->text);
  free(v);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = 0;
  fclose(f);
  return buf;
}

#endif
