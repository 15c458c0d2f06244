/**
 * systemd-adapter.test.ts — the test bed's unpatched systemd hosted by metainit (the systemd
 * adapter) next to runit and native services in one Debian root, driven through the CLI.
 *
 * metainit is PID 1 of a PID, mount and network namespace (the network one so that systemd's
 * daemons — tang on port 80, dbus — never serve the host's network); the root is an overlay of
 * the test bed (testbed-root.ts) with the fixtures of cases-multi/systemd-runit-native. systemd
 * gets namespaces of its own inside that (supervisor/container.ts) and a cgroup subtree under
 * the host's cgroup2 mount, which must be gone when the namespace ends.
 *
 * Boot A serves the tests in order: running, status, roles (cron held by runit, cron.service
 * masked), the bus exported to runit, tang, a native service after a Type=notify unit, control
 * and logs, kill -9 of systemd, metainit reexec, and last `metainit poweroff`. Boot B types
 * `systemctl poweroff` inside systemd: the instance stops (on_poweroff: stop) and the rest keeps
 * running. Needs root, unshare, nsenter, a cgroup2 mount and the test bed with systemd and tang.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServiceStatus } from '../../src/base/states.js';
import { quietLogger } from '../../src/base/types.js';
import { existingSubtree, findCgroup2Mount, killSubtree, removeSubtree } from '../../src/supervisor/cgroup.js';
import { bootNs, cleanEnv, RUN_JS, type Exit, type Ns } from './harness.js';
import { cliText, expectGolden } from './golden.js';
import { assertOverlay, CASES_MULTI, etcChanges, metainitInNamespace, nsPath, overlayBoot, ROOT_IN_NS, upperDir, whyNot as whyNotTestbed, type OverlayBoot } from './testbed-root.js';

const CASE = 'systemd-runit-native';
const NEEDED = ['lib/systemd/systemd', 'usr/bin/systemd-stdio-bridge', 'usr/libexec/tangd', 'usr/libexec/accounts-daemon', 'usr/bin/runsvdir', 'usr/bin/dbus-send', 'etc/systemd/system/ready-late.service'];

function whyNot(): string | undefined {
  return whyNotTestbed(NEEDED) ?? (findCgroup2Mount() ? undefined : 'no cgroup2 file system is mounted');
}

/** metainit's cgroup directory for a metainit in PID namespace `pidNs` (process.ts cgroupParent) */
const parentOf = (pidNs: string): string => `metainit-${/\[(\d+)\]/.exec(pidNs)![1]}`;
/** the PID namespace of a booted metainit, read while it runs */
const pidNsOf = (ns: Ns): string => readlinkSync(`/proc/${ns.pid1}/ns/pid`);

/** What a namespace killed mid-test leaves (ns.cleanup is a SIGKILL): the instance's subtree and its parent. */
async function removeLeftovers(pidNs: string | undefined): Promise<void> {
  if (pidNs === undefined) return;
  const cg = existingSubtree({ instance: 'systemd', parent: parentOf(pidNs) });
  if (!cg || !existsSync(cg.parent)) return;
  await killSubtree(cg, Date.now() + 10_000);
  removeSubtree(cg, quietLogger);
  if (existsSync(cg.parent)) rmdirSync(cg.parent);
}

/** comm of every process of the namespace */
const comms = (ns: Ns): string[] => ns.procs().map((p) => p.comm);

