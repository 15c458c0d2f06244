/**
 * handler.test.ts — the control API's methods over a fake manager.
 *
 * `jobOutcome` is checked as the table it is (job × observed status → answer). The handler itself
 * runs against FakeManager: services are a map of statuses, `control()` runs a per-test script
 * that changes them the way an adapter would (each change is a `state` event on `events`, with a
 * newer `since`), so a test says "the service goes starting, then running" and checks what the
 * client is answered, and when. Power methods are checked to answer before the hook runs.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Diagnostic } from '../../../src/base/types.js';
import type { JobResult } from '../../../src/services-api/protocol.js';
import { createHandler, jobOutcome, type ApiHooks } from '../../../src/services-api/handler.js';
import type { ConnInfo } from '../../../src/services-api/server.js';
import type { ShutdownKind } from '../../../src/base/types.js';
import type { Manager, ManagerEvent } from '../../../src/manager/manager.js';
import type { ServiceState, ServiceStatus } from '../../../src/base/states.js';

function st(id: string, state: ServiceState, extra: Partial<ServiceStatus> = {}): ServiceStatus {
  const [instance, name] = id.split('/') as [string, string];
  return { id, instance, name, adapter: 'native', state, target: 'up', since: 100, restarts: 0, oneshot: false, kind: 'service', after: [], ...extra };
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

type Verb = 'start' | 'stop' | 'restart';

class FakeManager {
  readonly events = new EventEmitter();
  readonly configDir = '/nonexistent';
  roles = undefined;
  readonly services = new Map<string, ServiceStatus>();
  readonly calls: string[] = [];
  diagnostics: Diagnostic[] = [];
  /** what control() does to the services, per test */
  onControl: (verb: Verb, id: string) => void | Promise<void> = () => {};
  private clock = 1000;

  add(s: ServiceStatus): void {
    this.services.set(s.id, s);
  }
  /** an adapter reports a change: new status, newer since, a state event */
  set(id: string, state: ServiceState, extra: Partial<ServiceStatus> = {}): void {
    const next = { ...this.services.get(id)!, state, since: ++this.clock, ...extra };
    this.services.set(id, next);
    this.events.emit('event', { type: 'state', status: next } satisfies ManagerEvent);
  }
  list(): ServiceStatus[] {
    return [...this.services.values()];
  }
  /** dependencies a start would wait for for ever: the stopped ones with target down among `after` */
  stoppedDeps(id: string): ServiceStatus[] {
    const st = this.services.get(id);
    return (st?.after ?? []).map((ref) => this.services.get(ref.includes('/') ? ref : `${st!.instance}/${ref}`)).filter((d): d is ServiceStatus => d !== undefined && d.target === 'down' && d.state === 'stopped');
  }
  problems(): unknown[] {
    return [];
  }
  /** one instance per instance name seen; native ones plan a graph of their services, others a sentence */
  get instances(): Array<{ name: string; file: string; kind: string; after: string[]; root: string; adapter: { plan(): unknown } }> {
    const names = [...new Set(this.list().map((s) => s.instance))];
    return names.map((name) => {
      const mine = this.list().filter((s) => s.instance === name);
      const plan = name === 'native' ? { services: mine.map((s) => ({ name: s.name, after: s.after })) } : { summary: `${mine.length} service(s), started together` };
      return { name, file: `/etc/metainit/adapters.d/${name}.yaml`, kind: name, after: [], root: '/', adapter: { plan: () => plan } };
    });
  }
  get files(): Array<{ name: string; kind: string; file: string; enabled: boolean; after: string[] }> {
    return this.instances.map((i) => ({ name: i.name, kind: i.kind, file: i.file, enabled: true, after: [] }));
  }
  resolve(name: string): { inst: { name: string }; service: string } {
    const s = this.list().find((x) => x.id === name || x.name === name);
    if (!s) throw new Error(`${name}: unable to find service: no such service (fix: see metainit status)`);
    return { inst: { name: s.instance }, service: s.name };
  }
  status(name?: string): ServiceStatus[] {
    if (!name) return this.list();
    const { inst, service } = this.resolve(name);
    return [this.services.get(`${inst.name}/${service}`)!];
  }
  async control(verb: Verb, name: string): Promise<void> {
    const { inst, service } = this.resolve(name);
    this.calls.push(`${verb} ${inst.name}/${service}`);
    await this.onControl(verb, `${inst.name}/${service}`);
  }
  async reload(name: string): Promise<Diagnostic[]> {
    this.calls.push(`reload ${name}`);
    return this.diagnostics;
  }
  async kill(name: string, signal: string): Promise<void> {
    this.calls.push(`kill ${name} ${signal}`);
  }
  async logs(name: string, n: number): Promise<string[]> {
    return [`${name}: ${n} lines`];
  }
  /** who follows whose lines ('*' = every service), while they do */
  followed: string[] = [];
  follow(name: string | undefined): () => void {
    const key = name ?? '*';
    this.followed.push(key);
    return () => this.followed.splice(this.followed.indexOf(key), 1);
  }
  async sync(): Promise<Diagnostic[]> {
    return this.diagnostics;
  }
}

