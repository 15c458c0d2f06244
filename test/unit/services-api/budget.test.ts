/**
 * budget.test.ts — one bound for what all control clients together make PID 1 hold: a client
 * over its own cap, or the biggest one when the sum is over the budget, is dropped with a reason.
 */
import { expect } from 'chai';
import { ClientBudget, type BudgetHolder } from '../../../src/services-api/budget.js';

function holder(name: string, queued: number, partial = 0): BudgetHolder & { dropped?: string; queued: number } {
  const h = {
    name,
    queued,
    dropped: undefined as string | undefined,
    held: () => ({ queued: h.queued, partial }),
    drop: (reason: string) => (h.dropped = reason),
  };
  return h;
}

describe('control clients: the shared budget', () => {
  it('drops a client whose queue is over its own cap, naming why', () => {
    const b = new ClientBudget(undefined, 1000, 100);
    const slow = holder('client pid 7', 150);
    b.add(slow);
    expect(b.check(slow)).to.equal(false);
    expect(slow.dropped).to.equal('control: unable to keep client pid 7: it reads too slowly (150 bytes queued, at most 100) (fix: read the answers and events as they come, and send shorter lines)');
  });

  it('over the budget, drops the biggest holders until the sum fits, and keeps the rest', () => {
    const b = new ClientBudget(undefined, 1000, 1000);
    const hs = [holder('a', 300), holder('b', 100, 500), holder('c', 200), holder('d', 150)];
    for (const h of hs) b.add(h);
    expect(b.check(hs[3]!)).to.equal(true); // 1250 > 1000: b (600) goes
    expect(hs.map((h) => h.dropped !== undefined)).to.deep.equal([false, true, false, false]);
    expect(hs[1]!.dropped).to.match(/it holds 600 bytes and all clients together may hold 1000/);
    hs[0]!.queued = 900; // a (900) + c + d = 1250 again: a is the biggest, and it is the one checked
    expect(b.check(hs[0]!)).to.equal(false);
  });
});
