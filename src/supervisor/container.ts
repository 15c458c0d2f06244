/**
 * container.ts — launch an init as PID 1 of new namespaces, on systemd's container interface.
 *
 * Model. An unpatched systemd runs only as PID 1 ("Can't run system mode unless PID 1"), so an
 * instance that hosts it gets namespaces of its own and the environment a container manager
 * gives (systemd docs/CONTAINER_INTERFACE.md). The launch is one process chain, no helper binary:
 *
 *   sh -c 'echo $$ > CGROUP/cgroup.procs; exec unshare …'   (the outer shell, forked by node)
 *     unshare --pid --fork --kill-child --mount --uts --ipc --cgroup --propagation private
 *       sh RUNDIR/NAME.container.sh                        (PID 1 of the new namespaces)
 *         … exec env -i container=metainit NOTIFY_SOCKET=/run/host/notify/sock INIT ARGS
 *
 * The outer shell enters the instance's cgroup *before* unshare, so the new cgroup namespace is
 * rooted there and every process of the instance is in the delegated subtree (cgroup.ts). The
 * network namespace is shared: the init's daemons serve the machine. `--kill-child` ties the
 * namespace to unshare: if unshare dies, PID 1 gets SIGKILL. unshare passes PID 1's end on:
 * exit code, or death by the same signal (SIGINT after SIGRTMIN+3/+4, SIGHUP after +5).
 *
 * The inner script (written to the run dir so an operator can read what ran) works in the new
 * mount namespace only, and only under the root:
 *   ROOT          bound on itself (pivot_root needs a mount point)
 *   ROOT/proc     a fresh proc of the new PID namespace; ROOT/proc/sys bound on itself read-only
 *   ROOT/sys      a fresh sysfs, read-only by a bind remount of that mount alone (never the
 *                 superblock); ROOT/sys/fs/cgroup a writable cgroup2 (its root = the subtree)
 *   ROOT/dev      a tmpfs with null zero full random urandom tty made by mknod (never bound from
 *                 the host's: systemd chmods some of them, which would change the machine's), a devpts
 *                 `newinstance` with ptmx → pts/ptmx, a tmpfs shm, fd/stdin/stdout/stderr links;
 *                 /dev/console bound from `console` when given (a pty slave metainit holds)
 *   ROOT/run      a tmpfs of its own; ROOT/run/host/notify bound from the notify dir;
 *                 /run/host/container-manager says "metainit"
 *   ROOT/tmp      a tmpfs
 * then sets the hostname (UTS namespace), `pivot_root . .` + a lazy unmount of the old root (no
 * directory is made in the root), and execs the init with `env -i` and the given environment.
 * A step that fails prints `container NAME: unable to …` and exits 125 (seen as unshare's code).
 *
 * Sharing with the machine, without ever giving the init the machine's /run or /dev:
 *   - `exports`: directories of the root's /run (as the other instances see it, e.g. `dbus`)
 *     that stay shared: before R/run is covered, each is bound aside under RUNDIR/NAME.export/,
 *     then bound back onto the fresh R/run/DIR — a socket the init makes there (the system bus)
 *     is seen by the machine's services, and nothing else of its /run is;
 *   - `binds`: single files or sockets of the machine bound onto a path under the new /run
 *     after it is mounted (the machine's /dev/log onto journald's forwarding socket);
 *   - `consoleTty`: the tty on the script's stdin (a pty whose master metainit holds) is bound
 *     at /dev/console.
 * The root may be the host's `/` (a machine that runs systemd from its own tree): it is then bound
 * recursively on RUNDIR/NAME.root first, in the new mount namespace only, and that is the root
 * the steps above work on — its /proc, /sys, /dev, /run and /tmp are covered by fresh mounts, so
 * the machine's own stay out of reach. Never chroot-only.
 */
import { shq } from '../base/shell-quote.js';
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { regularFileText } from '../base/regular-file.js';
import { join, posix } from 'node:path';
import { hostPath } from './rootfs.js';

