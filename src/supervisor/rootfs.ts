/**
 * rootfs.ts — paths and commands inside an instance's `root:` tree.
 *
 * An instance may set `root: DIR` to host a second distribution tree (or, in tests, a Debian
 * tree built by the test bed) without touching the host. sandbox.ts gives that tree its API
 * filesystems; this file only translates: `inRoot(root, argv)` turns a command into the one that
 * runs it there (`chroot DIR argv…`), so every adapter launches the same way, and `hostPath`
 * says where a path inside the root is seen from metainit.
 */
import { join, resolve } from 'node:path';

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
