/**
 * reaper.test.ts — the orphan reaper.
 *
 * First its decisions against a strict fake sys (which pid it waits for, when it falls back to
 * the children lists, who gets a status), then the real thing: this test process becomes a child
 * subreaper, so orphans of its children become its own, and a storm of 200 orphans must all be
 * reaped while 100 child_process children and node-pty children still get their own, correct
 * exit statuses (a waitpid(-1) reaper fails exactly there).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as pty from 'node-pty';
import { childrenOfSelf, installReaper, Reaper } from '../../../src/supervisor/reaper.js';
import { realSys, type Sys, type WaitResult } from '../../../src/base/sys.js';
import { createFakeSys } from '../fake-sys.js';
import { waitFor, within } from '../wait-for.js';

/** A fake process table: `zombies` in death order, `running` still alive; `guarded` must never be waited for. */
function fakeKernel(zombies: number[], running: number[] = [], guarded: number[] = []) {
  const echild = (pid: number): Error => Object.assign(new Error(`waitpid(${pid}): ECHILD`), { code: 'ECHILD' });
  const sys = createFakeSys({
    peek: () => zombies[0] ?? (running.length ? 0 : -1),
    waitpid: (pid: number): WaitResult | null => {
      if (guarded.includes(pid)) throw new Error(`reaper waited for managed pid ${pid}`);
      const i = zombies.indexOf(pid);
      if (i >= 0) {
        zombies.splice(i, 1);
        return { pid, code: pid % 256, signal: null };
      }
      if (running.includes(pid)) return null;
      throw echild(pid);
    },
  });
  const listChildren = (): number[] => [...zombies, ...running];
  /** a running child exits */
  const die = (pid: number): void => {
    running.splice(running.indexOf(pid), 1);
    zombies.push(pid);
  };
  return { sys, listChildren, die };
}

describe('reaper (fake sys)', () => {
  it('reaps each zombie by its exact pid and reports it as an orphan', () => {
    const { sys, listChildren } = fakeKernel([101, 102, 103], [104]);
    const reaper = new Reaper(sys, { listChildren });
    const orphans: number[] = [];
    reaper.on('orphan', (r) => orphans.push(r.pid));
    expect(reaper.sweep()).to.equal(3);
    expect(orphans).to.deep.equal([101, 102, 103]);
    expect(sys.callsTo('waitpid')).to.deep.equal([[101], [102], [103]]);
    expect(reaper.reaped).to.equal(3);
  });

  it('leaves a managed zombie to its owner and finds the orphans behind it in the children lists', () => {
    const { sys, listChildren } = fakeKernel([200, 201, 202], [203], [200]);
    const reaper = new Reaper(sys, { listChildren });
    reaper.manage(200, () => true);
    const orphans: number[] = [];
    reaper.on('orphan', (r) => orphans.push(r.pid));
    expect(reaper.sweep()).to.equal(2);
    expect(orphans).to.deep.equal([201, 202]);
    expect(reaper.stats()).to.include({ scans: 1, managed: 1 });
  });

  it('reaps a pid whose owner no longer waits for it, and forgets it', () => {
    const { sys, listChildren } = fakeKernel([300]);
    const reaper = new Reaper(sys, { listChildren });
    let owned = true;
    reaper.manage(300, () => owned);
    owned = false;
    expect(reaper.sweep()).to.equal(1);
    expect(reaper.isManaged(300)).to.equal(false);
  });

  it('does not fail when an owner reaped its child between peek and waitpid', () => {
    const sys = createFakeSys({
      peek: () => 400,
      waitpid: () => {
        throw Object.assign(new Error('waitpid: No child processes'), { code: 'ECHILD' });
      },
    });
    const reaper = new Reaper(sys, { listChildren: () => [] });
    expect(reaper.sweep()).to.equal(0);
  });

  it('gives a watched (re-adopted) child its status instead of an orphan event', () => {
    const { sys, listChildren, die } = fakeKernel([], [500]);
    const reaper = new Reaper(sys, { listChildren });
    const seen: WaitResult[] = [];
    const orphans: number[] = [];
    reaper.on('orphan', (r) => orphans.push(r.pid));
    expect(reaper.watch(500, (r) => seen.push(r))).to.equal(true);
    die(500);
    reaper.sweep();
    expect(seen).to.deep.equal([{ pid: 500, code: 500 % 256, signal: null }]);
    expect(orphans).to.deep.equal([]);
    expect(reaper.stats()).to.include({ adopted: 1, orphans: 0, watched: 0 });
  });

  it('gives a late watcher the status of a child already reaped as an orphan; refuses a pid that is not ours', async () => {
    const { sys, listChildren } = fakeKernel([600]);
    const reaper = new Reaper(sys, { listChildren });
    reaper.sweep();
    const seen = await new Promise<WaitResult>((resolve) => expect(reaper.watch(600, resolve)).to.equal(true));
    expect(seen).to.deep.equal({ pid: 600, code: 600 % 256, signal: null });
    expect(reaper.watch(601, () => expect.fail('called for a pid that is not ours'))).to.equal(false);
  });

  it('keeps sweeping when an orphan listener throws, and reports the error as uncaught', async () => {
    const { sys, listChildren } = fakeKernel([701, 702]);
    const reaper = new Reaper(sys, { listChildren });
    const seen: number[] = [];
    reaper.on('orphan', (r) => {
      seen.push(r.pid);
      if (r.pid === 701) throw new Error('listener bug');
    });
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught: unknown[] = [];
    process.on('uncaughtException', (e) => uncaught.push(e));
    try {
      expect(reaper.sweep()).to.equal(2);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const h of mochaHandlers) process.on('uncaughtException', h);
    }
    expect(seen).to.deep.equal([701, 702]);
    expect(uncaught).to.have.length(1);
  });
});

