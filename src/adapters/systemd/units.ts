/**
 * units.ts — what a systemd tree holds, read offline (before systemd starts, and by `check`).
 *
 * Unit files are looked up where systemd looks for system units, in its order: /etc/systemd/system,
 * /run/systemd/system (never present offline), /usr/local/lib/systemd/system, /lib/systemd/system,
 * /usr/lib/systemd/system. A unit is *enabled* when a `.wants/` or `.requires/` directory in one
 * of them links it (what `systemctl enable` and the packages' static wants make); that is the set
 * role claims are read from (less what is masked). A socket or timer that is enabled brings its service along
 * (`dbus.socket` → `dbus.service`), so the service is counted as enabled too.
 *
 * Vetoes are masks given on systemd's own command line (`systemd.mask=UNIT`: systemd's generator
 * puts them in /run/systemd/generator.early, which beats /etc), so nothing under /etc is written.
 * Masking a service masks its same-named socket too, or the socket would still accept and fail.
 * Debian ships timers that do what a cron.daily job of the same package does; when cron is held
 * by another instance those timers are masked as well, but only when both the timer and the
 * cron job are in the tree (the table below names the pairs).
 */
import { existsSync, readdirSync } from 'node:fs';
import { hostPath } from '../../supervisor/rootfs.js';

export const UNIT_DIRS = ['/etc/systemd/system', '/usr/local/lib/systemd/system', '/lib/systemd/system', '/usr/lib/systemd/system'];

/** Debian timers and the cron job (a path in the tree) each duplicates. */
export const CRON_TWIN_TIMERS: Readonly<Record<string, string>> = {
  'apt-daily.timer': '/etc/cron.daily/apt-compat',
  'apt-daily-upgrade.timer': '/etc/cron.daily/apt-compat',
  'man-db.timer': '/etc/cron.daily/man-db',
  'dpkg-db-backup.timer': '/etc/cron.daily/dpkg',
  'logrotate.timer': '/etc/cron.daily/logrotate',
  'e2scrub_all.timer': '/etc/cron.d/e2scrub_all',
  'exim4-base.timer': '/etc/cron.daily/exim4-base',
  'plocate-updatedb.timer': '/etc/cron.daily/plocate',
  'mlocate.timer': '/etc/cron.daily/mlocate',
  'sysstat-collect.timer': '/etc/cron.d/sysstat',
};

/** Is there a unit file (or link) of this name in the tree? */
export function unitFileExists(root: string, name: string): boolean {
  return UNIT_DIRS.some((d) => existsSync(hostPath(root, `${d}/${name}`)));
}

const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|target|path|mount|automount|swap|slice|scope|device)$/;

/** Every unit file (or link) name in the tree's unit directories, sorted. */
export function unitFiles(root: string): string[] {
  const found = new Set<string>();
  for (const d of UNIT_DIRS) {
    try {
      for (const n of readdirSync(hostPath(root, d))) if (UNIT_NAME.test(n)) found.add(n);
    } catch {
      // no such directory in this tree
    }
  }
  return [...found].sort();
}

/**
 * Units linked from a .wants/ or .requires/ directory, sorted: anywhere in the tree, or (`etcOnly`)
 * only under /etc/systemd/system — what `systemctl enable` and the packages' postinsts made, as
 * opposed to the static wants systemd ships in /lib (journald, logind, its sockets …).
 */
export function enabledUnits(root: string, etcOnly = false): string[] {
  const found = new Set<string>();
  for (const d of etcOnly ? UNIT_DIRS.slice(0, 1) : UNIT_DIRS) {
    let dirs: string[];
    try {
      dirs = readdirSync(hostPath(root, d)).filter((n) => n.endsWith('.wants') || n.endsWith('.requires'));
    } catch {
      continue;
    }
    for (const w of dirs) {
      try {
        for (const u of readdirSync(hostPath(root, `${d}/${w}`))) if (UNIT_NAME.test(u)) found.add(u);
      } catch {
        // not a directory
      }
    }
  }
  for (const u of [...found]) {
    const m = /^(.*)\.(socket|timer|path)$/.exec(u);
    if (m && !m[1]!.endsWith('@') && unitFileExists(root, `${m[1]}.service`)) found.add(`${m[1]}.service`);
  }
  return [...found].sort();
}

/** The masks that keep a vetoed service from running: the service and its same-named socket. */
export function masksFor(root: string, service: string): string[] {
  const out = [service];
  const socket = service.replace(/\.service$/, '.socket');
  if (socket !== service && unitFileExists(root, socket)) out.push(socket);
  return out;
}

/** Timers of the tree that duplicate one of its cron jobs (masked when cron runs elsewhere). */
export function cronTwinTimers(root: string): string[] {
  return Object.entries(CRON_TWIN_TIMERS)
    .filter(([timer, job]) => unitFileExists(root, timer) && existsSync(hostPath(root, job)))
    .map(([timer]) => timer);
}

/** Does a unit name match a pattern of `units`/`exclude` (exact, or with `*` wildcards)? */
export function unitMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}