interface HookLog {
  shutdowns: ShutdownKind[];
  reexecs: number;
  ownLogSubscribers: Set<(line: string) => void>;
}

function setup(): { fm: FakeManager; handler: ReturnType<typeof createHandler>; hooks: HookLog } {
  const fm = new FakeManager();
  const hooks: HookLog = { shutdowns: [], reexecs: 0, ownLogSubscribers: new Set() };
  const api: ApiHooks = {
    mode: 'container',
    startedAt: Date.now() - 5000,
    reaped: () => 3,
    shutdown: (kind) => hooks.shutdowns.push(kind),
    reexec: () => hooks.reexecs++,
    ownLog: (cb) => {
      hooks.ownLogSubscribers.add(cb);
      return () => hooks.ownLogSubscribers.delete(cb);
    },
  };
  return { fm, handler: createHandler(fm as unknown as Manager, api, '1.2.3'), hooks };
}

const conn: ConnInfo = { id: 1, transport: 'unix' };

// ------------------------------------------------------------------------------ jobOutcome

describe('handler: job outcome table', () => {
  const since0 = 100;
  const at = (state: ServiceState, extra: Partial<ServiceStatus> = {}): ServiceStatus => st('native/web', state, { since: since0 + 1, ...extra });

  it('start: done when running or ok, failed or dependency on error, canceled when stopped on purpose', () => {
    expect(jobOutcome('start', at('running'), since0)).to.equal('done');
    expect(jobOutcome('start', at('ok', { oneshot: true }), since0)).to.equal('done');
    expect(jobOutcome('start', at('error', { reason: 'exit code 1' }), since0)).to.equal('failed');
    expect(jobOutcome('start', at('error', { reason: 'dependency failed: native/db' }), since0)).to.equal('dependency');
    expect(jobOutcome('start', at('stopped', { target: 'down' }), since0)).to.equal('canceled');
  });

  it('start: still under way while waiting, starting, respawning or stopped but wanted', () => {
    for (const s of ['waiting', 'starting', 'respawn', 'stopping'] as const) expect(jobOutcome('start', at(s), since0), s).to.equal(null);
    expect(jobOutcome('start', at('stopped', { target: 'up' }), since0)).to.equal(null);
  });

  it('stop: done once stopped or in error, under way before', () => {
    expect(jobOutcome('stop', at('stopped', { target: 'down' }), since0)).to.equal('done');
    expect(jobOutcome('stop', at('error', { reason: 'exit code 1' }), since0)).to.equal('done');
    for (const s of ['running', 'stopping', 'starting'] as const) expect(jobOutcome('stop', at(s), since0), s).to.equal(null);
  });

  it('restart: the status from before the restart (same since) is no answer, a newer one is', () => {
    expect(jobOutcome('restart', at('running', { since: since0 }), since0)).to.equal(null);
    expect(jobOutcome('restart', at('error', { since: since0 }), since0)).to.equal(null);
    expect(jobOutcome('restart', at('running'), since0)).to.equal('done');
    expect(jobOutcome('restart', at('error', { reason: 'exit code 2' }), since0)).to.equal('failed');
    expect(jobOutcome('restart', at('stopping'), since0)).to.equal(null);
  });
});

// ------------------------------------------------------------------------------ jobs

