/*
 * metainit.c — the syscalls a Node PID 1 needs and Node does not offer, as a small N-API addon.
 *
 * It implements exactly the `Sys` interface of src/pid1/sys.ts (the JS side adds SIGRTMIN from
 * sigrtmin()). Four groups, one file each:
 *
 *   1. plain syscall wrappers (this file): waitpid/peek (never wait(-1): libuv and node-pty own
 *      their children), kill, prctl, reboot, mount, umount2, sethostname, sync, SO_PEERCRED, fds;
 *   2. libuv watchers calling back into JS (watchers.c): signal() (uv_signal, so real-time
 *      signals work, which process.on() does not) and notifySocket() (an AF_UNIX datagram socket
 *      for sd_notify, which Node cannot open), both returning a way to stop them;
 *   3. execve() (exec.c): replace the image now (live re-exec), after clearing FD_CLOEXEC on 0–2
 *      (Node sets it at start-up) and on the descriptors that must survive;
 *   4. armCrashExec() (exec.c): a fatal-signal guard. On SIGSEGV/SIGABRT/SIGBUS/SIGILL/SIGFPE a handler
 *      that only uses async-signal-safe calls re-executes a prepared image, so PID 1 (and with it
 *      every process of its namespace) survives abort(), V8 out-of-memory and native faults.
 *      Everything the handler needs is built beforehand by armCrashExec().
 *
 * Conventions: a failing syscall throws an Error whose `code` is the errno name (`ECHILD`) and
 * whose message reads `<syscall>: <strerror>`; "nothing happened" (child still running, no
 * zombie, no such process for kill) is returned as a value, never thrown. Shared helpers live in
 * napi-util.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#include "napi-util.h"

/* waitpid(pid, WNOHANG) → {pid, code, signal} | null (still running). */
static napi_value m_waitpid(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t pid;
  if (!arg_int(env, args[0], &pid, "waitpid")) return NULL;
  if (pid <= 0) return throw_type(env, "waitpid", "pid must be > 0 (waiting for any child would steal libuv's children)");
  int status;
  pid_t r;
  do r = waitpid(pid, &status, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r < 0) return throw_errno(env, "waitpid", errno);
  if (r == 0) return js_null(env);
  napi_value o;
  napi_create_object(env, &o);
  set_prop(env, o, "pid", js_int(env, r));
  set_prop(env, o, "code", WIFEXITED(status) ? js_int(env, WEXITSTATUS(status)) : js_null(env));
  set_prop(env, o, "signal", WIFSIGNALED(status) ? js_int(env, WTERMSIG(status)) : js_null(env));
  return o;
}

/* waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT) → pid of the oldest zombie | 0 (none) | -1 (no children). */
static napi_value m_peek(napi_env env, napi_callback_info info) {
  siginfo_t si;
  int r;
  memset(&si, 0, sizeof si);
  do r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0) return errno == ECHILD ? js_int(env, -1) : throw_errno(env, "waitid", errno);
  return js_int(env, si.si_pid);
}

/* kill(pid, sig) → true, or false on ESRCH. */
static napi_value m_kill(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t pid, sig;
  if (!arg_int(env, args[0], &pid, "kill") || !arg_int(env, args[1], &sig, "kill")) return NULL;
  if (kill(pid, sig) == 0) return js_bool(env, true);
  if (errno == ESRCH) return js_bool(env, false);
  return throw_errno(env, "kill", errno);
}

static napi_value m_setSubreaper(napi_env env, napi_callback_info info) {
  ARGS(1);
  bool on = false;
  napi_get_value_bool(env, args[0], &on);
  if (prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) < 0) return throw_errno(env, "prctl", errno);
  return NULL;
}

static napi_value m_setName(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *name = arg_str(env, args[0], "prctl");
  if (!name) return NULL;
  int r = prctl(PR_SET_NAME, name, 0, 0, 0), err = errno;
  free(name);
  return r < 0 ? throw_errno(env, "prctl", err) : NULL;
}

/* reboot(cmd): halt/power-off/restart only return (by throwing) when the kernel refuses;
 * RB_ENABLE_CAD / RB_DISABLE_CAD return normally. */
