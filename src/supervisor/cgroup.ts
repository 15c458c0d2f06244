/**
 * cgroup.ts — a delegated cgroup2 subtree for one instance: made, entered, killed, removed.
 *
 * Model. An init that manages cgroups itself (systemd) needs a writable cgroup2 directory of its
 * own, which becomes the root of its cgroup namespace. metainit makes it as
 *
 *   <cgroup2 mount>/<parent>/<instance>        e.g. /sys/fs/cgroup/unified/metainit/systemd
 *
 * where <parent> ("metainit" by default) is a directory metainit owns: it is made if missing and
 * removed again once empty. Controllers: the parent's `cgroup.controllers` lists what the host
 * makes available there; each of them is enabled, one by one, in the parent's
 * `cgroup.subtree_control`, so the instance directory offers them to its init. Controllers that
 * cannot be enabled, and controllers the mount offers but the host did not pass down, are logged
 * and never fail the launch. The host's own directories (the mount root included) are only read,
 * unless `delegateFromMount` says metainit owns the whole mount (machine mode).
 *
 * The instance directory itself gets no `subtree_control`: processes live in it (the launching
 * shell moves itself in), and cgroup2 forbids both at once; the hosted init moves itself into a
 * child (systemd: init.scope) and enables controllers there on its own.
 *
 * Stopping is by the cgroup, not by the process tree: `cgroup.kill` (Linux ≥ 5.14) kills every
 * process of the subtree at once; without it every pid of every `cgroup.procs`, deepest first, is
 * sent SIGKILL until none is left. Removal is depth first (children before parents, as rmdir(2)
 * on cgroupfs requires). Every write, kill and rmdir first checks that its path lies strictly
 * inside `<mount>/<parent>/` — nothing outside the subtree metainit made is ever touched.
 *
 * The file operations go through `CgroupOps` (real fs by default), so unit tests can stand a
 * temp directory in for cgroupfs.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Logger } from '../base/types.js';

/** What cgroup.ts does to the file system (cgroupfs in production, a temp dir in tests). */
export interface CgroupOps {
  mkdir(path: string): void;
  rmdir(path: string): void;
  read(path: string): string;
  write(path: string, text: string): void;
  exists(path: string): boolean;
  /** names of the sub-directories (child cgroups) of path */
  children(path: string): string[];
  /** kill(2); false when the process is gone already */
  kill(pid: number, signal: NodeJS.Signals): boolean;
}

export const realCgroupOps: CgroupOps = {
  mkdir: (p) => mkdirSync(p),
  rmdir: (p) => rmdirSync(p),
  read: (p) => readFileSync(p, 'utf8'),
  write: (p, t) => writeFileSync(p, t),
  exists: (p) => existsSync(p),
  children: (p) =>
    readdirSync(p, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name),
  kill: (pid, signal) => {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  },
};

/** A subtree made by `createSubtree`. */
export interface CgroupSubtree {
  /** the cgroup2 mount point it lives under */
  readonly mount: string;
  /** <mount>/<parent>: metainit's directory */
  readonly parent: string;
  /** <parent>/<instance>: the instance's cgroup (the root of its cgroup namespace) */
  readonly path: string;
  /** controllers the instance's cgroup offers to its init */
  readonly controllers: string[];
  /** true when `parent` was made by this call (removeSubtree then removes it once empty) */
  readonly madeParent: boolean;
}

export interface SubtreeOptions {
  instance: string;
  /** directory under the mount that metainit owns (default "metainit") */
  parent?: string;
  /** the cgroup2 mount (default: found in /proc/self/mountinfo) */
  mount?: string;
  /** metainit owns the whole mount (machine mode): enable controllers at the mount root too */
  delegateFromMount?: boolean;
  log: Logger;
  ops?: CgroupOps;
}

const NAME = /^[A-Za-z0-9_@][A-Za-z0-9_.@:-]*$/;

/** The cgroup2 mount point in a mountinfo text; /sys/fs/cgroup is preferred, then the first one. */
export function findCgroup2Mount(mountinfo?: string): string | undefined {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const mounts: string[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right || right.split(' ')[0] !== 'cgroup2') continue;
    const target = left.split(' ')[4];
    if (target) mounts.push(unescape(target));
  }
  return mounts.find((m) => m === '/sys/fs/cgroup') ?? mounts[0];
}

