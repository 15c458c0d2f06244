/**
 * lsb.test.ts — what the sysv adapter reads from /etc/init.d and how it plans a runlevel.
 *
 * Scripts come from test/fixtures/lsb/scripts (real Debian headers: cron, rc.local; hand-made
 * ones for continuation lines, a broken header, a header-less script) and from the small tree
 * test/fixtures/lsb/root, which the adapter loads as its `root:` (load() and list() only: no
 * script runs, no syscall is made — the Sys is the strict fake). Plans are checked through the
 * shared DepGraph, the way the adapter orders starts and stops.
 */
import { testContext } from '../../adapter-context.js';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AdapterEvent } from '../../../../src/adapters/adapter.js';
import { SysvAdapter } from '../../../../src/adapters/sysv/index.js';
import { parseRcLink, scanInitScript, type InitScript, type RcLink } from '../../../../src/adapters/sysv/lsb.js';
import { planRunlevel } from '../../../../src/adapters/sysv/lsb-plan.js';
import { parseInsservConf } from '../../../../src/adapters/sysv/insserv-conf.js';
import { stateFromStatus } from '../../../../src/adapters/sysv/states.js';
import { roleOfService } from '../../../../src/roles/known-services.js';
import { metainitOwner } from '../../../../src/roles/lsb-facilities.js';
import { DepGraph } from '../../../../src/supervisor/graph.js';
import { createFakeSys } from '../../fake-sys.js';

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/lsb/', import.meta.url));
const script = (name: string): InitScript => scanInitScript(name, readFileSync(`${FIXTURES}scripts/${name}`, 'utf8'));

/** A script with a header made of `fields` (Default-Start 2 unless given). */
function lsb(name: string, fields: Record<string, string> = {}): InitScript {
  const all = { Provides: name, 'Default-Start': '2 3 4 5', ...fields };
  const lines = Object.entries(all).map(([k, v]) => `# ${k}: ${v}`);
  return scanInitScript(name, ['#!/bin/sh', '### BEGIN INIT INFO', ...lines, '### END INIT INFO', 'exit 0', ''].join('\n'));
}
const bare = (name: string): InitScript => scanInitScript(name, '#!/bin/sh\nexit 0\n');
const links = (level: string, ...names: string[]): Map<string, RcLink[]> => new Map([[level, names.map((n) => parseRcLink(n)!)]]);
const plan = (scripts: InitScript[], rc: Map<string, RcLink[]> = new Map()) => planRunlevel({ scripts, links: rc, runlevel: '2', roleOf: roleOfService });
/** Debian bookworm's /etc/insserv.conf (its facility lines), plus `extra` lines */
function debianFacilities(extra = ''): Map<string, string[]> {
  const f = new Map<string, string[]>();
  parseInsservConf(
    ['# comment', '$local_fs\t+mountall +mountall-bootclean +mountoverflowtmp +umountfs', '$network\t+networking +ifupdown', '$named\t\t+named +dnsmasq +lwresd +bind9 +unbound +pdns-recursor $network', '$remote_fs\t$local_fs +mountnfs +mountnfs-bootclean +umountnfs +sendsigs', '$syslog\t\t+rsyslog +sysklogd +syslog-ng +dsyslog +inetutils-syslogd', '$time\t\t+hwclock', '<interactive>\tglibc udev console-screen', extra].join('\n'),
    f,
  );
  return f;
}
const planWith = (scripts: InitScript[], facilities: Map<string, string[]>) => planRunlevel({ scripts, links: new Map(), runlevel: '2', roleOf: roleOfService, facilities });
const levelsOf = (p: ReturnType<typeof plan>): string[][] => new DepGraph(p.startNodes.filter((n) => p.wanted.includes(n.id))).levels().levels;

