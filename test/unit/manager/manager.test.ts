/**
 * manager.test.ts — the stage-2 manager over fake instances, and once over real native ones.
 *
 * Most cases build a Manager by hand: fake instances (FakeAdapter, an Adapter whose services are a
 * plain list the test edits) are pushed into `manager.instances`, the global config is the
 * defaults and the role decision comes from decideForConfig, exactly as load() would make it.
 * State changes reach the manager the way an adapter reports them: through the `emit` callback
 * load() would hand the adapter (here `report`, which calls the manager's event intake). Every
 * adapter call is written to one shared journal, so start and stop order can be read off it.
 *
 * The last block loads a real configuration directory (two native instances, `sleep` services,
 * one instance of an adapter missing from this build) and starts and stops it for real; every
 * process it spawns is gone when the test ends.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Adapter, AdapterEvent, InstancePlan, RoleClaim } from '../../../src/adapters/adapter.js';
import type { Diagnostic, Logger } from '../../../src/base/types.js';
import { GlobalConfig } from '../../../src/config/schema.js';
import { realSys } from '../../../src/base/sys.js';
import { decideForConfig } from '../../../src/roles/decide.js';
import { Manager, type ManagerEvent } from '../../../src/manager/manager.js';
import type { ServiceState, ServiceStatus } from '../../../src/base/states.js';
import { createFakeSys, type FakeSys } from '../fake-sys.js';
import { waitFor } from '../wait-for.js';

// ------------------------------------------------------------------------------ fakes

interface FakeService {
  name: string;
  state?: ServiceState;
  target?: 'up' | 'down';
  after?: string[];
  provides?: string[];
}

function statusOf(instance: string, s: FakeService, since = 1): ServiceStatus {
  return {
    id: `${instance}/${s.name}`,
    instance,
    name: s.name,
    adapter: 'fake',
    state: s.state ?? 'running',
    target: s.target ?? 'up',
    since,
    restarts: 0,
    oneshot: false,
    kind: 'service',
    after: s.after ?? [],
  };
}

class FakeAdapter implements Adapter {
  readonly kind = 'fake';
  services: ServiceStatus[];
  adopted: unknown;
  failStart: string | undefined;
  failStop: string | undefined;
  stopDeadline: number | undefined;

  constructor(
    readonly instance: string,
    private readonly defs: FakeService[],
    private readonly journal: string[],
  ) {
    this.services = defs.map((d) => statusOf(instance, d));
  }

  async load(): Promise<Diagnostic[]> {
    return [];
  }
  claims(): RoleClaim[] {
    return this.defs.flatMap((d) => (d.provides ?? []).map((role) => ({ role, service: d.name })));
  }
  applyRoles(): void {}
  async start(): Promise<void> {
    this.journal.push(`start ${this.instance}`);
    if (this.failStart) throw new Error(this.failStart);
  }
  list(): ServiceStatus[] {
    return this.services;
  }
  status(name: string): ServiceStatus | undefined {
    return this.services.find((s) => s.name === name);
  }
  plan(): InstancePlan {
    return { services: this.services.map((s) => ({ name: s.name, after: s.after })) };
  }
  async startService(name: string): Promise<void> {
    this.journal.push(`startService ${this.instance}/${name}`);
  }
  async stopService(name: string): Promise<void> {
    this.journal.push(`stopService ${this.instance}/${name}`);
  }
  async restartService(name: string): Promise<void> {
    this.journal.push(`restartService ${this.instance}/${name}`);
  }
  async reloadService(): Promise<Diagnostic[]> {
    return [];
  }
  async applyService(): Promise<Diagnostic[]> {
    return [];
  }
  async killService(name: string, signal: NodeJS.Signals): Promise<void> {
    this.journal.push(`kill ${this.instance}/${name} ${signal}`);
  }
  async logs(name: string, n: number): Promise<string[]> {
    return [`${this.instance}/${name} last ${n}`];
  }
  async sync(): Promise<Diagnostic[]> {
    return [];
  }
  async stop(deadline: number): Promise<void> {
    this.journal.push(`stop ${this.instance}`);
    this.stopDeadline = deadline;
    if (this.failStop) throw new Error(this.failStop);
  }
  snapshot(): unknown {
    return { of: this.instance };
  }
  adopt(snapshot: unknown): void {
    this.adopted = snapshot;
  }
}

interface Recorder extends Logger {
  lines: string[];
}

function recorder(): Recorder {
  const lines: string[] = [];
  return {
    lines,
    info: (t) => lines.push(`info: ${t}`),
    warn: (t) => lines.push(`warn: ${t}`),
    error: (t) => lines.push(`error: ${t}`),
  };
}

interface InstanceDef {
  name: string;
  after?: string[];
  services?: FakeService[];
}

interface Rig {
  manager: Manager;
  journal: string[];
  log: Recorder;
  sys: FakeSys;
  adapter(name: string): FakeAdapter;
  /** an adapter reports a state change, as through the `emit` load() hands it */
  report(id: string, state: ServiceState, extra?: Partial<ServiceStatus>): void;
}