/** Throws unless `path` lies strictly inside `subtree.parent` (the guard before any change). */
export function assertInside(subtree: Pick<CgroupSubtree, 'parent'>, path: string): void {
  const rel = relative(resolve(subtree.parent), resolve(path));
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) {
    throw new Error(`cgroup: unable to touch ${path}: it is not inside metainit's subtree ${subtree.parent} (fix: a bug — only paths made by createSubtree may be changed)`);
  }
}

const words = (text: string): string[] => text.split(/\s+/).filter(Boolean);

/** Enable each controller `dir` offers in its own subtree_control; returns those that are on. */
function enableControllers(dir: string, ops: CgroupOps, log: Logger): string[] {
  const offered = ops.exists(join(dir, 'cgroup.controllers')) ? words(ops.read(join(dir, 'cgroup.controllers'))) : [];
  const failed: string[] = [];
  for (const c of offered) {
    try {
      ops.write(join(dir, 'cgroup.subtree_control'), `+${c}`);
    } catch (e) {
      failed.push(`${c} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  if (failed.length > 0) log.warn(`cgroup: unable to enable controllers ${failed.join(', ')} in ${dir}: the instance goes without them`);
  return ops.exists(join(dir, 'cgroup.subtree_control')) ? words(ops.read(join(dir, 'cgroup.subtree_control'))) : [];
}

/** Make the instance's delegated subtree (see above). Throws only when the directory cannot be made. */
export function createSubtree(opts: SubtreeOptions): CgroupSubtree {
  const ops = opts.ops ?? realCgroupOps;
  const parentName = opts.parent ?? 'metainit';
  for (const [what, name] of [['instance', opts.instance], ['parent', parentName]] as const) {
    if (!NAME.test(name)) throw new Error(`cgroup: unable to make a subtree for ${opts.instance}: ${what} name "${name}" is not a plain directory name (fix: use letters, digits and _.@:- only)`);
  }
  const mount = opts.mount ?? findCgroup2Mount();
  if (!mount || !ops.exists(join(mount, 'cgroup.procs'))) {
    throw new Error(`cgroup: unable to make a subtree for ${opts.instance}: no cgroup2 file system is mounted (fix: mount cgroup2, e.g. on /sys/fs/cgroup)`);
  }
  const parent = join(mount, parentName);
  const path = join(parent, opts.instance);
  const madeParent = !ops.exists(parent);
  try {
    if (opts.delegateFromMount) enableControllers(mount, ops, opts.log);
    if (madeParent) ops.mkdir(parent);
    const available = ops.exists(join(mount, 'cgroup.controllers')) ? words(ops.read(join(mount, 'cgroup.controllers'))) : [];
    const enabled = enableControllers(parent, ops, opts.log);
    const withheld = available.filter((c) => !enabled.includes(c));
    if (withheld.length > 0) opts.log.info(`cgroup: ${path} goes without controllers ${withheld.join(', ')}: not enabled above ${parent} (the host did not delegate them)`);
    if (ops.exists(path)) throw Object.assign(new Error(`${path} exists already`), { code: 'EEXIST' });
    ops.mkdir(path);
    return { mount, parent, path, controllers: enabled, madeParent };
  } catch (e) {
    if (madeParent && ops.exists(parent)) {
      try {
        ops.rmdir(parent);
      } catch {
        // something else lives there meanwhile: it stays
      }
    }
    const reason = (e as NodeJS.ErrnoException).code === 'EEXIST' ? `${path} exists already` : (e as Error).message;
    throw new Error(`cgroup: unable to make ${path}: ${reason} (fix: stop what still runs there, or remove the directory depth first)`);
  }
}

/**
 * The subtree of an earlier `createSubtree` (same mount, parent and instance), to kill and remove
 * what a crashed or killed run left behind. It claims the parent as made by metainit.
 */
export function existingSubtree(opts: Pick<SubtreeOptions, 'instance' | 'parent' | 'mount'>): CgroupSubtree | undefined {
  const mount = opts.mount ?? findCgroup2Mount();
  const parentName = opts.parent ?? 'metainit';
  if (!mount || !NAME.test(opts.instance) || !NAME.test(parentName)) return undefined;
  const parent = join(mount, parentName);
  return { mount, parent, path: join(parent, opts.instance), controllers: [], madeParent: true };
}

/** Move `pid` into the subtree's cgroup (or a cgroup below it). */
export function movePid(subtree: CgroupSubtree, pid: number, dir: string = subtree.path, ops: CgroupOps = realCgroupOps): void {
  assertInside(subtree, dir);
  try {
    ops.write(join(dir, 'cgroup.procs'), String(pid));
  } catch (e) {
    throw new Error(`cgroup: unable to move pid ${pid} into ${dir}: ${(e as Error).message} (fix: is the pid alive, and the cgroup without subtree_control?)`);
  }
}

/**
 * Move `pid` out of the subtree into the root cgroup of its mount (where metainit itself runs in
 * machine mode). For the launcher of a cgroup namespace (unshare): the namespace's root cgroup
 * must hold no process of its own, or cgroup v2 lets it enable no controller for its children.
 */
export function moveToMountRoot(subtree: CgroupSubtree, pid: number, ops: CgroupOps = realCgroupOps): void {
  try {
    ops.write(join(subtree.mount, 'cgroup.procs'), String(pid));
  } catch (e) {
    throw new Error(`cgroup: unable to move pid ${pid} out of ${subtree.path} into ${subtree.mount}: ${(e as Error).message} (fix: is the pid alive?)`);
  }
}

/** Every cgroup directory of the subtree, deepest first (the order rmdir and the fallback kill need). */
export function cgroupsDepthFirst(dir: string, ops: CgroupOps = realCgroupOps): string[] {
  if (!ops.exists(dir)) return [];
  let kids: string[] = [];
  try {
    kids = ops.children(dir);
  } catch {
    // removed meanwhile
  }
  return [...kids.flatMap((k) => cgroupsDepthFirst(join(dir, k), ops)), dir];
}

/** pids of one cgroup.procs (empty when the cgroup is gone). */
function procsIn(dir: string, ops: CgroupOps): number[] {
  try {
    return words(ops.read(join(dir, 'cgroup.procs'))).map(Number).filter((n) => n > 0);
  } catch {
    return [];
  }
}

/** Every pid in the subtree's cgroup and below it. */
export function subtreePids(subtree: CgroupSubtree, ops: CgroupOps = realCgroupOps): number[] {
  return cgroupsDepthFirst(subtree.path, ops).flatMap((d) => procsIn(d, ops));
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Kill every process of the subtree: `cgroup.kill` if the kernel has it, else SIGKILL to each pid
 * of each cgroup.procs, deepest first, repeated until empty. Resolves true once no process is
 * left, false if some were still there at `deadline` (ms epoch).
 */
export async function killSubtree(subtree: CgroupSubtree, deadline: number, ops: CgroupOps = realCgroupOps): Promise<boolean> {
  assertInside(subtree, subtree.path);
  if (!ops.exists(subtree.path)) return true;
  const killFile = join(subtree.path, 'cgroup.kill');
  const viaKill = ops.exists(killFile);
  for (;;) {
    if (subtreePids(subtree, ops).length === 0) return true;
    if (viaKill) {
      try {
        ops.write(killFile, '1');
      } catch {
        // gone meanwhile
      }
    } else {
      for (const dir of cgroupsDepthFirst(subtree.path, ops)) for (const pid of procsIn(dir, ops)) ops.kill(pid, 'SIGKILL');
    }
    if (Date.now() >= deadline) return subtreePids(subtree, ops).length === 0;
    await pause(20);
  }
}

/**
 * Remove the subtree depth first, then metainit's parent directory if this subtree made it and
 * nothing else lives there. Returns the directories that could not be removed (logged).
 */
export function removeSubtree(subtree: CgroupSubtree, log: Logger, ops: CgroupOps = realCgroupOps): string[] {
  const left: string[] = [];
  for (const dir of cgroupsDepthFirst(subtree.path, ops)) {
    assertInside(subtree, dir);
    try {
      ops.rmdir(dir);
    } catch (e) {
      left.push(dir);
      log.warn(`cgroup: unable to remove ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (fix: kill what still runs in it first)`);
    }
  }
  if (subtree.madeParent && left.length === 0 && ops.exists(subtree.parent)) {
    try {
      if (ops.children(subtree.parent).length === 0) ops.rmdir(subtree.parent);
    } catch {
      // another instance made a cgroup there meanwhile, or it is busy: it stays
    }
  }
  return left;
}
