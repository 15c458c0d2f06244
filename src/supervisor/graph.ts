/**
 * graph.ts — the dependency graph of services: cycles, parallel start levels, stop order.
 *
 * Model. Nodes are ids ("instance/name"); an edge a → b means "a is started after b" (b is in
 * a's `after:`). References are resolved to ids by the caller (see `resolveRef`); an edge to an
 * id that is not a node is kept out of the graph and listed by `unknownRefs()`.
 *
 *   findCycles()   every strongly connected component with more than one node, and every
 *                  self-loop (Tarjan). Each is reported as a closed walk along `after` edges,
 *                  starting at its smallest id: for a plain cycle a → b → c → a that is [a, b, c].
 *   levels()       parallel start levels: level 0 has no dependencies, a node's level is one
 *                  more than the highest level among its dependencies. Nodes in a cycle and
 *                  nodes that (transitively) depend on one cannot be scheduled: they are left
 *                  out of the levels and returned as `cyclic` and `blocked`.
 *   reverseOrder() stop levels: every node stops before the nodes it depends on (dependents
 *                  first). Edges inside a cycle are ignored, so every node gets a place.
 *   dependents(id), dependencies(id)  transitive closures, for "stop what needs me" and
 *                  "start what I need".
 * Every list is sorted, so output is stable and testable. Pure: no I/O, no state changes after
 * construction.
 */

export interface GraphNode {
  id: string;
  /** ids this node is started after */
  after: readonly string[];
}

export interface Levels {
  /** ids per start level, level 0 first; each level sorted */
  levels: string[][];
  /** ids inside a dependency cycle */
  cyclic: string[];
  /** ids that depend (transitively) on a cyclic id and so can never start */
  blocked: string[];
}

/** A resolved `after:` reference. */
export type Ref = { id: string } | { role: string } | { instance: string };

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export class DepGraph {
  /** every node id, sorted */
  readonly ids: readonly string[];
  /** node → the ids it is started after (only ids that are nodes) */
  private readonly deps = new Map<string, string[]>();
  /** node → the ids started after it */
  private readonly rdeps = new Map<string, string[]>();
  private readonly unknown: Array<{ from: string; ref: string }> = [];
  private sccCache: string[][] | undefined;

  constructor(nodes: Iterable<GraphNode>) {
    const list = [...nodes];
    for (const n of list) {
      this.deps.set(n.id, []);
      this.rdeps.set(n.id, []);
    }
    for (const n of list) {
      for (const ref of new Set(n.after)) {
        if (!this.deps.has(ref)) {
          this.unknown.push({ from: n.id, ref });
          continue;
        }
        this.deps.get(n.id)!.push(ref);
        this.rdeps.get(ref)!.push(n.id);
      }
    }
    for (const l of [...this.deps.values(), ...this.rdeps.values()]) l.sort(byId);
    this.ids = [...this.deps.keys()].sort(byId);
  }

  /** `after` entries naming ids that are not in the graph, in node order. */
  unknownRefs(): Array<{ from: string; ref: string }> {
    return [...this.unknown].sort((a, b) => byId(a.from, b.from) || byId(a.ref, b.ref));
  }

  /** Every dependency cycle, as a closed walk in `after` direction starting at its smallest id. */
  findCycles(): string[][] {
    return this.components()
      .filter((c) => c.length > 1 || this.deps.get(c[0]!)!.includes(c[0]!))
      .map((c) => this.walk(c))
      .sort((a, b) => byId(a[0]!, b[0]!));
  }

  /** Parallel start levels; cyclic nodes and their dependents are reported apart. */
  levels(): Levels {
    const cyclic = new Set(this.findCycles().flat());
    const blocked = new Set<string>();
    for (const id of cyclic) for (const d of this.dependents(id)) if (!cyclic.has(d)) blocked.add(d);

    const schedulable = this.ids.filter((id) => !cyclic.has(id) && !blocked.has(id));
    const level = longestPaths(schedulable, (id) => this.deps.get(id)!);
    const levels: string[][] = [];
    for (const id of schedulable) (levels[level.get(id)!] ??= []).push(id);
    return { levels, cyclic: [...cyclic].sort(byId), blocked: [...blocked].sort(byId) };
  }

  /** Stop levels: dependents before their dependencies; every node appears once. */
  reverseOrder(): string[][] {
    const comp = new Map<string, number>();
    this.components().forEach((c, i) => c.forEach((id) => comp.set(id, i)));
    const level = longestPaths(this.ids, (id) => this.rdeps.get(id)!.filter((d) => comp.get(d) !== comp.get(id)));
    const out: string[][] = [];
    for (const id of this.ids) (out[level.get(id)!] ??= []).push(id);
    return out;
  }

  /** Every id that is started after `id`, directly or through others (sorted, without `id`). */
  dependents(id: string): string[] {
    return this.closure(id, this.rdeps);
  }

  /** Every id that `id` is started after, directly or through others (sorted, without `id`). */
  dependencies(id: string): string[] {
    return this.closure(id, this.deps);
  }

  private closure(id: string, edges: Map<string, string[]>): string[] {
    const seen = new Set<string>();
    const stack = [...(edges.get(id) ?? [])];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push(...edges.get(n)!);
    }
    seen.delete(id);
    return [...seen].sort(byId);
  }

  /** Strongly connected components (Tarjan, iterative so deep chains cannot overflow the stack). */
  private components(): string[][] {
    if (this.sccCache) return this.sccCache;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const out: string[][] = [];
    let next = 0;

    for (const root of this.ids) {
      if (index.has(root)) continue;
      const work: Array<{ id: string; i: number }> = [{ id: root, i: 0 }];
      index.set(root, next);
      low.set(root, next++);
      stack.push(root);
      onStack.add(root);
      while (work.length > 0) {
        const frame = work[work.length - 1]!;
        const succ = this.deps.get(frame.id)!;
        if (frame.i < succ.length) {
          const w = succ[frame.i++]!;
          if (!index.has(w)) {
            index.set(w, next);
            low.set(w, next++);
            stack.push(w);
            onStack.add(w);
            work.push({ id: w, i: 0 });
          } else if (onStack.has(w)) {
            low.set(frame.id, Math.min(low.get(frame.id)!, index.get(w)!));
          }
          continue;
        }
        work.pop();
        const parent = work[work.length - 1];
        if (parent) low.set(parent.id, Math.min(low.get(parent.id)!, low.get(frame.id)!));
        if (low.get(frame.id) === index.get(frame.id)) {
          const c: string[] = [];
          let w: string;
          do {
            w = stack.pop()!;
            onStack.delete(w);
            c.push(w);
          } while (w !== frame.id);
          out.push(c.sort(byId));
        }
      }
    }
    this.sccCache = out;
    return out;
  }

  /**
   * A closed walk through every member of a component, along `after` edges, from its smallest
   * id: repeatedly the shortest path to the nearest member not yet visited (ties by id), then
   * back to the start. The start is not repeated at the end. A plain cycle comes out as itself.
   */
  private walk(component: string[]): string[] {
    const members = new Set(component);
    const start = component[0]!;
    const walk = [start];
    const unvisited = new Set(component.slice(1));
    let at = start;
    while (unvisited.size > 0) {
      const path = this.shortestPath(at, (id) => unvisited.has(id), members);
      for (const id of path) unvisited.delete(id);
      walk.push(...path);
      at = path[path.length - 1]!;
    }
    const back = this.shortestPath(at, (id) => id === start, members);
    walk.push(...back.slice(0, -1));
    return walk;
  }

  /** BFS inside `members` from `from` to the first node matching `goal`; the path excludes `from`. */
  private shortestPath(from: string, goal: (id: string) => boolean, members: Set<string>): string[] {
    const prev = new Map<string, string>();
    const queue = [from];
    const seen = new Set([from]);
    while (queue.length > 0) {
      const n = queue.shift()!;
      for (const d of this.deps.get(n)!) {
        if (!members.has(d)) continue;
        if (goal(d)) {
          const path = [d];
          for (let p = n; p !== from; p = prev.get(p)!) path.unshift(p);
          return path;
        }
        if (seen.has(d)) continue;
        seen.add(d);
        prev.set(d, n);
        queue.push(d);
      }
    }
    return [];
  }
}

