/**
 * sysv-openrc-driver.ts — drives the sysv and OpenRC adapters against the Debian test bed and
 * prints one JSON object (DriverResult) with what it saw. sysv-openrc.test.ts runs it as PID 1
 * of `unshare --pid --fork --kill-child --mount --propagation private --mount-proc --net`; it
 * refuses to run elsewhere, because it mounts and starts daemons (and, as PID 1, reaps them).
 *
 * Each case gets its own overlay of the test bed (lower = the rootfs, never written; upper and
 * work on a tmpfs), prepared by the real `prepareRoot` with the real addon, as the manager does:
 *   sysv     allow-list [hello-sysv, sendsigs]: hello-sysv starts (S link in rc2.d), is running,
 *            dies under SIGKILL (status polling sees it), restarts, stops; sendsigs is listed
 *            as owned by metainit and never runs.
 *   levels   four fixture scripts copied into the overlay (lvl2 requires lvl1, lvl4 requires
 *            lvl3; lvl3's start takes 3 s, the others 1 s), no rc links, Default-Start 2: each
 *            logs begin/end times of its start into /run/testbed/levels.log. A fifth one,
 *            needs-syslog, requires $syslog: the fake DependencyView keeps role:logging pending
 *            until the four are done, then says ready.
 *   openrc   the default runlevel reduced to hello-openrc inside the overlay (rc-update), then
 *            `openrc -n default` through the adapter, stop(deadline).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Adapter, AdapterContext, AdapterEvent, AdapterFactory, DepState } from '../../src/adapters/adapter.js';
import { createOpenrcAdapter, type OpenrcSnapshot } from '../../src/adapters/openrc/index.js';
import { createSysvAdapter } from '../../src/adapters/sysv/index.js';
import { installReaper } from '../../src/supervisor/reaper.js';
import { MNT_DETACH, realSys } from '../../src/base/sys.js';
import { NO_ROOT_HOOKS, prepareSandbox } from '../../src/supervisor/sandbox.js';
import type { ServiceStatus } from '../../src/base/states.js';
import { waitFor } from '../unit/wait-for.js';

export interface DriverResult {
  skip?: string;
  error?: string;
  sysv: {
    diagnostics: string[];
    claims: Array<{ role: string; service: string }>;
    listed: Record<string, Pick<ServiceStatus, 'state' | 'target' | 'reason' | 'pid'>>;
    alive: boolean;
    logs: string[];
    diedReason?: string;
    restarted?: string;
    stopped?: string;
    pidGoneAfterStop?: boolean;
    sendsigsRan: boolean;
  };
  levels: {
    states: Record<string, string>;
    /** needs-syslog while role:logging was pending, and after it became ready */
    syslogWaiting?: Pick<ServiceStatus, 'state' | 'reason'>;
    syslogAfter?: string;
    /** what the adapter asked the DependencyView */
    asked: string[];
    /** "begin lvl1" → ms epoch */
    times: Record<string, number>;
    logs: Record<string, string[]>;
  };
  openrc: {
    diagnostics: string[];
    listed: Record<string, Pick<ServiceStatus, 'state' | 'target' | 'reason' | 'pid'>>;
    alive: boolean;
    marked: string[];
    logs: string[];
    afterStop: Record<string, string>;
    pidGoneAfterStop?: boolean;
    events: string[];
  };
}

const TESTBED = process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs';
const LEVELS = fileURLToPath(new URL('../../../test/fixtures/lsb/levels/', import.meta.url));
const sys = realSys();
const log = { info: (t: string) => process.stderr.write(`info: ${t}\n`), warn: (t: string) => process.stderr.write(`warn: ${t}\n`), error: (t: string) => process.stderr.write(`error: ${t}\n`) };

function overlay(base: string, name: string): string {
  const d = join(base, name);
  for (const sub of ['upper', 'work', 'merged']) mkdirSync(join(d, sub), { recursive: true });
  const root = join(d, 'merged');
  sys.mount('overlay', root, 'overlay', 0, `lowerdir=${TESTBED},upperdir=${d}/upper,workdir=${d}/work`);
  prepareSandbox(root, sys, log);
  return root;
}