export interface ContainerSpec {
  /** instance name: messages and the script's file name */
  name: string;
  /** host path of the tree the init runs from (never `/`) */
  root: string;
  /** the init's argv, argv[0] an absolute path inside the root */
  argv: string[];
  /** the init's whole environment besides `container` and `NOTIFY_SOCKET` (env -i) */
  env?: Record<string, string>;
  /** host directory bound at /run/host/notify (the notify socket is made there as `sock`) */
  notifyDir: string;
  /** host path of the instance's cgroup directory, entered before unshare */
  cgroup: string;
  /** directory for the inner script (the instance's run dir) */
  runDir: string;
  hostname?: string;
  /** value of $container (default "metainit") */
  container?: string;
  /** host path of a tty (a pty slave) to bind at /dev/console */
  console?: string;
  /** bind the tty on the inner script's stdin at /dev/console (the launch runs on a pty) */
  consoleTty?: boolean;
  /** directories of the root's /run kept shared with the machine (names under /run, e.g. `dbus`) */
  exports?: string[];
  /** host files (sockets) bound onto paths under the init's fresh /run: source → path inside */
  binds?: Array<{ source: string; target: string }>;
  /**
   * Wait (at most 10 s) before exec'ing the init until no process from outside the namespace is
   * left in the namespace's root cgroup — the caller moves unshare out (cgroup.ts
   * moveToMountRoot) — so that the init can enable controllers for the cgroups it makes.
   */
  soleInCgroup?: boolean;
  /** a host file holding a machine id, bound on /etc/machine-id when the root's is empty (so systemd writes none) */
  machineIdFile?: string;
  /** capabilities dropped from the bounding set before the exec (names without cap_, e.g. audit_write), with the root's setpriv */
  dropCaps?: string[];
}

export interface ContainerLaunch {
  /** the command node spawns: argv[0] is sh */
  argv: string[];
  /** where the inner script is written */
  scriptPath: string;
  /** its text */
  script: string;
}

/** NOTIFY_SOCKET as the init sees it */
export const NOTIFY_SOCKET_INSIDE = '/run/host/notify/sock';

/** the basic nodes, made afresh (never bound: a chmod inside would change the machine's own) */
const DEV_NODES: ReadonlyArray<[string, number, number]> = [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]];
const EXPORT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Single-quote a word for sh. */

/** The tty group's gid in the root's /etc/group, for devpts (undefined when there is none). */
function ttyGid(root: string): number | undefined {
  try {
    const line = (regularFileText(join(root, 'etc/group')) ?? '').split('\n').find((l) => l.startsWith('tty:'));
    const gid = Number(line?.split(':')[2]);
    return Number.isInteger(gid) ? gid : undefined;
  } catch {
    return undefined;
  }
}

/** Throws `container NAME: unable to launch …` when the spec cannot work; returns the real root. */
function checkSpec(spec: ContainerSpec): string {
  const fail = (why: string, fix: string): never => {
    throw new Error(`container ${spec.name}: unable to launch ${spec.argv[0] ?? '(no argv)'}: ${why} (fix: ${fix})`);
  };
  let root = spec.root;
  try {
    root = realpathSync(spec.root);
  } catch {
    fail(`the root ${spec.root} does not exist`, 'create it or correct `root`');
  }
  for (const c of spec.dropCaps ?? []) if (!/^[a-z_]+$/.test(c)) fail(`capability "${c}" is not a capability name`, 'write it as setpriv does, e.g. audit_write');
  for (const d of spec.exports ?? []) if (!EXPORT_NAME.test(d)) fail(`export "${d}" is not a directory name under /run`, 'name it as it is under /run, e.g. dbus');
  for (const b of spec.binds ?? []) {
    if (!b.target.startsWith('/run/') || b.target.includes('/../')) fail(`bind target ${b.target} is not under /run`, 'bind only onto paths under /run');
    if (!existsSync(b.source)) fail(`bind source ${b.source} does not exist`, 'create it first, or leave the bind out');
  }
  const init = spec.argv[0];
  if (!init || !init.startsWith('/')) fail('argv[0] is not an absolute path inside the root', 'name the init by its full path, e.g. /lib/systemd/systemd');
  if (!existsSync(hostPath(root, init!))) fail(`${init} is not in the root ${root}`, 'install it there or correct argv');
  if (!existsSync(spec.notifyDir)) fail(`the notify directory ${spec.notifyDir} does not exist`, 'create it before the launch');
  if (!existsSync(join(spec.cgroup, 'cgroup.procs'))) fail(`${spec.cgroup} is not a cgroup directory`, 'make the subtree with cgroup.ts createSubtree first');
  for (const k of Object.keys(spec.env ?? {})) if (!ENV_NAME.test(k)) fail(`environment name "${k}" is not valid`, 'use letters, digits and _ only');
  if (spec.hostname !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(spec.hostname)) fail(`hostname "${spec.hostname}" is not valid`, 'use letters, digits, dots and dashes, at most 63');
  return root;
}

