/**
 * harness.ts — boot the built metainit as PID 1 of a fresh PID + mount namespace and drive it
 * the way a user would: only through the CLI, plus /proc read from the host.
 *
 * Model. One `bootNs()` is one throw-away machine:
 *
 *   unshare --pid --fork --kill-child --mount --propagation private --mount-proc \
 *     sh -c 'mount -t tmpfs tmpfs /run && mkdir /run/test && mount --bind SCRATCH /run/test &&
 *            exec node bin/run.js boot --config-dir DIR --socket SCRATCH/control.sock …'
 *
 * exactly like examples/demo.sh, plus a scratch directory: a fresh host directory (mkdtemp) that
 * the namespace sees as /run/test. Case configurations (test/ns/cases/<case>/) are static files
 * that write what the tests inspect (start times, TERM records) under /run/test, and the test
 * reads it from the host through `scratch` — also after the namespace is gone. test/ns/helpers
 * is copied there too (/run/test/helpers inside), so cases share scripts instead of repeating
 * them. PID 1's console (stdout + stderr) goes to SCRATCH/console.log.
 *
 * The namespace's processes are visible on the host: its PID 1 is the child of the unshare
 * process (found in /proc/<unshare>/task/∗/children), everything else descends from it.
 *
 * Nothing may outlive a test: `--kill-child` makes the namespace PID 1 die with unshare,
 * cleanup() SIGKILLs the namespace PID 1 when it is still alive, and a process 'exit' hook
 * SIGKILLs every unshare still running if mocha itself goes away early.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceStatus } from '../../src/base/states.js';

/** the repository (this file runs as dist/test/ns/harness.js) */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const CASES = join(REPO, 'test/ns/cases');
export const RUN_JS = join(REPO, 'bin/run.js');
/** test/ns/helpers, copied into every scratch directory: /run/test/helpers inside */
const HELPERS = join(REPO, 'test/ns/helpers');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ManagerStatus {
  pid: number;
  mode: string;
  uptime: number;
  reaped: number;
  version: string;
}

