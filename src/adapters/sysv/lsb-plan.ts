/**
 * lsb-plan.ts — the start and stop order of one runlevel, as insserv would compute it.
 *
 * `planRunlevel` turns scripts + rc links (lsb.ts) + the root's facilities (insserv-conf.ts)
 * into the plan of one runlevel:
 *   - wanted: scripts with an S link in /etc/rc<N>.d; a script with no link in any rc?.d at all
 *     (never installed with update-rc.d) is wanted when its Default-Start lists N. Required
 *     local dependencies of a wanted script are wanted too (with a warning).
 *   - a name in Required-Start / Should-Start / X-Start-Before / the stop headers resolves, as
 *     insserv resolves it, to the scripts of this instance that provide it: by Provides or file
 *     name, and for a `$facility` by its members in insserv.conf(.d) (nested facilities
 *     expanded). A script never waits for a name it provides itself (chrony's `$time`).
 *   - only when no script of this instance provides a name does it become a *role* dependency
 *     (`role:NAME`, asked of the manager's DependencyView): an LSB facility's role
 *     (roles/lsb-facilities.ts) or a daemon name's role, held by another instance. When the
 *     root's insserv.conf defines the facility and none of its members is here, a script of
 *     this instance that merely claims the role is not waited for — insserv would not order
 *     them either (`$time` is hwclock, not ntpsec). Roots without insserv.conf keep the role
 *     claimants of this instance as providers.
 *   - `$all`: after every other wanted script that does not use `$all` itself.
 *   - cycles: a Should-Start, X-Start-Before, `$all` or link-order edge that would close a
 *     cycle is dropped with a warning, as insserv drops it; a cycle of Required-Start edges
 *     stays and is reported by the graph (the scripts in it are named).
 *   - graph nodes for start (`after` = local dependencies) and for stop (`after` = what must
 *     still run while this script stops: its start dependencies, its Required-Stop/Should-Stop,
 *     and — reversed — X-Stop-After), for DepGraph's levels/cycles and stop order.
 * Everything here is pure.
 */
import { facilityMeaning } from '../../roles/lsb-facilities.js';
import type { GraphNode } from '../../supervisor/graph.js';
import { expandFacility, type Facilities } from './insserv-conf.js';
import { providedNames, scriptRoles, type InitScript, type RcLinks } from './lsb.js';

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
  /** the root's insserv.conf(.d) facilities; undefined: the root has none */
  facilities?: Facilities | undefined;
}

/** Is `s` started by runlevel `level` (S link there, or no link anywhere and Default-Start)? */
export function startsIn(s: InitScript, links: RcLinks, level: string): boolean {
  const all = [...links.values()].flat().filter((l) => l.script === s.name);
  if (all.length > 0) return (links.get(level) ?? []).some((l) => l.script === s.name && l.kind === 'S');
  return s.header?.defaultStart.includes(level) ?? false;
}

