/**
 * backoff.ts — how long to wait before restarting a service that exited, and when to give up.
 *
 * Model (pure: no timers, no clock of its own — the caller passes the times in, so tests drive
 * it with a fake clock):
 *   - Every run is reported with `ran(startedAt, endedAt)`.
 *   - A run shorter than `reset_after` is a *fast failure*. Consecutive fast failures make the
 *     delay grow: initial, initial×factor, initial×factor², … capped at `max`.
 *   - A run that lasted at least `reset_after` proves the service can stay up: the streak and the
 *     delay start over (the next restart waits `initial`).
 *   - With `maxRestarts` > 0: once that many restarts in a row have each ended in a fast failure,
 *     the next fast failure gives up (`{ giveUp: true }`, reason "gave up after N restarts").
 *   - `reset()` forgets everything (a start by hand).
 */

export interface BackoffPolicy {
  /** first delay (ms) */
  initial: number;
  /** largest delay (ms) */
  max: number;
  /** growth per fast failure */
  factor: number;
  /** a run at least this long (ms) resets the delay */
  reset_after: number;
}

export type BackoffDecision =
  | { giveUp: false; delay: number; streak: number }
  | { giveUp: true; reason: string; streak: number };

export class Backoff {
  private nextDelay: number;
  /** restarts in a row that ended in a fast failure */
  private streak = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly maxRestarts = 0,
  ) {
    this.nextDelay = policy.initial;
  }

  /** A run went from `startedAt` to `endedAt` (ms) and should be restarted: how long to wait? */
  ran(startedAt: number, endedAt: number): BackoffDecision {
    if (endedAt - startedAt >= this.policy.reset_after) this.reset();
    else if (this.maxRestarts > 0 && this.streak >= this.maxRestarts) {
      return { giveUp: true, reason: `gave up after ${this.streak} restarts`, streak: this.streak };
    }
    const delay = Math.min(this.nextDelay, this.policy.max);
    this.nextDelay = Math.min(this.nextDelay * this.policy.factor, this.policy.max);
    this.streak += 1;
    return { giveUp: false, delay, streak: this.streak };
  }

  /** Forget the streak: the next restart waits `initial`. */
  reset(): void {
    this.streak = 0;
    this.nextDelay = this.policy.initial;
  }
}
