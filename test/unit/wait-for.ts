/**
 * wait-for.ts — poll a condition in tests that wait for something asynchronous (a signal, a
 * datagram, a batch of exits). The deadline is generous on purpose: it catches "never", it does
 * not measure speed.
 */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`wait-for: unable to see ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
