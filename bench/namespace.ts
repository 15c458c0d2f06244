/**
 * namespace.ts — run a command as PID 1 of a throw-away PID namespace, and metainit in one.
 *
 * Model. Every process under test runs as
 *
 *   unshare --pid --fork --kill-child --mount --propagation private --mount-proc \
 *     sh -c 'mount -t tmpfs -o mode=755 tmpfs /run && exec "$@"' sh CMD…
 *
 * so it is PID 1 of a new PID namespace with private mounts and its own /run (examples/demo.sh
 * does the same). The namespace's PID 1 is found from the host as the only child of `unshare`.
 * Ending it is SIGKILL to that pid: the kernel then kills everything in the namespace, and
 * --kill-child covers the case where the benchmark dies first. Every namespace started here is
 * also killed when the benchmark process exits, however it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Client } from '../src/services-api/client.js';
import { childrenOf, innerPid } from './hostproc.js';
import { cleanEnv, RUN_JS, sleep, waitFor } from './util.js';

const UNSHARE = ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc'];
const IN_NS = ['sh', '-c', 'mount -t tmpfs -o mode=755 tmpfs /run && exec "$@"', 'sh'];

export interface Namespace {
  /** host pid of the namespace's PID 1 */
  pid1: number;
  /** Date.now() just before unshare was spawned */
  spawnedAt: number;
  /** file with PID 1's stdout and stderr */
  consoleFile: string;
  /** SIGKILL PID 1 (ending the namespace) and wait for unshare to exit */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function killLeftovers(): void {
  for (const cp of live) if (cp.pid !== undefined) for (const p of childrenOf(cp.pid)) safeKill(p);
}
function safeKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** The command line a namespace runs (for the "exact commands" part of the report). */
export function nsCommandLine(cmd: string[]): string {
  return [...UNSHARE, 'sh', '-c', `'mount -t tmpfs -o mode=755 tmpfs /run && exec "$@"'`, 'sh', ...cmd].join(' ');
}

/** Start `cmd` as PID 1 of a new namespace; resolves once PID 1 has exec'd `cmd[0]` (its comm is no longer `sh`). */
export async function startNamespace(cmd: string[], consoleFile: string): Promise<Namespace> {
  if (!hooked) {
    hooked = true;
    process.on('exit', killLeftovers);
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => process.exit(130));
  }
  const out = openSync(consoleFile, 'a');
  const spawnedAt = Date.now();
  const [bin, ...args] = [...UNSHARE, ...IN_NS, ...cmd] as [string, ...string[]];
  const cp = spawn(bin, args, { stdio: ['ignore', out, out], env: cleanEnv() });
  closeSync(out);
  live.add(cp);
  const exited = new Promise<void>((r) => cp.once('exit', () => r()));
  void exited.then(() => live.delete(cp));
  const pid1 = await waitFor(
    `PID 1 of the namespace running ${cmd[0]}`,
    () => {
      if (cp.exitCode !== null || cp.signalCode !== null) throw new Error(`bench: unable to start ${cmd[0]} as PID 1: unshare exited (${cp.exitCode ?? cp.signalCode}); console:\n${readFileSync(consoleFile, 'utf8')}`);
      const pid = childrenOf(cp.pid!)[0];
      if (pid === undefined) return undefined;
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sh' ? pid : undefined; // exec'd past the mount
      } catch {
        return undefined;
      }
    },
    10_000,
    2,
  );
  if (innerPid(pid1) !== 1) throw new Error(`bench: unable to find PID 1 of the namespace: pid ${pid1} is not PID 1 inside it`);
  return {
    pid1,
    spawnedAt,
    consoleFile,
    async kill() {
      safeKill(pid1);
      await Promise.race([exited, sleep(5000)]);
      if (cp.exitCode === null && cp.signalCode === null) safeKill(cp.pid!);
    },
  };
}

export interface MetainitNs extends Namespace {
  socket: string;
  /** a new API connection */
  client(): Promise<Client>;
}

/** `metainit boot --config-dir CONFIG --socket WORKDIR/control.sock` as PID 1 (console in WORKDIR/console.log); resolves once the API answers. */
export async function startMetainit(configDir: string, workDir: string): Promise<MetainitNs> {
  const socket = join(workDir, 'control.sock');
  const ns = await startNamespace(metainitCmd(configDir, socket), join(workDir, 'console.log'));
  try {
    await waitFor(
      `the control socket ${socket}`,
      async () => {
        if (!existsSync(socket)) return undefined;
        try {
          const c = await connect(socket);
          await c.call('status', {});
          c.close();
          return true;
        } catch {
          return undefined;
        }
      },
      15_000,
      10,
    );
  } catch (e) {
    await ns.kill();
    throw new Error(`${(e as Error).message}; console:\n${readFileSync(ns.consoleFile, 'utf8')}`);
  }
  return { ...ns, socket, client: () => connect(socket) };
}

export function metainitCmd(configDir: string, socket: string): string[] {
  return ['node', RUN_JS, 'boot', '--config-dir', configDir, '--socket', socket];
}
