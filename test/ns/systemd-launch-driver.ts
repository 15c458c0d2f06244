/**
 * systemd-launch-driver.ts — launches the test bed's unpatched systemd through the supervisor's
 * container helpers and prints one JSON object (LaunchResult) with what it saw.
 * systemd-launch.test.ts runs it as PID 1 of
 *   unshare --pid --fork --kill-child --mount --propagation private --mount-proc --net
 * so the overlay exists only in that mount namespace, the whole thing (systemd's own, nested PID
 * namespace included) dies with the driver, and systemd's daemons never see the host's network.
 *
 * Steps: a tmpfs scratch dir; an overlay of the test bed on it (lower = the test bed, never
 * written); the cgroup subtree <cgroup2>/$METAINIT_CGROUP_PARENT/systemd (cgroup.ts); the notify
 * socket (the addon); spawnContainer (container.ts) with /lib/systemd/systemd
 * systemd.getty_auto=0 systemd.mask=ssh.service; wait for READY=1; `systemctl
 * is-system-running --wait` through nsenter; SIGRTMIN+4; unshare's end (PID 1's, passed on);
 * then killSubtree and removeSubtree, and what is left of the subtree.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { MNT_DETACH, realSys } from '../../src/base/sys.js';
import { createSubtree, killSubtree, removeSubtree, subtreePids, type CgroupSubtree } from '../../src/supervisor/cgroup.js';
import { spawnContainer, type Container } from '../../src/supervisor/container.js';
import { installReaper } from '../../src/supervisor/reaper.js';

export interface LaunchResult {
  skip?: string;
  error?: string;
  cgroup?: { mount: string; path: string; controllers: string[] };
  pid1?: number;
  /** comm of PID 1 once READY=1 came */
  pid1Comm?: string;
  /** PID 1's cgroup as it sees itself (its cgroup namespace) */
  pid1Cgroup?: string | undefined;
  /** the same as the host sees it */
  pid1HostCgroup?: string | undefined;
  /** ms from spawn to READY=1 */
  readyMs?: number;
  notify: string[];
  /** is-system-running --wait */
  state?: string;
  failedUnits?: string[];
  sshState?: string;
  /** PID 1's mount table: "target fstype rw|ro" */
  mounts?: string[];
  /** processes in the subtree while systemd ran */
  procsRunning?: number;
  /** unshare's end (= PID 1's) after SIGRTMIN+4, ms after the signal */
  exit?: { code: number | null; signal: string | null; ms: number };
  pid1Gone?: boolean;
  /** pids still in the subtree after the exit, before killSubtree */
  leftAfterExit?: number[];
  killed?: boolean;
  notRemoved?: string[];
  cgroupGone?: boolean;
  stderr: string;
}

const TESTBED = process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs';
const PARENT = process.env.METAINIT_CGROUP_PARENT ?? `metainit-test-${process.ppid}`;
const sys = realSys();
const log = { info: (t: string) => process.stderr.write(`info: ${t}\n`), warn: (t: string) => process.stderr.write(`warn: ${t}\n`), error: (t: string) => process.stderr.write(`error: ${t}\n`) };
const result: LaunchResult = { notify: [], stderr: '' };

function run(argv: string[], timeout = 20_000): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    execFile(argv[0]!, argv.slice(1), { timeout, encoding: 'utf8' }, (err, stdout) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: stdout.trim() }));
  });
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

function overlay(base: string): string {
  for (const sub of ['upper', 'work', 'root', 'notify', 'run']) mkdirSync(join(base, sub));
  sys.mount('overlay', join(base, 'root'), 'overlay', 0, `lowerdir=${TESTBED},upperdir=${base}/upper,workdir=${base}/work`);
  return join(base, 'root');
}

