/*
 * napi-util.h — what the parts of the metainit addon share: turning errno into JS errors,
 * reading arguments, building results, and the entry points each part contributes to the
 * module (metainit.c puts them together).
 */
#ifndef METAINIT_NAPI_UTIL_H
#define METAINIT_NAPI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <node_api.h>

/* Throw `Error("<syscall>: <strerror>")` with `code` = the errno name. Returns NULL for chaining. */
napi_value throw_errno(napi_env env, const char *syscall, int err);
/* Throw a TypeError "<fn>: <what>" with code ERR_INVALID_ARG_TYPE. Returns NULL. */
napi_value throw_type(napi_env env, const char *fn, const char *what);

/* Fetch up to N arguments into `args` (missing ones read as undefined). */
#define ARGS(N)                       \
  size_t argc = (N);                  \
  napi_value args[(N) > 0 ? (N) : 1]; \
  napi_get_cb_info(env, info, &argc, args, NULL, NULL)

/* Argument readers: false (or NULL) with a pending TypeError when the value has the wrong type.
 * Strings and arrays are malloc'd copies the caller frees. */
bool arg_int(napi_env env, napi_value v, int32_t *out, const char *fn);
bool arg_int64(napi_env env, napi_value v, int64_t *out, const char *fn);
char *arg_str(napi_env env, napi_value v, const char *fn);
bool arg_str_or_null(napi_env env, napi_value v, char **out, const char *fn);
bool arg_int_array(napi_env env, napi_value v, int **out, size_t *n, const char *fn);

napi_value js_int(napi_env env, int64_t x);
napi_value js_null(napi_env env);
napi_value js_bool(napi_env env, bool b);
void set_prop(napi_env env, napi_value obj, const char *key, napi_value v);

/* watchers.c */
napi_value m_signal(napi_env env, napi_callback_info info);
napi_value m_notifySocket(napi_env env, napi_callback_info info);

/* exec.c */
void exec_module_init(void);
napi_value m_execve(napi_env env, napi_callback_info info);
napi_value m_armCrashExec(napi_env env, napi_callback_info info);
napi_value m_spawnGroup(napi_env env, napi_callback_info info);
napi_value m_ignoreSignal(napi_env env, napi_callback_info info);

#endif