function makeAdapter(factory: AdapterFactory, instance: string, config: AdapterContext['config'], deps: AdapterContext['deps'] = { state: () => 'unknown', onChange: () => () => {} }): Adapter {
  return factory({
    instance,
    config: { after: [], enabled: true, ...config },
    configDir: '/etc/metainit',
    file: '/etc/metainit/adapters.d/instance.yaml',
    mode: 'supervisor',
    runDir: '/run/metainit-test',
    logDir: '/tmp',
    sys,
    log,
    deps,
    reaper: installReaper(sys),
    rootHooks: NO_ROOT_HOOKS,
    emit: (_ev: AdapterEvent) => {},
  });
}

const brief = (list: ServiceStatus[]): DriverResult['sysv']['listed'] =>
  Object.fromEntries(list.map((s) => [s.name, { state: s.state, target: s.target, ...(s.reason ? { reason: s.reason } : {}), ...(s.pid ? { pid: s.pid } : {}) }]));
const status = (a: Adapter, name: string): ServiceStatus | undefined => a.list().find((s) => s.name === name);
const pidAlive = (pid: number | undefined): boolean => pid !== undefined && existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
const readPid = (root: string, name: string): number => Number(readFileSync(`${root}/run/testbed/${name}.pid`, 'utf8'));

async function sysvCase(base: string, r: DriverResult['sysv']): Promise<void> {
  const root = overlay(base, 'sysv');
  const a = makeAdapter(createSysvAdapter, 'sysv', { adapter: 'sysv', root, scripts: ['hello-sysv', 'sendsigs'] });
  r.diagnostics = (await a.load()).map((d) => d.message);
  r.claims = a.claims();
  a.applyRoles(new Set());
  await a.start();
  await waitFor(() => status(a, 'hello-sysv')?.state === 'running', 'hello-sysv running', 30_000);
  await waitFor(() => existsSync(`${root}/run/testbed/hello-sysv.alive`), 'hello-sysv.alive', 10_000);
  r.alive = true;
  r.listed = brief(a.list());
  r.logs = await a.logs('hello-sysv', 10);

  // the daemon dies behind the script's back: the status poll notices
  process.kill(readPid(root, 'hello-sysv'), 'SIGKILL');
  await waitFor(() => status(a, 'hello-sysv')?.state === 'error', 'hello-sysv error after SIGKILL', 20_000);
  r.diedReason = status(a, 'hello-sysv')?.reason;

  await a.restartService('hello-sysv');
  await waitFor(() => status(a, 'hello-sysv')?.state === 'running', 'hello-sysv running again', 30_000);
  r.restarted = status(a, 'hello-sysv')?.state;

  const pid = readPid(root, 'hello-sysv');
  await a.stopService('hello-sysv');
  r.stopped = status(a, 'hello-sysv')?.state;
  await waitFor(() => !pidAlive(pid), 'hello-sysv ticker gone', 10_000).catch(() => undefined);
  r.pidGoneAfterStop = !pidAlive(pid);
  await a.stop(Date.now() + 20_000);
  r.sendsigsRan = (await a.logs('sendsigs', 100)).length > 0;
}

