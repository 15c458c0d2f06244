/*
 * napi-util.c — errors and argument helpers shared by the parts of the addon (see napi-util.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "napi-util.h"

napi_value throw_errno(napi_env env, const char *syscall, int err) {
  char msg[256];
  const char *name = strerrorname_np(err);
  snprintf(msg, sizeof msg, "%s: %s", syscall, strerror(err));
  napi_throw_error(env, name ? name : "EUNKNOWN", msg);
  return NULL;
}

napi_value throw_type(napi_env env, const char *fn, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", fn, what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

bool arg_int(napi_env env, napi_value v, int32_t *out, const char *fn) {
  if (napi_get_value_int32(env, v, out) == napi_ok) return true;
  throw_type(env, fn, "expected a number");
  return false;
}

bool arg_int64(napi_env env, napi_value v, int64_t *out, const char *fn) {
  if (napi_get_value_int64(env, v, out) == napi_ok) return true;
  throw_type(env, fn, "expected a number");
  return false;
}

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

/* A malloc'd copy of a JS string (NULL with a pending TypeError if it is not a string). */
char *arg_str(napi_env env, napi_value v, const char *fn) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_type(env, fn, "expected a string");
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    throw_errno(env, fn, ENOMEM);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* Like arg_str, but null/undefined give *out = NULL. Returns false on a type error. */
bool arg_str_or_null(napi_env env, napi_value v, char **out, const char *fn) {
  *out = NULL;
  if (is_nullish(env, v)) return true;
  *out = arg_str(env, v, fn);
  return *out != NULL;
}

/* A malloc'd int array from a JS array of numbers (*out may be NULL when n == 0). */
bool arg_int_array(napi_env env, napi_value v, int **out, size_t *n, const char *fn) {
  uint32_t len;
  *out = NULL;
  *n = 0;
  if (napi_get_array_length(env, v, &len) != napi_ok) {
    throw_type(env, fn, "expected an array of numbers");
    return false;
  }
  if (len == 0) return true;
  int *a = calloc(len, sizeof *a);
  if (!a) {
    throw_errno(env, fn, ENOMEM);
    return false;
  }
  for (uint32_t i = 0; i < len; i++) {
    napi_value el;
    int32_t x;
    napi_get_element(env, v, i, &el);
    if (!arg_int(env, el, &x, fn)) {
      free(a);
      return false;
    }
    a[i] = x;
  }
  *out = a;
  *n = len;
  return true;
}

napi_value js_int(napi_env env, int64_t x) {
  napi_value v;
  napi_create_int64(env, x, &v);
  return v;
}

napi_value js_null(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

napi_value js_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

void set_prop(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}