/** The mount steps of the inner script for root R (see the model above). */
function mountSteps(spec: ContainerSpec, gid: number | undefined): string[] {
  const ro = 'bind,remount,ro,nosuid,nodev,noexec';
  const lines = [
    `m "the root on itself" --rbind "$R" "$R"`,
    `m "proc on $R/proc" -t proc -o nosuid,nodev,noexec proc "$R/proc"`,
    `m "$R/proc/sys on itself" --bind "$R/proc/sys" "$R/proc/sys"`,
    `m "$R/proc/sys read-only" -o ${ro} "$R/proc/sys"`,
    // sysfs is one superblock per network namespace: with the network shared, a sysfs already on
    // $R/sys (the sandbox's bind, or the staged host root's) makes the new mount EBUSY
    `umount -R -l "$R/sys" 2>/dev/null || :`,
    `m "sysfs on $R/sys" -t sysfs -o nosuid,nodev,noexec sysfs "$R/sys"`,
    `m "cgroup2 on $R/sys/fs/cgroup" -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"`,
    `m "$R/sys read-only" -o ${ro} "$R/sys"`,
    `m "a tmpfs on $R/dev" -t tmpfs -o mode=0755,nosuid,size=4m tmpfs "$R/dev"`,
    ...DEV_NODES.map(([n, major, minor]) => `mknod -m 666 "$R/dev/${n}" c ${major} ${minor} || fail "make $R/dev/${n}" "is the tmpfs on $R/dev mounted without nodev, and CAP_MKNOD held?"`),
    `mkdir -p "$R/dev/pts" "$R/dev/shm" || fail "make $R/dev/pts" "is the tmpfs on $R/dev mounted?"`,
    `m "devpts on $R/dev/pts" -t devpts -o newinstance,ptmxmode=0666,mode=0620${gid === undefined ? '' : `,gid=${gid}`},nosuid,noexec devpts "$R/dev/pts"`,
    `m "a tmpfs on $R/dev/shm" -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/dev/shm"`,
    `ln -s pts/ptmx "$R/dev/ptmx" && ln -s /proc/self/fd "$R/dev/fd" && ln -s /proc/self/fd/0 "$R/dev/stdin" && ln -s /proc/self/fd/1 "$R/dev/stdout" && ln -s /proc/self/fd/2 "$R/dev/stderr" || fail "link $R/dev/ptmx and fd" "is the tmpfs on $R/dev mounted?"`,
  ];
  if (spec.console !== undefined) lines.push(`: > "$R/dev/console" && m "the console on $R/dev/console" --bind ${shq(spec.console)} "$R/dev/console"`);
  else if (spec.consoleTty) lines.push(`T=$(tty) || fail "find the console tty" "run the launch on a pty"`, `: > "$R/dev/console" && m "the console on $R/dev/console" --bind "$T" "$R/dev/console"`);
  const aside = join(spec.runDir, `${spec.name}.export`);
  for (const d of spec.exports ?? []) {
    lines.push(
      `mkdir -p "$R/run/${d}" ${shq(`${aside}/${d}`)} || fail "make $R/run/${d}" "is $R/run writable?"`,
      `m "$R/run/${d} aside" --bind "$R/run/${d}" ${shq(`${aside}/${d}`)}`,
    );
  }
  lines.push(
    `m "a tmpfs on $R/run" -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$R/run"`,
    ...(spec.exports ?? []).flatMap((d) => [`mkdir -p "$R/run/${d}" || fail "make $R/run/${d}" "is the tmpfs on $R/run mounted?"`, `m "the shared $R/run/${d}" --bind ${shq(`${aside}/${d}`)} "$R/run/${d}"`]),
    ...(spec.binds ?? []).flatMap((b) => [
      `mkdir -p "$R${posix.dirname(b.target)}" && : > "$R${b.target}" || fail "make $R${b.target}" "is the tmpfs on $R/run mounted?"`,
      `m "${b.source} on $R${b.target}" --bind ${shq(b.source)} "$R${b.target}"`,
    ]),
    `mkdir -p "$R/run/host/notify" || fail "make $R/run/host/notify" "is the tmpfs on $R/run mounted?"`,
    `m "the notify directory on $R/run/host/notify" --bind ${shq(spec.notifyDir)} "$R/run/host/notify"`,
    `printf '%s\\n' metainit > "$R/run/host/container-manager" || fail "write $R/run/host/container-manager" "is the tmpfs on $R/run mounted?"`,
    `m "a tmpfs on $R/tmp" -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$R/tmp"`,
  );
  if (spec.machineIdFile !== undefined) lines.push(`if [ -f "$R/etc/machine-id" ] && [ ! -s "$R/etc/machine-id" ]; then m "a machine id on $R/etc/machine-id" --bind ${shq(spec.machineIdFile)} "$R/etc/machine-id"; fi`);
  return lines;
}

