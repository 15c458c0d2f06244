// Role registry: who holds each role, who is vetoed, what `metainit roles` prints, and the
// policy-rc.d that keeps Debian package scripts from starting a vetoed service.
import { servicesOfRole } from '../../../src/roles/known-services.js';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GlobalConfig } from '../../../src/config/schema.js';
import { MNT_DETACH, MS } from '../../../src/base/sys.js';
import { allRoleNames, BUILTIN_ROLES, parseRoleRef, roleNameSchema } from '../../../src/roles/names.js';
import { MARKER, policyRcDHolders, policyRcDNames, policyRcDScript, removePolicyRcD, writePolicyRcD } from '../../../src/manager/policy-rc-d.js';
import { decideRoles, grantId, holderOf, isVetoed, METAINIT_ROLES, roleTable, type InstanceClaim, type RoleDecision } from '../../../src/roles/registry.js';
import { formatRoleTable } from '../../../src/cli/format.js';
import { createFakeSys, type FakeSys } from '../fake-sys.js';

/** the `roles:` section of metainit.yaml, before defaults */
type RolesConfig = Record<string, unknown>;

function decide(claims: InstanceClaim[], roles: RolesConfig = {}, instances?: string[]): RoleDecision {
  const policy = GlobalConfig.parse({ roles }).roles;
  return decideRoles({
    roles: allRoleNames(policy.extra),
    claims,
    policy,
    instances: instances ?? [...new Set(claims.map((c) => c.instance))].sort(),
  });
}

const claim = (id: string, ...roles: string[]): InstanceClaim[] => {
  const [instance, service] = id.split('/') as [string, string];
  return roles.map((role) => ({ instance, service, role }));
};

const holder = (d: RoleDecision, role: string): string | null => grantId(holderOf(d, role));

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

