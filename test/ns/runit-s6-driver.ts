/**
 * runit-s6-driver.ts — drives the runit and s6 adapters against the Debian test bed and prints
 * one JSON object (DriverResult) with what it saw. runit-s6.test.ts runs it as PID 1 of
 * `unshare --pid --fork --mount --propagation private --mount-proc`; it refuses to run elsewhere,
 * because it mounts and starts supervisors.
 *
 * Each adapter gets its own overlay of the test bed (lower = the rootfs, never written; upper and
 * work in a tmpfs), given /proc, /dev and tmpfs /run and /tmp the way rootfs.ts prepareRoot does
 * — done here with mount(8), as the addon is not needed by the adapters. Extra services are added
 * in the overlay: runit `cron` (vetoed: must never run), `hello-log` (with a log/ service writing
 * through svlogd), `hello-late` (linked after start, picked up by sync); s6 `slow-ready`
 * (notification-fd 3, ready after 2 s) and `stubborn` (ignores SIGTERM, so stopping s6
 * has to end in the deadline's SIGKILL). Paths inside a root are written through resolveIn, so an
 * absolute symlink in the test bed (/etc/service → …) never leads a write onto the host.
 */
import { NO_CHILD_WATCH } from '../../src/supervisor/reaper.js';
import { NO_ROOT_HOOKS } from '../../src/supervisor/sandbox.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import type { Adapter, AdapterEvent } from '../../src/adapters/adapter.js';
import { createRunitAdapter } from '../../src/adapters/runit/index.js';
import { createS6Adapter } from '../../src/adapters/s6/index.js';
import { hostPath } from '../../src/supervisor/rootfs.js';
import { processTable } from '../../src/supervisor/proctree.js';
import { resolveIn } from '../../src/adapters/scandir/scandir.js';
import type { ServiceStatus } from '../../src/base/states.js';
import { createFakeSys } from '../unit/fake-sys.js';
import { waitFor } from '../unit/wait-for.js';

export interface DriverResult {
  skip?: string;
  error?: string;
  runitDiagnostics: string[];
  runitClaims: Array<{ role: string; service: string }>;
  /** service → state after start */
  startedStates: Record<string, string>;
  aliveAfterStart: string[];
  logServiceLine: boolean;
  vetoed: { status?: ServiceStatus; ranAnyway: boolean };
  slowReadyStates: string[];
  killed: { oldScanner?: number; newScanner?: number; oldPid?: number; newPid?: number; stateAfter?: string; warned: boolean };
  control: { stopped?: string; stillAliveAfterStop?: boolean; restarted?: string };
  syncedLateAlive: boolean;
  /** lines of the runit/runsvdir log events */
  scannerLog: string[];
  lateLogs: string[];
  leftAfterStop: { runit: string[]; s6: string[] };
  stopMs: { runit?: number; s6?: number };
  messages: string[];
}

const TESTBED = process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs';
const TICKER = '/usr/local/bin/testbed-ticker';
const sh = (body: string): string => `#!/bin/sh\n${body}\n`;
const mount = (...args: string[]): void => void execFileSync('mount', args);

/** Write `content` at `p` inside `root` (symlinks resolved in the root), mode 755. */
function put(root: string, p: string, content: string): void {
  const host = hostPath(root, resolveIn(root, p));
  mkdirSync(dirname(host), { recursive: true });
  writeFileSync(host, content, { mode: 0o755 });
}

/** Link `name` → `target` in the directory `dir` inside `root` (replacing a link the test bed has: runit-services enables cron). */
function link(root: string, dir: string, name: string, target: string): void {
  const at = hostPath(root, posix.join(resolveIn(root, dir), name));
  rmSync(at, { force: true });
  symlinkSync(target, at);
}

function overlay(base: string, name: string): string {
  const d = `${base}/${name}`;
  for (const sub of ['upper', 'work', 'merged']) mkdirSync(`${d}/${sub}`, { recursive: true });
  const m = `${d}/merged`;
  mount('-t', 'overlay', 'overlay', '-o', `lowerdir=${TESTBED},upperdir=${d}/upper,workdir=${d}/work`, m);
  mount('--rbind', '/proc', `${m}/proc`);
  mount('--rbind', '/dev', `${m}/dev`);
  mount('-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', `${m}/run`);
  mount('-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', `${m}/tmp`);
  return m;
}

/** Processes (not zombies) whose root directory is `root`: "pid comm". */
function processesIn(root: string): string[] {
  return [...processTable()].flatMap(([pid, p]) => {
    try {
      return readlinkSync(`/proc/${pid}/root`) === root ? [`${pid} ${p.comm}`] : [];
    } catch {
      return [];
    }
  });
}

