/**
 * systemd.test.ts — the systemd adapter without running systemd: its ONE state table, the unit
 * tree read offline (enabled units, claims, masks, cron's twin timers), the instance schema's
 * errors, and systemd's argv. The ns tier (test/ns/systemd-adapter.test.ts) runs the real thing.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SystemdAdapter } from '../../../../src/adapters/systemd/index.js';
import { ConsoleLog } from '../../../../src/adapters/systemd/console-log.js';
import { dict, variant } from '../../../../src/adapters/systemd/bus.js';
import { classifyEnd } from '../../../../src/adapters/systemd/process.js';
import { failureReason, unitKind, unitObservation } from '../../../../src/adapters/systemd/states.js';
import { cronTwinTimers, enabledUnits, masksFor, unitMatches } from '../../../../src/adapters/systemd/units.js';
import { createFakeSys } from '../../fake-sys.js';
import { testContext } from '../../adapter-context.js';

const view = (active: string, sub: string, extra: object = {}) => ({ name: 'x.service', load: 'loaded', active, sub, ...extra });

describe('systemd adapter: states', () => {
  it('maps ActiveState × SubState onto the shared states', () => {
    expect(unitObservation(view('active', 'running'))).to.deep.equal({ state: 'running', target: 'up' });
    expect(unitObservation(view('active', 'exited'))).to.deep.equal({ state: 'ok', target: 'up' });
    expect(unitObservation(view('activating', 'start'))).to.deep.equal({ state: 'starting', target: 'up' });
    expect(unitObservation(view('activating', 'auto-restart'))).to.deep.equal({ state: 'respawn', target: 'up' });
    expect(unitObservation(view('deactivating', 'stop-sigterm'))).to.deep.equal({ state: 'stopping', target: 'down' });
    expect(unitObservation(view('inactive', 'dead'))).to.deep.equal({ state: 'stopped', target: 'down' });
    expect(unitObservation(view('reloading', 'reload'))).to.deep.equal({ state: 'running', target: 'up', reason: 'reloading' });
    expect(unitObservation({ ...view('inactive', 'dead'), load: 'masked' })).to.deep.equal({ state: 'stopped', target: 'down', reason: 'masked' });
    expect(unitObservation(view('bogus', 'x')).state).to.equal('error');
  });

  it('says why a unit failed from Result= and ExecMainStatus=', () => {
    expect(unitObservation(view('failed', 'failed', { result: 'exit-code', execCode: 1, execStatus: 3 }))).to.deep.equal({ state: 'error', target: 'up', reason: 'exited with code 3' });
    expect(failureReason(view('failed', 'failed', { result: 'signal', execStatus: 9 }))).to.equal('killed by signal 9');
    expect(failureReason(view('failed', 'failed', { result: 'timeout' }))).to.equal('timed out');
    expect(failureReason(view('failed', 'failed', { result: 'start-limit-hit' }))).to.match(/start limit hit/);
    expect(failureReason(view('failed', 'failed'))).to.equal('x.service failed');
  });

  it('knows a unit\'s kind by its suffix', () => {
    expect(['a.service', 'a.socket', 'a.timer', 'a.target', 'a.mount', 'a.swap', 'a.path', 'a.slice'].map(unitKind)).to.deep.equal(['service', 'socket', 'timer', 'target', 'mount', 'mount', 'path', 'other']);
  });

  it('classifies systemd\'s end as the container interface defines it', () => {
    expect(classifyEnd(null, 'SIGINT', false).how).to.equal('poweroff');
    expect(classifyEnd(null, 'SIGHUP', false).how).to.equal('reboot');
    expect(classifyEnd(null, 'SIGKILL', false)).to.deep.equal({ how: 'crash', detail: 'killed by SIGKILL' });
    expect(classifyEnd(1, null, false)).to.deep.equal({ how: 'crash', detail: 'exited with code 1' });
    expect(classifyEnd(null, 'SIGINT', true).how).to.equal('stopped');
  });

  it('unwraps dbus-native\'s variants and a{sv}', () => {
    expect(variant([[{ type: 's', child: [] }], ['running']])).to.equal('running');
    expect(dict([['ActiveState', [[{ type: 's' }], ['active']]], ['MainPID', [[{ type: 'u' }], [42]]]])).to.deep.equal({ ActiveState: 'active', MainPID: 42 });
  });
});

describe('systemd adapter: the tree read offline', () => {
  let root: string;
  const unit = (dir: string, name: string, text = '[Unit]\n'): void => {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, name), text);
  };
  const want = (dir: string, target: string, name: string, from = '/lib/systemd/system'): void => {
    mkdirSync(join(root, dir, `${target}.wants`), { recursive: true });
    symlinkSync(`${from}/${name}`, join(root, dir, `${target}.wants`, name));
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'metainit-sd-'));
    for (const u of ['cron.service', 'rsyslog.service', 'dbus.service', 'dbus.socket', 'ssh.service', 'systemd-timesyncd.service', 'systemd-logind.service', 'apt-daily.timer', 'man-db.timer', 'multi-user.target', 'systemd-sysusers.service', 'systemd-machine-id-commit.service']) unit('lib/systemd/system', u);
    writeFileSync(join(root, 'lib/systemd/systemd'), '');
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'usr/bin/systemd-stdio-bridge'), '');
    want('etc/systemd/system', 'multi-user.target', 'cron.service');
    want('etc/systemd/system', 'multi-user.target', 'rsyslog.service');
    want('etc/systemd/system', 'multi-user.target', 'ssh.service');
    want('etc/systemd/system', 'sysinit.target', 'systemd-timesyncd.service');
    want('lib/systemd/system', 'sockets.target', 'dbus.socket');
    want('lib/systemd/system', 'multi-user.target', 'systemd-logind.service');
    want('etc/systemd/system', 'timers.target', 'apt-daily.timer');
    mkdirSync(join(root, 'etc/cron.daily'), { recursive: true });
    writeFileSync(join(root, 'etc/cron.daily/apt-compat'), '');
    writeFileSync(join(root, 'etc/machine-id'), '');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lists the units linked from .wants/ directories, a socket bringing its service along', () => {
    expect(enabledUnits(root)).to.deep.equal(['apt-daily.timer', 'cron.service', 'dbus.service', 'dbus.socket', 'rsyslog.service', 'ssh.service', 'systemd-logind.service', 'systemd-timesyncd.service']);
  });

  it('masks a vetoed service with its socket, and only the twin timers whose cron job is in the tree', () => {
    expect(masksFor(root, 'dbus.service')).to.deep.equal(['dbus.service', 'dbus.socket']);
    expect(masksFor(root, 'cron.service')).to.deep.equal(['cron.service']);
    expect(cronTwinTimers(root)).to.deep.equal(['apt-daily.timer']); // man-db has no cron job here
  });

  it('matches units and patterns', () => {
    expect(unitMatches('tang*', 'tangd.socket')).to.equal(true);
    expect(unitMatches('getty@*', 'getty@tty1.service')).to.equal(true);
    expect(unitMatches('cron.service', 'cron.socket')).to.equal(false);
  });

  const adapter = async (config: Record<string, unknown>) => {
    const a = new SystemdAdapter(testContext({ instance: 'systemd', config: { adapter: 'systemd', root, ...config }, sys: createFakeSys() }));
    return { a, diags: await a.load() };
  };

  it('claims roles from enabled units, never time-sync or device-manager (systemd skips them in a container)', async () => {
    const { a, diags } = await adapter({});
    expect(diags).to.deep.equal([]);
    expect(a.claims()).to.deep.equal([
      { role: 'cron', service: 'cron.service' },
      { role: 'message-bus', service: 'dbus.service' },
      { role: 'logging', service: 'rsyslog.service' },
      { role: 'login', service: 'systemd-logind.service' },
    ]);
  });

  it('vetoes by systemd.mask= on systemd\'s own argv: excluded units, vetoed services, cron\'s twin timers', async () => {
    const { a } = await adapter({ exclude: ['ssh.service'] });
    a.applyRoles(new Set(['cron.service', 'dbus.service']));
    expect(a.argv()).to.deep.equal([
      '/lib/systemd/systemd',
      'systemd.unit=multi-user.target',
      'systemd.getty_auto=0',
      'systemd.journald.forward_to_syslog=1',
      'systemd.mask=apt-daily.timer',
      'systemd.mask=cron.service',
      'systemd.mask=dbus.service',
      'systemd.mask=dbus.socket',
      'systemd.mask=ssh.service',
      'systemd.mask=systemd-machine-id-commit.service',
      'systemd.mask=systemd-sysusers.service',
    ]);
    expect(a.status('cron.service')).to.include({ state: 'stopped', target: 'down' });
    expect(a.status('cron.service')!.reason).to.match(/vetoed/);
    expect(a.status('ssh.service'), 'excluded: not a service of the instance').to.equal(undefined);
  });

  it('leaves /etc/init.d to a sysv instance on the same root: systemd-sysv-generator masked, and plan says so', async () => {
    const peers = (r: string) => [{ instance: 'sysv', adapter: 'sysv', root: r }, { instance: 'runit', adapter: 'runit', root }];
    const on = new SystemdAdapter(testContext({ instance: 'systemd', config: { adapter: 'systemd', root }, sys: createFakeSys(), peers: peers(`${root}/`) }));
    await on.load();
    expect((on.plan() as { summary: string }).summary).to.match(/\/etc\/init\.d scripts left to sysv: systemd-sysv-generator masked\)$/);
    const other = new SystemdAdapter(testContext({ instance: 'systemd', config: { adapter: 'systemd', root }, sys: createFakeSys(), peers: peers('/srv/other') }));
    await other.load();
    expect((other.plan() as { summary: string }).summary, 'a sysv instance of another tree changes nothing').to.not.include('sysv-generator');
  });

  it('runs only what units: lists of what the administrator enabled (the rest masked), and shows what runs and claims a role', async () => {
    const { a } = await adapter({ units: ['cron.service', 'man-db.timer'] });
    // systemd's own static wants (dbus.socket, logind in /lib) still run: they claim roles, so they show
    expect(a.list().map((s) => s.name)).to.deep.equal(['cron.service', 'dbus.service', 'multi-user.target', 'systemd-logind.service']);
    expect(a.claims()).to.deep.equal([
      { role: 'cron', service: 'cron.service' },
      { role: 'message-bus', service: 'dbus.service' },
      { role: 'login', service: 'systemd-logind.service' },
    ]);
    expect(a.masks()).to.deep.equal(['apt-daily.timer', 'rsyslog.service', 'ssh.service', 'systemd-timesyncd.service']);
    expect(a.status('man-db.timer')).to.include({ kind: 'timer', state: 'stopped' });
    expect(a.status('rsyslog.service'), 'not in units:').to.equal(undefined);
  });

  it('masks every unit file an exclude: pattern matches (a template masks its instances)', async () => {
    unit('lib/systemd/system', 'getty@.service');
    unit('lib/systemd/system', 'serial-getty@.service');
    const { a } = await adapter({ exclude: ['*getty@*', 'ssh.service'] });
    expect(a.masks()).to.deep.equal(['getty@.service', 'serial-getty@.service', 'ssh.service']);
    expect(a.status('getty@tty1.service')).to.equal(undefined);
  });

  it('reports bad keys and a tree without systemd, naming the file, the key and the fix', async () => {
    const bad = await adapter({ on_poweroff: 'explode', unit: 'multi-user' });
    expect(bad.diags.map((d) => d.key).sort()).to.deep.equal(['on_poweroff', 'unit']);
    expect(bad.diags[0]!.message).to.match(/^\/etc\/metainit\/adapters\.d\/systemd\.yaml: unable to load instance systemd: /);
    rmSync(join(root, 'lib/systemd/systemd'));
    const none = await adapter({});
    expect(none.diags).to.have.length(1);
    expect(none.diags[0]).to.include({ key: 'root', level: 'error' });
    expect(none.diags[0]!.message).to.match(/\/lib\/systemd\/systemd not found in root .* \(fix: install systemd in that root/);
    expect(none.a.claims()).to.deep.equal([]);
  });
});

describe('systemd adapter: the console log', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'metainit-sdcons-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

  it('files each line with its time, and starts a new file past 1 MiB keeping one old one', async () => {
    const warnings: string[] = [];
    const log = new ConsoleLog(join(dir, 'systemd/console.log'), (t) => warnings.push(t));
    log.line('[  OK  ] Reached target Multi-User System.');
    await settle();
    expect(readFileSync(join(dir, 'systemd/console.log'), 'utf8')).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z \[  OK  \] Reached target Multi-User System\.\n$/);
    const line = 'x'.repeat(1000);
    for (let i = 0; i < 1200; i++) {
      log.line(line);
      if (i % 100 === 0) await settle(); // let the writes drain, as a real console would
    }
    await settle();
    log.close();
    await settle();
    expect(statSync(join(dir, 'systemd/console.log.1')).size).to.be.at.most(1024 * 1024);
    expect(statSync(join(dir, 'systemd/console.log')).size).to.be.above(0);
    expect(warnings).to.deep.equal([]);
  });

  it('reports an unwritable file once and drops the lines (the instance runs on)', async () => {
    writeFileSync(join(dir, 'file'), '');
    const warnings: string[] = [];
    const log = new ConsoleLog(join(dir, 'file/console.log'), (t) => warnings.push(t));
    for (let i = 0; i < 5; i++) log.line('hello');
    await settle();
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/^console log: unable to write .*file\/console\.log: .* \(fix: check log_dir/);
  });
});
