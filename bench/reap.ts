/**
 * reap.ts — benchmark 4: how fast PID 1 reaps a burst of orphans, metainit against tini.
 *
 * Model. helpers/orphans.c is started inside the namespace with `nsenter --target PID1 --pid`;
 * it forks N children that all sleep until one CLOCK_MONOTONIC deadline, and exits at once, so
 * the N children are orphans of the namespace's PID 1 before the deadline. At the deadline they
 * all exit; PID 1 gets SIGCHLD and has to reap N zombies. The host watches, the same way for
 * both inits: just before the deadline it lists PID 1's children (every orphan, by host pid)
 * from /proc/PID1/task/*\/children, then polls every POLL_MS whether each orphan's /proc/PID is
 * gone (a zombie keeps its /proc entry until reaped). The poll stops at the first orphan still
 * there, so watching costs next to nothing and takes no kernel lock the reaper needs.
 * Result: deadline → last orphan reaped, and N / that time. Runs alternate metainit / tini.
 * metainit's `manager.reaped` counter must have grown by N per burst (checked over the API).
 * Goal: metainit's throughput ≥ 0.9 × tini's (median of RUNS bursts each).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf } from './hostproc.js';
import { metainitCmd, nsCommandLine, startMetainit, startNamespace, type Namespace } from './namespace.js';
import type { Bench, Outcome } from './report.js';
import { compileHelper, fmt, fmtRatio, median, nowMs, quantile, sleep, sleepSync, table, tempDir, writeNativeConfig } from './util.js';

const ORPHANS = 2000;
const RUNS = 9;
/** time from starting the orphan maker to the deadline: forking 2000 takes ~0.1–0.25 s here */
const LEAD_MS = 1000;
const POLL_MS = 1;
const GOAL_RATIO = 0.9;
const TINI = ['tini', '-s', '--', 'sleep', '1000'];

interface Burst {
  /** deadline → last orphan reaped, ms */
  ms: number;
  forked: string;
}