describe('reaper (real, as a child subreaper)', function () {
  this.timeout(60_000);
  let sys: Sys;
  let reaper: Reaper;

  before(() => {
    sys = realSys();
    sys.setSubreaper(true);
    reaper = installReaper(sys);
  });
  after(() => {
    reaper.stop();
    sys.setSubreaper(false);
  });

  it('reaps 200 orphans while child_process and node-pty children keep their own exit statuses', async () => {
    const orphanCodes: number[] = [];
    const onOrphan = (r: WaitResult): void => void orphanCodes.push(r.code ?? -1);
    reaper.on('orphan', onOrphan);
    // Sweeps may come at any moment (the safety timer). Make the worst case common: keep the
    // loop busy for 2 of every 4 ms, then sweep, so that children which died meanwhile are seen by
    // the sweep before libuv (in its next poll phase) or node-pty (in its thread) reaps them.
    const hammer = setInterval(() => {
      const until = Date.now() + 2;
      while (Date.now() < until);
      reaper.sweep();
    }, 4);

    // 200 orphans: the sh exits at once, its background subshells exit 3 a little later
    const storm = spawn('sh', ['-c', 'for i in $(seq 200); do (sleep 0.2; exit 3) & done; exit 0']);
    const stormExit = new Promise<number | null>((resolve) => storm.on('exit', resolve));

    // 100 child_process children at the same time: exit code i, every 10th killed by SIGTERM
    const expected: string[] = [];
    const exits = Array.from({ length: 100 }, (_, i) => {
      const killed = i % 10 === 0;
      expected.push(killed ? 'signal SIGTERM' : `code ${i}`);
      const child = spawn('sh', ['-c', killed ? 'exec sleep 30' : `sleep 0.2; exit ${i}`]);
      if (killed) setTimeout(() => child.kill('SIGTERM'), 200);
      return new Promise<string>((resolve) => child.on('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)));
    });

    // node-pty children: their own thread waits for them, so they must be managed
    const ptyCodes = Array.from({ length: 20 }, (_, i) => 42 + i);
    const ptyExits = ptyCodes.map((code, i) => {
      const p = pty.spawn('/bin/sh', ['-c', i === 0 ? 'exit 42' : `sleep 0.2; exit ${code}`], {});
      let exited = false;
      reaper.manage(p.pid, () => !exited);
      return new Promise<number>((resolve) =>
        p.onExit((e) => {
          exited = true;
          resolve(e.exitCode);
        }),
      );
    });

    expect(await within(stormExit, "the storm's exit")).to.equal(0);
    expect(await within(Promise.all(exits), 'every child_process exit')).to.deep.equal(expected);
    expect(await within(Promise.all(ptyExits), 'every node-pty exit')).to.deep.equal(ptyCodes);
    await waitFor(() => orphanCodes.length >= 200, '200 reaped orphans', 30_000);
    clearInterval(hammer);
    reaper.off('orphan', onOrphan);
    expect(orphanCodes).to.have.length(200);
    expect(orphanCodes.every((c) => c === 3)).to.equal(true);
    expect(zombieChildren()).to.deep.equal([]);
  });
});

/** our direct children in state Z */
function zombieChildren(): number[] {
  return childrenOfSelf().filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
    } catch {
      return false;
    }
  });
}
