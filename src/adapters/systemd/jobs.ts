/**
 * jobs.ts — systemd's jobs as metainit's control results.
 *
 * StartUnit, StopUnit, RestartUnit and ReloadUnit answer with a job object path at once; the job's
 * end comes later as the signal JobRemoved(id, job, unit, result). A result may arrive before the
 * method's answer has been read, so results nobody waits for yet are kept (the last 200).
 * `done` is success; every other result is one sentence (JOB_WORDS) in the error the CLI shows.
 */

/** JobRemoved results other than `done`, in words. */
export const JOB_WORDS: Readonly<Record<string, string>> = {
  failed: 'the unit failed',
  timeout: 'the job timed out',
  dependency: 'a unit it requires failed',
  canceled: 'the job was canceled',
  skipped: 'the unit is not active',
  invalid: 'the job is not valid for this unit',
  unsupported: 'the unit type does not support this',
  'still running': 'the job is still running',
};

const KEEP = 200;

export class JobTracker {
  private readonly waiting = new Map<string, (result: string) => void>();
  private readonly early = new Map<string, string>();

  /** JobRemoved arrived for `job`. */
  removed(job: string, result: string): void {
    const waiter = this.waiting.get(job);
    if (waiter) return waiter(result);
    this.early.set(job, result);
    if (this.early.size > KEEP) this.early.delete(this.early.keys().next().value!);
  }

  /** The result of `job` (`still running` after `ms`). */
  wait(job: string, ms: number): Promise<string> {
    const known = this.early.get(job);
    if (known !== undefined) {
      this.early.delete(job);
      return Promise.resolve(known);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish('still running'), ms);
      timer.unref();
      const finish = (r: string): void => {
        clearTimeout(timer);
        this.waiting.delete(job);
        resolve(r);
      };
      this.waiting.set(job, finish);
    });
  }

  /** every job still waited for ends as canceled (systemd went away) */
  cancelAll(): void {
    for (const finish of [...this.waiting.values()]) finish('canceled');
  }
}