export function planRunlevel(input: PlanInput): Plan {
  const { scripts, links, runlevel, roleOf, facilities } = input;
  const warnings: string[] = [];
  const wanted = new Set(scripts.filter((s) => startsIn(s, links, runlevel)).map((s) => s.name));

  // who provides what, and who could hold which role
  const providers = new Map<string, string[]>();
  const claimants = new Map<string, string[]>();
  for (const s of scripts) {
    for (const p of providedNames(s)) providers.set(p, [...(providers.get(p) ?? []), s.name]);
    for (const r of scriptRoles(s, roleOf)) claimants.set(r, [...(claimants.get(r) ?? []), s.name]);
  }
  /** the scripts of this instance a header name stands for (possibly the asking script itself) */
  const localOf = (name: string): string[] => {
    const direct = providers.get(name) ?? [];
    if (!name.startsWith('$') || !facilities?.has(name)) return direct;
    return [...new Set([...direct, ...expandFacility(facilities, name).flatMap((m) => providers.get(m) ?? [])])];
  };

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
    const local = localOf(name);
    if (local.includes(s.name)) return; // it provides the name itself: nothing to wait for
    if (local.length > 0) {
      for (const p of local) addLocal(s.name, p, kind);
      return;
    }
    let role: string | undefined;
    if (name.startsWith('$')) {
      const meaning = facilityMeaning(name);
      if (!meaning) {
        // defined by the root's insserv.conf but provided by no script here: nothing to wait for
        if (!facilities?.has(name)) warnings.push(`${s.name}: unknown LSB facility ${name}, ignored (fix: define it in /etc/insserv.conf.d, as the package that provides it would)`);
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
    if (scriptRoles(s, roleOf).includes(role)) return; // it would hold the role itself
    const holders = claimants.get(role)?.filter((c) => c !== s.name) ?? [];
    if (holders.length > 0) {
      // insserv.conf names the facility's providers and none is here: a mere claimant of the role is not one
      if (name.startsWith('$') && facilities?.has(name)) return;
      holders.forEach((h) => addLocal(s.name, h, kind));
    } else if (deps.get(s.name)!.roles.get(role) !== 'required') deps.get(s.name)!.roles.set(role, kind);
  };

  for (const s of scripts) {
    for (const n of s.header?.requiredStart ?? []) resolve(s, n, 'required');
    for (const n of s.header?.shouldStart ?? []) resolve(s, n, 'should');
  }
  for (const s of scripts) {
    for (const n of s.header?.startBefore ?? []) for (const p of localOf(n)) addLocal(p, s.name, 'should');
  }

  wantRequired(wanted, deps, runlevel, warnings);

  // $all: after every other wanted script that does not use $all itself
  for (const name of usesAll) {
    for (const other of wanted) if (!usesAll.has(other)) addLocal(name, other, 'should');
  }

  orderByLinks(scripts, links, runlevel, wanted, addLocal);
  dropWeakCycles(deps, wanted, warnings);
  const startNodes = scripts.map((s) => ({ id: s.name, after: [...deps.get(s.name)!.local.keys()].sort() }));
  const stopNodes = stopGraph(scripts, startNodes, localOf);
  for (const s of scripts) if (s.headerProblem && wanted.has(s.name)) warnings.push(`${s.name}: ${s.headerProblem}; ordered by its rc link instead`);
  return { wanted: [...wanted].sort(), deps, startNodes, stopNodes, warnings };
}

/**
 * insserv's loop rule: required edges always stand; each weaker edge (Should-Start,
 * X-Start-Before, $all, link order) is kept only if it closes no cycle with the edges kept so
 * far, taken in name order so the result does not depend on the order of the directory.
 */
function dropWeakCycles(deps: Map<string, ScriptDeps>, wanted: ReadonlySet<string>, warnings: string[]): void {
  const after = new Map<string, Set<string>>([...deps.keys()].map((k) => [k, new Set<string>()]));
  const weak: Array<[string, string]> = [];
  for (const [from, d] of [...deps].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [to, kind] of [...d.local].sort(([a], [b]) => a.localeCompare(b))) {
      if (kind === 'required') after.get(from)!.add(to);
      else weak.push([from, to]);
    }
  }
  /** does `start` (transitively) wait for `goal`? */
  const waitsFor = (start: string, goal: string): boolean => {
    const stack = [start];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n === goal) return true;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...(after.get(n) ?? []));
    }
    return false;
  };
  for (const [from, to] of weak) {
    if (waitsFor(to, from)) {
      deps.get(from)!.local.delete(to);
      if (wanted.has(from) && wanted.has(to)) warnings.push(`${from}: not ordered after ${to}: that would close a dependency cycle, and it is not required (dropped, as insserv drops it)`);
    } else after.get(from)!.add(to);
  }
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
function stopGraph(scripts: readonly InitScript[], startNodes: GraphNode[], localOf: (name: string) => string[]): GraphNode[] {
  const stopAfter = new Map(startNodes.map((n) => [n.id, new Set(n.after)]));
  for (const s of scripts) {
    for (const n of [...(s.header?.requiredStop ?? []), ...(s.header?.shouldStop ?? [])]) {
      for (const p of localOf(n)) if (p !== s.name) stopAfter.get(s.name)!.add(p);
    }
    for (const n of s.header?.stopAfter ?? []) for (const p of localOf(n)) if (p !== s.name) stopAfter.get(p)!.add(s.name);
  }
  return [...stopAfter].map(([id, after]) => ({ id, after: [...after].sort() }));
}