/**
 * For each id, the length of the longest path to a node without predecessors (0 for those):
 * a start level when `preds` gives dependencies, a stop level when it gives dependents. `preds`
 * must be acyclic over `ids`. Iterative, so long chains cannot overflow the stack.
 */
function longestPaths(ids: readonly string[], preds: (id: string) => readonly string[]): Map<string, number> {
  const level = new Map<string, number>();
  for (const root of ids) {
    const stack = [root];
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!;
      if (level.has(id)) {
        stack.pop();
        continue;
      }
      const ps = preds(id);
      const pending = ps.filter((p) => !level.has(p));
      if (pending.length > 0) {
        stack.push(...pending);
        continue;
      }
      level.set(id, ps.reduce((max, p) => Math.max(max, level.get(p)! + 1), 0));
      stack.pop();
    }
  }
  return level;
}

/**
 * Resolve one `after:` entry written in instance `fromInstance`:
 *   "role:x"     → {role: 'x'}
 *   "inst/name"  → {id: 'inst/name'} as written
 *   "name"       → {id: 'fromInstance/name'} when that service exists, else {instance: 'name'}
 *                  when an instance of that name exists, else {id: 'fromInstance/name'} (which
 *                  the graph then reports as unknown).
 * `knownIds` may be a predicate (asked only for bare names). Instances default to the instance
 * parts of a `knownIds` set; pass `instances` to include instances without services.
 */
export function resolveRef(ref: string, fromInstance: string, knownIds: ReadonlySet<string> | ((id: string) => boolean), instances?: Iterable<string>): Ref {
  if (ref.startsWith('role:')) return { role: ref.slice(5) };
  if (ref.includes('/')) return { id: ref };
  const local = `${fromInstance}/${ref}`;
  if (typeof knownIds === 'function' ? knownIds(local) : knownIds.has(local)) return { id: local };
  const names = new Set(instances ?? (typeof knownIds === 'function' ? [] : [...knownIds].map((id) => id.slice(0, id.indexOf('/')))));
  if (names.has(ref)) return { instance: ref };
  return { id: local };
}

/** A service as a graph input: its id ("instance/name") and its `after:` entries as written. */
export interface ServiceRefs {
  id: string;
  instance: string;
  after: readonly string[];
}

/**
 * The service graph: one node per service, an edge for every `after:` entry that resolves
 * (resolveRef) to a service among `services`. Role and instance references order instances, not
 * services, and are left out, as are entries naming nothing known. The one builder behind the
 * native adapter's cycle check, `metainit plan` offline and the live API's `plan`.
 */
export function serviceGraph(services: readonly ServiceRefs[], instances?: Iterable<string>): DepGraph {
  const ids = new Set(services.map((s) => s.id));
  return new DepGraph(
    services.map((s) => ({
      id: s.id,
      after: s.after.map((ref) => resolveRef(ref, s.instance, ids, instances)).flatMap((r) => ('id' in r && ids.has(r.id) ? [r.id] : [])),
    })),
  );
}