describe('handler: control jobs', () => {
  it('start answers done only once the service is running, with its final status', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'stopped', { target: 'down' }));
    fm.onControl = (_, id) => fm.set(id, 'starting', { target: 'up', pid: 77 });
    let answer: JobResult | undefined;
    const p = handler.call('start', { name: 'web' }, conn).then((r) => (answer = r as JobResult));
    await tick();
    expect(answer).to.equal(undefined); // still starting
    fm.set('native/web', 'running');
    await p;
    expect(answer!.result).to.equal('done');
    expect(answer!.status).to.include({ id: 'native/web', state: 'running', pid: 77 });
    expect(fm.calls).to.deep.equal(['start native/web']);
    expect(fm.events.listenerCount('event')).to.equal(0);
  });

  it('start answers at once when the service is already running', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    const r = (await handler.call('start', { name: 'native/web' }, conn)) as JobResult;
    expect(r.result).to.equal('done');
  });

  it('start answers failed when the service ends in error, dependency when a dependency failed', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'stopped', { target: 'down' }));
    fm.add(st('native/app', 'stopped', { target: 'down' }));
    fm.onControl = (_, id) => {
      fm.set(id, 'starting', { target: 'up' });
      setTimeout(() => fm.set(id, 'error', { reason: id === 'native/web' ? 'exit code 1' : 'dependency failed: native/db' }), 5);
    };
    const web = (await handler.call('start', { name: 'web' }, conn)) as JobResult;
    const app = (await handler.call('start', { name: 'app' }, conn)) as JobResult;
    expect([web.result, web.status.reason]).to.deep.equal(['failed', 'exit code 1']);
    expect([app.result, app.status.reason]).to.deep.equal(['dependency', 'dependency failed: native/db']);
  });

  it('a start whose dependency is stopped answers dependency at once, naming it, and asks nothing', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/db', 'stopped', { target: 'down' }));
    fm.add(st('native/web', 'stopped', { target: 'down', after: ['db'] }));
    const res = (await handler.call('start', { name: 'web' }, conn)) as JobResult & { blocked_by: string[] };
    expect([res.result, res.blocked_by]).to.deep.equal(['dependency', ['native/db']]);
    expect(fm.calls).to.deep.equal([]);
  });

  it('with_deps starts the stopped dependency first; no_block answers queued without waiting; timeout bounds the wait', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/db', 'stopped', { target: 'down' }));
    fm.add(st('native/web', 'stopped', { target: 'down', after: ['db'] }));
    fm.onControl = (_, id) => fm.set(id, 'running', { target: 'up' });
    const res = (await handler.call('start', { name: 'web', with_deps: true }, conn)) as JobResult;
    expect(res.result).to.equal('done');
    expect(fm.calls).to.deep.equal(['start native/db', 'start native/web']);
    fm.onControl = (_, id) => fm.set(id, 'stopping', { target: 'down' });
    expect(((await handler.call('stop', { name: 'web', no_block: true }, conn)) as JobResult).result).to.equal('queued');
    const t0 = Date.now();
    expect(((await handler.call('stop', { name: 'db', timeout: 50 }, conn)) as JobResult).result).to.equal('timeout');
    expect(Date.now() - t0).to.be.below(2000);
  });

  it('start answers canceled when the service is stopped on purpose while it starts', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'stopped', { target: 'down' }));
    fm.onControl = (_, id) => fm.set(id, 'waiting', { target: 'up', reason: 'waiting for native/db' });
    const p = handler.call('start', { name: 'web' }, conn);
    await tick();
    fm.set('native/web', 'stopped', { target: 'down' });
    expect(((await p) as JobResult).result).to.equal('canceled');
  });

  it('stop answers done once the service has stopped', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    fm.onControl = (_, id) => {
      fm.set(id, 'stopping', { target: 'down' });
      setTimeout(() => fm.set(id, 'stopped'), 5);
    };
    const r = (await handler.call('stop', { name: 'web' }, conn)) as JobResult;
    expect(r.result).to.equal('done');
    expect(r.status).to.include({ state: 'stopped', target: 'down' });
  });

  it('restart is not fooled by the stop it passes through, and ends when the new run is ready', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running', { pid: 1 }));
    fm.onControl = (_, id) => {
      fm.set(id, 'stopping', { target: 'down' });
      fm.set(id, 'stopped', { target: 'down' });
      fm.set(id, 'starting', { target: 'up', pid: 2 });
    };
    let answer: JobResult | undefined;
    const p = handler.call('restart', { name: 'web' }, conn).then((r) => (answer = r as JobResult));
    await tick();
    expect(answer).to.equal(undefined);
    fm.set('native/web', 'running');
    await p;
    expect(answer!.result).to.equal('done');
    expect(answer!.status).to.include({ state: 'running', pid: 2 });
  });

  it('restart keeps waiting while the service still shows its status from before', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running', { pid: 1 }));
    // control returns before the adapter reported anything
    let answer: JobResult | undefined;
    const p = handler.call('restart', { name: 'web' }, conn).then((r) => (answer = r as JobResult));
    await tick();
    expect(answer).to.equal(undefined);
    fm.set('native/web', 'running', { pid: 2 });
    await p;
    expect(answer!.status.pid).to.equal(2);
  });

  it('refuses an unknown service with the manager’s message, before anything is done', async () => {
    const { fm, handler } = setup();
    let err: Error | undefined;
    await handler.call('start', { name: 'ghost' }, conn).catch((e: Error) => (err = e));
    expect(err?.message).to.equal('ghost: unable to find service: no such service (fix: see metainit status)');
    expect(fm.calls).to.deep.equal([]);
  });

  it('reload answers failed when the new definition has errors, done with only warnings', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    const warning: Diagnostic = { level: 'warning', file: '/x/web.yaml', key: 'shell', message: 'native/web: …' };
    fm.diagnostics = [warning];
    expect(((await handler.call('reload', { name: 'web' }, conn)) as JobResult).result).to.equal('done');
    fm.diagnostics = [warning, { ...warning, level: 'error', key: 'exec' }];
    const r = (await handler.call('reload', { name: 'web' }, conn)) as JobResult;
    expect(r.result).to.equal('failed');
    expect(r.diagnostics).to.have.length(2);
    expect(r.status.id).to.equal('native/web');
  });
});

