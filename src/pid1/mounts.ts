/**
 * mounts.ts — the API filesystems an init mounts, and the mount table it reads back.
 *
 * EARLY_MOUNTS is the ordered list stage 1 walks (machine mode only): each entry is mounted only
 * if nothing is mounted at its target yet, so running after an initramfs that already did the
 * work is a no-op. `mountTable()` parses /proc/self/mountinfo; stage 4 unmounts in the reverse
 * of that table's order.
 */
import { readFileSync } from 'node:fs';
import { MS } from '../base/sys.js';

export interface EarlyMount {
  source: string;
  target: string;
  fstype: string;
  flags: number;
  data: string | null;
  mode?: number;
  /** mount only when the kernel lists this filesystem in /proc/filesystems */
  needsFs?: string;
}

export const EARLY_MOUNTS: EarlyMount[] = [
  { source: 'proc', target: '/proc', fstype: 'proc', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: null },
  { source: 'sysfs', target: '/sys', fstype: 'sysfs', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: null },
  { source: 'devtmpfs', target: '/dev', fstype: 'devtmpfs', flags: MS.NOSUID, data: 'mode=0755' },
  { source: 'devpts', target: '/dev/pts', fstype: 'devpts', flags: MS.NOSUID | MS.NOEXEC, data: 'gid=5,mode=620,ptmxmode=000', mode: 0o755 },
  { source: 'tmpfs', target: '/dev/shm', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=1777', mode: 0o1777 },
  { source: 'tmpfs', target: '/run', fstype: 'tmpfs', flags: MS.NOSUID | MS.NODEV, data: 'mode=0755', mode: 0o755 },
  { source: 'cgroup2', target: '/sys/fs/cgroup', fstype: 'cgroup2', flags: MS.NOSUID | MS.NODEV | MS.NOEXEC, data: 'nsdelegate' },
  { source: 'selinuxfs', target: '/sys/fs/selinux', fstype: 'selinuxfs', flags: MS.NOSUID | MS.NOEXEC, data: null, needsFs: 'selinuxfs' },
];

export interface MountEntry {
  id: number;
  parent: number;
  target: string;
  fstype: string;
  source: string;
  options: string;
}

/** Parse /proc/self/mountinfo (octal escapes in paths decoded). */
export function parseMountinfo(text: string): MountEntry[] {
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const g = post.split(' ');
    out.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      target: unescape(f[4] ?? ''),
      options: f[5] ?? '',
      fstype: g[0] ?? '',
      source: unescape(g[1] ?? ''),
    });
  }
  return out;
}

export function mountTable(): MountEntry[] {
  try {
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return [];
  }
}

export function isMounted(target: string, table = mountTable()): boolean {
  return table.some((m) => m.target === target);
}

/** API filesystems stage 4 never unmounts (the kernel tears them down itself). */
export const KEEP_AT_SHUTDOWN = new Set(['/', '/proc', '/sys', '/dev', '/run', '/dev/pts', '/dev/shm', '/sys/fs/cgroup', '/sys/fs/selinux']);
