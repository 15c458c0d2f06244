/*
 * exec.c — replacing the running image: execve() now, the fatal-signal re-exec guard, and
 * spawnGroup(): starting a program in its own process group of metainit's session (the
 * container's main, as tini starts its child), which node's spawn cannot do (it offers setsid).
 *
 * execve(path, argv, envp, keepFds) is the live re-exec (`metainit reexec`). armCrashExec() arms
 * a handler for SIGSEGV/SIGABRT/SIGBUS/SIGILL/SIGFPE that performs the same execve from inside the
 * signal handler, so that abort(), a V8 out-of-memory or a native fault re-executes PID 1 in
 * place (same pid: every child stays ours) instead of ending it and its whole namespace.
 *
 * Both first clear FD_CLOEXEC on fds 0–2 (Node sets it at start-up: the new image would otherwise
 * start with stdio on nothing) and on the descriptors to keep. The handler may only make
 * async-signal-safe calls, so everything it needs (path, argv, envp arrays, the fds) is prepared
 * in advance, outside any handler, by armCrashExec.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "napi-util.h"

/*
 * An exec image: path, NULL-terminated argv and envp, and the fds whose FD_CLOEXEC must be
 * cleared — all in ONE malloc'd block, prepared outside any signal handler.
 */
typedef struct exec_image {
  char *path;
  char **argv;
  char **envp;
  int *keep;
  size_t nkeep;
} exec_image;

/* Collect a JS string array's elements (lengths and values) for image_build. */
static bool string_array(napi_env env, napi_value arr, napi_value **out, uint32_t *n, size_t *bytes) {
  *out = NULL;
  if (napi_get_array_length(env, arr, n) == napi_ok && (*out = calloc(*n + 1, sizeof **out)) != NULL) {
    uint32_t i;
    size_t len;
    for (i = 0; i < *n; i++) {
      napi_get_element(env, arr, i, &(*out)[i]);
      if (napi_get_value_string_utf8(env, (*out)[i], NULL, 0, &len) != napi_ok) break;
      *bytes += len + 1;
    }
    if (i == *n) return true;
  }
  free(*out);
  *out = NULL;
  throw_type(env, "execve", "argv and envp must be arrays of strings");
  return false;
}

/* Copy JS strings into the block at *cursor, filling the NULL-terminated pointer array `ptrs`. */
static void copy_strings(napi_env env, napi_value *vals, uint32_t n, char **ptrs, char **cursor) {
  for (uint32_t i = 0; i < n; i++) {
    size_t len;
    napi_get_value_string_utf8(env, vals[i], NULL, 0, &len);
    napi_get_value_string_utf8(env, vals[i], *cursor, len + 1, &len);
    ptrs[i] = *cursor;
    *cursor += len + 1;
  }
  ptrs[n] = NULL;
}

/* Build an image from JS (path, argv[], envp[], keepFds[]); NULL with a pending exception. */
static exec_image *image_build(napi_env env, napi_value *args) {
  napi_value *av = NULL, *ev = NULL;
  uint32_t na = 0, ne = 0;
  int *keep = NULL;
  size_t nkeep = 0, bytes = 0, plen;
  exec_image *img = NULL;
  if (napi_get_value_string_utf8(env, args[0], NULL, 0, &plen) != napi_ok) {
    throw_type(env, "execve", "path must be a string");
    return NULL;
  }
  bytes += plen + 1;
  if (!string_array(env, args[1], &av, &na, &bytes)) goto out;
  if (!string_array(env, args[2], &ev, &ne, &bytes)) goto out;
  if (!arg_int_array(env, args[3], &keep, &nkeep, "execve")) goto out;

  size_t head = sizeof *img + (na + 1 + ne + 1) * sizeof(char *) + nkeep * sizeof(int);
  img = malloc(head + bytes);
  if (!img) {
    throw_errno(env, "execve", ENOMEM);
    goto out;
  }
  img->argv = (char **)(img + 1);
  img->envp = img->argv + na + 1;
  img->keep = (int *)(img->envp + ne + 1);
  img->nkeep = nkeep;
  if (nkeep) memcpy(img->keep, keep, nkeep * sizeof(int));
  char *cursor = (char *)img + head;
  img->path = cursor;
  napi_get_value_string_utf8(env, args[0], cursor, plen + 1, &plen);
  cursor += plen + 1;
  copy_strings(env, av, na, img->argv, &cursor);
  copy_strings(env, ev, ne, img->envp, &cursor);
out:
  free(av), free(ev), free(keep);
  return img;
}

static sigset_t empty_mask; /* filled by exec_module_init; sigprocmask itself is async-signal-safe */

void exec_module_init(void) {
  sigemptyset(&empty_mask);
}

/* Async-signal-safe: let 0–2 and the kept fds survive, unblock every signal (the mask survives
 * execve, and a crash may happen with signals blocked), then execve. Returns errno on failure. */
static int image_exec(const exec_image *img) {
  for (int fd = 0; fd < 3; fd++) fcntl(fd, F_SETFD, 0);
  for (size_t i = 0; i < img->nkeep; i++) fcntl(img->keep[i], F_SETFD, 0);
  sigprocmask(SIG_SETMASK, &empty_mask, NULL);
  execve(img->path, img->argv, img->envp);
  return errno;
}

/* execve(path, argv, envp, keepFds): only returns by throwing. */
napi_value m_execve(napi_env env, napi_callback_info info) {
  ARGS(4);
  exec_image *img = image_build(env, args);
  if (!img) return NULL;
  int err = image_exec(img);
  free(img);
  return throw_errno(env, "execve", err);
}

