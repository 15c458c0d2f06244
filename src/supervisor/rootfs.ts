/**
 * rootfs.ts — preparing an instance's `root:` tree and running commands inside it.
 *
 * An instance may set `root: DIR` to host a second distribution tree (or, in tests, a Debian
 * tree built by the test bed) without touching the host. Before the instance starts, metainit
 * gives that tree the API filesystems an init expects — the same set a container manager provides:
 *
 *   DIR/proc   a bind of metainit's /proc (same PID namespace, so `ps`, `sv` and pidfiles work)
 *   DIR/sys    a recursive bind of /sys
 *   DIR/dev    a recursive bind of /dev (incl. /dev/pts, /dev/shm)
 *   DIR/run    a fresh tmpfs (mode 0755) — runtime state of the hosted init never lands in DIR
 *   DIR/tmp    a fresh tmpfs (mode 1777)
 *
 * Every mount is made in metainit's own mount namespace and only on DIR's sub-directories;
 * nothing is remounted and nothing under DIR/etc is written. Prepared roots are remembered so
 * several instances sharing one root mount it once. `inRoot(root, argv)` turns a command into the
 * one that runs it there (`chroot DIR argv…`), so every adapter launches the same way.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MS, type Sys } from '../pid1/sys.js';
import type { Logger } from '../adapters/adapter.js';

const prepared = new Set<string>();

/** Is `root` the host root (no chroot needed)? */
export function isHostRoot(root: string | undefined): boolean {
  return root === undefined || resolve(root) === '/';
}

/** argv that runs `argv` inside `root` (unchanged for the host root). */
export function inRoot(root: string | undefined, argv: string[]): string[] {
  return isHostRoot(root) ? argv : ['/usr/sbin/chroot', resolve(root!), ...argv];
}

/** Path of `p` (absolute inside the root) as seen from metainit. */
export function hostPath(root: string | undefined, p: string): string {
  return isHostRoot(root) ? p : join(resolve(root!), p);
}

function mountedAt(target: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === target);
  } catch {
    return false;
  }
}

/** Give `root` its API filesystems (see the table above). Idempotent; each failing step is logged, never thrown. */
export function prepareRoot(root: string, sys: Sys, log: Logger): void {
  if (isHostRoot(root)) return;
  const dir = resolve(root);
  if (prepared.has(dir)) return;
  if (!existsSync(join(dir, 'bin/sh')) && !existsSync(join(dir, 'usr/bin/sh'))) {
    log.warn(`rootfs: ${dir} has no /bin/sh: is it a root filesystem?`);
  }
  const steps: Array<[string, () => void]> = [
    ['proc', () => sys.mount('/proc', join(dir, 'proc'), null, MS.BIND | MS.REC, null)],
    ['sys', () => sys.mount('/sys', join(dir, 'sys'), null, MS.BIND | MS.REC, null)],
    ['dev', () => sys.mount('/dev', join(dir, 'dev'), null, MS.BIND | MS.REC, null)],
    ['run', () => sys.mount('tmpfs', join(dir, 'run'), 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=0755')],
    ['tmp', () => sys.mount('tmpfs', join(dir, 'tmp'), 'tmpfs', MS.NOSUID | MS.NODEV, 'mode=1777')],
  ];
  for (const [name, run] of steps) {
    const target = join(dir, name);
    if (mountedAt(target)) continue;
    try {
      mkdirSync(target, { recursive: true });
      run();
    } catch (e) {
      log.warn(`rootfs: unable to mount ${target}: ${(e as Error).message}`);
    }
  }
  prepared.add(dir);
}