/** Build the launch: the outer command and the inner script (pure apart from reading /etc/group). */
export function containerLaunch(spec: ContainerSpec): ContainerLaunch {
  const root = checkSpec(spec);
  const env = { ...spec.env, container: spec.container ?? 'metainit', NOTIFY_SOCKET: NOTIFY_SOCKET_INSIDE };
  const envWords = Object.entries(env).map(([k, v]) => shq(`${k}=${v}`));
  const script = [
    '#!/bin/sh',
    `# container ${spec.name}: made by metainit (src/supervisor/container.ts). Runs as PID 1 of the`,
    '# instance\'s new namespaces: lays the container interface over the root, pivots into it and',
    '# execs the init. Every mount is made in this mount namespace only.',
    'set -u',
    `R=${shq(root === '/' ? join(spec.runDir, `${spec.name}.root`) : root)}`,
    `fail() { echo "container ${spec.name}: unable to $1 (fix: $2)" >&2; exit 125; }`,
    // mount's own first line goes into the one error line (the rest, "dmesg(1) may have …", is noise)
    'm() { what=$1; shift; out=$(mount "$@" 2>&1) || fail "mount $what: $(printf %s "$out" | head -n 1 | sed "s/^mount: //")" "see dmesg for the kernel\'s reason"; }',
    ...(root === '/' ? [`mkdir -p "$R" || fail "make $R" "is the run directory writable?"`, `m "the host's / on $R" --rbind / "$R"`] : []),
    ...mountSteps(spec, ttyGid(root)),
    spec.hostname === undefined ? ':' : `printf '%s' ${shq(spec.hostname)} > /proc/sys/kernel/hostname || fail "set the hostname" "is this a UTS namespace of its own?"`,
    // pids outside the PID namespace read as 0 in cgroup.procs
    ...(spec.soleInCgroup ? ['i=0; while grep -qx 0 "$R/sys/fs/cgroup/cgroup.procs" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done'] : []),
    `cd "$R" || fail "enter $R" "does the root exist?"`,
    'pivot_root . . || fail "pivot into $R" "is the root a directory on a mount of its own?"',
    'umount -n -c -l . || fail "detach the old root" "see the umount error above"',
    'cd / || exit 125',
    ...(spec.dropCaps?.length
      ? [`[ -x /usr/bin/setpriv ] || fail "drop ${spec.dropCaps.join(', ')}" "install util-linux's setpriv in the root"`, `exec /usr/bin/setpriv --bounding-set ${spec.dropCaps.map((c) => `-${c}`).join(',')} /usr/bin/env -i ${envWords.join(' ')} ${spec.argv.map(shq).join(' ')}`]
      : [`exec /usr/bin/env -i ${envWords.join(' ')} ${spec.argv.map(shq).join(' ')}`]),
    '',
  ].join('\n');
  const scriptPath = join(spec.runDir, `${spec.name}.container.sh`);
  const unshare = ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--uts', '--ipc', '--cgroup', '--propagation', 'private', '/bin/sh', scriptPath];
  const outer = `echo $$ > "$1/cgroup.procs" || { echo "container ${spec.name}: unable to enter the cgroup $1 (fix: make it with cgroup.ts createSubtree)" >&2; exit 125; }; shift; exec "$@"`;
  return { argv: ['/bin/sh', '-c', outer, 'metainit-container', spec.cgroup, ...unshare], scriptPath, script };
}

