/**
 * time.ts — waiting. `sleep(ms)` resolves after ms (never before now: a negative wait is none);
 * with `unref` the timer alone does not keep the event loop alive (a deadline race that must not
 * hold a finished process up).
 */
export function sleep(ms: number, opts: { unref?: boolean } = {}): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, Math.max(0, ms));
    if (opts.unref) t.unref();
  });
}