const readPid = (file: string): number | undefined => (existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined);

function makeAdapter(create: typeof createRunitAdapter, instance: string, config: Record<string, unknown>, events: AdapterEvent[]): Adapter {
  const noop = (): void => undefined;
  return create({
    instance,
    config: { after: [], enabled: true, adapter: instance, ...config },
    configDir: '/nonexistent-config',
    mode: 'supervisor',
    file: '/nonexistent-config/adapters.d/instance.yaml',
    runDir: `/run/metainit/${instance}`,
    logDir: '/tmp',
    sys: createFakeSys(), // the adapters must not need the addon: any call would throw
    log: { info: noop, warn: noop, error: noop },
    reaper: NO_CHILD_WATCH,
    rootHooks: NO_ROOT_HOOKS,
    deps: { state: () => 'unknown', onChange: () => noop },
    emit: (ev) => events.push(ev),
  });
}

/** Everything in a tmpfs on a fresh directory of /tmp, unmounted and removed whatever happens. */
async function main(r: DriverResult): Promise<void> {
  const base = mkdtempSync('/tmp/metainit-runit-s6-');
  try {
    mount('-t', 'tmpfs', 'tmpfs', base);
    await scenario(r, overlay(base, 'runit'), overlay(base, 's6'));
  } finally {
    execFileSync('umount', ['-R', '-l', base], { stdio: 'ignore' });
    rmdirSync(base);
  }
}