/** systemctl inside the hosted systemd (its PID and mount namespaces, entered from the host). */
function systemctl(pid: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('nsenter', ['-t', String(pid), '-p', '-m', '--', 'systemctl', ...args], { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A command in the namespace's network and mount view. */
function inNs(ns: Ns, argv: string[], flags = ['--mount', '--net']): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return new Promise((done) => {
    execFile('nsenter', ['--target', String(ns.pid1), ...flags, '--', ...argv], { env, timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The systemd instance's PID 1, as the host sees it. */
function systemdPid(ns: Ns): number | undefined {
  return ns.procs().find((p) => p.comm === 'systemd' && p.ppid !== ns.pid1 && ns.procs().some((q) => q.pid === p.ppid && q.comm === 'unshare'))?.pid;
}

/** One service of `status --all --json` (targets and sockets included). */
async function unit(ns: Ns, id: string): Promise<ServiceStatus | undefined> {
  const r = await ns.cli(['status', '--all', '--json']);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as { services: ServiceStatus[] }).services.find((s) => s.id === id);
}

/** ms epoch of the first console line matching `re` (throws naming it when there is none) */
function lineAt(log: string, re: RegExp): number {
  const line = log.split('\n').find((l) => re.test(l));
  if (!line) throw new Error(`no PID 1 log line matches ${re}`);
  return Date.parse(line.split(' ')[0]!);
}

/**
 * One boot of `caseName` for the tests of the calling describe: booted in before() (skipped with
 * the reason when this machine cannot), systemd at multi-user.target; after(): the console when a
 * test failed, the namespace ended, the instance's cgroup directories removed.
 */
function bootForSuite(caseName: string): { readonly ns: Ns; readonly subtree: string } {
  let boot: OverlayBoot | undefined;
  let ns: Ns | undefined;
  let pidNs: string | undefined;
  let failed = false;
  before(async function () {
    const reason = whyNot();
    if (reason) {
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    boot = overlayBoot(caseName, { net: true, bootTimeoutMs: 60_000 });
    ns = await bootNs(boot.options);
    pidNs = pidNsOf(ns);
    assertOverlay(ns);
    const booted = ns;
    await ns.waitFor(async () => (await unit(booted, 'systemd/multi-user.target'))?.state === 'running', 60_000, 'systemd to reach multi-user.target');
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });
  after(async function () {
    this.timeout(30_000);
    if (failed && ns) console.log(`--- PID 1 console (last 6000) ---\n${ns.console().slice(-6000)}`);
    await ns?.cleanup();
    boot?.dispose();
    await removeLeftovers(pidNs);
  });
  return {
    get ns(): Ns {
      if (!ns) throw new Error('harness: the namespace is not booted');
      return ns;
    },
    /** the instance's cgroup subtree on the host, while and after the run */
    get subtree(): string {
      return join(findCgroup2Mount()!, parentOf(pidNs!), 'systemd');
    },
  };
}

describe('ns: systemd hosted next to runit and native (the systemd adapter, test bed overlay)', function () {
  this.timeout(180_000);
  const booted = bootForSuite(CASE);
  let ns: Ns;
  beforeEach(() => (ns = booted.ns));
  const one = (id: string): Promise<ServiceStatus | undefined> => unit(ns, id);

  it('boots systemd to multi-user.target as PID 1 of its own namespaces, in the subtree metainit made', async () => {
    const pid = systemdPid(ns);
    expect(pid, 'a systemd process whose parent is unshare').to.be.a('number');
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')).to.include(`0::/${parentOf(pidNsOf(ns))}/systemd/init.scope`);
    const procStatus = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(procStatus).to.match(/^NSpid:\s+\d+\s+\d+\s+1$/m);
    const bounding = BigInt(`0x${/^CapBnd:\s+([0-9a-f]+)$/m.exec(procStatus)![1]}`);
    for (const [name, bit] of [['CAP_AUDIT_WRITE', 29n], ['CAP_AUDIT_CONTROL', 30n], ['CAP_AUDIT_READ', 37n]] as const) expect(bounding & (1n << bit), `${name} dropped`).to.equal(0n);
    expect(bounding & (1n << 21n), 'CAP_SYS_ADMIN kept').to.not.equal(0n);
    await ns.waitFor(() => /systemd: systemd reached multi-user\.target \((running|degraded)\)/.test(ns.console()), 10_000, 'the instance to report systemd ready');
    const inside = await systemctl(pid!, ['is-system-running']);
    expect(inside.stdout.trim()).to.be.oneOf(['running', 'degraded']);
    // /dev/console is a pty metainit holds: systemd's console output is filed in log_dir
    const consoleLog = nsPath(ns, '/run/metainit/log/systemd/console.log');
    await ns.waitFor(() => existsSync(consoleLog) && readFileSync(consoleLog, 'utf8').trim() !== '', 10_000, 'systemd\'s console output in console.log');
  });

  it('metainit console systemd: two viewers at once, each gets the console\'s scrollback and stays attached', async () => {
    const consoleLog = nsPath(ns, '/run/metainit/log/systemd/console.log');
    const firstLine = readFileSync(consoleLog, 'utf8').split('\n')[0]!.replace(/^\S+ /, '').trim();
    const clean = (s: string): string => s.replace(/\x1b\[[0-?]*[ -\/]*[@-~]/g, '').replace(/\r/g, '');
    // two viewers at once, neither on a terminal: each prints the scrollback and stays attached
    const view = (): Promise<string> =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, [RUN_JS, 'console', 'systemd', '--socket', ns.sock], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
        let text = '';
        c.stdout.on('data', (d: Buffer) => (text += d.toString()));
        setTimeout(() => c.stdin.write('\n'), 800); // typed: an Enter on systemd's console
        setTimeout(() => c.kill('SIGTERM'), 2500);
        c.once('exit', () => resolve(text));
      });
    const [a, b] = await Promise.all([view(), view()]);
    expect(clean(a), 'viewer 1 got the scrollback').to.include(firstLine);
    expect(clean(b), 'viewer 2 got the scrollback').to.include(firstLine);
    const none = await ns.cli(['console', 'native/nothing-here']);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.match(/unable to (attach to its console|find service)/);
  });

  it('idles when nothing happens: no call loop between metainit and systemd (CPU of both over 3 s)', async () => {
    const cpu = (pid: number): number => {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * 10; // ms (USER_HZ 100)
    };
    const sd = systemdPid(ns)!;
    const before = [cpu(ns.pid1), cpu(sd)];
    await new Promise((r) => setTimeout(r, 3000));
    const used = [cpu(ns.pid1) - before[0]!, cpu(sd) - before[1]!];
    // a unit loaded, unloaded and loaded again by our own calls kept both at 100 % of a CPU
    expect(used[0], 'PID 1 ms of CPU in 3 s').to.be.below(600);
    expect(used[1], 'systemd ms of CPU in 3 s').to.be.below(600);
  });

  it('shows its .service units in status, and sockets, timers and targets only with --all', async () => {
    const plain = await ns.cli(['status']);
    expect(plain.stdout).to.match(/^systemd\/hello-systemd\.service\s+running\s+\d+/m);
    expect(plain.stdout).to.match(/^systemd\/dbus\.service\s+running/m);
    expect(plain.stdout).to.not.match(/tangd\.socket|\.timer|multi-user\.target/);
    const all = await ns.cli(['status', '--all']);
    expect(all.stdout).to.match(/^systemd\/tangd\.socket\s+running/m);
    expect(all.stdout).to.match(/^systemd\/multi-user\.target\s+running/m);
    expect(all.stdout).to.match(/^systemd\/[\w-]+\.timer\s+running/m);
    const s = await one('systemd/hello-systemd.service');
    // the pid is metainit's (its PID namespace), not systemd's own number: it runs testbed-ticker
    expect(readFileSync(nsPath(ns, `/proc/${s!.pid}/cmdline`), 'utf8')).to.include('testbed-ticker');
  });

  it('gives cron to runit: cron.service masked on systemd\'s argv, one cron on the machine, and roles says so', async () => {
    const cron = await one('systemd/cron.service');
    expect(cron).to.include({ state: 'stopped', target: 'down' });
    expect(cron!.reason).to.match(/vetoed/);
    await ns.waitFor(async () => (await one('runit/cron'))?.state === 'running', 20_000, 'runit/cron running');
    expect(comms(ns).filter((c) => c === 'cron')).to.have.length(1);
    const pid = systemdPid(ns)!;
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).to.include('systemd.mask=cron.service');
    const roles = await ns.cli(['roles']);
    expect(roles.stdout).to.match(/^cron\s+runit\/cron\s+running\s+systemd\/cron\.service$/m);
    expect(roles.stdout).to.match(/^message-bus\s+systemd\/dbus\.service\s+running/m);
    expectGolden(join(CASES_MULTI, CASE), 'roles', cliText(roles));
  });

  it('says the same offline: check and plan of the case, inside the namespace where its root exists', async () => {
    const dir = join(CASES_MULTI, CASE);
    for (const command of ['check', 'plan']) expectGolden(dir, command, cliText(await metainitInNamespace(ns, [command, '--config-dir', dir])));
  });

  it('exports systemd\'s /run/dbus: a runit service talks to the system bus', async () => {
    const answer = join(upperDir(ns), 'var/lib/bus-probe/answer');
    await ns.waitFor(() => existsSync(answer) && readFileSync(answer, 'utf8').includes('org.freedesktop.DBus'), 30_000, 'bus-probe to get an answer from the system bus');
    expect(readFileSync(answer, 'utf8')).to.include('org.freedesktop.systemd1');
    expect(comms(ns).filter((c) => c === 'dbus-daemon')).to.have.length(1);
    // the runit instance has after: [role:message-bus]: it started once systemd's dbus was running
    const log = ns.console();
    expect(lineAt(log, /runit: starting instance/)).to.be.at.least(lineAt(log, /systemd\/dbus\.service: running/));
  });

  it('runs a package that exists only as systemd units: tang answers /adv on port 80', async () => {
    const get = "require('http').get('http://127.0.0.1/adv', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => { console.log(r.statusCode, b.slice(0, 200)); }); }).on('error', (e) => { console.log('error', e.message); process.exit(1); });";
    const r = await inNs(ns, [process.execPath, '-e', get], ['--net']);
    expect(r.stdout, r.stderr).to.match(/^200 .*"payload"/);
  });

  it('D-Bus-activates a systemd-only service for a client outside: accountsservice answers on the system bus', async () => {
    const get = ['chroot', ROOT_IN_NS, 'dbus-send', '--system', '--print-reply', '--reply-timeout=20000', '--dest=org.freedesktop.Accounts', '/org/freedesktop/Accounts', 'org.freedesktop.DBus.Properties.Get', 'string:org.freedesktop.Accounts', 'string:DaemonVersion'];
    const r = await inNs(ns, get, ['--mount']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/variant\s+string "[\d.]+"/);
    await ns.waitFor(async () => (await one('systemd/accounts-daemon.service'))?.state === 'running', 10_000, 'accounts-daemon.service running in status');
  });

  it('starts a native service after a Type=notify unit only once that unit is ready', async () => {
    const unit = await one('systemd/ready-late.service');
    const native = await one('native/after-ready');
    expect(unit!.state).to.equal('running');
    expect(native!.state).to.equal('running');
    const log = ns.console();
    expect(lineAt(log, /native\/after-ready: starting/)).to.be.at.least(lineAt(log, /systemd\/ready-late\.service: running/));
  });

  it('stops, starts and restarts a unit through the CLI, each job reported done', async () => {
    const stop = await ns.cli(['stop', 'systemd/hello-systemd.service']);
    expect(stop.code, stop.stderr).to.equal(0);
    expect(await one('systemd/hello-systemd.service')).to.include({ state: 'stopped', target: 'down' });
    const start = await ns.cli(['start', 'systemd/hello-systemd.service']);
    expect(start.code, start.stderr).to.equal(0);
    const before = (await one('systemd/hello-systemd.service'))!;
    expect(before.state).to.equal('running');
    const restart = await ns.cli(['restart', 'systemd/hello-systemd.service']);
    expect(restart.code, restart.stderr).to.equal(0);
    await ns.waitFor(async () => {
      const s = await one('systemd/hello-systemd.service');
      return s?.state === 'running' && s.pid !== before.pid;
    }, 10_000, 'a new pid after restart');
  });

  it('reports a failing unit as failed with its reason, and shows its journal lines', async () => {
    const start = await ns.cli(['start', 'systemd/fails.service']);
    expect(start.code).to.not.equal(0);
    expect(start.stderr).to.include('systemd/fails.service: unable to start: the unit failed: exited with code 3');
    expect(await one('systemd/fails.service')).to.include({ state: 'error', reason: 'exited with code 3' });
    const logs = await ns.cli(['logs', 'systemd/fails.service']);
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.include('fails: giving up with status 3');
  });

  it('respawns the bus bridge when it dies: state and jobs work again', async () => {
    const bridge = ns.procs().find((p) => p.comm.startsWith('systemd-stdio'));
    expect(bridge, 'systemd-stdio-bridge running').to.not.equal(undefined);
    process.kill(bridge!.pid, 'SIGKILL');
    await ns.waitFor(() => /systemd: systemd's bus bridge ended .*; connecting again/.test(ns.console()), 10_000, 'the bridge\'s end noticed');
    await ns.waitFor(() => ns.procs().some((p) => p.comm.startsWith('systemd-stdio') && p.pid !== bridge!.pid), 10_000, 'a new bridge');
    const r = await ns.cli(['restart', 'systemd/hello-systemd.service']);
    expect(r.code, r.stderr).to.equal(0);
    expect((await one('systemd/hello-systemd.service'))!.state).to.equal('running');
  });

  it('sync reloads systemd and starts a unit enabled in the tree since the boot', async () => {
    const etc = nsPath(ns, '/run/test/root/etc/systemd/system');
    writeFileSync(join(etc, 'synced.service'), '[Service]\nExecStart=/usr/local/bin/testbed-ticker synced\n[Install]\nWantedBy=multi-user.target\n');
    symlinkSync('/etc/systemd/system/synced.service', join(etc, 'multi-user.target.wants/synced.service'));
    const r = await ns.cli(['sync']);
    expect(r.code, r.stderr).to.equal(0);
    await ns.waitFor(async () => (await one('systemd/synced.service'))?.state === 'running', 15_000, 'synced.service running after sync');
  });

  it('restarts systemd with backoff after kill -9 of its PID 1, and its units come back', async () => {
    const old = systemdPid(ns)!;
    process.kill(old, 'SIGKILL');
    await ns.waitFor(() => {
      const now = systemdPid(ns);
      return now !== undefined && now !== old;
    }, 30_000, 'a new systemd');
    // unshare passes a death by SIGKILL on as exit code 1: either way a crash, restarted with backoff
    expect(ns.console()).to.match(/systemd: systemd (killed by SIGKILL|exited with code \d+); restarting it in \d+ ms/);
    await ns.waitFor(async () => (await one('systemd/multi-user.target'))?.state === 'running', 60_000, 'multi-user.target again');
    expect((await one('systemd/hello-systemd.service'))!.state).to.equal('running');
    expect(comms(ns).filter((c) => c === 'cron')).to.have.length(1);
  });

  it('keeps the same systemd across metainit reexec, re-adopted with its units', async () => {
    const before = systemdPid(ns)!;
    const r = await ns.cli(['reexec']);
    expect(r.code, r.stderr).to.equal(0);
    await ns.waitFor(async () => (await ns.cli(['status', '--json'])).code === 0 && (await one('systemd/multi-user.target'))?.state === 'running', 30_000, 'status after reexec');
    expect(systemdPid(ns)).to.equal(before);
    expect((await one('systemd/hello-systemd.service'))!.state).to.equal('running');
    // the bus works again: a job through the new image
    const restart = await ns.cli(['restart', 'systemd/hello-systemd.service']);
    expect(restart.code, restart.stderr).to.equal(0);
  });

  it('on metainit poweroff stops systemd within its timeout and leaves nothing: no process, no cgroup, /etc unchanged', async () => {
    const r = await ns.cli(['poweroff']);
    expect(r.code, r.stderr).to.equal(0);
    const exit: Exit = await ns.waitExit(90_000);
    expect(exit.signal, 'PID 1 ends the namespace by poweroff').to.equal('SIGINT');
    const log = ns.console();
    expect(log).to.match(/systemd: stopping instance/);
    expect(existsSync(booted.subtree), `${booted.subtree} left behind`).to.equal(false);
    expect(existsSync(dirname(booted.subtree)), 'metainit\'s own cgroup directory removed once empty').to.equal(false);
    // systemd chmods device nodes: the machine's own must be untouched (the container's are its own)
    for (const n of ['null', 'zero', 'tty']) expect((statSync(`/dev/${n}`).mode & 0o777).toString(8), `/dev/${n} of the machine`).to.equal('666');
    // runsv's supervise state (runit's doing), and the unit the sync test added
    const changes = etcChanges(ns).filter((c) => !/etc\/sv\/[\w-]+\/supervise|etc\/runit\/runsvdir|synced\.service|etc\/systemd\/system\/multi-user\.target\.wants $/.test(c));
    expect(changes, 'the root\'s /etc after the run').to.deep.equal([]);
  });
});

describe('ns: systemctl poweroff inside the hosted systemd (on_poweroff: stop)', function () {
  this.timeout(120_000);
  const booted = bootForSuite(CASE);
  let ns: Ns;
  beforeEach(() => (ns = booted.ns));

  it('stops the instance only: its units stopped, its subtree gone, runit and native still running', async () => {
    const pid = systemdPid(ns)!;
    const r = await systemctl(pid, ['poweroff']);
    expect(r.code, r.stderr).to.equal(0);
    await ns.waitFor(() => systemdPid(ns) === undefined && !existsSync(booted.subtree), 30_000, 'systemd gone and its subtree removed');
    expect(ns.console()).to.match(/systemd: systemd stopped: poweroff or halt inside \(died by SIGINT\) \(on_poweroff: stop\)/);
    const all = await ns.status();
    expect(all.find((s) => s.id === 'systemd/hello-systemd.service')).to.include({ state: 'stopped' });
    expect(all.find((s) => s.id === 'runit/hello-runit')!.state).to.equal('running');
    expect(all.find((s) => s.id === 'native/after-ready')!.state).to.equal('running');
    await new Promise((res) => setTimeout(res, 3000));
    expect(systemdPid(ns), 'not restarted').to.equal(undefined);
  });
});

describe('ns: systemd with on_poweroff: machine, after the logging holder outside it', function () {
  this.timeout(150_000);
  const booted = bootForSuite('systemd-machine');
  let ns: Ns;
  beforeEach(() => (ns = booted.ns));

  it('starts the instance only once the logging holder outside is ready, and masks its own rsyslog', async () => {
    const log = ns.console();
    expect(lineAt(log, /systemd: starting instance/)).to.be.at.least(lineAt(log, /native\/logger: running/));
    const rsyslog = await unit(ns, 'systemd/rsyslog.service');
    expect(rsyslog).to.include({ state: 'stopped', target: 'down' });
    expect(readFileSync(`/proc/${systemdPid(ns)}/cmdline`, 'utf8').split('\0')).to.include('systemd.mask=rsyslog.service');
  });

  it('says the same offline: check and plan of the case, inside the namespace where its root exists', async () => {
    const dir = join(CASES_MULTI, 'systemd-machine');
    for (const command of ['check', 'plan']) expectGolden(dir, command, cliText(await metainitInNamespace(ns, [command, '--config-dir', dir])));
  });

  it('reports a degraded boot with the failed unit named', async () => {
    await ns.waitFor(() => /systemd: systemd reached multi-user\.target \(degraded\)/.test(ns.console()), 10_000, 'the degraded boot reported');
    expect(ns.console()).to.match(/warning: systemd: systemd is degraded: failed units fails\.service/);
    expect(await unit(ns, 'systemd/multi-user.target')).to.include({ state: 'running', reason: 'degraded: some units failed' });
    expect(await unit(ns, 'systemd/fails.service')).to.include({ state: 'error', reason: 'exited with code 3' });
  });

  it('restarts only the instance on systemctl reboot inside (on_reboot: restart)', async () => {
    const old = systemdPid(ns)!;
    const r = await systemctl(old, ['reboot']);
    expect(r.code, r.stderr).to.equal(0);
    await ns.waitFor(() => {
      const now = systemdPid(ns);
      return now !== undefined && now !== old;
    }, 30_000, 'a new systemd after the reboot inside');
    expect(ns.console()).to.match(/systemd: systemd restarts: reboot inside \(died by SIGHUP\) \(on_reboot: restart\)/);
    await ns.waitFor(async () => (await unit(ns, 'systemd/multi-user.target'))?.state === 'running', 60_000, 'multi-user.target again');
    expect((await unit(ns, 'native/logger'))!.state).to.equal('running');
    expect(ns.alive()).to.equal(true);
  });

  it('powers the whole machine off on systemctl poweroff inside, through stages 3 and 4 (on_poweroff: machine)', async () => {
    const r = await systemctl(systemdPid(ns)!, ['poweroff']);
    expect(r.code, r.stderr).to.equal(0);
    const exit = await ns.waitExit(90_000);
    expect(exit.signal, 'PID 1 ends the namespace by poweroff').to.equal('SIGINT');
    const log = ns.console();
    expect(log).to.match(/systemd: poweroff or halt inside \(died by SIGINT\): shutting down \(poweroff\)/);
    expect(log).to.match(/native: stopping instance/);
    expect(log).to.match(/stage 4: poweroff/);
    expect(existsSync(booted.subtree), `${booted.subtree} left behind`).to.equal(false);
  });
});
