/**
 * lsb.ts — what /etc/init.d and /etc/rc?.d say: LSB headers, rc links, and the start plan.
 *
 * Model. An init script may carry an LSB comment block (LSB core 4.1 §20.3):
 *
 *   ### BEGIN INIT INFO
 *   # Provides:          cron
 *   # Required-Start:    $remote_fs $syslog
 *   # Description:       a long text that continues on lines starting
 *   #                    with "#" and a tab or at least two spaces
 *   ### END INIT INFO
 *
 * A script without that block is ordered the old way, by its link in /etc/rc<N>.d: `S20foo`
 * starts after every script with a lower number and before every one with a higher number;
 * equal numbers start together (as startpar did).
 *
 * The start and stop order of a runlevel is lsb-plan.ts' (insserv's semantics); the root's
 * facilities are insserv-conf.ts'.
 * Everything here but the two readers at the end is pure.
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { readRegularFile } from '../../base/regular-file.js';
import { basename, join } from 'node:path';
import { facilityMeaning } from '../../roles/lsb-facilities.js';
import { hostPath } from '../../supervisor/rootfs.js';

// ----------------------------------------------------------------------------- header

export interface LsbHeader {
  provides: string[];
  requiredStart: string[];
  requiredStop: string[];
  shouldStart: string[];
  shouldStop: string[];
  /** X-Start-Before: these start after this script */
  startBefore: string[];
  /** X-Stop-After: these stop before this script */
  stopAfter: string[];
  /** runlevels ("2", "S") */
  defaultStart: string[];
  defaultStop: string[];
  shortDescription?: string;
  description?: string;
}

const LIST_KEYS: Record<string, keyof LsbHeader> = {
  'provides': 'provides',
  'required-start': 'requiredStart',
  'required-stop': 'requiredStop',
  'should-start': 'shouldStart',
  'should-stop': 'shouldStop',
  'x-start-before': 'startBefore',
  'x-stop-after': 'stopAfter',
  'default-start': 'defaultStart',
  'default-stop': 'defaultStop',
};
const TEXT_KEYS: Record<string, 'shortDescription' | 'description'> = {
  'short-description': 'shortDescription',
  'description': 'description',
};

/**
 * Parse the LSB block of a script. `header` is null when there is none; `problem` says why a
 * block that is there was not usable (no END line).
 */