// ------------------------------------------------------------------------------ other methods

describe('handler: status, power and the rest', () => {
  it('status describes the manager and lists every service, or one', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    fm.add(st('runit/cron', 'stopped', { target: 'down' }));
    const all = (await handler.call('status', {}, conn)) as { manager: Record<string, unknown>; services: ServiceStatus[] };
    expect(all.manager).to.include({ pid: process.pid, mode: 'container', reaped: 3, version: '1.2.3' });
    expect(all.manager.uptime).to.be.at.least(5000);
    expect(all.services.map((s) => s.id)).to.deep.equal(['native/web', 'runit/cron']);
    const one = (await handler.call('status', { name: 'cron' }, conn)) as { services: ServiceStatus[] };
    expect(one.services.map((s) => s.id)).to.deep.equal(['runit/cron']);
  });

  for (const kind of ['halt', 'poweroff', 'reboot'] as const) {
    it(`${kind} answers first, then starts the shutdown`, async () => {
      const { handler, hooks } = setup();
      expect(await handler.call(kind, {}, conn)).to.deep.equal({ ok: true });
      expect(hooks.shutdowns).to.deep.equal([]);
      await new Promise((r) => setImmediate(r));
      expect(hooks.shutdowns).to.deep.equal([kind]);
    });
  }

  it('reexec answers first, then re-executes', async () => {
    const { handler, hooks } = setup();
    expect(await handler.call('reexec', {}, conn)).to.deep.equal({ ok: true });
    expect(hooks.reexecs).to.equal(0);
    await new Promise((r) => setImmediate(r));
    expect(hooks.reexecs).to.equal(1);
  });

  it('passes kill and logs through, and plans the start levels of the live services', async () => {
    const { fm, handler } = setup();
    fm.add(st('native/db', 'running'));
    fm.add(st('native/web', 'running', { after: ['db', 'runit/log', 'role:logging'] }));
    fm.add(st('runit/log', 'running'));
    expect(await handler.call('kill', { name: 'web', signal: 'SIGHUP' }, conn)).to.deep.equal({ ok: true });
    expect(fm.calls).to.deep.equal(['kill web SIGHUP']);
    expect(await handler.call('logs', { name: 'web', lines: 3 }, conn)).to.deep.equal(['web: 3 lines']);
    expect(await handler.call('plan', {}, conn)).to.deep.equal({
      levels: [['native/db'], ['native/web']],
      instanceLevels: [['native', 'runit']],
      summaries: [{ instance: 'runit', adapter: 'runit', text: '1 service(s), started together' }],
    });
  });

  it('answers an empty role table before roles are decided', async () => {
    const { handler } = setup();
    expect(await handler.call('roles', {}, conn)).to.deep.equal([]);
  });

  it('refuses a method it does not answer itself', async () => {
    const { handler } = setup();
    let err: Error | undefined;
    await handler.call('events', {}, conn).catch((e: Error) => (err = e));
    expect(err?.message).to.equal('control: unable to run events: not supported by this manager');
  });
});