/** A: the runit instance's root, B: the s6 instance's root. */
async function scenario(r: DriverResult, A: string, B: string): Promise<void> {
  const state = (a: Adapter, name: string): string | undefined => a.list().find((s) => s.name === name)?.state;
  const events: AdapterEvent[] = [];

  put(A, '/etc/sv/cron/run', sh(`exec ${TICKER} cron`));
  link(A, '/etc/service', 'cron', '/etc/sv/cron');
  put(A, '/etc/sv/hello-log/run', sh(`echo "hello from hello-log"\nexec ${TICKER} hello-log`));
  put(A, '/etc/sv/hello-log/log/run', sh('mkdir -p /run/testbed/hello-log.d\nexec svlogd /run/testbed/hello-log.d'));
  link(A, '/etc/service', 'hello-log', '/etc/sv/hello-log');
  put(B, '/etc/s6/sv/slow-ready/run', sh(`sleep 2\necho ready >&3\nexec 3>&-\nexec ${TICKER} slow-ready`));
  put(B, '/etc/s6/sv/slow-ready/notification-fd', '3\n');
  link(B, '/etc/s6/scan', 'slow-ready', '/etc/s6/sv/slow-ready');
  put(B, '/etc/s6/sv/stubborn/run', sh("trap '' TERM\nexec sleep 1000"));
  link(B, '/etc/s6/scan', 'stubborn', '/etc/s6/sv/stubborn');

  const runit = makeAdapter(createRunitAdapter, 'runit', { adapter: 'runit', root: A, services: ['hello-runit', 'hello-log', 'cron', 'hello-late'] }, events);
  const s6 = makeAdapter(createS6Adapter, 's6', { adapter: 's6', root: B }, events);
  try {
    r.runitDiagnostics = (await runit.load()).map((d) => d.message);
    r.runitClaims = runit.claims();
    runit.applyRoles(new Set(['cron']));
    await s6.load();
    s6.applyRoles(new Set());
    await runit.start();
    await s6.start();

    // 1. both up
    const alive = (root: string, n: string): boolean => existsSync(`${root}/run/testbed/${n}.alive`);
    await waitFor(() => alive(A, 'hello-runit') && alive(A, 'hello-log') && alive(B, 'hello-s6') && alive(B, 'slow-ready'), 'the hello services alive', 20_000);
    await waitFor(() => ['hello-runit', 'hello-log'].every((n) => state(runit, n) === 'running') && state(s6, 'slow-ready') === 'running', 'running states', 10_000);
    r.aliveAfterStart = ['hello-runit', 'hello-log', 'cron'].filter((n) => alive(A, n)).concat(['hello-s6', 'slow-ready'].filter((n) => alive(B, n)));
    r.startedStates = Object.fromEntries([...runit.list(), ...s6.list()].map((s) => [s.id, s.state]));
    r.slowReadyStates = events.flatMap((e) => (e.type === 'state' && e.status.id === 's6/slow-ready' ? [e.status.state] : []));
    const logFile = `${A}/run/testbed/hello-log.d/current`;
    await waitFor(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('hello from hello-log'), 'the log/ service writing', 10_000).catch(() => undefined);
    r.logServiceLine = existsSync(logFile) && readFileSync(logFile, 'utf8').includes('hello from hello-log');

    // 2. vetoed cron never ran
    r.vetoed = { status: runit.list().find((s) => s.name === 'cron'), ranAnyway: alive(A, 'cron') || existsSync(`${A}/run/testbed/cron.pid`) };

    // 3. kill -9 runsvdir: the adapter restarts it and hello-runit comes back (a new process)
    const oldScanner = (runit.snapshot() as { scanner: number }).scanner;
    const oldPid = readPid(`${A}/run/testbed/hello-runit.pid`);
    r.killed = { oldScanner, oldPid, warned: false };
    process.kill(oldScanner, 'SIGKILL');
    await waitFor(() => {
      const pid = readPid(`${A}/run/testbed/hello-runit.pid`);
      return pid !== undefined && pid !== oldPid && existsSync(`/proc/${pid}`) && state(runit, 'hello-runit') === 'running';
    }, 'hello-runit back under a new runsvdir', 30_000);
    r.killed.newScanner = (runit.snapshot() as { scanner: number } | null)?.scanner;
    r.killed.newPid = readPid(`${A}/run/testbed/hello-runit.pid`);
    r.killed.stateAfter = state(runit, 'hello-runit');
    r.killed.warned = events.some((e) => e.type === 'message' && e.text.includes('runsvdir killed by SIGKILL'));

    // 4. stop and start one service through sv
    await runit.stopService('hello-runit');
    await waitFor(() => state(runit, 'hello-runit') === 'stopped', 'hello-runit stopped', 15_000);
    r.control = { stopped: state(runit, 'hello-runit'), stillAliveAfterStop: existsSync(`/proc/${r.killed.newPid}`) };
    await runit.startService('hello-runit');
    await waitFor(() => state(runit, 'hello-runit') === 'running', 'hello-runit running again', 15_000);
    r.control.restarted = state(runit, 'hello-runit');

    // 5. a service linked after start is picked up by sync
    put(A, '/etc/sv/hello-late/run', sh(`echo "hello-late: says hi"\nexec ${TICKER} hello-late`));
    link(A, '/etc/service', 'hello-late', '/etc/sv/hello-late');
    await runit.sync();
    await waitFor(() => alive(A, 'hello-late'), 'hello-late alive after sync', 20_000).catch(() => undefined);
    r.syncedLateAlive = alive(A, 'hello-late');
    await waitFor(async () => (await runit.logs('hello-late', 10)).length > 0, 'output of hello-late captured', 5000).catch(() => undefined);
    r.scannerLog = events.flatMap((e) => (e.type === 'log' && e.id === 'runit/runsvdir' ? [e.line] : []));
    r.lateLogs = await runit.logs('hello-late', 10);
  } finally {
    // 6. stop within a deadline; nothing of either instance may remain
    let t = Date.now();
    await runit.stop(t + 15_000);
    r.stopMs.runit = Date.now() - t;
    r.leftAfterStop.runit = processesIn(A);
    t = Date.now();
    await s6.stop(t + 4000); // s6/stubborn ignores SIGTERM: only the deadline's SIGKILL ends it
    r.stopMs.s6 = Date.now() - t;
    r.leftAfterStop.s6 = processesIn(B);
    r.messages = events.flatMap((e) => (e.type === 'message' ? [e.text] : []));
  }
}

const result: DriverResult = {
  runitDiagnostics: [],
  runitClaims: [],
  startedStates: {},
  aliveAfterStart: [],
  logServiceLine: false,
  vetoed: { ranAnyway: false },
  slowReadyStates: [],
  killed: { warned: false },
  control: {},
  syncedLateAlive: false,
  scannerLog: [],
  lateLogs: [],
  leftAfterStop: { runit: [], s6: [] },
  stopMs: {},
  messages: [],
};
if (process.pid !== 1) result.skip = 'runit-s6-driver: unable to run: not PID 1 of a private namespace (run it under unshare --pid --fork --mount --propagation private --mount-proc)';
else if (!existsSync(`${TESTBED}/usr/bin/runsvdir`) || !existsSync(`${TESTBED}/usr/bin/s6-svscan`)) result.skip = `runit-s6-driver: unable to run: no test bed with runit and s6 at ${TESTBED} (build it with test/testbed/build.sh rootfs)`;
else {
  try {
    await main(result);
  } catch (e) {
    result.error = (e as Error).message;
  }
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