static napi_value m_reboot(napi_env env, napi_callback_info info) {
  ARGS(1);
  int64_t cmd;
  if (!arg_int64(env, args[0], &cmd, "reboot")) return NULL;
  if (reboot((int)(uint32_t)cmd) == 0) return NULL;
  return throw_errno(env, "reboot", errno);
}

static napi_value m_mount(napi_env env, napi_callback_info info) {
  ARGS(5);
  char *source = NULL, *target = NULL, *fstype = NULL, *data = NULL;
  int64_t flags;
  if (arg_str_or_null(env, args[0], &source, "mount") && (target = arg_str(env, args[1], "mount")) &&
      arg_str_or_null(env, args[2], &fstype, "mount") && arg_int64(env, args[3], &flags, "mount") &&
      arg_str_or_null(env, args[4], &data, "mount")) {
    if (mount(source, target, fstype, (unsigned long)flags, data) < 0) throw_errno(env, "mount", errno);
  }
  free(source), free(target), free(fstype), free(data);
  return NULL;
}

static napi_value m_umount2(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t flags;
  char *target = arg_str(env, args[0], "umount2");
  if (!target) return NULL;
  if (arg_int(env, args[1], &flags, "umount2") && umount2(target, flags) < 0) throw_errno(env, "umount2", errno);
  free(target);
  return NULL;
}

static napi_value m_sethostname(napi_env env, napi_callback_info info) {
  ARGS(1);
  char *name = arg_str(env, args[0], "sethostname");
  if (!name) return NULL;
  int r = sethostname(name, strlen(name)), err = errno;
  free(name);
  return r < 0 ? throw_errno(env, "sethostname", err) : NULL;
}

static napi_value m_sync(napi_env env, napi_callback_info info) {
  sync();
  return NULL;
}

/* getsockopt(SO_PEERCRED) → {pid, uid, gid} of the process at the other end of a unix socket,
 * and SO_PEERGROUPS → groups: its supplementary groups as the kernel recorded them at connect
 * (no /proc read: a peer outside our PID namespace has pid 0). groups is absent where the
 * kernel lacks SO_PEERGROUPS (before 4.13). */
static napi_value m_peercred(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (!arg_int(env, args[0], &fd, "getsockopt")) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return throw_errno(env, "getsockopt", errno);
  napi_value o;
  napi_create_object(env, &o);
  set_prop(env, o, "pid", js_int(env, cred.pid));
  set_prop(env, o, "uid", js_int(env, cred.uid));
  set_prop(env, o, "gid", js_int(env, cred.gid));
  gid_t small[64];
  gid_t *groups = small;
  socklen_t glen = sizeof small;
  int r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen);
  if (r < 0 && errno == ERANGE && glen > sizeof small) {
    groups = malloc(glen);
    r = groups ? getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) : -1;
  }
  if (r == 0) {
    napi_value arr;
    size_t n = glen / sizeof(gid_t);
    napi_create_array_with_length(env, n, &arr);
    for (size_t i = 0; i < n; i++) napi_set_element(env, arr, (uint32_t)i, js_int(env, (int64_t)groups[i]));
    set_prop(env, o, "groups", arr);
  }
  if (groups != small) free(groups);
  return o;
}

static int set_cloexec(int fd, bool on) {
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return -1;
  return fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC);
}

static napi_value m_setCloexec(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  bool on = false;
  if (!arg_int(env, args[0], &fd, "fcntl")) return NULL;
  napi_get_value_bool(env, args[1], &on);
  if (set_cloexec(fd, on) < 0) return throw_errno(env, "fcntl", errno);
  return NULL;
}