describe('sysv: LSB headers', () => {
  it('reads every field of a Debian header, Description continued over several lines', () => {
    const h = script('cron').header!;
    expect(h.provides).to.deep.equal(['cron']);
    expect(h.requiredStart).to.deep.equal(['$remote_fs', '$syslog', '$time']);
    expect(h.shouldStart).to.include.members(['$network', '$named', 'nscd']);
    expect(h.defaultStart).to.deep.equal(['2', '3', '4', '5']);
    expect(h.defaultStop).to.deep.equal([]);
    expect(h.description).to.match(/^cron is a standard UNIX program .* more powerful configuration options\.$/);
  });

  it('continues any keyword on lines that start with "#" and a tab or two spaces', () => {
    const h = script('continued').header!;
    expect(h.provides).to.deep.equal(['continued', 'cont-alias']);
    expect(h.requiredStart).to.deep.equal(['$local_fs', '$syslog']);
    expect(h.shouldStart).to.deep.equal(['$network', 'cron']);
    expect(h.defaultStart).to.deep.equal(['2', '3', '4', '5']);
    expect(h.description).to.equal('the first line and the second line');
  });

  it('treats a script without a header, or with an unterminated one, as header-less and says why', () => {
    expect(script('oldstyle').header).to.equal(null);
    expect(script('oldstyle').headerProblem).to.equal(undefined);
    const broken = script('unterminated');
    expect(broken.header).to.equal(null);
    expect(broken.headerProblem).to.match(/no "### END INIT INFO"/);
  });

  it('tells daemons from oneshots, finds pid files and recognises OpenRC runscripts', () => {
    expect(script('cron')).to.include({ daemon: true, pidfile: '/var/run/crond.pid', openrc: false });
    expect(script('oldstyle')).to.include({ daemon: true, pidfile: '/run/olddaemon.pid' });
    // a status action that only says "the job is done" does not make a daemon
    expect(script('rc.local').daemon).to.equal(false); // "stop|status) # No-op"
    expect(script('bootlogs').daemon).to.equal(false); // status → do_status → return 0
    expect(script('continued').daemon).to.equal(false); // no status action at all
    expect(script('hello-openrc')).to.include({ openrc: true, pidfile: '/run/hello-openrc.pid' });
  });

  it('maps `status` exit codes through the LSB table, by target', () => {
    expect(stateFromStatus(0, 'up')).to.deep.equal({ state: 'running' });
    expect(stateFromStatus(3, 'up')).to.deep.equal({ state: 'error', reason: 'status 3: program is not running' });
    expect(stateFromStatus(3, 'down')).to.deep.equal({ state: 'stopped' });
    expect(stateFromStatus(1, 'up')?.reason).to.match(/dead and \/var\/run pid file exists/);
    expect(stateFromStatus(4, 'up')).to.equal(null);
    expect(stateFromStatus(150, 'up')).to.equal(null);
  });
});

