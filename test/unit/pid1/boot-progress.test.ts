/**
 * boot-progress.test.ts — one console line per instance once none of its wanted services is on
 * its way up, FAILED naming the failures, then one line for the boot; each printed once.
 */
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { bootProgress } from '../../../src/pid1/boot-progress.js';
import type { ServiceStatus } from '../../../src/base/states.js';
import type { Manager } from '../../../src/manager/manager.js';

const st = (id: string, state: ServiceStatus['state'], extra: Partial<ServiceStatus> = {}): ServiceStatus => ({
  id, instance: id.split('/')[0]!, name: id.split('/')[1]!, adapter: 'native', state, target: 'up', since: 0, restarts: 0, oneshot: false, kind: 'service', after: [], ...extra,
});
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pid1: boot progress lines', () => {
  it('prints OK once per instance when its services are up, FAILED with the failures named, then the boot line', async () => {
    const services = [st('native/a', 'running'), st('native/b', 'starting'), st('runit/x', 'running'), st('runit/y', 'error', { reason: 'exit code 1' }), st('runit/z', 'stopped', { target: 'down' })];
    const events = new EventEmitter();
    const fake = { instances: [{ name: 'native', started: true, startedAt: Date.now() }, { name: 'runit', started: true, startedAt: Date.now() }], list: () => services, events };
    const lines: string[] = [];
    const stop = bootProgress(fake as unknown as Manager, (l) => lines.push(l));
    await tick();
    await tick();
    expect(lines).to.deep.equal(['[FAILED] runit: 1/2 up — runit/y: exit code 1']);
    services[1] = st('native/b', 'running');
    events.emit('event', { type: 'state', status: services[1] });
    await tick();
    await tick();
    expect(lines.slice(1, 2)).to.have.length(1);
    expect(lines[1]).to.match(/^\[  OK  \] native: 2\/2 up in \d+\.\d s$/);
    expect(lines[2]).to.match(/^boot: 2 instance\(s\) up in \d+\.\d s/);
    events.emit('event', { type: 'state', status: services[1] });
    await tick();
    await tick();
    expect(lines).to.have.length(3);
    stop();
  });

  it('a oneshot still running does not hold the line back: it is counted', async () => {
    const services = [st('native/a', 'running'), st('native/job', 'starting', { oneshot: true, kind: 'oneshot' })];
    const fake = { instances: [{ name: 'native', started: true, startedAt: Date.now() }], list: () => services, events: new EventEmitter() };
    const lines: string[] = [];
    const stop = bootProgress(fake as unknown as Manager, (l) => lines.push(l));
    await tick();
    await tick();
    expect(lines[0]).to.match(/^\[  OK  \] native: 1\/2 up in \d+\.\d s, 1 oneshot\(s\) still running$/);
    stop();
  });
});