export function parseLsbHeader(text: string): { header: LsbHeader | null; problem?: string } {
  const lines = text.split('\n');
  // as tolerant as insserv: what follows the marker on its line does not matter (syslog-ng-core
  // ends its block with "### END INIT INFO#")
  const begin = lines.findIndex((l) => /^\s*###\s*BEGIN INIT INFO/.test(l));
  if (begin < 0) return { header: null };
  const end = lines.findIndex((l, i) => i > begin && /^\s*###\s*END INIT INFO/.test(l));
  if (end < 0) return { header: null, problem: 'the LSB header has "### BEGIN INIT INFO" but no "### END INIT INFO"' };

  const raw = new Map<string, string>();
  let last: string | undefined;
  for (const line of lines.slice(begin + 1, end)) {
    const kw = /^#[ \t]*([A-Za-z][A-Za-z0-9-]*):(.*)$/.exec(line);
    const known = kw && (kw[1]!.toLowerCase() in LIST_KEYS || kw[1]!.toLowerCase() in TEXT_KEYS || /^x-/i.test(kw[1]!));
    if (kw && known) {
      last = kw[1]!.toLowerCase();
      raw.set(last, kw[2]!.trim());
    } else if (last !== undefined && /^#(\t| {2,})/.test(line)) {
      raw.set(last, `${raw.get(last)!} ${line.slice(1).trim()}`.trim());
    }
  }
  const words = (key: string): string[] => (raw.get(key) ?? '').split(/[\s,]+/).filter((w) => w !== '');
  const header = Object.fromEntries(Object.entries(LIST_KEYS).map(([key, field]) => [field, words(key)])) as unknown as LsbHeader;
  for (const [key, field] of Object.entries(TEXT_KEYS)) if (raw.has(key)) header[field] = raw.get(key)!;
  return { header };
}

// ----------------------------------------------------------------------------- one script

export interface InitScript {
  /** file name in /etc/init.d */
  name: string;
  header: LsbHeader | null;
  /** why a header that is present could not be used */
  headerProblem?: string;
  /** an OpenRC runscript (#!/sbin/openrc-run): OpenRC's, never run by sysv */
  openrc: boolean;
  /**
   * The script runs a daemon it can report on: it has a `status` action and starts a process
   * (start-stop-daemon, start_daemon, init-d-script, status_of_proc / pidofproc / killproc, or
   * a literal pid file). Otherwise it is a oneshot (rc.local, bootlogs, rmnologin): a `status`
   * of 0 then only says "the job is done", so it is never polled.
   */
  daemon: boolean;
  /** pid file named literally in the script (PIDFILE=/run/x.pid, --pidfile /run/x.pid, pidfile=…) */
  pidfile?: string;
}

/** Commands that start or look for a daemon process (dpkg's and LSB's helpers). */
const DAEMON_HELPERS = /\b(start-stop-daemon|start_daemon|init-d-script|status_of_proc|pidofproc|killproc)\b/;

/** What a script's text says about it. */
export function scanInitScript(name: string, text: string): InitScript {
  const { header, problem } = parseLsbHeader(text);
  const first = text.split('\n', 1)[0]!;
  const script: InitScript = {
    name,
    header,
    openrc: /^#!\s*\S*\/(openrc-run|runscript)\b/.test(first),
    daemon: false,
  };
  if (problem !== undefined) script.headerProblem = problem;
  const pid = /(?:\bPIDFILE=|--pidfile[=\s]+|^\s*pidfile=)["']?(\/[^\s"'$;]+)/m.exec(text);
  if (pid) script.pidfile = pid[1]!;
  const statusAction = /(^|[\s(|])status\s*[|)]/m.test(text);
  script.daemon = statusAction && (pid !== null || DAEMON_HELPERS.test(text));
  return script;
}

/** Names under provides: its Provides line (plus the file name, which update-rc.d also accepts). */
export function providedNames(s: InitScript): string[] {
  return [...new Set([s.name, ...(s.header?.provides ?? [])])];
}

/** Roles a script can provide: its provided names via the facility table or the daemon-name table. */
export function scriptRoles(s: InitScript, roleOf: (name: string) => string | undefined): string[] {
  const roles = new Set<string>();
  for (const p of providedNames(s)) {
    const meaning = p.startsWith('$') ? facilityMeaning(p) : undefined;
    const role = p.startsWith('$') ? (meaning && !meaning.always ? meaning.role : null) : roleOf(p);
    if (role) roles.add(role);
  }
  return [...roles].sort();
}

// ----------------------------------------------------------------------------- rc links

export interface RcLink {
  kind: 'S' | 'K';
  /** the two digits */
  order: number;
  script: string;
}

/** `S20cron` (→ ../init.d/cron) as a link; null for anything else (README, .placeholder). */
export function parseRcLink(linkName: string, target?: string): RcLink | null {
  const m = /^([SK])(\d{2})(.+)$/.exec(linkName);
  if (!m) return null;
  return { kind: m[1] as 'S' | 'K', order: Number(m[2]), script: target ? basename(target) : m[3]! };
}

/** rc links per runlevel directory name ("0" … "6", "S"). */
export type RcLinks = ReadonlyMap<string, readonly RcLink[]>;

/** The scripts an instance manages: not OpenRC's, in its `scripts:` allow-list when it has one, not excluded. */
export function managedScripts(scripts: readonly InitScript[], allow: readonly string[] | undefined, exclude: readonly string[]): InitScript[] {
  return scripts.filter((s) => !s.openrc && (!allow || allow.includes(s.name)) && !exclude.includes(s.name));
}

// ----------------------------------------------------------------------------- readers (I/O)

/** Files of /etc/init.d that are never init scripts. */
/** What package managers and editors leave next to a file: never read as configuration (init.d, insserv.conf.d). */
export const PACKAGE_LEFTOVER = /\.(dpkg-[a-z]+|ucf-[a-z]+|rpm[a-z]+|orig|bak|swp)$|~$/;
const NOT_SCRIPTS = /^(\.|README$|skeleton$|functions$)/;

/** A file or directory that could not be read, and how to mend it. */
export interface ReadProblem {
  problem: string;
  fix: string;
}

/** Every executable script of ROOT/etc/init.d, scanned; unreadable files are reported. */
export function readInitDir(root: string): { scripts: InitScript[]; problems: ReadProblem[] } {
  const dir = hostPath(root, '/etc/init.d');
  const scripts: InitScript[] = [];
  const problems: ReadProblem[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    const problem = `${dir}: unable to read directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    return { scripts, problems: [{ problem, fix: 'point root at a tree that has /etc/init.d (a Debian root filesystem), or disable the instance' }] };
  }
  for (const name of names) {
    if (NOT_SCRIPTS.test(name) || PACKAGE_LEFTOVER.test(name)) continue;
    const file = join(dir, name);
    try {
      const st = statSync(file);
      if (!st.isFile() || (st.mode & 0o111) === 0) continue;
      const text = readRegularFile(file);
      if ('error' in text) throw Object.assign(new Error(text.error), { code: text.error });
      scripts.push(scanInitScript(name, text.text));
    } catch (e) {
      problems.push({ problem: `${file}: unable to read script: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, fix: 'make the script a readable file or add it to exclude:' });
    }
  }
  return { scripts, problems };
}

/** The S/K links of ROOT/etc/rc0.d … rc6.d and rcS.d. */
export function readRcLinks(root: string): Map<string, RcLink[]> {
  const out = new Map<string, RcLink[]>();
  for (const level of ['0', '1', '2', '3', '4', '5', '6', 'S']) {
    const dir = hostPath(root, `/etc/rc${level}.d`);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      continue;
    }
    const links: RcLink[] = [];
    for (const name of names) {
      let target: string | undefined;
      try {
        target = readlinkSync(join(dir, name));
      } catch {
        target = undefined; // a plain file: the name is all there is
      }
      const link = parseRcLink(name, target);
      if (link) links.push(link);
    }
    out.set(level, links);
  }
  return out;
}
