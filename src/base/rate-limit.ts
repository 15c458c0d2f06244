/**
 * rate-limit.ts — log lines that a client controls, bounded.
 *
 * A warning that anyone local can provoke (a refused client, a wrong token) is logged at most
 * BURST times per WINDOW_MS; the rest is counted and said in one line when the window ends.
 */
export function rateLimited(warn: (line: string) => void, burst = 5, windowMs = 60_000): { note(line: string): void } {
  let windowStart = 0;
  let inWindow = 0;
  let suppressed = 0;
  let last = '';
  let timer: NodeJS.Timeout | undefined;
  return {
    note(line: string): void {
      const now = Date.now();
      if (now - windowStart >= windowMs) {
        windowStart = now;
        inWindow = 0;
      }
      if (++inWindow <= burst) return warn(line);
      suppressed++;
      last = line;
      timer ??= setTimeout(() => {
        timer = undefined;
        const n = suppressed;
        suppressed = 0;
        if (n > 0) warn(`${n} more like this in the last ${windowMs / 1000} s were not logged (last: ${last})`);
      }, Math.max(0, windowStart + windowMs - now));
      timer.unref();
    },
  };
}
