/**
 * backoff.test.ts — restart delays and giving up, driven by a fake clock.
 */
import { expect } from 'chai';
import { Backoff, type BackoffDecision } from '../../../src/supervisor/backoff.js';

const POLICY = { initial: 100, max: 1000, factor: 2, reset_after: 10_000 };

/** A fake clock: runs of a given length, one after the other, each followed by the decided delay. */
class FakeClock {
  now = 1_000_000;
  constructor(private readonly b: Backoff) {}
  /** a run lasting `ms` ends; returns the decision and advances past the delay */
  run(ms: number): BackoffDecision {
    const start = this.now;
    this.now += ms;
    const d = this.b.ran(start, this.now);
    if (!d.giveUp) this.now += d.delay;
    return d;
  }
}

const delays = (ds: BackoffDecision[]): Array<number | string> => ds.map((d) => (d.giveUp ? d.reason : d.delay));

describe('backoff', () => {
  it('grows exponentially from initial and stops at max', () => {
    const clock = new FakeClock(new Backoff(POLICY));
    const ds = Array.from({ length: 7 }, () => clock.run(5));
    expect(delays(ds)).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('starts over after a run that lasted reset_after', () => {
    const clock = new FakeClock(new Backoff(POLICY));
    clock.run(5);
    clock.run(5);
    expect(clock.run(5)).to.include({ delay: 400, streak: 3 });
    expect(clock.run(10_000)).to.include({ delay: 100, streak: 1 });
    expect(clock.run(5)).to.include({ delay: 200 });
  });

  it('a run just short of reset_after still counts as a fast failure', () => {
    const clock = new FakeClock(new Backoff(POLICY));
    clock.run(5);
    expect(clock.run(9_999)).to.include({ delay: 200, streak: 2 });
  });

  it('gives up after max_restarts fast failures in a row', () => {
    const clock = new FakeClock(new Backoff(POLICY, 3));
    const ds = Array.from({ length: 4 }, () => clock.run(5));
    expect(delays(ds)).to.deep.equal([100, 200, 400, 'gave up after 3 restarts']);
  });

  it('a long run in between keeps it from giving up', () => {
    const clock = new FakeClock(new Backoff(POLICY, 2));
    clock.run(5);
    clock.run(5);
    expect(clock.run(20_000).giveUp).to.equal(false);
    expect(clock.run(5).giveUp).to.equal(false);
  });

  it('max_restarts 0 never gives up', () => {
    const clock = new FakeClock(new Backoff(POLICY, 0));
    for (let i = 0; i < 100; i++) expect(clock.run(1).giveUp).to.equal(false);
  });

  it('reset() (a start by hand) forgets the streak', () => {
    const b = new Backoff(POLICY, 1);
    const clock = new FakeClock(b);
    clock.run(5);
    b.reset();
    expect(clock.run(5)).to.include({ giveUp: false, delay: 100 });
    expect(clock.run(5)).to.include({ giveUp: true });
  });
});
