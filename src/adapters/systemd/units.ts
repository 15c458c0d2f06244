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
import { existsSync, readdirSync, statSync } from 'node:fs';
import { roleOfService } from '../../roles/known-services.js';
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

/** a unit name with its suffix */
export const UNIT_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|target|path|mount|automount|swap|slice|scope|device)$/;

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

/** The instance keys that choose units (index.ts SystemdInstance). */
export interface UnitChoice {
  unit: string;
  units?: string[] | undefined;
  exclude: string[];
}

export const isExcluded = (c: UnitChoice, name: string): boolean => c.exclude.some((p) => unitMatches(p, name));
export const isListed = (c: UnitChoice, name: string): boolean => name === c.unit || !c.units || c.units.some((p) => unitMatches(p, name));

/** what an allow-list leaves out is masked only when it would run something of its own */
const RUNNABLE = /\.(service|socket|timer|path)$/;

/** The tree as the configuration chooses from it (see readChoice). */
export interface TreeChoice {
  /** units linked from .wants/ or .requires/ anywhere in the tree, in name order */
  enabled: ReadonlySet<string>;
  /** masked by the configuration: excluded unit files, and what `units:` leaves out of /etc's */
  masked: Set<string>;
  /** enabled services that run and claim a role: service → role */
  claimed: Map<string, string>;
}

/**
 * What runs of the tree: the enabled units, less what the configuration masks (every unit file an
 * `exclude:` pattern matches — a template masks its instances — and, with `units:`, the units the
 * administrator enabled under /etc/systemd/system that it does not list, like runit's
 * `services`); the role claims of the services that do run (never time-sync or device-manager:
 * systemd skips timesyncd and udevd in a container, and claiming them would veto the real one).
 */
export function readChoice(root: string, c: UnitChoice): TreeChoice {
  const enabled = new Set(enabledUnits(root));
  const masked = new Set<string>([...c.exclude.filter((p) => !p.includes('*')), ...unitFiles(root).filter((f) => isExcluded(c, f))]);
  if (c.units) for (const u of enabledUnits(root, true)) if (!isListed(c, u) && RUNNABLE.test(u)) masked.add(u);
  const claimed = new Map(
    [...enabled].flatMap((service) => {
      const role = service.endsWith('.service') && !masked.has(service) ? roleOfService(service) : undefined;
      return role && role !== 'time-sync' && role !== 'device-manager' ? [[service, role] as const] : [];
    }),
  );
  return { enabled, masked, claimed };
}

/** The choice of a tree that cannot run systemd: nothing. */
export const NO_CHOICE: TreeChoice = { enabled: new Set(), masked: new Set(), claimed: new Map() };

/** The masks for vetoed services: each with its socket, and cron's twin timers when a cron is vetoed. */
export function vetoMasks(root: string, vetoed: ReadonlySet<string>): string[] {
  const out = new Set<string>();
  for (const s of vetoed) for (const m of masksFor(root, s)) out.add(m);
  if ([...vetoed].some((s) => roleOfService(s) === 'cron')) for (const t of cronTwinTimers(root)) out.add(t);
  return [...out];
}

/**
 * The boot-time units that would write the tree's /etc, masked: the commit of the machine id
 * metainit binds over an empty /etc/machine-id, and systemd-sysusers (Debian creates system users
 * in the maintainer scripts of the packages that ship sysusers.d files; at boot it would only
 * take /etc/.pwd.lock).
 */
export function etcWriters(root: string): string[] {
  let emptyId = false;
  try {
    emptyId = statSync(hostPath(root, '/etc/machine-id')).size === 0;
  } catch {
    // no machine id file: systemd makes a transient one under /run
  }
  return ['systemd-sysusers.service', ...(emptyId ? ['systemd-machine-id-commit.service'] : [])].filter((u) => unitFileExists(root, u));
}
