/*
 * watchers.c — libuv watchers that call back into JS: signal() and notifySocket().
 *
 * signal(signum, cb) uses uv_signal on Node's own loop, so real-time signals (SIGRTMIN+3 …),
 * which process.on() accepts but never delivers, reach JS. notifySocket(path, cb) binds the
 * AF_UNIX datagram socket that NOTIFY_SOCKET names (Node cannot open datagram unix sockets) and
 * hands every sd_notify message, with the sender's pid from SCM_CREDENTIALS, to cb.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "napi-util.h"

/*
 * A watcher owns one libuv handle and one JS callback. It is stopped through a JS function
 * (signal()'s return value, or the notify socket's close()); its memory is freed once libuv has
 * closed the handle AND that JS function was garbage-collected, so a late or repeated stop()
 * call never touches freed memory. A watcher whose stop function is dropped keeps running.
 */
typedef struct watcher {
  union {
    uv_handle_t handle;
    uv_signal_t sig;
    uv_poll_t poll;
  } uv;
  napi_env env;
  napi_ref fn;              /* the JS callback (strong reference) */
  napi_async_context actx;  /* so callbacks run microtasks and nextTicks like any Node callback */
  int fd;                   /* notify socket, or -1 */
  char *path;               /* notify socket path to unlink on close, or NULL */
  bool stopped, closed, finalized;
} watcher;

static watcher *watcher_new(napi_env env, napi_value fn, const char *name) {
  napi_value resource_name;
  watcher *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->env = env;
  w->fd = -1;
  w->uv.handle.data = w;
  napi_create_reference(env, fn, 1, &w->fn);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &w->actx);
  return w;
}

static void watcher_free(watcher *w) {
  free(w->path);
  free(w);
}

static void watcher_on_close(uv_handle_t *h) {
  watcher *w = h->data;
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  w->closed = true;
  if (w->finalized) watcher_free(w);
}

static void watcher_on_finalize(napi_env env, void *data, void *hint) {
  watcher *w = data;
  w->finalized = true;
  if (w->closed) watcher_free(w);
}

/* Stop the watcher: release the callback, close the handle, unlink the socket path. Idempotent. */
static void watcher_stop(watcher *w) {
  if (w->stopped) return;
  w->stopped = true;
  napi_delete_reference(w->env, w->fn);
  napi_async_destroy(w->env, w->actx);
  if (w->path && w->path[0] != '@') unlink(w->path);
  uv_close(&w->uv.handle, watcher_on_close);
}

static napi_value watcher_stop_js(napi_env env, napi_callback_info info) {
  void *data;
  napi_get_cb_info(env, info, NULL, NULL, NULL, &data);
  watcher_stop(data);
  return NULL;
}

/* The JS function that stops `w`; it also owns w's memory (see above). */
static napi_value watcher_stop_fn(napi_env env, watcher *w, const char *name) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, watcher_stop_js, w, &fn);
  napi_add_finalizer(env, fn, w, watcher_on_finalize, NULL, NULL);
  return fn;
}

/* Call the watcher's JS callback (inside a handle scope opened by the caller). An exception it
 * throws is routed to process 'uncaughtException', as for any other Node callback. */
