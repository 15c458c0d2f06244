/**
 * budget.ts — one bound on the memory that all control clients together can make PID 1 hold.
 *
 * Every connection holds bytes: answers and events queued for it (a `logs -f` follower that never
 * reads), and the unfinished line it is sending (up to MAX_MESSAGE_BYTES). One client is capped at
 * SEND_QUEUE_LIMIT of queued answers; all of them together at CLIENT_BUDGET: when the sum goes
 * over, the client holding the most is dropped, with the reason in PID 1's log (rate-limited) and,
 * where the transport can still say it, in an error frame. 200 clients × 1 MB partial lines or 40
 * followers that never read cost at most CLIENT_BUDGET, not hundreds of MB.
 */
import { rateLimited } from '../base/rate-limit.js';
import type { Logger } from '../base/types.js';

/** Bytes a transport lets queue up for one client before it drops it as too slow a reader. */
export const SEND_QUEUE_LIMIT = 16 * 1024 * 1024;
/** Bytes all clients together may hold. */
export const CLIENT_BUDGET = 64 * 1024 * 1024;

export interface BudgetHolder {
  /** e.g. "client pid 123" */
  readonly name: string;
  /** bytes held now: queued output plus the partial input line */
  held(): { queued: number; partial: number };
  /** end the connection (the reason may be sent first, if the transport still can) */
  drop(reason: string): void;
}

export class ClientBudget {
  private readonly holders = new Set<BudgetHolder>();
  private readonly warn: { note(line: string): void };

  constructor(
    log?: Logger,
    private readonly total = CLIENT_BUDGET,
    private readonly perClient = SEND_QUEUE_LIMIT,
  ) {
    this.warn = rateLimited((line) => log?.warn(line));
  }

  add(h: BudgetHolder): () => void {
    this.holders.add(h);
    return () => this.holders.delete(h);
  }

  /** Call when `h` grew; false when it was dropped (stop sending to it). */
  check(h: BudgetHolder): boolean {
    const own = h.held();
    if (own.queued > this.perClient) {
      this.dropHolder(h, `it reads too slowly (${own.queued} bytes queued, at most ${this.perClient})`);
      return false;
    }
    let sum = 0;
    for (const x of this.holders) {
      const b = x.held();
      sum += b.queued + b.partial;
    }
    while (sum > this.total && this.holders.size > 0) {
      let big: BudgetHolder | undefined;
      let bigBytes = -1;
      for (const x of this.holders) {
        const b = x.held();
        if (b.queued + b.partial > bigBytes) [big, bigBytes] = [x, b.queued + b.partial];
      }
      this.dropHolder(big!, `it holds ${bigBytes} bytes and all clients together may hold ${this.total}`);
      sum -= bigBytes;
      if (big === h) return false;
    }
    return true;
  }

  private dropHolder(h: BudgetHolder, why: string): void {
    this.holders.delete(h);
    const reason = `control: unable to keep ${h.name}: ${why} (fix: read the answers and events as they come, and send shorter lines)`;
    this.warn.note(reason);
    h.drop(reason);
  }
}