describe('sysv: runlevel plan', () => {
  it('starts 1 and 3 together, then 2 and 4, for 1→2 and 3→4', () => {
    const p = plan([lsb('s1'), lsb('s2', { 'Required-Start': 's1' }), lsb('s3'), lsb('s4', { 'Required-Start': 's3' })]);
    expect(p.wanted).to.deep.equal(['s1', 's2', 's3', 's4']);
    expect(levelsOf(p)).to.deep.equal([['s1', 's3'], ['s2', 's4']]);
    expect(p.deps.get('s2')!.local.get('s1')).to.equal('required');
  });

  it('orders header-less scripts by their rc<N>.d number, equal numbers together', () => {
    const p = plan([bare('a'), bare('b'), bare('c'), bare('d')], links('2', 'S10a', 'S20b', 'S20c', 'S30d'));
    expect(levelsOf(p)).to.deep.equal([['a'], ['b', 'c'], ['d']]);
  });

  it('starts what has an S link, or Default-Start when a script has no link anywhere', () => {
    const rc = new Map([
      ['2', [parseRcLink('S01linked')!, parseRcLink('K01disabled')!]],
      ['0', [parseRcLink('K01linked')!]],
    ]);
    const p = plan([lsb('linked'), lsb('disabled'), lsb('never-linked'), lsb('other-level', { 'Default-Start': '3' })], rc);
    expect(p.wanted).to.deep.equal(['linked', 'never-linked']);
  });

  it('resolves LSB facilities to roles, local providers first', () => {
    const cron = lsb('cron', { 'Required-Start': '$remote_fs $syslog $time', 'Should-Start': '$named $portmap $x-display-manager $bogus' });
    const alone = plan([cron]);
    expect(Object.fromEntries(alone.deps.get('cron')!.roles)).to.deep.equal({ logging: 'required', 'time-sync': 'required', network: 'should' });
    expect(alone.deps.get('cron')!.local.size).to.equal(0);
    expect(alone.warnings).to.include('cron: unknown LSB facility $bogus, ignored (fix: define it in /etc/insserv.conf.d, as the package that provides it would)');
    expect(alone.warnings.some((w) => w.startsWith('cron: no role provides $portmap'))).to.equal(true);

    // a syslog daemon of this same instance is waited for locally, not through the role
    const withSyslog = plan([cron, lsb('rsyslog')]);
    expect(Object.fromEntries(withSyslog.deps.get('cron')!.local)).to.deep.equal({ rsyslog: 'required' });
    expect(withSyslog.deps.get('cron')!.roles.has('logging')).to.equal(false);
    expect(levelsOf(withSyslog)).to.deep.equal([['rsyslog'], ['cron']]);
  });

  it('never lets a script wait for a facility or role it provides itself (chrony and $time)', () => {
    const chrony = lsb('chrony', { 'Required-Start': '$remote_fs $syslog', 'Should-Start': '$network $time' });
    const p = plan([chrony, lsb('late', { 'Required-Start': '$all' })]);
    expect([...p.deps.get('chrony')!.roles.keys()]).to.not.include('time-sync');
    expect(levelsOf(p)).to.deep.equal([['chrony'], ['late']]);
    const q = planWith([chrony, lsb('ntp-user', { 'Required-Start': '$time' })], debianFacilities());
    expect(q.deps.get('chrony')!.roles.has('time-sync')).to.equal(false);
  });

  it('resolves facilities by insserv.conf: members of this instance, nested facilities, package facilities', () => {
    const f = debianFacilities('$mydb\t+postgresql');
    const p = planWith([lsb('bind9'), lsb('networking'), lsb('postgresql'), lsb('web', { 'Required-Start': '$named $mydb' })], f);
    expect(Object.fromEntries(p.deps.get('web')!.local)).to.deep.equal({ bind9: 'required', networking: 'required', postgresql: 'required' });
    expect(p.warnings.filter((w) => w.includes('unknown LSB facility'))).to.deep.equal([]);
    // a facility insserv.conf defines but no script here provides: nothing to wait for, no warning
    const alone = planWith([lsb('web', { 'Required-Start': '$mydb' })], f);
    expect(alone.deps.get('web')!.local.size + alone.deps.get('web')!.roles.size).to.equal(0);
    expect(alone.warnings).to.deep.equal([]);
  });

  it('has no cycle insserv does not have: $time is hwclock, not the NTP daemon that needs $syslog', () => {
    const syslogd = lsb('inetutils-syslogd', { 'Required-Start': '$remote_fs $time' });
    const ntpsec = lsb('ntpsec', { 'Required-Start': '$network $remote_fs $syslog' });
    const p = planWith([syslogd, ntpsec, lsb('cron', { 'Required-Start': '$syslog $time' })], debianFacilities());
    expect(new DepGraph(p.startNodes).levels().cyclic).to.deep.equal([]);
    expect(levelsOf(p)).to.deep.equal([['inetutils-syslogd'], ['cron', 'ntpsec']]);
    // without insserv.conf the roles decide: then it is a required cycle, reported as one
    expect(new DepGraph(plan([syslogd, ntpsec]).startNodes).levels().cyclic).to.not.deep.equal([]);
  });

  it('drops a Should-Start that would close a cycle, with a warning; a Required-Start cycle stays', () => {
    const p = plan([lsb('a', { 'Required-Start': 'b' }), lsb('b', { 'Should-Start': 'a' })]);
    expect(new DepGraph(p.startNodes).levels().cyclic).to.deep.equal([]);
    expect(levelsOf(p)).to.deep.equal([['b'], ['a']]);
    expect(p.warnings).to.include('b: not ordered after a: that would close a dependency cycle, and it is not required (dropped, as insserv drops it)');
    const hard = plan([lsb('a', { 'Required-Start': 'b' }), lsb('b', { 'Required-Start': 'a' })]);
    expect(new DepGraph(hard.startNodes).levels().cyclic.slice().sort()).to.deep.equal(['a', 'b']);
  });

  it('reads a header whose END line carries more (syslog-ng-core: "### END INIT INFO#")', () => {
    const s = scanInitScript('syslog-ng', '#!/bin/sh\n### BEGIN INIT INFO\n# Provides: syslog-ng\n# Required-Start: $local_fs $network $time $remote_fs\n# Default-Start: 2 3 4 5\n### END INIT INFO#\nexit 0\n');
    expect(s.headerProblem).to.equal(undefined);
    expect(s.header?.provides).to.deep.equal(['syslog-ng']);
  });

  it('honours X-Start-Before naming a facility', () => {
    const p = planWith([lsb('early', { 'X-Start-Before': '$syslog' }), lsb('rsyslog')], debianFacilities());
    expect(levelsOf(p)).to.deep.equal([['early'], ['rsyslog']]);
  });

  it('puts $all after every other script, and honours X-Start-Before', () => {
    const p = plan([lsb('a'), lsb('b', { 'X-Start-Before': 'a' }), lsb('last', { 'Required-Start': '$all' })]);
    expect(levelsOf(p)).to.deep.equal([['b'], ['a'], ['last']]);
  });

  it('starts a required script the runlevel does not start, and says so', () => {
    const p = plan([lsb('app', { 'Required-Start': 'db' }), lsb('db', { 'Default-Start': '3' })]);
    expect(p.wanted).to.deep.equal(['app', 'db']);
    expect(p.warnings).to.include('db: started although runlevel 2 does not start it, because app requires it');
  });

  it('stops dependents first, and what X-Stop-After names before the script', () => {
    const p = plan([lsb('db'), lsb('app', { 'Required-Start': 'db' }), lsb('flush', { 'X-Stop-After': 'app' })]);
    expect(new DepGraph(p.stopNodes).reverseOrder()).to.deep.equal([['app'], ['db', 'flush']]);
  });
});