describe('roles: names', () => {
  it('knows the documented built-in roles and appends extras once', () => {
    expect(BUILTIN_ROLES).to.include.members(['logging', 'cron', 'device-manager', 'time-sync', 'system-init', 'shutdown']);
    const all = allRoleNames(['mail-transport', 'cron']);
    expect(all.slice(-1)).to.deep.equal(['mail-transport']);
    expect(all.filter((r) => r === 'cron')).to.have.length(1);
  });

  it('validates provides: lists against built-ins plus extras, naming the fix', () => {
    expect(roleNameSchema(['mail-transport']).safeParse('mail-transport').success).to.equal(true);
    const bad = roleNameSchema().safeParse('loggin');
    expect(bad.success).to.equal(false);
    expect(bad.error?.issues[0]?.message).to.match(/"loggin" is not a known role \(fix: .*roles\.extra/);
  });

  it('parses role:NAME dependency references', () => {
    expect(parseRoleRef('role:logging')).to.equal('logging');
    expect(parseRoleRef('runit/cron')).to.equal(null);
    expect(parseRoleRef('role:')).to.equal(null);
  });
});

describe('roles: registry', () => {
  const cronEverywhere = [...claim('sysv/cron', 'cron'), ...claim('runit/cron', 'cron'), ...claim('s6/snooze', 'cron')];

  it('an explicit owner wins over the priority order', () => {
    const d = decide(cronEverywhere, { owners: { cron: 's6' }, priority: ['sysv', 'runit'] });
    expect(holder(d, 'cron')).to.equal('s6/snooze');
    expect(isVetoed(d, 'sysv', 'cron')).to.equal(true);
    expect(isVetoed(d, 'runit', 'cron')).to.equal(true);
    expect(isVetoed(d, 's6', 'snooze')).to.equal(false);
    expect(d.diagnostics).to.deep.equal([]);
  });

  it('an owner "instance/service" picks that service even when another in the instance sorts first', () => {
    const d = decide([...claim('runit/rsyslog', 'logging'), ...claim('runit/socklog', 'logging')], { owners: { logging: 'runit/socklog' } });
    expect(holder(d, 'logging')).to.equal('runit/socklog');
    expect([...d.vetoed.get('runit')!]).to.deep.equal(['rsyslog']);
  });

  it('without an owner, the first instance of the priority list that has a claimant wins', () => {
    const d = decide(cronEverywhere, { priority: ['openrc', 'runit', 'sysv'] });
    expect(holder(d, 'cron')).to.equal('runit/cron');
    expect(d.diagnostics).to.deep.equal([]);
  });

  it('within an instance the first claimant in name order wins', () => {
    const d = decide([...claim('sysv/syslog-ng', 'logging'), ...claim('sysv/rsyslog', 'logging')]);
    expect(holder(d, 'logging')).to.equal('sysv/rsyslog');
    expect(d.diagnostics, 'one instance: no conflict between instances').to.deep.equal([]);
  });

  it('claimants in several instances and no policy: a conflict warning and a deterministic pick by instance name', () => {
    const d1 = decide(cronEverywhere);
    const d2 = decide([...cronEverywhere].reverse());
    expect(holder(d1, 'cron')).to.equal('runit/cron');
    expect(holder(d2, 'cron')).to.equal('runit/cron');
    expect(d1.diagnostics).to.have.length(1);
    expect(d1.diagnostics[0]!.level).to.equal('warning');
    expect(d1.diagnostics[0]!.message).to.equal(
      'metainit.yaml: role cron: unable to choose an owner by policy: claimed by runit/cron, s6/snooze, sysv/cron; picked runit/cron by instance name (fix: set roles.owners.cron or list the instances in roles.priority in metainit.yaml)',
    );
  });

  it('instances missing from the priority list come after it, and then it is a conflict again', () => {
    const d = decide(cronEverywhere, { priority: ['openrc'] });
    expect(holder(d, 'cron')).to.equal('runit/cron');
    expect(d.diagnostics.map((x) => x.key)).to.deep.equal(['roles.priority']);
  });

  it('a claim of an unknown role is reported and ignored: the service is not vetoed', () => {
    const d = decide([...claim('native/postfix', 'mail-transport'), ...claim('sysv/exim4', 'mail-transport')]);
    expect(d.diagnostics.map((x) => [x.level, x.service])).to.deep.equal([
      ['warning', 'native/postfix'],
      ['warning', 'sysv/exim4'],
    ]);
    expect(d.diagnostics[0]!.message).to.match(/^metainit\.yaml: native\/postfix: unable to claim role mail-transport: not a known role.*\(fix: add "mail-transport" to roles\.extra/);
    expect(d.vetoedBy.size).to.equal(0);
    expect(d.grants.has('mail-transport')).to.equal(false);
  });

  it('extra roles from metainit.yaml are arbitrated like built-in ones', () => {
    const d = decide([...claim('native/postfix', 'mail-transport'), ...claim('sysv/exim4', 'mail-transport')], {
      extra: ['mail-transport'],
      priority: ['sysv'],
    });
    expect(holder(d, 'mail-transport')).to.equal('sysv/exim4');
    expect([...d.vetoed.get('native')!]).to.deep.equal(['postfix']);
    expect([...d.grants.keys()].slice(-1)).to.deep.equal(['mail-transport']);
  });

  it('owners naming an unknown role, a missing instance or a non-claimant are errors; the priority order decides instead', () => {
    const d = decide(cronEverywhere, { owners: { crond: 'runit', cron: 'openrc', logging: 'sysv/cron' }, priority: ['sysv'] });
    expect(holder(d, 'cron')).to.equal('sysv/cron');
    expect(holder(d, 'logging')).to.equal(null);
    const byKey = new Map(d.diagnostics.map((x) => [x.key, x]));
    expect(d.diagnostics.every((x) => x.level === 'error')).to.equal(true);
    expect(byKey.get('roles.owners.crond')!.message).to.match(/^metainit\.yaml: roles\.owners\.crond: unable to set owner: crond is not a known role/);
    expect(byKey.get('roles.owners.cron')!.message).to.match(/unable to grant role cron to openrc: no instance named openrc; the priority order decides instead/);
    expect(byKey.get('roles.owners.logging')!.message).to.match(/unable to grant role logging to sysv\/cron: it does not claim logging \(nothing claims logging\)/);
  });

  it('a role nobody claims is unowned', () => {
    const d = decide(claim('runit/cron', 'cron'));
    expect(holderOf(d, 'time-sync')).to.equal(null);
    expect(holderOf(d, 'no-such-role')).to.equal(null);
    const row = roleTable(d, () => null).find((r) => r.role === 'time-sync')!;
    expect(row).to.deep.equal({ role: 'time-sync', holder: null, state: null, vetoed: [] });
  });

  it('system-init and shutdown are held by metainit, and their claimants vetoed, unless an owner is configured', () => {
    expect(METAINIT_ROLES).to.deep.equal(['system-init', 'shutdown']);
    const claims = [...claim('sysv/halt', 'shutdown'), ...claim('sysv/mountall.sh', 'system-init')];
    const d = decide(claims, { priority: ['sysv'] });
    expect(holderOf(d, 'system-init')).to.equal('metainit');
    expect(holderOf(d, 'shutdown')).to.equal('metainit');
    expect([...d.vetoed.get('sysv')!].sort()).to.deep.equal(['halt', 'mountall.sh']);

    const own = decide(claims, { owners: { shutdown: 'sysv/halt' } });
    expect(holder(own, 'shutdown')).to.equal('sysv/halt');
    expect(holderOf(own, 'system-init')).to.equal('metainit');
    expect(isVetoed(own, 'sysv', 'halt')).to.equal(false);
    expect(decide([], { owners: { logging: 'metainit' } }).diagnostics[0]!.message).to.match(/metainit itself only holds system-init and shutdown/);
  });

  it('the vetoed map has an entry for every instance and is what each adapter gets', () => {
    const d = decide([...cronEverywhere, ...claim('runit/socklog', 'logging')], { priority: ['s6', 'runit'] }, ['native', 'runit', 's6', 'sysv']);
    expect([...d.vetoed.keys()].sort()).to.deep.equal(['native', 'runit', 's6', 'sysv']);
    expect([...d.vetoed.get('native')!]).to.deep.equal([]);
    expect([...d.vetoed.get('runit')!]).to.deep.equal(['cron']);
    expect([...d.vetoed.get('s6')!]).to.deep.equal([]);
    expect([...d.vetoed.get('sysv')!]).to.deep.equal(['cron']);
    expect(d.vetoedBy.get('runit/cron')).to.equal('cron');
    expect(isVetoed(d, 'runit', 'socklog'), 'it holds logging').to.equal(false);
  });

  it('a service that wins one role and loses another is vetoed, and its won role passes to the next claimant', () => {
    // busybox in runit claims logging and cron; sysv owns cron explicitly.
    const claims = [...claim('runit/busybox', 'logging', 'cron'), ...claim('sysv/cron', 'cron'), ...claim('sysv/rsyslog', 'logging')];
    const d = decide(claims, { owners: { cron: 'sysv' }, priority: ['runit', 'sysv'] });
    expect(holder(d, 'cron')).to.equal('sysv/cron');
    expect(holder(d, 'logging'), 'logging passes on: busybox cannot run half').to.equal('sysv/rsyslog');
    expect(isVetoed(d, 'runit', 'busybox')).to.equal(true);
    expect(d.vetoedBy.get('runit/busybox')).to.equal('cron');
    expect(d.diagnostics.map((x) => x.message)).to.deep.equal([
      'metainit.yaml: runit/busybox: unable to hold role logging: it also claims cron, held by sysv/cron, and a service cannot run half; it is vetoed (fix: set roles.owners.cron to runit/busybox, or roles.owners.logging to another claimant)',
    ]);
    const logging = roleTable(d, () => 'running').find((r) => r.role === 'logging')!;
    expect(logging.vetoed).to.deep.equal(['runit/busybox']);
  });

  it('a service that holds every role it claims runs', () => {
    const d = decide([...claim('runit/busybox', 'logging', 'cron'), ...claim('sysv/cron', 'cron')], { priority: ['runit'] });
    expect(holder(d, 'cron')).to.equal('runit/busybox');
    expect(holder(d, 'logging')).to.equal('runit/busybox');
    expect(isVetoed(d, 'runit', 'busybox')).to.equal(false);
    expect(isVetoed(d, 'sysv', 'cron')).to.equal(true);
  });
});

describe('roles: table', () => {
  const d = decide([...claim('runit/socklog', 'logging'), ...claim('sysv/rsyslog', 'logging'), ...claim('sysv/cron', 'cron')], { priority: ['runit'] });
  const states: Record<string, string> = { 'runit/socklog': 'running', 'sysv/cron': 'error' };
  const rows = roleTable(d, (id) => states[id] ?? null);

  it('has one row per role with holder, its state and the vetoed claimants', () => {
    expect(rows.map((r) => r.role)).to.deep.equal([...BUILTIN_ROLES]);
    expect(rows[0]).to.deep.equal({ role: 'logging', holder: 'runit/socklog', state: 'running', vetoed: ['sysv/rsyslog'] });
    expect(rows.find((r) => r.role === 'cron')).to.deep.equal({ role: 'cron', holder: 'sysv/cron', state: 'error', vetoed: [] });
    expect(rows.find((r) => r.role === 'shutdown')).to.deep.equal({ role: 'shutdown', holder: 'metainit', state: 'running', vetoed: [] });
  });

  it('prints aligned columns, "unowned" for a role without holder', () => {
    const text = formatRoleTable(rows, { color: false });
    const lines = text.split('\n');
    expect(lines[0]).to.equal('ROLE            HOLDER         STATE    VETOED');
    expect(lines[1]).to.equal('logging         runit/socklog  running  sysv/rsyslog');
    expect(lines[2]).to.equal('cron            sysv/cron      error    -');
    expect(lines[3]).to.equal('monitoring      unowned        -        -');
    expect(lines.at(-1)).to.equal('shutdown        metainit       running  -');
    expect(text).to.not.match(/\x1b/);
  });

  it('colours states and "unowned" on a terminal without breaking the alignment', () => {
    const text = formatRoleTable(rows, { color: true });
    expect(text).to.include('\x1b[32mrunning\x1b[0m').and.include('\x1b[2munowned\x1b[0m');
    expect(strip(text)).to.equal(formatRoleTable(rows, { color: false }));
  });
});

describe('roles: policy-rc.d', () => {
  let dir: string;
  let init: string; // stands for the root's /sbin/init
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'metainit-roles-'));
    init = join(dir, 'init');
    writeFileSync(init, '');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** exit status of the generated script run with sh */
  function ask(script: string, ...args: string[]): number | null {
    const file = join(dir, 'policy-rc.d');
    writeFileSync(file, script, { mode: 0o755 });
    const r = spawnSync('sh', [file, ...args], { encoding: 'utf8' });
    expect(r.stdout, 'policy-rc.d must print nothing: invoke-rc.d reads stdout as fallback actions').to.equal('');
    return r.status;
  }

  it('forbids (101) starting a vetoed service, in the ways invoke-rc.d and deb-systemd-invoke ask', () => {
    const s = policyRcDScript(['cron', 'rsyslog.service'], null, init);
    expect(ask(s, 'cron', 'start', '2')).to.equal(101);
    expect(ask(s, '--quiet', 'cron', 'restart', '2')).to.equal(101);
    expect(ask(s, 'cron', '(start)', '2'), 'start of a script not enabled in this runlevel').to.equal(101);
    expect(ask(s, 'cron.service', 'start'), 'deb-systemd-invoke passes the unit').to.equal(101);
    expect(ask(s, 'rsyslog', 'force-reload')).to.equal(101);
    expect(ask(s, 'cron')).to.equal(101);
  });

  it('allows stop and status of a vetoed service and anything on other services', () => {
    const s = policyRcDScript(['cron'], null, init);
    expect(ask(s, 'cron', 'stop', '2')).to.equal(0);
    expect(ask(s, '--quiet', 'cron', 'status')).to.equal(0);
    expect(ask(s, 'anacron', 'start', '2')).to.equal(0);
    expect(ask(s, 'cron*', 'start'), 'names are literal, not patterns').to.equal(0);
    expect(ask(policyRcDScript([], null, init), 'cron', 'start')).to.equal(0);
  });

  it('treats odd names literally', () => {
    const s = policyRcDScript(["we'rd|x*"], null, init);
    expect(ask(s, "we'rd|x*", 'start')).to.equal(101);
    expect(ask(s, 'x', 'start')).to.equal(0);
  });

  it('hands everything it does not forbid to the previous helper', () => {
    const prev = join(dir, 'prev');
    writeFileSync(prev, '#!/bin/sh\n[ "$1" = apache2 ] && exit 101\nexit 0\n', { mode: 0o755 });
    const s = policyRcDScript(['cron'], prev, init);
    expect(ask(s, 'apache2', 'start')).to.equal(101);
    expect(ask(s, 'cron', 'start')).to.equal(101);
    expect(ask(s, 'ssh', 'start')).to.equal(0);
    chmodSync(prev, 0o644);
    expect(ask(s, 'apache2', 'start'), 'a non-executable helper is ignored, as invoke-rc.d does').to.equal(0);
  });

  it('without a previous helper, blocks like invoke-rc.d does when the root has no init system', () => {
    const s = policyRcDScript(['cron'], null, init);
    expect(ask(s, 'ssh', 'start')).to.equal(0);
    rmSync(init);
    expect(ask(s, 'ssh', 'start'), 'installing the helper must not allow more than before').to.equal(101);
    expect(ask(s, 'ssh', 'stop')).to.equal(101);
  });

  it('without a previous helper, keeps the "not enabled in this runlevel" answer of invoke-rc.d', () => {
    const s = policyRcDScript(['cron'], null, init);
    expect(ask(s, '--quiet', 'ssh', '(start)', '2'), '0 would make invoke-rc.d start a disabled script').to.equal(101);
    expect(ask(s, 'ssh', '(restart)')).to.equal(101);
    expect(ask(s, 'ssh', 'restart')).to.equal(0);
  });

  /** a strict fake sys that allows mount and umount2 (and records them) */
  const mounting = (): FakeSys => createFakeSys({ mount: () => undefined, umount2: () => undefined });

  it('bind-mounts the script over an existing helper without changing it, and chains to a copy', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    const target = join(root, 'usr/sbin/policy-rc.d');
    writeFileSync(target, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    const sys = mounting();
    const res = writePolicyRcD(root, '/run/metainit/policy-rc.d', ['cron'], sys);
    expect(res.mode).to.equal('bind-existing');
    expect(res.chain).to.equal('/run/metainit/policy-rc.d/policy-rc.d.orig');
    expect(readFileSync(target, 'utf8')).to.equal('#!/bin/sh\nexit 101\n');
    expect(readFileSync(join(root, 'run/metainit/policy-rc.d/policy-rc.d.orig'), 'utf8')).to.equal('#!/bin/sh\nexit 101\n');
    expect(statSync(res.script).mode & 0o777).to.equal(0o755);
    expect(readFileSync(res.script, 'utf8')).to.include(MARKER).and.include("'cron'|'cron.service'");
    expect(sys.calls).to.deep.equal([{ name: 'mount', args: [res.script, target, null, MS.BIND, null] }]);
  });

  it('rewrites the live script in place when its mount is already there', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    const first = writePolicyRcD(root, '/run/p', ['cron'], mounting());
    writeFileSync(join(root, 'usr/sbin/policy-rc.d'), readFileSync(first.script)); // what the bind mount shows
    const again = writePolicyRcD(root, '/run/p', ['cron', 'rsyslog'], createFakeSys());
    expect(again.mode, 'no mount or unmount: the strict fake would throw').to.equal('updated');
    expect(readFileSync(again.script, 'utf8')).to.include("'rsyslog'|'rsyslog.service'");
  });

  it('creates an empty placeholder when the root has no helper, and removes it again', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    const target = join(root, 'usr/sbin/policy-rc.d');
    const res = writePolicyRcD(root, '/run/p', ['cron'], mounting());
    expect(res.mode).to.equal('bind-placeholder');
    expect(res.chain).to.equal(null);
    expect(statSync(target).size).to.equal(0);
    expect(statSync(target).mode & 0o111, 'inert if left behind').to.equal(0);
    removePolicyRcD(root, '/run/p', createFakeSys());
    expect(existsSync(target)).to.equal(false);
    expect(existsSync(res.script)).to.equal(false);
  });

  it('removal unmounts its own helper and leaves a pre-existing one alone', () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'usr/sbin'), { recursive: true });
    const target = join(root, 'usr/sbin/policy-rc.d');
    writeFileSync(target, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const res = writePolicyRcD(root, '/run/p', ['cron'], mounting());
    const sys = mounting();
    removePolicyRcD(root, '/run/p', sys);
    expect(sys.calls, 'nothing of ours is mounted in this fake').to.deep.equal([]);
    expect(readFileSync(target, 'utf8')).to.equal('#!/bin/sh\nexit 0\n');
    writeFileSync(target, policyRcDScript([], null)); // as if our mount were in place
    removePolicyRcD(root, '/run/p', sys);
    expect(sys.calls).to.deep.equal([{ name: 'umount2', args: [target, MNT_DETACH] }]);
    expect(existsSync(res.script)).to.equal(false);
  });

  it('refuses a run directory under /etc and says why', () => {
    expect(() => writePolicyRcD(dir, '/etc/metainit', ['cron'], createFakeSys())).to.throw(/^policy-rc\.d: unable to install into \/etc\/metainit: nothing under \/etc may change/);
  });

  it('reports a root without /usr/sbin instead of creating directories in it', () => {
    expect(() => writePolicyRcD(dir, '/run/p', ['cron'], createFakeSys())).to.throw(/^policy-rc\.d: unable to create the mount point .*usr\/sbin\/policy-rc\.d: ENOENT/);
  });

  it('refuses, per root, the vetoed services package scripts reach — never the holder', () => {
    const d = decide(
      [...claim('runit/cron', 'cron'), ...claim('sysv/cron', 'cron'), ...claim('systemd/rsyslog.service', 'logging'), ...claim('native/socklog', 'logging'), ...claim('deb/cron', 'cron')],
      { owners: { cron: 'runit/cron', logging: 'native' } },
    );
    const names = policyRcDNames(d, [
      { name: 'runit', kind: 'runit', root: '/' },
      { name: 'sysv', kind: 'sysv', root: '/' },
      { name: 'systemd', kind: 'systemd', root: '/' },
      { name: 'native', kind: 'native', root: '/' },
      { name: 'deb', kind: 'sysv', root: '/srv/deb/' },
    ]);
    // the vetoed, and every other daemon a package could bring for a held role (anacron, syslog-ng …)
    const others = [...servicesOfRole('cron'), ...servicesOfRole('logging')];
    expect([...names]).to.deep.equal([
      ['/', [...new Set(['cron', 'rsyslog', ...others])].sort()],
      ['/srv/deb', [...new Set(['cron', ...others])].sort()],
    ]);
    const held = decide([...claim('sysv/cron', 'cron'), ...claim('systemd/cron.service', 'cron')], { owners: { cron: 'sysv' } });
    const both = policyRcDNames(held, [
      { name: 'sysv', kind: 'sysv', root: '/' },
      { name: 'systemd', kind: 'systemd', root: '/' },
    ]);
    expect(both.get('/'), 'blocking cron.service would also block the owner /etc/init.d/cron').to.deep.equal(servicesOfRole('cron').filter((n) => n !== 'cron'));
  });

  it('says why an instance can never hold a role the policy gives it (a hosted systemd and time-sync)', () => {
    const d = decideRoles({
      roles: [...BUILTIN_ROLES],
      claims: claim('native/chrony', 'time-sync'),
      policy: GlobalConfig.parse({ roles: { owners: { 'time-sync': 'systemd' } } }).roles,
      instances: ['native', 'systemd'],
      unholdable: new Map([['systemd', { 'time-sync': 'systemd skips systemd-timesyncd in a container' }]]),
    });
    expect(d.diagnostics.map((x) => x.message)).to.deep.equal([
      'metainit.yaml: roles.owners.time-sync: unable to grant role time-sync to systemd: systemd skips systemd-timesyncd in a container; the priority order decides instead (fix: give time-sync to a service outside systemd, e.g. a native or runit one)',
    ]);
    expect(holderOf(d, 'time-sync')).to.deep.equal({ instance: 'native', service: 'chrony' });
  });

  it('lets the holder\'s own supervisor pass under a refused name (runit\'s invoke-run asks policy-rc.d too)', () => {
    const d = decide([...claim('runit/cron', 'cron'), ...claim('systemd/cron.service', 'cron')], { owners: { cron: 'runit' } });
    const inst = [
      { name: 'runit', kind: 'runit', root: '/r' },
      { name: 'systemd', kind: 'systemd', root: '/r' },
    ];
    expect(policyRcDNames(d, inst).get('/r')).to.deep.equal(servicesOfRole('cron'));
    const holders = policyRcDHolders(d, inst).get('/r')!;
    expect(holders).to.deep.equal({ cron: 'runit' });
    const script = policyRcDScript(['cron'], null, '/bin/sh', holders);
    const run = (env: Record<string, string>): number => spawnSync('sh', ['-c', script, 'policy-rc.d', 'cron', 'start'], { env: { PATH: '/usr/bin:/bin', ...env } }).status!;
    expect(run({ METAINIT_INSTANCE: 'runit' }), 'runit\'s own cron').to.equal(0);
    expect(run({ METAINIT_INSTANCE: 'systemd' }), 'systemd\'s cron.service').to.equal(101);
    expect(run({}), 'invoke-rc.d cron start from a package script').to.equal(101);
  });
});