async function levelsCase(base: string, r: DriverResult['levels']): Promise<void> {
  const root = overlay(base, 'levels');
  const names = ['lvl1', 'lvl2', 'lvl3', 'lvl4'];
  for (const n of [...names, 'needs-syslog']) copyFileSync(join(LEVELS, n), `${root}/etc/init.d/${n}`); // lands in the overlay's upper dir
  let logging: DepState = 'pending';
  const listeners = new Set<() => void>();
  const deps: AdapterContext['deps'] = {
    state: (ref) => {
      r.asked.push(ref);
      return ref === 'role:logging' ? logging : 'unknown';
    },
    onChange: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
  const a = makeAdapter(createSysvAdapter, 'levels', { adapter: 'sysv', root, scripts: [...names, 'needs-syslog'] }, deps);
  await a.load();
  a.applyRoles(new Set());
  await a.start();
  await waitFor(() => names.every((n) => ['ok', 'error'].includes(status(a, n)?.state ?? '')), 'the four level scripts done', 30_000);
  const waiting = status(a, 'needs-syslog')!;
  r.syslogWaiting = { state: waiting.state, ...(waiting.reason ? { reason: waiting.reason } : {}) };
  logging = 'ready';
  for (const cb of listeners) cb();
  await waitFor(() => status(a, 'needs-syslog')?.state === 'ok', 'needs-syslog ok', 10_000).catch(() => undefined);
  r.syslogAfter = status(a, 'needs-syslog')?.state;
  r.states = Object.fromEntries(names.map((n) => [n, status(a, n)!.state]));
  r.logs = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await a.logs(n, 10)] as const)));
  for (const line of readFileSync(`${root}/run/testbed/levels.log`, 'utf8').trim().split('\n')) {
    const [t, what, n] = line.split(' ');
    r.times[`${what} ${n}`] = Number(t);
  }
  await a.stop(Date.now() + 20_000);
}

async function openrcCase(base: string, r: DriverResult['openrc']): Promise<void> {
  const root = overlay(base, 'openrc');
  const chroot = (...argv: string[]): string => execFileSync('chroot', [root, ...argv], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  for (const n of readdirSync(`${root}/etc/runlevels/default`)) chroot('rc-update', 'del', n, 'default');
  chroot('rc-update', 'add', 'hello-openrc', 'default');
  const a = makeAdapter(createOpenrcAdapter, 'openrc', { adapter: 'openrc', root });
  r.diagnostics = (await a.load()).map((d) => d.message);
  a.applyRoles(new Set());
  await a.start();
  await waitFor(() => status(a, 'hello-openrc')?.state === 'running', 'hello-openrc running', 60_000);
  await waitFor(() => existsSync(`${root}/run/testbed/hello-openrc.alive`), 'hello-openrc.alive', 10_000);
  r.alive = true;
  r.listed = brief(a.list());
  r.marked = (a.snapshot() as OpenrcSnapshot).marked;
  r.logs = await a.logs('hello-openrc', 10);
  const pid = readPid(root, 'hello-openrc');
  await a.stop(Date.now() + 30_000);
  r.afterStop = Object.fromEntries(a.list().map((s) => [s.name, s.state]));
  await waitFor(() => !pidAlive(pid), 'hello-openrc ticker gone', 10_000).catch(() => undefined);
  r.pidGoneAfterStop = !pidAlive(pid);
  r.events = readFileSync(`${root}/run/testbed/events.log`, 'utf8').trim().split('\n');
}

const result: DriverResult = {
  sysv: { diagnostics: [], claims: [], listed: {}, alive: false, logs: [], sendsigsRan: false },
  levels: { states: {}, times: {}, logs: {}, asked: [] },
  openrc: { diagnostics: [], listed: {}, alive: false, marked: [], logs: [], afterStop: {}, events: [] },
};

if (process.pid !== 1) result.skip = 'sysv-openrc-driver: unable to run: not PID 1 of a private namespace (run it under unshare --pid --fork --mount --propagation private --mount-proc)';
else if (!existsSync(`${TESTBED}/etc/init.d/hello-sysv`)) result.skip = `sysv-openrc-driver: unable to run: no test bed at ${TESTBED} (build it with test/testbed/build.sh rootfs)`;
else {
  process.on('SIGUSR1', () => {}); // PID 1 without a listener would start the inspector
  installReaper(sys);
  const base = mkdtempSync('/tmp/metainit-sysv-openrc-');
  sys.mount('tmpfs', base, 'tmpfs', 0, 'mode=0700');
  try {
    await sysvCase(base, result.sysv);
    await levelsCase(base, result.levels);
    await openrcCase(base, result.openrc);
  } catch (e) {
    result.error = (e as Error).stack ?? String(e);
  } finally {
    sys.umount2(base, MNT_DETACH);
    rmdirSync(base);
  }
}
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