/** One burst of ORPHANS orphans in `ns`; the children PID 1 has besides them are `baseline`. */
async function burst(ns: Namespace, maker: string): Promise<Burst> {
  const baseline = new Set(childrenOf(ns.pid1));
  const deadline = nowMs() + LEAD_MS;
  const deadlineNs = BigInt(Math.round(deadline * 1e6));
  const r = spawnSync('nsenter', ['--target', String(ns.pid1), '--pid', '--', maker, String(ORPHANS), String(deadlineNs)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`orphans: unable to make ${ORPHANS} orphans before the deadline: exit ${r.status ?? r.signal}: ${r.stdout}${r.stderr}`);
  while (nowMs() < deadline - 50) await sleep(10);
  const orphans = childrenOf(ns.pid1).filter((p) => !baseline.has(p));
  if (orphans.length !== ORPHANS) throw new Error(`orphans: unable to count the orphans of pid ${ns.pid1}: ${orphans.length} instead of ${ORPHANS}`);
  // synchronous from here: nothing else of ours runs while the burst is reaped
  let i = 0;
  const giveUp = deadline + 60_000;
  for (;;) {
    const t = nowMs();
    while (i < orphans.length && !existsSync(`/proc/${orphans[i]}`)) i++;
    if (i === orphans.length) return { ms: t - deadline, forked: r.stdout.trim() };
    if (t > giveUp) throw new Error(`orphans: unable to see every orphan reaped: ${orphans.length - i} left after 60 s`);
    sleepSync(POLL_MS);
  }
}

async function benchReap(): Promise<Outcome> {
  const { dir, remove } = tempDir('reap');
  try {
    const maker = compileHelper('orphans', dir);
    const cfg = writeNativeConfig(join(dir, 'cfg'), { idle: { exec: 'sleep infinity' } });
    const mi = await startMetainit(cfg, dir);
    const tini = await startNamespace(TINI, join(dir, 'tini.log'));
    const runs: { mi: Burst[]; tini: Burst[]; counted: number[] } = { mi: [], tini: [], counted: [] };
    try {
      const c = await mi.client();
      const reaped = async (): Promise<number> => (await c.call('status', {})).manager.reaped;
      for (let k = 0; k < RUNS; k++) {
        const before = await reaped();
        runs.mi.push(await burst(mi, maker));
        runs.counted.push((await reaped()) - before);
        await sleep(300);
        runs.tini.push(await burst(tini, maker));
        await sleep(300);
      }
      c.close();
    } finally {
      await mi.kill();
      await tini.kill();
    }
    const rate = (b: Burst): number => ORPHANS / (b.ms / 1000);
    const miRate = median(runs.mi.map(rate));
    const tiniRate = median(runs.tini.map(rate));
    const ratio = miRate / tiniRate;
    // bursts alternate, so burst k of each init ran under about the same outside load
    const pairs = runs.mi.map((b, k) => runs.tini[k]!.ms / b.ms);
    const [lo, hi] = [quantile(pairs, 0.25), quantile(pairs, 0.75)];
    const straddles = lo < GOAL_RATIO && hi >= GOAL_RATIO;
    const rows = [...runs.mi.map((b, k) => ['metainit', k + 1, fmt(b.ms), fmt(rate(b) / 1000, 2), `${runs.counted[k]}`, b.forked]), ...runs.tini.map((b, k) => ['tini', k + 1, fmt(b.ms), fmt(rate(b) / 1000, 2), '–', b.forked])];
    const allCounted = runs.counted.every((n) => n === ORPHANS);
    return {
      measured: `${fmtRatio(ratio, GOAL_RATIO)}× (${fmt(miRate / 1000, 2)} vs ${fmt(tiniRate / 1000, 2)} k/s)`,
      verdict: ratio >= GOAL_RATIO && allCounted ? 'met' : 'not met',
      ...(straddles ? { verdictNote: `borderline: the middle half of the paired bursts' ratios is ${fmt(lo, 2)}–${fmt(hi, 2)}×` } : {}),
      why:
        `medians of ${RUNS} bursts each: metainit reaps ${ORPHANS} simultaneous orphans in ${fmt(median(runs.mi.map((b) => b.ms)))} ms, tini in ${fmt(median(runs.tini.map((b) => b.ms)))} ms; burst by burst, tini's time over metainit's ranges ${fmt(Math.min(...pairs), 2)}–${fmt(Math.max(...pairs), 2)}× (middle half ${fmt(lo, 2)}–${fmt(hi, 2)}×). ` +
        `Both times include the kernel waking ${ORPHANS} sleepers and tearing them down, which either init can only wait for; ` +
        (allCounted ? `metainit's \`reaped\` counter grew by exactly ${ORPHANS} each time.` : `metainit's \`reaped\` counter grew by ${runs.counted.join(', ')} — not ${ORPHANS} each time.`),
      method: `helpers/orphans.c (gcc -O2) forks ${ORPHANS} children that sleep until a common CLOCK_MONOTONIC deadline ${LEAD_MS} ms ahead and exits; it is started inside the namespace with \`nsenter --pid\`, so the children become orphans of PID 1. From the host: the orphans' pids are read from /proc/PID1/task/*/children just before the deadline, then /proc/PID is polled every ${POLL_MS} ms until every one is gone (reaped). Same method for both inits; metainit with one idle service, tini with its \`sleep\` child. ${RUNS} bursts each, alternating.`,
      details: table(['PID 1', 'burst', 'deadline → all reaped ms', 'k orphans/s', 'metainit `reaped` +', 'orphan maker'], rows),
      commands: [nsCommandLine(metainitCmd('CFG', 'SOCK')), nsCommandLine(TINI), `gcc -O2 -o orphans bench/helpers/orphans.c`, `nsenter --target <host pid of PID 1> --pid -- ./orphans ${ORPHANS} <deadline ns, CLOCK_MONOTONIC>`],
    };
  } finally {
    remove();
  }
}

export const reapBench: Bench = { key: 'reap', title: `Orphan reap throughput, ${ORPHANS} at once`, goal: `≥ ${GOAL_RATIO}× tini`, run: benchReap };