export interface StatusResult {
  manager: ManagerStatus;
  services: ServiceStatus[];
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process of the namespace as the host sees it. */
export interface HostProc {
  pid: number;
  ppid: number;
  /** R, S, D, Z … */
  state: string;
  comm: string;
}

export interface BootOptions {
  /** a folder name under test/ns/cases */
  caseDir?: string;
  /** or any configuration directory */
  configDir?: string;
  /** more arguments for `metainit boot` */
  extraArgs?: string[];
  /** more environment for PID 1 (e.g. METAINIT_INJECT_FAULT) */
  env?: Record<string, string>;
  /** how long to wait for the control socket to answer (ms) */
  bootTimeoutMs?: number;
  /** a network namespace of its own too (only `lo`, up): hosted daemons never listen on the host's network */
  net?: boolean;
  /** RLIMIT_NOFILE (soft and hard) for PID 1: descriptors run out on purpose (EMFILE) */
  nofile?: number;
}

export interface Ns {
  /** control socket (a host path, the same inside the namespace) */
  sock: string;
  /** host directory the namespace sees as /run/test */
  scratch: string;
  /** pid of the unshare process on the host */
  pidOnHost: number;
  /** host pid of the namespace's PID 1 */
  pid1: number;
  /** PID 1's console so far */
  console(): string;
  /** a client command against this metainit (`--socket` appended) */
  cli(args: string[]): Promise<CliResult>;
  /** `status --json`, parsed; throws when metainit does not answer */
  statusAll(): Promise<StatusResult>;
  /** the services of `status --json` */
  status(): Promise<ServiceStatus[]>;
  /** one service by id or name; throws when absent */
  service(name: string): Promise<ServiceStatus>;
  /** poll `cond` until it holds; throws naming `what` after `timeoutMs` */
  waitFor(cond: () => boolean | Promise<boolean>, timeoutMs?: number, what?: string): Promise<void>;
  /** resolves when unshare ends (the namespace is gone) */
  exited: Promise<Exit>;
  /** `exited`, or an error after `timeoutMs` */
  waitExit(timeoutMs?: number): Promise<Exit>;
  /** is unshare still running? */
  alive(): boolean;
  /** send a signal to the namespace PID 1 */
  kill(sig: NodeJS.Signals): void;
  /** the namespace's processes (PID 1 and its descendants, zombies included) */
  procs(): HostProc[];
  /** read a file of the scratch directory ('' when absent) */
  read(name: string): string;
  /** end the namespace if still alive, remove the scratch directory */
  cleanup(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** The environment every node we start gets: the caller's, without NODE_EXTRA_CA_CERTS. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra, NO_COLOR: '1' };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.METAINIT_SOCKET;
  return env;
}

/** Run the CLI (`node bin/run.js ARGS`) and collect its output and exit code. */
export function metainit(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((done) => {
    execFile(process.execPath, [RUN_JS, ...args], { env: cleanEnv(env), timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `cond` holds. Deadlines are generous: they catch "never", they do not measure speed. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'the condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`harness: unable to see ${what} within ${timeoutMs} ms${why}`);
    }
    await sleep(100);
  }
}

/** Every process on the host, from /proc/∗/stat (zombies included). */
export function hostProcs(): HostProc[] {
  const out: HostProc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      out.push({ pid: Number(name), ppid: Number(f[1]), state: f[0] ?? '?', comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** `root` and its descendants. */
export function descendants(root: number, procs = hostProcs()): HostProc[] {
  const children = new Map<number, HostProc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const self = procs.find((p) => p.pid === root);
  const out: HostProc[] = self ? [self] : [];
  const todo = [...(children.get(root) ?? [])];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** Children of a process, from every thread's children list. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const list = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (list) out.push(...list.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** Boot metainit as PID 1 of a new namespace; resolves once its control socket answers. */
export async function bootNs(opts: BootOptions): Promise<Ns> {
  const configDir = opts.configDir ?? (opts.caseDir ? join(CASES, opts.caseDir) : undefined);
  if (!configDir || !existsSync(configDir)) throw new Error(`harness: unable to boot: no configuration directory ${configDir ?? '(none given)'}`);
  const scratch = mkdtempSync(join(tmpdir(), 'metainit-ns-'));
  cpSync(HELPERS, join(scratch, 'helpers'), { recursive: true });
  const sock = join(scratch, 'control.sock');
  const consoleFile = join(scratch, 'console.log');
  const consoleFd = openSync(consoleFile, 'a');
  const script =
    (opts.net ? 'ip link set lo up && ' : '') +
    'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/test && mount --bind "$0" /run/test && ' +
    'run=$1 dir=$2 sock=$3 && shift 3 && exec node "$run" boot --config-dir "$dir" --socket "$sock" "$@"';
  const unshare = ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc', ...(opts.net ? ['--net'] : []), 'sh', '-c', script, scratch, RUN_JS, configDir, sock, ...(opts.extraArgs ?? [])];
  const argv = opts.nofile !== undefined ? ['prlimit', `--nofile=${opts.nofile}:${opts.nofile}`, ...unshare] : unshare;
  const child = spawn(
    argv[0]!,
    argv.slice(1),
    { stdio: ['ignore', consoleFd, consoleFd], env: cleanEnv(opts.env), cwd: REPO },
  );
  closeSync(consoleFd);
  live.add(child);
  const exited = new Promise<Exit>((r) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      r({ code, signal });
    }),
  );
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const pidOnHost = child.pid!;
  const consoleText = (): string => (existsSync(consoleFile) ? readFileSync(consoleFile, 'utf8') : '');
  let pid1 = 0;

  const cli = (args: string[]): Promise<CliResult> => metainit([...args, '--socket', sock]);
  const statusAll = async (): Promise<StatusResult> => {
    const r = await cli(['status', '--json']);
    if (r.code !== 0) throw new Error(`harness: unable to get status: exit ${r.code}: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as StatusResult;
  };
  const status = async (): Promise<ServiceStatus[]> => (await statusAll()).services;
  const service = async (name: string): Promise<ServiceStatus> => {
    const all = await status();
    const s = all.find((x) => x.id === name || x.name === name);
    if (!s) throw new Error(`harness: unable to find service ${name} in status: ${all.map((x) => x.id).join(' ')}`);
    return s;
  };

  const ns: Ns = {
    sock,
    scratch,
    pidOnHost,
    get pid1() {
      return pid1;
    },
    console: consoleText,
    cli,
    statusAll,
    status,
    service,
    waitFor,
    exited,
    async waitExit(timeoutMs = 60_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`harness: unable to see the namespace end within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([exited, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    alive,
    kill(sig) {
      if (!pid1) throw new Error('harness: unable to signal PID 1: not found');
      process.kill(pid1, sig);
    },
    procs: () => (pid1 ? descendants(pid1) : []),
    read(name) {
      const p = join(scratch, name);
      return existsSync(p) ? readFileSync(p, 'utf8') : '';
    },
    async cleanup() {
      if (alive()) {
        const inner = pid1 || childrenOf(pidOnHost)[0];
        if (inner) {
          try {
            process.kill(inner, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await Promise.race([exited, sleep(5000)]);
        if (alive()) child.kill('SIGKILL');
        await Promise.race([exited, sleep(2000)]);
      }
      rmSync(scratch, { recursive: true, force: true });
    },
  };

  const until = Date.now() + (opts.bootTimeoutMs ?? 30_000);
  for (;;) {
    pid1 ||= childrenOf(pidOnHost)[0] ?? 0;
    if (pid1 !== 0 && existsSync(sock) && (await cli(['status', '--json'])).code === 0) return ns;
    if (!alive() || Date.now() > until) {
      const why = alive() ? 'its control socket did not answer in time' : `unshare ended (${JSON.stringify(await exited)})`;
      const text = consoleText();
      await ns.cleanup();
      throw new Error(`harness: unable to boot metainit with ${configDir}: ${why}\n--- PID 1 console ---\n${text}`);
    }
    await sleep(100);
  }
}

/** The exit status as a shell prints it: the code, or 128 + the signal number. */
export function shellStatus(e: Exit): number {
  if (e.code !== null) return e.code;
  return 128 + ((osConstants.signals as Record<string, number>)[e.signal ?? ''] ?? 0);
}