/* pipe2(O_CLOEXEC) → [readFd, writeFd] */
static napi_value m_pipe(napi_env env, napi_callback_info info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return throw_errno(env, "pipe2", errno);
  napi_value a;
  napi_create_array_with_length(env, 2, &a);
  napi_set_element(env, a, 0, js_int(env, fds[0]));
  napi_set_element(env, a, 1, js_int(env, fds[1]));
  return a;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* close_range(first, last, CLOSE_RANGE_CLOEXEC): one system call for a whole range (Linux 5.11). */
static int cloexec_range(unsigned first, unsigned last) {
#ifdef SYS_close_range
  return (int)syscall(SYS_close_range, first, last, CLOSE_RANGE_CLOEXEC);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* The same by walking /proc/self/fd, for kernels without CLOSE_RANGE_CLOEXEC. */
static int cloexec_walk(const int *keep, size_t nkeep) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || end == e->d_name || fd < 3 || fd == dirfd(dir)) continue;
    bool kept = false;
    for (size_t i = 0; i < nkeep && !kept; i++) kept = keep[i] == fd;
    if (!kept) set_cloexec((int)fd, true); /* EBADF: closed meanwhile, nothing to do */
  }
  closedir(dir);
  return 0;
}

/* Set FD_CLOEXEC on every open fd >= 3 except those in `keep`: close_range over the gaps between
 * the kept fds (a few system calls, whatever the number of open fds — this runs before every
 * spawn), falling back to a walk of /proc/self/fd. */
static napi_value m_cloexecFrom(napi_env env, napi_callback_info info) {
  ARGS(1);
  int *keep;
  size_t nkeep;
  if (!arg_int_array(env, args[0], &keep, &nkeep, "cloexecFrom")) return NULL;
  qsort(keep, nkeep, sizeof *keep, cmp_int);
  unsigned from = 3;
  int r = 0;
  for (size_t i = 0; i < nkeep && r == 0; i++) {
    if (keep[i] < (int)from) continue;
    if ((unsigned)keep[i] > from) r = cloexec_range(from, (unsigned)keep[i] - 1);
    from = (unsigned)keep[i] + 1;
  }
  if (r == 0) r = cloexec_range(from, ~0U);
  if (r < 0 && cloexec_walk(keep, nkeep) < 0) {
    int err = errno;
    free(keep);
    return throw_errno(env, "opendir", err);
  }
  free(keep);
  return NULL;
}

/* Raise RLIMIT_NOFILE, soft and hard, to `want` (capped by /proc/sys/fs/nr_open); returns the
 * soft limit in force afterwards. Without CAP_SYS_RESOURCE the soft limit rises to the hard one. */
static napi_value m_raiseNofile(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t want;
  if (!arg_int(env, args[0], &want, "setrlimit")) return NULL;
  rlim_t cap = (rlim_t)want;
  FILE *f = fopen("/proc/sys/fs/nr_open", "re");
  if (f) {
    unsigned long nr;
    if (fscanf(f, "%lu", &nr) == 1 && nr < cap) cap = nr;
    fclose(f);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return throw_errno(env, "getrlimit", errno);
  if (rl.rlim_cur < cap) {
    struct rlimit up = {cap, rl.rlim_max > cap ? rl.rlim_max : cap};
    if (setrlimit(RLIMIT_NOFILE, &up) < 0) {
      up.rlim_max = rl.rlim_max;
      up.rlim_cur = rl.rlim_max < cap ? rl.rlim_max : cap;
      setrlimit(RLIMIT_NOFILE, &up); /* best effort */
    }
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return throw_errno(env, "getrlimit", errno);
  return js_int(env, (int64_t)rl.rlim_cur);
}

static napi_value m_sigrtmin(napi_env env, napi_callback_info info) {
  return js_int(env, SIGRTMIN);
}

/* ------------------------------------------------------------------------------------------ */
/* Module                                                                                       */
/* ------------------------------------------------------------------------------------------ */

static napi_value init(napi_env env, napi_value exports) {
  exec_module_init();
  const napi_property_descriptor fns[] = {
#define FN(name) {#name, NULL, m_##name, NULL, NULL, NULL, napi_enumerable, NULL}
      FN(waitpid),    FN(peek),         FN(kill),         FN(signal),      FN(setSubreaper), FN(setName),
      FN(reboot),     FN(mount),        FN(umount2),      FN(sethostname), FN(sync),         FN(peercred),
      FN(setCloexec), FN(pipe),         FN(cloexecFrom),  FN(notifySocket), FN(armCrashExec), FN(execve),
      FN(sigrtmin),   FN(raiseNofile),  FN(spawnGroup),   FN(ignoreSignal),
#undef FN
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