/** A manager over fake instances, in the given order, with the default global config. */
function rig(defs: InstanceDef[], roles: Record<string, unknown> = {}): Rig {
  const journal: string[] = [];
  const log = recorder();
  const sys = createFakeSys(); // the manager over host-root instances must not make any syscall
  const manager = new Manager('/nonexistent/metainit', sys, log);
  manager.global = GlobalConfig.parse({ roles });
  const adapters = new Map<string, FakeAdapter>();
  for (const d of defs) {
    const adapter = new FakeAdapter(d.name, d.services ?? [], journal);
    adapters.set(d.name, adapter);
    manager.instances.push({ name: d.name, file: `/etc/metainit/adapters.d/${d.name}.yaml`, kind: 'fake', after: d.after ?? [], root: '/', adapter, started: false });
  }
  const claims = manager.instances.flatMap((i) => i.adapter.claims().map((c) => ({ instance: i.name, service: c.service, role: c.role })));
  manager.roles = decideForConfig(manager.global, '/etc/metainit/metainit.yaml', claims, defs.map((d) => d.name));
  const intake = (manager as unknown as { onAdapterEvent(ev: AdapterEvent): void }).onAdapterEvent.bind(manager);
  let clock = 1;
  return {
    manager,
    journal,
    log,
    sys,
    adapter: (name) => adapters.get(name)!,
    report(id, state, extra = {}) {
      const [inst, svc] = id.split('/') as [string, string];
      const adapter = adapters.get(inst)!;
      const i = adapter.services.findIndex((s) => s.name === svc);
      const status: ServiceStatus = { ...(adapter.services[i] ?? statusOf(inst, { name: svc })), state, since: ++clock, ...extra };
      if (i >= 0) adapter.services[i] = status;
      else adapter.services.push(status);
      intake({ type: 'state', status });
    },
  };
}

const started = (r: Rig): string[] => r.journal.filter((l) => l.startsWith('start ')).map((l) => l.slice(6));
const stopped = (r: Rig): string[] => r.journal.filter((l) => l.startsWith('stop ')).map((l) => l.slice(5));

// ------------------------------------------------------------------------------ resolve

describe('manager: resolving service names', () => {
  const r = rig([
    { name: 'runit', services: [{ name: 'cron' }, { name: 'sshd' }] },
    { name: 'native', services: [{ name: 'cron' }, { name: 'redis' }] },
  ]);

  it('finds instance/service and a unique bare name', () => {
    expect(r.manager.resolve('native/cron')).to.include({ service: 'cron' });
    expect(r.manager.resolve('native/cron').inst.name).to.equal('native');
    expect(r.manager.resolve('sshd').inst.name).to.equal('runit');
    expect(r.manager.resolve('redis').inst.name).to.equal('native');
  });

  it('refuses a bare name two instances have, naming both and the fix', () => {
    expect(() => r.manager.resolve('cron')).to.throw('cron: unable to find service: ambiguous, it exists in runit, native (fix: write instance/cron)');
  });

  it('refuses a missing service, a missing instance and an empty service part', () => {
    for (const name of ['ghost', 'runit/redis', 'nope/cron', 'runit/']) {
      expect(() => r.manager.resolve(name), name).to.throw(`${name}: unable to find service: no such service (fix: see metainit status)`);
    }
  });

  it('routes control verbs, kill and logs to the adapter that owns the service', async () => {
    await r.manager.control('restart', 'sshd');
    await r.manager.control('stop', 'native/cron');
    await r.manager.control('start', 'redis');
    await r.manager.kill('runit/cron', 'SIGHUP');
    expect(r.journal).to.deep.equal(['restartService runit/sshd', 'stopService native/cron', 'startService native/redis', 'kill runit/cron SIGHUP']);
    expect(await r.manager.logs('redis', 5)).to.deep.equal(['native/redis last 5']);
    expect(r.manager.status('runit/sshd').map((s) => s.id)).to.deep.equal(['runit/sshd']);
    expect(r.manager.status().map((s) => s.id)).to.deep.equal(['runit/cron', 'runit/sshd', 'native/cron', 'native/redis']);
  });
});