/*
 * spawnGroup(path, argv, envp, cwd|null, foreground) → pid. The child gets every signal back to
 * its default action and an empty mask, its own process group, and — with `foreground` when
 * stdin is a terminal — the terminal's foreground (so ^C and ^Z reach it, as under tini), then
 * chdir and execve with fds 0–2 kept. Signals are blocked across fork so that no handler of
 * node's runs in the child. A failing chdir or execve comes back over a close-on-exec pipe and
 * is thrown with its errno name as `code` (ENOENT, EACCES, ENOEXEC …); the child is reaped here.
 */
napi_value m_spawnGroup(napi_env env, napi_callback_info info) {
  ARGS(5);
  napi_value img_args[4] = {args[0], args[1], args[2], NULL};
  napi_create_array(env, &img_args[3]);
  exec_image *img = image_build(env, img_args);
  if (!img) return NULL;
  char *cwd = NULL;
  bool fg = false;
  if (!arg_str_or_null(env, args[3], &cwd, "spawnGroup") || napi_get_value_bool(env, args[4], &fg) != napi_ok) {
    free(img);
    free(cwd);
    return cwd ? throw_type(env, "spawnGroup", "foreground must be a boolean") : NULL;
  }
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    int e = errno;
    free(img), free(cwd);
    return throw_errno(env, "pipe2", e);
  }
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
      if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, NULL);
    setpgid(0, 0);
    if (fg && isatty(0)) tcsetpgrp(0, getpid()); /* SIGTTOU is still blocked here */
    int report[2] = {0, 0};
    if (cwd && chdir(cwd) != 0) {
      report[1] = errno;
    } else {
      report[0] = 1;
      report[1] = image_exec(img);
    }
    ssize_t w = write(pfd[1], report, sizeof report);
    (void)w;
    _exit(127);
  }
  int fork_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(pfd[1]);
  free(img), free(cwd);
  if (pid < 0) {
    close(pfd[0]);
    return throw_errno(env, "fork", fork_err);
  }
  setpgid(pid, pid); /* both sides, as shells do; fails harmlessly once the child has exec'd */
  int report[2];
  ssize_t n;
  do n = read(pfd[0], report, sizeof report);
  while (n < 0 && errno == EINTR);
  close(pfd[0]);
  if (n == (ssize_t)sizeof report) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return throw_errno(env, report[0] ? "execve" : "chdir", report[1]);
  }
  return js_int(env, pid);
}

/* ignoreSignal(signum): SIG_IGN, e.g. SIGTTIN/SIGTTOU for a PID 1 not in the terminal's foreground. */
napi_value m_ignoreSignal(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t sig;
  if (!arg_int(env, args[0], &sig, "ignoreSignal")) return NULL;
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  if (sigaction(sig, &ign, NULL) != 0) return throw_errno(env, "sigaction", errno);
  return NULL;
}

/*
 * The crash guard. Two slots hold prepared images; `crash_current` points at the armed one and
 * is swapped atomically. Re-arming builds into the other slot, so a handler that already loaded
 * the current image keeps valid memory (only a third arm during one handler run could free it,
 * which would need two re-arms within the microseconds an execve takes).
 */
static exec_image *crash_slots[2];
static exec_image *crash_current;
static bool crash_installed;
static const int crash_signals[] = {SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE};

/* V8's WebAssembly trap handler: Node installs it as its SIGSEGV handler, which ours replaces,
 * so ours asks V8 first (a wasm out-of-bounds access must become a JS exception, not a re-exec). */
typedef bool (*wasm_trap_fn)(int, siginfo_t *, void *);
static wasm_trap_fn v8_wasm_trap;

static char crash_altstack[64 * 1024]; /* lets the handler run after a native stack overflow */

static void crash_handler(int sig, siginfo_t *si, void *uctx) {
  int saved = errno;
  if (sig == SIGSEGV && v8_wasm_trap && v8_wasm_trap(sig, si, uctx)) {
    errno = saved;
    return;
  }
  /* A fault signal sent with kill() is not a fault: ignore it, as the kernel does for PID 1. */
  if (sig != SIGABRT && si && si->si_code <= 0) {
    errno = saved;
    return;
  }
  exec_image *img = __atomic_load_n(&crash_current, __ATOMIC_ACQUIRE);
  if (img) image_exec(img);
  /* Not armed or execve failed: die the default way. Returning re-runs the faulting instruction,
   * and glibc's abort() raises again, both now with the default action. */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
  errno = saved;
}

static void crash_install(void) {
  stack_t old, ss = {.ss_sp = crash_altstack, .ss_size = sizeof crash_altstack, .ss_flags = 0};
  if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) sigaltstack(&ss, NULL);
  v8_wasm_trap = (wasm_trap_fn)dlsym(RTLD_DEFAULT, "_ZN2v829TryHandleWebAssemblyTrapPosixEiP9siginfo_tPv");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = crash_handler;
  /* SA_NODEFER: the signal is not blocked while the handler runs, so the new image does not
   * inherit it blocked. No SA_RESETHAND: the handler stays for the next crash of this image. */
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) sigaction(crash_signals[i], &sa, NULL);
  crash_installed = true;
}

/* armCrashExec(path, argv, envp, keepFds): prepare (or replace) the image, install the handler. */
napi_value m_armCrashExec(napi_env env, napi_callback_info info) {
  ARGS(4);
  exec_image *img = image_build(env, args);
  if (!img) return NULL;
  int slot = __atomic_load_n(&crash_current, __ATOMIC_ACQUIRE) == crash_slots[0] ? 1 : 0;
  free(crash_slots[slot]); /* the image armed two calls ago: no longer current */
  crash_slots[slot] = img;
  __atomic_store_n(&crash_current, img, __ATOMIC_RELEASE);
  if (!crash_installed) crash_install();
  return NULL;
}
