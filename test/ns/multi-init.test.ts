/**
 * multi-init.test.ts — five inits at once: metainit as PID 1 of a PID namespace hosting runit,
 * s6, sysv rc, OpenRC and its own native services side by side in one Debian root, driven only
 * through the CLI (plus the host's view of the namespace's /proc).
 *
 * The root is an overlay of the test bed (testbed-root.ts), mounted inside the namespace before
 * metainit starts, with the fixtures of cases-multi/five-inits/overlay: a runit service `cron`
 * (a second cron claimant next to sysv's /etc/init.d/cron; metainit.yaml gives the role to
 * runit) and an rsyslog init script (the logging holder). All five instances share that root,
 * as they would on a real machine — so a second cron would also meet the first one's pid file;
 * that is why the cron test also asserts *whose* cron runs, not only how many.
 *
 * One boot serves every test, in order: what runs, roles, dependency on a role, kill -9 of the
 * hosted scanners, and last the poweroff, whose tests read the console and the overlay's upper
 * directory (on the host, so it outlives the namespace). Needs root, unshare, nsenter and the
 * test bed (METAINIT_TESTBED, default /var/cache/metainit-testbed/rootfs); skipped otherwise.
 * `status`, `roles`, `check` and `plan` are also compared with the cases' golden files (golden.ts).
 */
import { expect } from 'chai';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceStatus } from '../../src/base/states.js';
import { cliText, expectGolden } from './golden.js';
import { bootNs, shellStatus, type Exit, type HostProc, type Ns } from './harness.js';
import { assertOverlay, CASES_MULTI, etcChanges, inNamespace, metainitInNamespace, nsPath, overlayBoot, ROOT_IN_NS, upperDir, whyNot, type OverlayBoot } from './testbed-root.js';

/** The hosted supervisors write their own state into service directories under /etc (runsv
 *  when supervise/ is not a link into /run, s6-supervise always): not metainit's doing. */
const SUPERVISOR_STATE = ['etc/sv/hello-runit/supervise', 'etc/s6/sv/hello-s6/supervise', 'etc/s6/sv/hello-s6/event'];
const INSTANCES = ['native', 'openrc', 'runit', 's6', 'sysv'];
const HELLO = ['runit/hello-runit', 's6/hello-s6', 'sysv/hello-sysv', 'openrc/hello-openrc'];

interface RoleRow {
  role: string;
  holder: string | null;
  state: string | null;
  vetoed: string[];
}

const find = (all: ServiceStatus[], id: string): ServiceStatus | undefined => all.find((s) => s.id === id);

