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
 * `planRunlevel` turns scripts + links into the start plan of one runlevel:
 *   - wanted: scripts with an S link in /etc/rc<N>.d; a script with no link in any rc?.d at all
 *     (never installed with update-rc.d) is wanted when its Default-Start lists N. Required
 *     local dependencies of a wanted script are wanted too (with a warning).
 *   - per script, its dependencies: *local* ones (another script of this instance, by Provides
 *     or file name: an edge of the graph, kind required or should) and *role* ones (an LSB
 *     facility or a well-known daemon name whose provider runs elsewhere: asked of the
 *     manager's DependencyView as `role:NAME`). `$all` means "after every other wanted script
 *     that does not itself use $all". X-Start-Before: B makes B start after this script.
 *   - graph nodes for start (`after` = local dependencies) and for stop (`after` = what must
 *     still run while this script stops: its start dependencies, its Required-Stop/Should-Stop,
 *     and — reversed — X-Stop-After), for DepGraph's levels/cycles and stop order.
 * Everything here but the two readers at the end is pure.
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { readRegularFile } from '../../base/regular-file.js';
import { basename, join } from 'node:path';
import { facilityMeaning } from '../../roles/lsb-facilities.js';
import type { GraphNode } from '../../supervisor/graph.js';
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
  const begin = lines.findIndex((l) => l.trim() === '### BEGIN INIT INFO');
  if (begin < 0) return { header: null };
  const end = lines.findIndex((l, i) => i > begin && l.trim() === '### END INIT INFO');
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

// ----------------------------------------------------------------------------- plan

export type DepKind = 'required' | 'should';

export interface ScriptDeps {
  /** local script → how strongly it is needed */
  local: Map<string, DepKind>;
  /** roles whose holders (outside this instance) must be ready first */
  roles: Map<string, DepKind>;
}

export interface Plan {
  /** scripts the runlevel starts, sorted */
  wanted: string[];
  deps: Map<string, ScriptDeps>;
  /** start graph: `after` = local start dependencies */
  startNodes: GraphNode[];
  /** stop graph: `after` = scripts that must still run while this one stops */
  stopNodes: GraphNode[];
  /** one line each, "<script>: <what>" */
  warnings: string[];
}

export interface PlanInput {
  /** scripts that may run: managed, not owned by metainit, not vetoed, not OpenRC's */
  scripts: readonly InitScript[];
  links: RcLinks;
  runlevel: string;
  /** daemon name → role (roles/known-services.ts roleOfService) */
  roleOf: (name: string) => string | undefined;
}

/** Is `s` started by runlevel `level` (S link there, or no link anywhere and Default-Start)? */
export function startsIn(s: InitScript, links: RcLinks, level: string): boolean {
  const all = [...links.values()].flat().filter((l) => l.script === s.name);
  if (all.length > 0) return (links.get(level) ?? []).some((l) => l.script === s.name && l.kind === 'S');
  return s.header?.defaultStart.includes(level) ?? false;
}

export function planRunlevel(input: PlanInput): Plan {
  const { scripts, links, runlevel, roleOf } = input;
  const warnings: string[] = [];
  const wanted = new Set(scripts.filter((s) => startsIn(s, links, runlevel)).map((s) => s.name));

  // who provides what, and who could hold which role
  const providers = new Map<string, string[]>();
  const claimants = new Map<string, string[]>();
  for (const s of scripts) {
    for (const p of providedNames(s)) providers.set(p, [...(providers.get(p) ?? []), s.name]);
    for (const r of scriptRoles(s, roleOf)) claimants.set(r, [...(claimants.get(r) ?? []), s.name]);
  }

  const deps = new Map<string, ScriptDeps>(scripts.map((s) => [s.name, { local: new Map(), roles: new Map() }]));
  const addLocal = (from: string, to: string, kind: DepKind): void => {
    if (from === to) return;
    const l = deps.get(from)!.local;
    if (l.get(to) !== 'required') l.set(to, kind);
  };
  const usesAll = new Set<string>();

  /** resolve one name of `s`'s Required-Start / Should-Start */
  const resolve = (s: InitScript, name: string, kind: DepKind): void => {
    if (name === '$all') {
      usesAll.add(s.name);
      return;
    }
    const local = providers.get(name)?.filter((p) => p !== s.name);
    if (local && local.length > 0) {
      for (const p of local) addLocal(s.name, p, kind);
      return;
    }
    let role: string | undefined;
    if (name.startsWith('$')) {
      const meaning = facilityMeaning(name);
      if (!meaning) {
        warnings.push(`${s.name}: unknown LSB facility ${name}, ignored`);
        return;
      }
      if (meaning.always) return;
      if (meaning.role === null) {
        if (meaning.warn) warnings.push(`${s.name}: ${meaning.warn}`);
        return;
      }
      role = meaning.role;
    } else {
      role = roleOf(name);
    }
    if (role === undefined) {
      if (kind === 'required') warnings.push(`${s.name}: requires ${name}, which no script of this instance provides; ignored`);
      return;
    }
    const holders = claimants.get(role)?.filter((c) => c !== s.name) ?? [];
    if (holders.length > 0) holders.forEach((h) => addLocal(s.name, h, kind));
    else if (deps.get(s.name)!.roles.get(role) !== 'required') deps.get(s.name)!.roles.set(role, kind);
  };

  for (const s of scripts) {
    for (const n of s.header?.requiredStart ?? []) resolve(s, n, 'required');
    for (const n of s.header?.shouldStart ?? []) resolve(s, n, 'should');
  }
  for (const s of scripts) {
    for (const n of s.header?.startBefore ?? []) for (const p of providers.get(n) ?? []) addLocal(p, s.name, 'should');
  }

  wantRequired(wanted, deps, runlevel, warnings);

  // $all: after every other wanted script that does not use $all itself
  for (const name of usesAll) {
    for (const other of wanted) if (!usesAll.has(other)) addLocal(name, other, 'should');
  }

  orderByLinks(scripts, links, runlevel, wanted, addLocal);
  const startNodes = scripts.map((s) => ({ id: s.name, after: [...deps.get(s.name)!.local.keys()].sort() }));
  const stopNodes = stopGraph(scripts, startNodes, providers);
  for (const s of scripts) if (s.headerProblem && wanted.has(s.name)) warnings.push(`${s.name}: ${s.headerProblem}; ordered by its rc link instead`);
  return { wanted: [...wanted].sort(), deps, startNodes, stopNodes, warnings };
}

/** Required local dependencies of wanted scripts are wanted too (each said once as a warning). */
function wantRequired(wanted: Set<string>, deps: Map<string, ScriptDeps>, runlevel: string, warnings: string[]): void {
  const queue = [...wanted];
  while (queue.length > 0) {
    const name = queue.pop()!;
    for (const [dep, kind] of deps.get(name)!.local) {
      if (kind !== 'required' || wanted.has(dep)) continue;
      wanted.add(dep);
      queue.push(dep);
      warnings.push(`${dep}: started although runlevel ${runlevel} does not start it, because ${name} requires it`);
    }
  }
}

/** Scripts without a header: ordered by their S number in rc<N>.d, both ways. */
function orderByLinks(scripts: readonly InitScript[], links: RcLinks, runlevel: string, wanted: Set<string>, addLocal: (from: string, to: string, kind: DepKind) => void): void {
  const order = new Map((links.get(runlevel) ?? []).filter((l) => l.kind === 'S' && wanted.has(l.script)).map((l) => [l.script, l.order]));
  for (const s of scripts) {
    const n = order.get(s.name);
    if (s.header !== null || n === undefined) continue;
    for (const [other, m] of order) {
      if (m < n) addLocal(s.name, other, 'should');
      else if (m > n) addLocal(other, s.name, 'should');
    }
  }
}

/** The stop graph: a script stops before what it started after, and before what its Required/Should-Stop name; X-Stop-After reversed. */
function stopGraph(scripts: readonly InitScript[], startNodes: GraphNode[], providers: Map<string, string[]>): GraphNode[] {
  const stopAfter = new Map(startNodes.map((n) => [n.id, new Set(n.after)]));
  for (const s of scripts) {
    for (const n of [...(s.header?.requiredStop ?? []), ...(s.header?.shouldStop ?? [])]) {
      for (const p of providers.get(n) ?? []) if (p !== s.name) stopAfter.get(s.name)!.add(p);
    }
    for (const n of s.header?.stopAfter ?? []) for (const p of providers.get(n) ?? []) if (p !== s.name) stopAfter.get(p)!.add(s.name);
  }
  return [...stopAfter].map(([id, after]) => ({ id, after: [...after].sort() }));
}

/** The scripts an instance manages: not OpenRC's, in its `scripts:` allow-list when it has one, not excluded. */
export function managedScripts(scripts: readonly InitScript[], allow: readonly string[] | undefined, exclude: readonly string[]): InitScript[] {
  return scripts.filter((s) => !s.openrc && (!allow || allow.includes(s.name)) && !exclude.includes(s.name));
}

// ----------------------------------------------------------------------------- readers (I/O)

/** Files of /etc/init.d that are never init scripts. */
const NOT_SCRIPTS = /^(\.|README$|skeleton$|functions$)|\.(dpkg-[a-z]+|ucf-[a-z]+|rpm[a-z]+|orig|bak|swp)$|~$/;

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
    if (NOT_SCRIPTS.test(name)) continue;
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