// ------------------------------------------------------------------------------ subscriptions

describe('handler: subscriptions', () => {
  const log = (id: string, line: string): ManagerEvent => ({ type: 'log', id, stream: 'stdout', line, time: 1 });

  it('delivers only the event types asked for, until unsubscribed', () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    const got: string[] = [];
    const off = handler.subscribe(conn, { types: ['state', 'orphan'] }, (ev) => got.push(ev.type));
    fm.set('native/web', 'stopping');
    fm.events.emit('event', log('native/web', 'hello'));
    fm.events.emit('event', { type: 'orphan', pid: 9, code: 0, signal: null });
    fm.events.emit('event', { type: 'message', level: 'info', text: 'x' });
    off();
    fm.set('native/web', 'stopped');
    expect(got).to.deep.equal(['state', 'orphan']);
    expect(fm.events.listenerCount('event')).to.equal(0);
  });

  it('delivers every type when none is named', () => {
    const { fm, handler } = setup();
    const got: string[] = [];
    handler.subscribe(conn, {}, (ev) => got.push(ev.type));
    fm.events.emit('event', log('native/web', 'hello'));
    fm.events.emit('event', { type: 'message', level: 'info', text: 'x' });
    expect(got).to.deep.equal(['log', 'message']);
  });

  it('logs -f follows the log lines of the one service named, by its resolved id', () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    fm.add(st('native/db', 'running'));
    const got: string[] = [];
    handler.subscribe(conn, { logsOf: 'web' }, (ev) => got.push(ev.type === 'log' ? `${ev.id}: ${ev.line}` : ev.type));
    fm.events.emit('event', log('native/db', 'not this'));
    fm.events.emit('event', log('native/web', 'this'));
    fm.set('native/web', 'stopping');
    expect(got).to.deep.equal(['native/web: this']);
  });

  it('asks the manager for the lines of what it follows, and stops asking when unsubscribed', () => {
    const { fm, handler } = setup();
    fm.add(st('native/web', 'running'));
    const offLogs = handler.subscribe(conn, { logsOf: 'web' }, () => {});
    const offAll = handler.subscribe(conn, {}, () => {});
    const offState = handler.subscribe(conn, { types: ['state'] }, () => {});
    expect([...fm.followed].sort()).to.deep.equal(['*', 'native/web']);
    offLogs();
    offAll();
    offState();
    expect(fm.followed).to.deep.equal([]);
  });

  it('logs -f of an unknown service throws the resolve error and subscribes nothing', () => {
    const { fm, handler } = setup();
    expect(() => handler.subscribe(conn, { logsOf: 'ghost' }, () => {})).to.throw('ghost: unable to find service');
    expect(fm.events.listenerCount('event')).to.equal(0);
  });

  it('logs -f metainit follows PID 1’s own log', () => {
    const { fm, handler, hooks } = setup();
    const got: ManagerEvent[] = [];
    const off = handler.subscribe(conn, { logsOf: 'metainit' }, (ev) => got.push(ev));
    expect(hooks.ownLogSubscribers.size).to.equal(1);
    for (const cb of hooks.ownLogSubscribers) cb('native: starting instance');
    fm.events.emit('event', log('native/web', 'service line'));
    off();
    expect(hooks.ownLogSubscribers.size).to.equal(0);
    expect(got).to.have.length(1);
    expect(got[0]).to.include({ type: 'log', id: 'metainit', stream: 'stdout', line: 'native: starting instance' });
  });
});