/** The command line of a namespace pid (status pids are the namespace's own), '' when gone. */
function cmdline(ns: Ns, pid: number | undefined): string {
  try {
    return pid === undefined ? '' : readFileSync(nsPath(ns, `/proc/${pid}/cmdline`), 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Instance names of PID 1's "<instance>: <what> instance" lines, in log order. */
const instanceLines = (log: string, what: 'starting' | 'stopping'): string[] =>
  [...log.matchAll(new RegExp(`metainit: (\\S+): ${what} instance`, 'g'))].map((m) => m[1]!);

/** ms epoch of the first PID 1 log line containing `text`. */
function lineTime(log: string, text: string): number {
  const line = log.split('\n').find((l) => l.includes(text));
  if (!line) throw new Error(`no PID 1 log line with "${text}"`);
  return Date.parse(line.slice(0, line.indexOf(' ')));
}

/** `check` and `plan` of a cases-multi case, run inside the namespace (where its root exists),
 *  compared with the case's expected-check.txt and expected-plan.txt (golden.ts). */
async function goldenOffline(ns: Ns, name: string): Promise<void> {
  const dir = join(CASES_MULTI, name);
  for (const command of ['check', 'plan']) expectGolden(dir, command, cliText(await metainitInNamespace(ns, [command, '--config-dir', dir])));
}

/** The path of an etcChanges() line: "+ d 755 PATH LINK" or "+ SHA256  PATH". */
function changedPath(change: string): string {
  const [, first = '', ...rest] = change.split(' ');
  return /^[0-9a-f]{64}$/.test(first) ? rest.filter(Boolean).join(' ') : (rest[1] ?? '');
}

describe('ns: runit, s6, sysv, OpenRC and native at once (metainit as PID 1, test bed overlay)', function () {
  this.timeout(120_000);
  let boot: OverlayBoot | undefined;
  let ns: Ns;
  let failed = false;
  const status = (): Promise<ServiceStatus[]> => ns.status();
  /** the host's cgroup2 directories before the boot: a hosted init must create none (read-only /sys) */
  const cgroupsBefore = hostCgroups();

  before(async function () {
    this.timeout(150_000);
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    boot = overlayBoot('five-inits');
    ns = await bootNs({ ...boot.options, bootTimeoutMs: 60_000 });
    const wanted = [...HELLO, 'native/app', 'runit/cron', 'sysv/rsyslog'];
    try {
      assertOverlay(ns);
      await ns.waitFor(async () => {
        const all = await status();
        return wanted.every((id) => find(all, id)?.state === 'running');
      }, 90_000, `${wanted.join(', ')} running`);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n--- PID 1 console ---\n${ns.console()}`);
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async () => {
    if (failed && ns) console.log(`--- PID 1 console ---\n${ns.console()}`);
    await ns?.cleanup();
    boot?.dispose();
  });

  it('runs the services of all five instances at once: status --json shows them, the hello services running as themselves', async () => {
    const all = await status();
    expect([...new Set(all.map((s) => s.instance))].sort()).to.deep.equal(INSTANCES);
    expect(new Set(all.map((s) => `${s.instance}:${s.adapter}`))).to.deep.equal(new Set(['native:native', 'openrc:openrc', 'runit:runit', 's6:s6', 'sysv:sysv']));
    for (const id of HELLO) {
      const s = find(all, id);
      expect(s?.state, id).to.equal('running');
      expect(cmdline(ns, s?.pid), `the pid status shows for ${id}`).to.equal(`/bin/sh /usr/local/bin/testbed-ticker ${id.split('/')[1]}`);
    }
    const app = find(all, 'native/app');
    expect(app?.state).to.equal('running');
    expect(cmdline(ns, app?.pid)).to.equal('/bin/sh /usr/local/bin/testbed-ticker native-app');
    // every ticker is alive in the shared root: its heartbeat file exists there
    for (const name of ['hello-runit', 'hello-s6', 'hello-sysv', 'hello-openrc', 'native-app']) {
      expect(existsSync(nsPath(ns, `${ROOT_IN_NS}/run/testbed/${name}.alive`)), `${name}.alive`).to.equal(true);
    }
  });

  it('lists them as instance/service in the human status table', async () => {
    const r = await ns.cli(['status']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^metainit pid 1, container mode/);
    for (const id of [...HELLO, 'native/app', 'runit/cron', 'sysv/rsyslog']) expect(r.stdout).to.match(new RegExp(`^${id}\\s+running\\s+\\d+`, 'm'));
    expect(r.stdout).to.match(/^sysv\/cron\s+stopped\s+-.*vetoed/m);
    expectGolden(join(CASES_MULTI, 'five-inits'), 'status', cliText(r), { reaped: true });
  });

  it('runs exactly one cron for two claimants: runit/cron holds the role, sysv/cron is vetoed and never ran', async () => {
    const procs = ns.procs();
    const crons = procs.filter((p) => p.comm === 'cron' && p.state !== 'Z');
    expect(crons.map((p) => p.pid), 'cron processes in the namespace').to.have.length(1);
    // the one cron is runit's: its parent is a runsv (sysv's would be a daemon under PID 1)
    expect(procs.find((p) => p.pid === crons[0]!.ppid)?.comm).to.equal('runsv');

    const r = await ns.cli(['roles', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const cron = (JSON.parse(r.stdout) as RoleRow[]).find((x) => x.role === 'cron');
    expect(cron).to.deep.equal({ role: 'cron', holder: 'runit/cron', state: 'running', vetoed: ['sysv/cron'] });
    expectGolden(join(CASES_MULTI, 'five-inits'), 'roles', cliText(await ns.cli(['roles'])));

    const sysvCron = find(await status(), 'sysv/cron');
    expect(sysvCron).to.include({ state: 'stopped', target: 'down' });
    expect(sysvCron?.reason).to.match(/vetoed/);
    const logs = await ns.cli(['logs', 'sysv/cron']);
    expect(logs.stdout.trim(), 'output of /etc/init.d/cron').to.equal('');
    // and Debian's invoke-rc.d may not start it either (apt upgrading cron): policy-rc.d says 101
    const policy = await inNamespace(ns, ['chroot', ROOT_IN_NS, '/usr/sbin/policy-rc.d', 'cron', 'start']);
    expect(policy.code, 'policy-rc.d cron start').to.equal(101);
  });

  it('records runlevel 2 in the root\'s utmp: `runlevel` prints "N 2", invoke-rc.d acts for hello-sysv and is refused for the vetoed cron', async () => {
    const rl = await inNamespace(ns, ['chroot', ROOT_IN_NS, 'runlevel']);
    expect(rl.stdout.trim(), rl.stderr).to.equal('N 2');
    // invoke-rc.d acts: it runs the script (whose own LSB status code it passes on) instead of
    // refusing for want of a runlevel or by policy
    const allowed = await inNamespace(ns, ['chroot', ROOT_IN_NS, 'invoke-rc.d', 'hello-sysv', 'status']);
    expect(allowed.stdout + allowed.stderr).to.not.match(/could not determine current runlevel|policy-rc\.d denied/);
    expect([0, 1, 3], allowed.stdout + allowed.stderr).to.include(allowed.code);
    const denied = await inNamespace(ns, ['chroot', ROOT_IN_NS, 'invoke-rc.d', 'cron', 'start']);
    expect(denied.stdout + denied.stderr).to.match(/policy-rc\.d denied execution of start/);
    expect(ns.procs().filter((p) => p.comm === 'cron' && p.state !== 'Z'), 'still one cron').to.have.length(1);
  });

  it('`service cron restart` in the root acts through the init that owns cron (runit): a new runit cron, no sysv one', async () => {
    const before = find(await status(), 'runit/cron')!.pid;
    const r = await inNamespace(ns, ['chroot', ROOT_IN_NS, 'service', 'cron', 'restart']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    await ns.waitFor(async () => {
      const c = find(await status(), 'runit/cron');
      return c?.state === 'running' && c.pid !== before;
    }, 15_000, 'runit/cron running again as a new process');
    const crons = ns.procs().filter((p) => p.comm === 'cron' && p.state !== 'Z');
    expect(crons, 'one cron').to.have.length(1);
    expect(ns.procs().find((p) => p.pid === crons[0]!.ppid)?.comm, 'under runsv').to.equal('runsv');
    expect(find(await status(), 'sysv/cron')).to.include({ state: 'stopped' });
  });

  it('`metainit check` reports the cron conflict when the configuration has no role policy', async () => {
    // a copy of the case without roles: in the scratch directory, so the namespace sees it
    const copy = join(ns.scratch, 'no-policy');
    cpSync(boot!.options.configDir!, copy, { recursive: true });
    writeFileSync(join(copy, 'metainit.yaml'), 'log_dir: /run/metainit/log\n');
    // run where the instances' root exists: inside the machine's mount namespace
    const r = await metainitInNamespace(ns, ['check', '--config-dir', '/run/test/no-policy']);
    expect(r.stdout + r.stderr).to.include('role cron: unable to choose an owner by policy: claimed by runit/cron, sysv/cron');
  });

  it('`metainit check` and `metainit plan` of the case, run inside the machine, match their golden files', async () => {
    await goldenOffline(ns, 'five-inits');
  });

  it('starts native/app (after: [role:logging]) only once rsyslog, the logging holder in sysv, is up', async () => {
    const all = await status();
    const rsyslog = find(all, 'sysv/rsyslog')!;
    const app = find(all, 'native/app')!;
    const roles = JSON.parse((await ns.cli(['roles', '--json'])).stdout) as RoleRow[];
    expect(roles.find((x) => x.role === 'logging')?.holder).to.equal('sysv/rsyslog');
    // rsyslogd wrote its pid file before native/app's first command ran
    const pidfile = statSync(nsPath(ns, `${ROOT_IN_NS}/run/rsyslogd.pid`)).mtimeMs;
    const appStart = Number(BigInt(readFileSync(nsPath(ns, `${ROOT_IN_NS}/run/native-app.start`), 'utf8').trim()) / 1_000_000n);
    expect(appStart, 'native/app start vs rsyslogd.pid mtime').to.be.at.least(Math.floor(pidfile));
    expect(app.since, 'native/app running vs sysv/rsyslog running').to.be.at.least(rsyslog.since);
    // so its first line, sent to rsyslog's socket, was received and written
    await ns.waitFor(() => existsSync(join(upperDir(ns), 'var/log/syslog')) && readFileSync(join(upperDir(ns), 'var/log/syslog'), 'utf8').includes('native-app: hello through rsyslog'), 10_000, 'the line of native/app in /var/log/syslog');
    // the OpenRC instance (after: [role:logging]) also waited for it
    const log = ns.console();
    expect(lineTime(log, 'openrc: starting instance')).to.be.at.least(lineTime(log, 'sysv/rsyslog: running'));
  });

  for (const [scanner, id] of [
    ['runsvdir', 'runit/hello-runit'],
    ['s6-svscan', 's6/hello-s6'],
  ] as const) {
    it(`restarts ${scanner} after kill -9, and ${id} comes back running as a new process`, async () => {
      const before = find(await status(), id)!;
      expect(before.state).to.equal('running');
      const old = ns.procs().filter((p) => p.comm === scanner);
      expect(old, `${scanner} processes`).to.have.length(1);
      process.kill(old[0]!.pid, 'SIGKILL');
      await ns.waitFor(async () => {
        const s = find(await status(), id);
        return s?.state === 'running' && s.pid !== before.pid && cmdline(ns, s.pid).endsWith(`testbed-ticker ${id.split('/')[1]}`);
      }, 45_000, `${id} running again with a new pid`);
      const now = ns.procs().filter((p) => p.comm === scanner && p.state !== 'Z');
      expect(now.map((p) => p.pid), `a new ${scanner}`).to.have.length(1).and.not.include(old[0]!.pid);
      expect(cmdline(ns, before.pid), 'the old service process').to.equal('');
    });
  }

  describe('`metainit poweroff`', () => {
    let exit: Exit;
    let log = '';
    /** the namespace's processes besides PID 1, sampled while it shuts down */
    const samples: Array<{ t: number; procs: HostProc[] }> = [];

    before(async function () {
      this.timeout(120_000);
      const sampler = setInterval(() => samples.push({ t: Date.now(), procs: ns.procs().filter((p) => p.pid !== ns.pid1) }), 50);
      try {
        const r = await ns.cli(['poweroff']);
        expect(r.code, r.stderr).to.equal(0);
        exit = await ns.waitExit(100_000);
      } finally {
        clearInterval(sampler);
      }
      log = ns.console();
    });

    it('ends PID 1 by SIGINT: the namespace exits 130', () => {
      expect(exit.signal).to.equal('SIGINT');
      expect(shellStatus(exit)).to.equal(130);
    });

    it('stops every instance after those that depend on it, otherwise in reverse start order', () => {
      const started = instanceLines(log, 'starting');
      expect([...started].sort()).to.deep.equal(INSTANCES);
      expect(started.at(-1), 'the instance that waited for role:logging').to.equal('openrc');
      // native/app and the openrc instance depend on role:logging, held by sysv/rsyslog: both
      // stop before sysv; the rest keep reverse start order.
      const stopped = instanceLines(log, 'stopping');
      const withoutSysv = [...started].reverse().filter((n) => n !== 'sysv');
      expect(stopped).to.deep.equal([...withoutSysv, 'sysv']);
    });

    it('never reports a service as restarting while it shuts down', () => {
      const shutdown = log.slice(log.indexOf('shutting down (poweroff)'));
      expect(shutdown.split('\n').filter((l) => / respawn/.test(l)), 'respawn lines after the poweroff request').to.deep.equal([]);
    });

    it('leaves nothing for stage 4: the adapters stopped every process of every instance', () => {
      const stage4 = lineTime(log, 'stage 4:');
      const left = samples.filter((s) => s.t <= stage4).at(-1)?.procs ?? [];
      const line = log.split('\n').find((l) => l.includes('stage 4:')) ?? '';
      expect(line, `processes left before stage 4: ${left.map((p) => `${p.pid} ${p.comm}`).join(', ')}`).to.include('stage 4: no process left to stop');
    });

    it("changes nothing under the root's /etc (beyond runsv's and s6-supervise's own state) and removes its policy-rc.d", () => {
      const supervisorState = (path: string): boolean => SUPERVISOR_STATE.some((s) => path === s || path.startsWith(`${s}/`));
      expect(etcChanges(ns).filter((c) => !supervisorState(changedPath(c))), 'changes under /etc').to.deep.equal([]);
      expect(existsSync(join(upperDir(ns), 'usr/sbin/policy-rc.d')), 'the policy-rc.d mount point').to.equal(false);
    });

    it("creates no cgroup on the machine: the roots see /sys read-only (OpenRC's per-service cgroup stays inside)", () => {
      expect(hostCgroups().filter((d) => !cgroupsBefore.includes(d)), 'new cgroups in the host cgroup2 tree').to.deep.equal([]);
    });
  });
});

/** Top-level directories of every cgroup2 mount of this (the test's) mount namespace. */
function hostCgroups(): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[f.indexOf('-') + 1] === 'cgroup2');
  return mounts.flatMap((f) => readdirSync(f[4]!, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => join(f[4]!, e.name)));
}

describe('ns: LSB parallel levels through metainit (sysv instance on the test bed overlay)', function () {
  this.timeout(120_000);
  let boot: OverlayBoot | undefined;
  let ns: Ns | undefined;

  before(function () {
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
  });

  after(async () => {
    await ns?.cleanup();
    boot?.dispose();
  });

  it('starts lvl1 and lvl3 together, then lvl2 and lvl4 — each as soon as its own dependency is done', async () => {
    boot = overlayBoot('lsb-levels');
    const n = (ns = await bootNs({ ...boot.options, bootTimeoutMs: 60_000 }));
    assertOverlay(n);
    const levels = ['sysv/lvl1', 'sysv/lvl2', 'sysv/lvl3', 'sysv/lvl4'];
    await n.waitFor(async () => {
      const all = await n.status();
      return levels.every((id) => find(all, id)?.state === 'ok');
    }, 60_000, `${levels.join(', ')} ok`);
    const t: Record<string, number> = {};
    for (const line of readFileSync(nsPath(n, `${ROOT_IN_NS}/run/testbed/levels.log`), 'utf8').split('\n')) {
      const [ms, what, name] = line.split(' ');
      if (ms && what && name) t[`${what} ${name}`] ??= Number(ms);
    }
    // [1,3] together: each began before the other ended (lvl1 takes 1 s, lvl3 3 s)
    expect(t['begin lvl3']!, 'lvl3 begins while lvl1 runs').to.be.below(t['end lvl1']!);
    expect(t['begin lvl1']!, 'lvl1 begins while lvl3 runs').to.be.below(t['end lvl3']!);
    // then [2,4]: each only after its own dependency ended
    expect(t['begin lvl2']!).to.be.at.least(t['end lvl1']!);
    expect(t['begin lvl4']!).to.be.at.least(t['end lvl3']!);
    // event-driven, not level by level: lvl3 takes longer (3 s), and lvl2 does not wait for it
    expect(t['begin lvl2']!, 'lvl2 begins while lvl3 still runs').to.be.below(t['end lvl3']!);
    // each script's output is kept apart (own pty)
    const logs = await n.cli(['logs', 'sysv/lvl2', '-n', '5']);
    expect(logs.stdout).to.include('lvl2: starting');
    expect(logs.stdout).not.to.include('lvl1: starting');
    expectGolden(join(CASES_MULTI, 'lsb-levels'), 'status', cliText(await n.cli(['status'])), { reaped: true });
    await goldenOffline(n, 'lsb-levels');
  });
});
