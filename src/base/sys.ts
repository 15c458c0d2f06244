/**
 * sys.ts — the ONE seam between metainit and the syscalls Node lacks.
 *
 * Everything that is not plain Node (waitid/waitpid, mount, reboot, prctl, real-time signals,
 * the sd_notify datagram socket, SO_PEERCRED, the crash re-exec guard) goes through the `Sys`
 * interface below. Production code gets it from `realSys()`, which loads the small N-API addon
 * built from native/metainit.c; unit tests pass a strict fake (test/unit/fake-sys.ts) that
 * throws on any call the test did not expect — the idea of dinit's bp_sys layer.
 *
 * Conventions: functions that wrap a syscall throw an Error whose `code` is the errno name
 * (`'ECHILD'`, `'EPERM'` …) and whose message reads `<syscall>: <strerror>`; "nothing to do"
 * results (no zombie, child still running) are returned as values, never thrown.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Result of a successful waitpid/peek on an exited child. */
export interface WaitResult {
  pid: number;
  /** exit code when the child exited normally, else null */
  code: number | null;
  /** signal number when the child was killed by a signal, else null */
  signal: number | null;
}

/** A datagram socket receiving sd_notify messages (READY=1, STATUS=…, MAINPID=…). */
export interface NotifySocket {
  /** filesystem path that goes into NOTIFY_SOCKET */
  readonly path: string;
  /** stop polling, close the fd and unlink the path */
  close(): void;
}

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
  /** supplementary groups (SO_PEERGROUPS), absent on kernels without it */
  groups?: number[];
}

export const RB = {
  HALT: 0xcdef0123,
  POWER_OFF: 0x4321fedc,
  AUTOBOOT: 0x01234567,
  /** Ctrl-Alt-Del sends SIGINT to PID 1 instead of restarting the machine at once */
  DISABLE_CAD: 0,
} as const;

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  REC: 16384,
  PRIVATE: 1 << 18,
} as const;

export const MNT_DETACH = 2;

export interface Sys {
  /** waitpid(pid, WNOHANG): the status if that exact pid has exited, null if still running.
   *  Throws ECHILD if pid is not our child. Never called with pid <= 0. */
  waitpid(pid: number): WaitResult | null;
  /** waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT): pid of the oldest zombie child without reaping it,
   *  0 if there is none, -1 if there are no children at all (ECHILD). */
  peek(): number;
  /** kill(pid, sig); returns false on ESRCH instead of throwing. */
  kill(pid: number, sig: number): boolean;
  /** Install a libuv signal watcher (works for real-time signals too). Returns a stop function. */
  signal(signum: number, cb: (signum: number) => void): () => void;
  /** prctl(PR_SET_CHILD_SUBREAPER, on) */
  setSubreaper(on: boolean): void;
  /** prctl(PR_SET_NAME, name) */
  setName(name: string): void;
  /** reboot(cmd) — RB.HALT / RB.POWER_OFF / RB.AUTOBOOT only return on failure (throw);
   *  RB.DISABLE_CAD returns normally. */
  reboot(cmd: number): void;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount2(target: string, flags: number): void;
  sethostname(name: string): void;
  sync(): void;
  /** getsockopt(fd, SOL_SOCKET, SO_PEERCRED) */
  peercred(fd: number): PeerCred;
  /** fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) */
  setCloexec(fd: number, cloexec: boolean): void;
  /** pipe2(O_CLOEXEC): [readFd, writeFd]. Used for log pipes that outlive one run of a service. */
  pipe(): [number, number];
  /** Set FD_CLOEXEC on every open fd >= 3 except those listed (hygiene at start-up). */
  cloexecFrom(keep: number[]): void;
  /** Create a SOCK_DGRAM AF_UNIX socket bound at path (mode 0666, SO_PASSCRED), polled by libuv;
   *  every datagram is passed to cb as a string, with the sender's pid (SCM_CREDENTIALS). */
  notifySocket(path: string, cb: (msg: string, senderPid: number) => void): NotifySocket;
  /**
   * Arm the fatal-signal guard: on SIGSEGV/SIGABRT/SIGBUS/SIGILL/SIGFPE an async-signal-safe
   * handler clears FD_CLOEXEC on fds 0–2 and on `keepFds`, then execve(path, argv, envp).
   * Calling it again replaces the prepared arguments (the handler stays installed).
   */
  armCrashExec(path: string, argv: string[], envp: string[], keepFds: number[]): void;
  /** execve now (used by `metainit reexec`): clears FD_CLOEXEC on 0–2 and keepFds first.
   *  Only returns by throwing. */
  execve(path: string, argv: string[], envp: string[], keepFds: number[]): never;
  /**
   * Start `path` in its own process group of our session (not a new session, unlike node's
   * detached spawn), signals at their defaults, fds 0–2 kept, in `cwd`; with `foreground` and a
   * terminal on stdin it gets the terminal's foreground. Returns the pid (not a libuv child: its
   * exit comes from the reaper). A failing execve/chdir throws with the errno name as `code`.
   */
  spawnGroup(path: string, argv: string[], envp: string[], cwd: string | null, foreground: boolean): number;
  /** sigaction(signum, SIG_IGN) */
  ignoreSignal(signum: number): void;
  /** raise RLIMIT_NOFILE (soft and hard) to `want`, capped by fs.nr_open; returns the soft limit now */
  raiseNofile(want: number): number;
  /** SIGRTMIN of this libc (34 on glibc). */
  readonly SIGRTMIN: number;
}

interface AddonModule extends Omit<Sys, 'SIGRTMIN'> {
  sigrtmin(): number;
}

let cached: Sys | undefined;

/** Locate and load the addon (build/Release/metainit.node relative to the package root). */
export function realSys(): Sys {
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/src/pid1 → package root is three levels up; src/pid1 (ts-node style) two.
  const candidates = [join(here, '../../../build/Release/metainit.node'), join(here, '../../build/Release/metainit.node')];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`sys: unable to load native addon: build/Release/metainit.node not found (run npm run build:addon)`);
  const require = createRequire(import.meta.url);
  const addon = require(file) as AddonModule;
  cached = Object.assign(Object.create(null) as object, addon, { SIGRTMIN: addon.sigrtmin() }) as Sys;
  return cached;
}