// ------------------------------------------------------------------------------ dependency view

describe('manager: dependency view', () => {
  it('maps a service state onto ready / pending / failed, and a missing one onto unknown', () => {
    const r = rig([{ name: 'a', services: [{ name: 'db', state: 'starting' }] }, { name: 'b' }]);
    const dep = (ref: string): string => r.manager.depView.state(ref, 'b');
    expect(dep('a/db')).to.equal('pending');
    r.report('a/db', 'running');
    expect(dep('a/db')).to.equal('ready');
    r.report('a/db', 'ok');
    expect(dep('a/db')).to.equal('ready');
    r.report('a/db', 'respawn');
    expect(dep('a/db')).to.equal('pending');
    r.report('a/db', 'error');
    expect(dep('a/db')).to.equal('failed');
    expect(dep('a/nothing')).to.equal('unknown');
  });

  it('reads a bare service name inside the asking instance', () => {
    const r = rig([
      { name: 'a', services: [{ name: 'db', state: 'running' }] },
      { name: 'b', services: [{ name: 'db', state: 'error' }] },
    ]);
    expect(r.manager.depView.state('db', 'a')).to.equal('ready');
    expect(r.manager.depView.state('db', 'b')).to.equal('failed');
  });

  it('an instance name is ready once the instance started and none of its wanted services is still coming up', async () => {
    const r = rig([
      { name: 'base', services: [{ name: 'db', state: 'starting' }, { name: 'off', state: 'stopped', target: 'down' }] },
      { name: 'other' },
    ]);
    expect(r.manager.depView.state('base', 'other')).to.equal('pending'); // not started yet
    await r.manager.start();
    expect(r.manager.depView.state('base', 'other')).to.equal('pending'); // db is starting
    r.report('base/db', 'running');
    expect(r.manager.depView.state('base', 'other')).to.equal('ready'); // a stopped, unwanted service does not hold it back
  });

  it('role:NAME follows the holder; an unowned role and one metainit holds are ready at once', () => {
    const r = rig([
      { name: 'logger', services: [{ name: 'syslogd', state: 'starting', provides: ['logging'] }] },
      { name: 'app', services: [{ name: 'web' }] },
    ]);
    expect(r.manager.depView.state('role:logging', 'app')).to.equal('pending');
    r.report('logger/syslogd', 'running');
    expect(r.manager.depView.state('role:logging', 'app')).to.equal('ready');
    r.report('logger/syslogd', 'error');
    expect(r.manager.depView.state('role:logging', 'app')).to.equal('failed');
    expect(r.manager.depView.state('role:cron', 'app')).to.equal('ready'); // nobody provides cron
    expect(r.manager.depView.state('role:system-init', 'app')).to.equal('ready'); // metainit holds it
  });

  it('role:NAME follows the owner the policy names, not the first claimant', () => {
    const r = rig(
      [
        { name: 'a', services: [{ name: 'rsyslog', state: 'running', provides: ['logging'] }] },
        { name: 'b', services: [{ name: 'socklog', state: 'starting', provides: ['logging'] }] },
      ],
      { owners: { logging: 'b/socklog' } },
    );
    expect(r.manager.depView.state('role:logging', 'a')).to.equal('pending');
  });

  it('tells subscribers about every state change, until they unsubscribe', () => {
    const r = rig([{ name: 'a', services: [{ name: 'db', state: 'starting' }] }]);
    let calls = 0;
    const off = r.manager.depView.onChange(() => calls++);
    r.report('a/db', 'running');
    off();
    r.report('a/db', 'stopping');
    expect(calls).to.equal(1);
  });
});