describe('sysv: scripts metainit owns', () => {
  it('names the role of every takeover script, prefixes included', () => {
    expect(metainitOwner('sendsigs')).to.equal('shutdown');
    expect(metainitOwner('umountroot')).to.equal('shutdown');
    expect(metainitOwner('mountall.sh')).to.equal('system-init');
    expect(metainitOwner('mountkernfs.sh')).to.equal('system-init');
    expect(metainitOwner('stop-bootlogd-single')).to.equal('system-init');
    expect(metainitOwner('cron')).to.equal(undefined);
  });

  it('lists them as stopped with the owning role, never claims or starts them, and leaves OpenRC scripts out', async () => {
    const events: AdapterEvent[] = [];
    const adapter = new SysvAdapter(testContext({ instance: 'sysv', config: { adapter: 'sysv', root: `${FIXTURES}root`, after: [], enabled: true }, sys: createFakeSys(), emit: (ev) => events.push(ev) }));
    expect(await adapter.load()).to.deep.equal([]);
    const byName = Object.fromEntries(adapter.list().map((s) => [s.name, s]));
    expect(Object.keys(byName)).to.deep.equal(['cron', 'mountall.sh', 'rsyslog', 'sendsigs']);
    expect(byName.sendsigs).to.include({ state: 'stopped', target: 'down', reason: 'owned by metainit (role shutdown)' });
    expect(byName['mountall.sh']).to.include({ state: 'stopped', reason: 'owned by metainit (role system-init)' });
    expect(adapter.claims()).to.deep.equal([
      { role: 'cron', service: 'cron' },
      { role: 'logging', service: 'rsyslog' },
    ]);
    await adapter.startService('sendsigs').then(
      () => expect.fail('starting sendsigs must be refused'),
      (e: Error) => expect(e.message).to.equal('sysv/sendsigs: unable to start: owned by metainit (role shutdown) (fix: metainit does its job itself; leave it alone)'),
    );
    adapter.applyRoles(new Set(['rsyslog']));
    expect(adapter.list().find((s) => s.name === 'rsyslog')).to.include({ state: 'stopped', reason: 'vetoed: another instance holds its role (see metainit roles)' });
  });

  it('rejects an unknown key in the instance file, naming the valid ones', async () => {
    const adapter = new SysvAdapter(testContext({ instance: 'sysv', config: { adapter: 'sysv', root: `${FIXTURES}root`, runlevl: 3 }, sys: createFakeSys() }));
    const [d] = await adapter.load();
    expect(d!.message).to.match(/^\/etc\/metainit\/adapters\.d\/sysv\.yaml: unable to load instance sysv: key "runlevl" is not known \(fix: did you mean "runlevel"\?/);
    expect(adapter.list()).to.deep.equal([]);
  });
});