static void watcher_call(watcher *w, size_t argc, napi_value *argv) {
  napi_env env = w->env;
  napi_value fn, recv;
  if (w->stopped) return;
  napi_get_reference_value(env, w->fn, &fn);
  napi_get_global(env, &recv);
  napi_make_callback(env, w->actx, recv, fn, argc, argv, NULL);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

static bool get_loop(napi_env env, uv_loop_t **loop) {
  if (napi_get_uv_event_loop(env, loop) == napi_ok) return true;
  throw_errno(env, "napi_get_uv_event_loop", EINVAL);
  return false;
}

/* signal(signum, cb) → stop(). A libuv signal watcher: works for real-time signals too. Like
 * process.on('SIG…') it does not keep the event loop alive on its own. */
static void on_signal(uv_signal_t *h, int signum) {
  watcher *w = h->data;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  napi_value arg = js_int(w->env, signum);
  watcher_call(w, 1, &arg);
  napi_close_handle_scope(w->env, scope);
}

napi_value m_signal(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t signum;
  uv_loop_t *loop;
  if (!arg_int(env, args[0], &signum, "uv_signal_start") || !get_loop(env, &loop)) return NULL;
  watcher *w = watcher_new(env, args[1], "metainit.signal");
  if (!w) return throw_errno(env, "uv_signal_start", ENOMEM);
  napi_value stop = watcher_stop_fn(env, w, "stop");
  uv_signal_init(loop, &w->uv.sig);
  int r = uv_signal_start(&w->uv.sig, on_signal, signum);
  uv_unref(&w->uv.handle);
  if (r < 0) {
    watcher_stop(w);
    return throw_errno(env, "uv_signal_start", -r);
  }
  return stop;
}

/* notifySocket(path, cb) → {path, close()}. An AF_UNIX datagram socket for sd_notify messages;
 * each datagram is passed to cb(text, senderPid). A path starting with '@' is abstract. */
#define NOTIFY_MAX 4096 /* systemd's limit too: longer messages are truncated */

static void on_notify(uv_poll_t *h, int status, int events) {
  watcher *w = h->data;
  char buf[NOTIFY_MAX];
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(struct ucred))];
  } ctl;
  if (status < 0) return;
  /* Drain every pending datagram; the callback may close the socket, so re-check each time. */
  while (!w->stopped) {
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl};
    ssize_t n = recvmsg(w->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; /* EAGAIN: drained */
    }
    pid_t sender = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        sender = cred.pid;
      }
    }
    napi_handle_scope scope;
    napi_open_handle_scope(w->env, &scope);
    napi_value argv[2];
    napi_create_string_utf8(w->env, buf, (size_t)n, &argv[0]);
    argv[1] = js_int(w->env, sender);
    watcher_call(w, 2, argv);
    napi_close_handle_scope(w->env, scope);
  }
}

napi_value m_notifySocket(napi_env env, napi_callback_info info) {
  ARGS(2);
  uv_loop_t *loop;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  const char *fail = NULL;
  int err = 0, one = 1;
  if (!get_loop(env, &loop)) return NULL;
  char *path = arg_str(env, args[0], "notifySocket");
  if (!path) return NULL;
  size_t len = strlen(path);
  if (len == 0 || len >= sizeof addr.sun_path) {
    free(path);
    return throw_errno(env, "bind", len ? ENAMETOOLONG : EINVAL);
  }
  memcpy(addr.sun_path, path, len);
  bool abstract = path[0] == '@';
  if (abstract) addr.sun_path[0] = '\0';
  socklen_t addrlen = abstract ? (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len) : sizeof addr;

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) fail = "socket", err = errno;
  else if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0) fail = "setsockopt", err = errno;
  else if (!abstract && unlink(path) < 0 && errno != ENOENT) fail = "unlink", err = errno;
  else if (bind(fd, (struct sockaddr *)&addr, addrlen) < 0) fail = "bind", err = errno;
  else if (!abstract && chmod(path, 0666) < 0) fail = "chmod", err = errno;
  if (fail) {
    if (fd >= 0) close(fd);
    free(path);
    return throw_errno(env, fail, err);
  }

  watcher *w = watcher_new(env, args[1], "metainit.notifySocket");
  if (!w) {
    close(fd);
    free(path);
    return throw_errno(env, "notifySocket", ENOMEM);
  }
  w->fd = fd;
  w->path = path;
  int r = uv_poll_init(loop, &w->uv.poll, fd);
  if (r < 0) {
    /* no libuv handle exists: undo by hand */
    napi_delete_reference(env, w->fn);
    napi_async_destroy(env, w->actx);
    close(fd);
    if (!abstract) unlink(path);
    watcher_free(w);
    return throw_errno(env, "uv_poll_init", -r);
  }
  napi_value result, jspath, close_fn = watcher_stop_fn(env, w, "close");
  r = uv_poll_start(&w->uv.poll, UV_READABLE, on_notify);
  if (r < 0) {
    watcher_stop(w);
    return throw_errno(env, "uv_poll_start", -r);
  }
  napi_create_object(env, &result);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &jspath);
  set_prop(env, result, "path", jspath);
  set_prop(env, result, "close", close_fn);
  return result;
}