// ------------------------------------------------------------------------------ events

describe('manager: service events', () => {
  it('logs each state change once, with the pid when running, and passes every event on', () => {
    const r = rig([{ name: 'a', services: [{ name: 'db', state: 'starting' }] }]);
    const seen: ManagerEvent[] = [];
    r.manager.events.on('event', (ev: ManagerEvent) => seen.push(ev));
    r.report('a/db', 'running', { pid: 42 });
    r.report('a/db', 'running', { pid: 42 }); // no change: no second line
    r.report('a/db', 'respawn', { reason: 'exit code 1, restarting in 100ms' });
    r.report('a/db', 'error', { reason: 'exit code 1' }); // the adapter reports errors itself
    expect(r.log.lines).to.deep.equal(['info: a/db: running (pid 42)', 'info: a/db: respawn — exit code 1, restarting in 100ms']);
    expect(seen.map((e) => (e.type === 'state' ? e.status.state : e.type))).to.deep.equal(['running', 'running', 'respawn', 'error']);
  });

  it('publishes reaped orphans as orphan events', () => {
    const r = rig([]);
    const seen: ManagerEvent[] = [];
    r.manager.events.on('event', (ev: ManagerEvent) => seen.push(ev));
    r.manager.orphan(4242, null, 'SIGKILL');
    expect(seen).to.deep.equal([{ type: 'orphan', pid: 4242, code: null, signal: 'SIGKILL' }]);
  });
});

// ------------------------------------------------------------------------------ start

describe('manager: starting instances', () => {
  it('starts independent instances together and one with after: once what it names is ready', async () => {
    const r = rig([
      { name: 'app', after: ['base', 'role:logging'], services: [{ name: 'web' }] },
      { name: 'base', services: [{ name: 'db', state: 'waiting' }] },
      { name: 'logger', services: [{ name: 'syslogd', state: 'starting', provides: ['logging'] }] },
    ]);
    await r.manager.start();
    expect(started(r)).to.deep.equal(['base', 'logger']);
    r.report('base/db', 'running');
    expect(started(r)).to.deep.equal(['base', 'logger']); // the logging role is still pending
    r.report('logger/syslogd', 'running');
    expect(started(r)).to.deep.equal(['base', 'logger', 'app']);
    expect(r.log.lines.filter((l) => l.includes('starting instance'))).to.deep.equal([
      'info: base: starting instance (fake)',
      'info: logger: starting instance (fake)',
      'info: app: starting instance (fake)',
    ]);
    r.report('base/db', 'stopping');
    r.report('base/db', 'running');
    expect(started(r)).to.deep.equal(['base', 'logger', 'app']); // started once only
    expect(r.sys.calls).to.deep.equal([]);
  });

  it('keeps an instance waiting while what it is after has failed', async () => {
    const r = rig([
      { name: 'app', after: ['base/db'] },
      { name: 'base', services: [{ name: 'db', state: 'starting' }] },
    ]);
    await r.manager.start();
    r.report('base/db', 'error', { reason: 'exit code 1' });
    expect(started(r)).to.deep.equal(['base']);
  });

  it('hands each adapter its snapshot before starting it after a re-exec', async () => {
    const r = rig([{ name: 'a' }, { name: 'b' }]);
    await r.manager.start({ a: { pids: [7] } });
    expect(r.adapter('a').adopted).to.deep.equal({ pids: [7] });
    expect(r.adapter('b').adopted).to.equal(undefined);
    expect(r.manager.snapshot()).to.deep.equal({ a: { of: 'a' }, b: { of: 'b' } });
  });

  it('logs an instance that fails to start and starts the others', async () => {
    const r = rig([{ name: 'a' }, { name: 'b' }]);
    r.adapter('a').failStart = 'runsvdir: not found';
    await r.manager.start();
    await new Promise((res) => setImmediate(res));
    expect(started(r)).to.deep.equal(['a', 'b']);
    expect(r.log.lines).to.include('error: a: unable to start instance: runsvdir: not found');
  });
});

