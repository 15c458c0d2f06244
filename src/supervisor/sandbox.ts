/**
 * sandbox.ts — what an instance's `root:` tree is given before its init runs, and taken back
 * when it stops.
 *
 * A hosted init expects the API filesystems a container manager provides. For a root other than
 * the host's, `prepareSandbox` mounts, in metainit's own mount namespace and only on DIR's
 * sub-directories:
 *
 *   DIR/proc   a recursive bind of metainit's /proc (same PID namespace: `ps`, `sv`, pidfiles work)
 *   DIR/sys    a recursive bind of /sys, every mount of it READ-ONLY (per mount point, never the
 *              superblock): a hosted init can read the machine's devices and cgroups but create
 *              no cgroup, set no sysctl and write no attribute on the machine
 *   DIR/dev    a recursive bind of /dev (incl. /dev/pts, /dev/shm)
 *   DIR/run    a fresh tmpfs (mode 0755) — runtime state of the hosted init never lands in DIR
 *   DIR/tmp    a fresh tmpfs (mode 1777)
 *
 * Nothing under DIR/etc is written. Several instances may share one root: the mounts are made
 * once and counted; the last `release()` unmounts them (lazily, in reverse order), so nothing of
 * the sandbox outlives the instances on the machine. An init that needs more (systemd: its own
 * namespaces, /dev and cgroup) builds on these helpers in its adapter.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MNT_DETACH, MS, type Sys } from '../base/sys.js';
import type { Logger } from '../base/types.js';
import { isHostRoot } from './rootfs.js';

/** What the layer above does on a root's sandbox (the manager: the policy-rc.d in the root's /run). */
export interface RootHooks {
  /** the root's API filesystems are in place, nothing of the root runs yet */
  ready(root: string): void;
  /** the last instance of the root is done; its mounts go next */
  releasing(root: string): void;
}

export const NO_ROOT_HOOKS: RootHooks = { ready: () => undefined, releasing: () => undefined };

export interface Sandbox {
  readonly root: string;
  /** give the root back: the last release of a shared root unmounts what was mounted */
  release(): void;
}

/** The sandbox of an instance that has not started (or runs on the host root): nothing to release. */
export const NO_SANDBOX: Sandbox = { root: '/', release: () => undefined };

interface Prepared {
  users: number;
  hooks: RootHooks;
  /** mount points made here, in the order they were made */
  mounts: string[];
}

const prepared = new Map<string, Prepared>();

/** One line of /proc/self/mountinfo: mount point and per-mount options. */
export interface MountEntry {
  target: string;
  options: string[];
}

/** Mount points of /proc/self/mountinfo (octal escapes such as \040 decoded). */
export function readMountInfo(text?: string): MountEntry[] {
  let raw = text;
  if (raw === undefined) {
    try {
      raw = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return [];
    }
  }
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return raw
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .map((f) => ({ target: unescape(f[4] ?? ''), options: (f[5] ?? '').split(',') }));
}

/** Flags that remount one bind mount read-only, keeping its nosuid/nodev/noexec. Always MS_BIND: never the superblock. */
export function readOnlyBindFlags(options: readonly string[]): number {
  let flags = MS.REMOUNT | MS.BIND | MS.RDONLY;
  if (options.includes('nosuid')) flags |= MS.NOSUID;
  if (options.includes('nodev')) flags |= MS.NODEV;
  if (options.includes('noexec')) flags |= MS.NOEXEC;
  return flags;
}

/** Give `root` its API filesystems (see above). Each failing step is logged, never thrown. */
export function prepareSandbox(root: string, sys: Sys, log: Logger, hooks: RootHooks = NO_ROOT_HOOKS, mountInfo: () => MountEntry[] = readMountInfo): Sandbox {
  const dir = resolve(root);
  const handle = (): Sandbox => {
    let released = false;
    return {
      root: dir,
      release: () => {
        if (released) return;
        released = true;
        releaseRoot(dir, sys, log);
      },
    };
  };
  if (isHostRoot(root)) {
    hooks.ready(dir);
    return { root: dir, release: () => undefined };
  }
  const known = prepared.get(dir);
  if (known) {
    known.users++;
    return handle();
  }
  if (!existsSync(join(dir, 'bin/sh')) && !existsSync(join(dir, 'usr/bin/sh'))) {
    log.warn(`sandbox: ${dir} has no /bin/sh: is it a root filesystem?`);
  }
  const state: Prepared = { users: 1, hooks, mounts: [] };
  prepared.set(dir, state);
  const steps: Array<[string, () => void]> = [
    ['proc', () => sys.mount('/proc', join(dir, 'proc'), null, MS.BIND | MS.REC, null)],
    ['sys', () => bindReadOnly('/sys', join(dir, 'sys'), sys, log, mountInfo)],
    ['dev', () => sys.mount('/dev', join(dir, 'dev'), null, MS.BIND | MS.REC, null)],
    ['run', () => sys.mount('tmpfs', join(dir, 'run'), 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=0755')],
    ['tmp', () => sys.mount('tmpfs', join(dir, 'tmp'), 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777')],
  ];
  const mounted = new Set(mountInfo().map((m) => m.target));
  for (const [name, run] of steps) {
    const target = join(dir, name);
    if (mounted.has(target)) continue; // prepared by someone else (a test, an earlier image): leave it to them
    try {
      mkdirSync(target, { recursive: true });
      run();
      state.mounts.push(target);
    } catch (e) {
      log.warn(`sandbox: unable to mount ${target}: ${(e as Error).message}`);
    }
  }
  hooks.ready(dir);
  return handle();
}

/** A recursive bind of `source` at `target`, then every mount of it remounted read-only. */
function bindReadOnly(source: string, target: string, sys: Sys, log: Logger, mountInfo: () => MountEntry[]): void {
  sys.mount(source, target, null, MS.BIND | MS.REC, null);
  for (const m of mountInfo()) {
    if (m.target !== target && !m.target.startsWith(`${target}/`)) continue;
    try {
      sys.mount(null, m.target, null, readOnlyBindFlags(m.options), null);
    } catch (e) {
      log.warn(`sandbox: unable to make ${m.target} read-only: ${(e as Error).message}`);
    }
  }
}

function releaseRoot(dir: string, sys: Sys, log: Logger): void {
  const state = prepared.get(dir);
  if (!state || --state.users > 0) return;
  prepared.delete(dir);
  state.hooks.releasing(dir);
  for (const target of [...state.mounts].reverse()) {
    try {
      sys.umount2(target, MNT_DETACH);
    } catch (e) {
      log.warn(`sandbox: unable to unmount ${target}: ${(e as Error).message}`);
    }
  }
}