export interface ContainerOptions {
  /**
   * stdio of the outer shell (and so of unshare and the init); default: ignore stdin, pipe the
   * rest — the caller must then read both pipes, or a chatty init blocks on a full pipe. A pty
   * for /dev/console is a separate matter (`ContainerSpec.console`).
   */
  stdio?: StdioOptions;
  /** how long to wait for the namespace's PID 1 to appear (ms, default 5000) */
  pidTimeout?: number;
}

export interface Container {
  /** the unshare process (its exit is PID 1's exit) */
  child: ChildProcess;
  /** host pid of the namespace's PID 1 (the init, once it has exec'd) */
  pid: number;
  launch: ContainerLaunch;
}

/** The one child of a single-threaded process, from /proc/PID/task/PID/children. */
function onlyChild(pid: number): number | undefined {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'unshare') return undefined; // still the outer shell
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return kids.length > 0 ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** The environment the launch chain runs with (the init itself gets `env -i`). */
export const LAUNCH_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

/** Write the launch's inner script where its argv expects it. */
export function writeLaunch(spec: ContainerSpec): ContainerLaunch {
  const launch = containerLaunch(spec);
  mkdirSync(spec.runDir, { recursive: true });
  writeFileSync(launch.scriptPath, launch.script, { mode: 0o700 });
  return launch;
}

/**
 * The host pid of the namespace's PID 1, once the outer process (`outerPid`, spawned from
 * `launch.argv` by whatever means: a pipe, a pty) has become unshare and forked it. `ended`
 * says why the launch is over already (undefined while it runs). Throws after `timeoutMs`.
 */
export async function findInitPid(name: string, init: string, outerPid: number, ended: () => string | undefined, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = onlyChild(outerPid);
    if (pid !== undefined) return pid;
    const why = ended();
    if (why !== undefined || Date.now() >= deadline) {
      throw new Error(`container ${name}: unable to start ${init}: ${why === undefined ? 'its PID 1 did not appear in time' : `the launch ended (${why})`} (fix: see the instance log for the unshare and mount errors)`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Write the script, spawn the chain, and resolve once the namespace's PID 1 exists. */
export async function spawnContainer(spec: ContainerSpec, opts: ContainerOptions = {}): Promise<Container> {
  const launch = writeLaunch(spec);
  const child = spawn(launch.argv[0]!, launch.argv.slice(1), { stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'], env: LAUNCH_ENV });
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
  child.once('error', (e) => (exited = e.message));
  try {
    const pid = await findInitPid(spec.name, spec.argv[0]!, child.pid ?? -1, () => (child.pid === undefined ? (exited ?? 'not spawned') : exited), opts.pidTimeout);
    return { child, pid, launch };
  } catch (e) {
    if (exited === undefined) child.kill('SIGKILL');
    throw e;
  }
}