// ------------------------------------------------------------------------------ stop

describe('manager: stop order', () => {
  it('without dependencies, stops in reverse start order', async () => {
    const r = rig([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    await r.manager.start();
    expect(started(r)).to.deep.equal(['a', 'b', 'c']);
    expect(r.manager.stopOrder()).to.deep.equal(['c', 'b', 'a']);
  });

  it('stops an instance whose service is after a service of another instance first', async () => {
    // started together: app first, logger second — reverse start order alone would stop logger first
    const r = rig([
      { name: 'app', services: [{ name: 'web', after: ['logger/syslogd'] }] },
      { name: 'logger', services: [{ name: 'syslogd' }] },
    ]);
    await r.manager.start();
    expect(r.manager.stopOrder()).to.deep.equal(['app', 'logger']);
  });

  it('stops the dependents of a role holder before the holder', async () => {
    const r = rig([
      { name: 'app', services: [{ name: 'web', after: ['role:logging'] }] },
      { name: 'logger', services: [{ name: 'syslogd', provides: ['logging'] }] },
    ]);
    await r.manager.start();
    expect(r.manager.stopOrder()).to.deep.equal(['app', 'logger']);
  });

  it('honours an instance after: even for an instance that never started (shutdown during boot)', async () => {
    const r = rig([
      { name: 'base', services: [{ name: 'db', state: 'starting' }] },
      { name: 'app', after: ['base'] },
      { name: 'tools' },
    ]);
    await r.manager.start();
    expect(started(r)).to.deep.equal(['base', 'tools']);
    // preference: tools, base (reverse start), then app (never started); app must go before base
    expect(r.manager.stopOrder()).to.deep.equal(['tools', 'app', 'base']);
  });

  it('ignores references that stay inside the instance, unowned roles and roles metainit holds', async () => {
    // b stops first by preference; any of these references wrongly read as "a needs b" would reverse that
    const r = rig([
      { name: 'a', services: [{ name: 'x', after: ['y', 'b', 'role:cron', 'role:shutdown'] }, { name: 'y' }, { name: 'b' }] },
      { name: 'b', services: [{ name: 'y' }] },
    ]);
    await r.manager.start();
    r.report('a/b', 'running'); // a service of a that happens to share instance b's name
    expect(r.manager.stopOrder()).to.deep.equal(['b', 'a']);
  });

  it('breaks a cycle between instances by reverse start order, still honouring the other dependencies', async () => {
    const r = rig([
      { name: 'c', services: [{ name: 'w', after: ['a/x'] }] },
      { name: 'a', services: [{ name: 'x', after: ['b/y'] }] },
      { name: 'b', services: [{ name: 'y', after: ['a/x'] }] },
    ]);
    await r.manager.start();
    // preference (reverse start): b, a, c; c needs a, so c goes first; a and b wait for each other → preference
    expect(r.manager.stopOrder()).to.deep.equal(['c', 'b', 'a']);
  });

  it('stopAll stops every instance in that order within one deadline, past a failing one', async () => {
    const r = rig([
      { name: 'app', services: [{ name: 'web', after: ['db/pg'] }] },
      { name: 'db', services: [{ name: 'pg' }] },
      { name: 'extra' },
    ]);
    await r.manager.start();
    r.adapter('app').failStop = 'runsvdir did not exit';
    const deadline = Date.now() + 90_000;
    await r.manager.stopAll(deadline);
    expect(stopped(r)).to.deep.equal(['extra', 'app', 'db']);
    expect(['app', 'db', 'extra'].map((n) => r.adapter(n).stopDeadline)).to.deep.equal([deadline, deadline, deadline]);
    expect(r.log.lines).to.include('error: app: unable to stop instance: runsvdir did not exit');
  });

  it('starts no instance once shutdown has begun', async () => {
    const r = rig([
      { name: 'app', after: ['base'] },
      { name: 'base', services: [{ name: 'db', state: 'starting' }] },
    ]);
    await r.manager.start();
    await r.manager.stopAll(Date.now() + 1000);
    r.report('base/db', 'running');
    expect(started(r)).to.deep.equal(['base']);
  });
});

// ------------------------------------------------------------------------------ real load + start

describe('manager: loading and running a configuration directory', function () {
  this.timeout(20_000);
  let tmp: string;
  let manager: Manager | undefined;

  const write = (rel: string, text: string): void => {
    mkdirSync(join(tmp, rel, '..'), { recursive: true });
    writeFileSync(join(tmp, rel), text);
  };

  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'metainit-manager-'));
    manager = undefined;
  });
  afterEach(async () => {
    await manager?.stopAll(Date.now() + 3000);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('loads the instances, starts them in dependency order, and stops dependents first', async () => {
    write('metainit.yaml', `run_dir: ${tmp}/run\nlog_dir: ${tmp}/log\n`);
    write('adapters.d/base.yaml', 'adapter: native\nservices: base-services\n');
    write('adapters.d/app.yaml', 'adapter: native\nafter: [base]\nservices: app-services\n');
    write('adapters.d/legacy.yaml', 'adapter: upstart\n');
    write('adapters.d/parked.yaml', 'adapter: native\nenabled: false\nservices: base-services\n');
    write('base-services/db.yaml', 'exec: sleep 30\nprovides: [logging]\n');
    write('app-services/web.yaml', 'exec: sleep 30\nafter: [role:logging]\n');

    const real = realSys();
    // what the native adapter may do through the seam: log pipes and fd hygiene — no mount, no reboot
    const sys = createFakeSys({ pipe: () => real.pipe(), setCloexec: (fd, on) => real.setCloexec(fd, on), cloexecFrom: (keep) => real.cloexecFrom(keep) });
    const log = recorder();
    manager = new Manager(tmp, sys, log);
    const events: ServiceStatus[] = [];
    manager.events.on('event', (ev: ManagerEvent) => ev.type === 'state' && events.push(ev.status));

    await manager.load();
    expect(manager.instances.map((i) => i.name)).to.deep.equal(['app', 'base']);
    expect(manager.diagnostics.map((d) => d.message)).to.deep.equal([
      `${join(tmp, 'adapters.d/legacy.yaml')}: unable to load instance legacy: key "adapter": expected one of "native", "runit", "s6", "sysv", "openrc", "systemd", got the string "upstart" (fix: use one of "native", "runit", "s6", "sysv", "openrc", "systemd")`,
    ]);
    expect(log.lines).to.include(`error: ${manager.diagnostics[0]!.message}`);
    expect(manager.roles?.grants.get('logging')).to.deep.equal({ instance: 'base', service: 'db' });

    await manager.start();
    const m = manager;
    await waitFor(() => m.list().every((s) => s.state === 'running'), 'app/web and base/db running');
    // web (after role:logging, held by base/db) was spawned only once db was running
    const first = (id: string, state: ServiceState): ServiceStatus => events.find((s) => s.id === id && s.state === state)!;
    expect(first('app/web', 'starting').since).to.be.at.least(first('base/db', 'running').since);
    const lineAt = (text: string): number => log.lines.findIndex((l) => l.includes(text));
    expect(lineAt('app: starting instance (native)')).to.be.greaterThan(lineAt('base/db: running (pid'));
    const pids = m.list().map((s) => s.pid!);
    expect(pids.every((p) => p > 0)).to.equal(true);

    expect(m.stopOrder()).to.deep.equal(['app', 'base']);
    await m.stopAll(Date.now() + 5000);
    manager = undefined;
    expect(log.lines.filter((l) => l.endsWith('stopping instance'))).to.deep.equal(['info: app: stopping instance', 'info: base: stopping instance']);
    expect(m.list().map((s) => s.state)).to.deep.equal(['stopped', 'stopped']);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).to.throw();
    expect(sys.callsTo('mount')).to.deep.equal([]);
    expect(sys.callsTo('reboot')).to.deep.equal([]);
  });
});