async function observe(c: Container): Promise<void> {
  const inside = (args: string[]): Promise<{ code: number; stdout: string }> => run(['nsenter', '-t', String(c.pid), '-p', '-m', '--', ...args]);
  result.pid1Comm = readFileSync(`/proc/${c.pid}/comm`, 'utf8').trim();
  const v2 = (text: string): string | undefined => text.split('\n').find((l) => l.startsWith('0::'));
  result.pid1Cgroup = v2((await run(['nsenter', '-t', String(c.pid), '-p', '-m', '-C', '--', 'cat', '/proc/1/cgroup'])).stdout);
  result.pid1HostCgroup = v2(readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'));
  result.state = (await inside(['systemctl', 'is-system-running', '--wait'])).stdout;
  result.failedUnits = (await inside(['systemctl', 'list-units', '--failed', '--plain', '--no-legend'])).stdout.split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
  result.sshState = (await inside(['systemctl', 'is-enabled', 'ssh.service'])).stdout;
  result.mounts = readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [left, right] = l.split(' - ');
      const f = left!.split(' ');
      return `${f[4]} ${right!.split(' ')[0]} ${f[5]!.split(',')[0]}`;
    });
}

async function launch(base: string, cg: CgroupSubtree): Promise<void> {
  const root = overlay(base);
  let ready: number | undefined;
  const sock = sys.notifySocket(join(base, 'notify/sock'), (msg) => {
    result.notify.push(...msg.split('\n').filter(Boolean));
    if (msg.split('\n').includes('READY=1')) ready ??= Date.now();
  });
  const t0 = Date.now();
  const c = await spawnContainer({ name: 'systemd', root, argv: ['/lib/systemd/systemd', 'systemd.getty_auto=0', 'systemd.mask=ssh.service'], notifyDir: join(base, 'notify'), cgroup: cg.path, runDir: join(base, 'run'), hostname: 'metainit-sd' });
  result.pid1 = c.pid;
  let exit: { code: number | null; signal: string | null; at: number } | undefined;
  c.child.on('exit', (code, signal) => (exit = { code, signal, at: Date.now() }));
  c.child.stderr?.on('data', (d: Buffer) => (result.stderr = (result.stderr + d.toString()).slice(-4000)));
  c.child.stdout?.on('data', (d: Buffer) => (result.stderr = (result.stderr + d.toString()).slice(-4000)));
  try {
    if (!(await waitUntil(() => ready !== undefined || exit !== undefined, 30_000))) throw new Error('systemd: no READY=1 within 30 s');
    if (ready === undefined) throw new Error(`systemd: ended before READY=1 (${exit!.signal ?? `code ${exit!.code}`})`);
    result.readyMs = ready - t0;
    await observe(c);
    result.procsRunning = subtreePids(cg).length;
    const sent = Date.now();
    process.kill(c.pid, sys.SIGRTMIN + 4);
    await waitUntil(() => exit !== undefined, 20_000);
    if (exit) result.exit = { code: exit.code, signal: exit.signal, ms: exit.at - sent };
    result.pid1Gone = !existsSync(`/proc/${c.pid}`);
    result.leftAfterExit = subtreePids(cg);
  } finally {
    sock.close();
    if (!exit) c.child.kill('SIGKILL');
  }
}

if (process.pid !== 1) result.skip = 'systemd-launch-driver: unable to run: not PID 1 of a private namespace (run it under unshare --pid --fork --mount --propagation private --mount-proc)';
else if (!existsSync(join(TESTBED, 'lib/systemd/systemd'))) result.skip = `systemd-launch-driver: unable to run: the test bed ${TESTBED} has no /lib/systemd/systemd (build it with test/testbed/build.sh rootfs)`;
else {
  process.on('SIGUSR1', () => {}); // PID 1 without a listener would start the inspector
  installReaper(sys);
  const base = `/tmp/${PARENT}-scratch`; // empty on the host: the tmpfs is in this mount namespace only
  mkdirSync(base);
  sys.mount('tmpfs', base, 'tmpfs', 0, 'mode=0700');
  let cg: CgroupSubtree | undefined;
  try {
    cg = createSubtree({ instance: 'systemd', parent: PARENT, log });
    result.cgroup = { mount: cg.mount, path: cg.path, controllers: cg.controllers };
    await launch(base, cg);
  } catch (e) {
    result.error = (e as Error).stack ?? String(e);
  } finally {
    if (cg) {
      result.killed = await killSubtree(cg, Date.now() + 10_000);
      result.notRemoved = removeSubtree(cg, log);
      result.cgroupGone = !existsSync(cg.parent);
    }
    sys.umount2(base, MNT_DETACH);
    rmdirSync(base);
  }
}
if (process.env.METAINIT_TEST_VERBOSE) process.stderr.write(`${JSON.stringify(result, null, 1)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
