/**
 * logflood.ts — benchmark 8 (issue 9): service output through metainit's logger process to a rotated log file,
 * against runit's svlogd and s6's s6-log fed the same stream, and PID 1 under a 50 MB/s flood.
 *
 *   throughput   LINES lines of 100 bytes (`yes` of 99 zeros, cut by `head`) then one END line,
 *                each logger rotating at 1 MiB and keeping 3 files, with a timestamp per line,
 *                on a tmpfs: metainit (a native oneshot; from its "starting" line on PID 1's
 *                console to END in the log file, polled every 20 ms) vs `svlogd -tt` and
 *                `s6-log T` from the test bed's root (the pipeline's wall time, in a private
 *                mount namespace with a tmpfs over the root's /run). Goal: metainit ≥ 1× the
 *                faster of the two.
 *   flood        a native service writing 512 KiB every 10 ms (≈ 50 MB/s) for FLOOD_MS: PID 1's
 *                RSS growth (VmRSS sampled every 250 ms; goal ≤ 8 MiB), the logger process's peak
 *                RSS, and `status` latency over the API during it (a request every 50 ms; goal
 *                p99 ≤ 50 ms).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { childrenOf, memInfo } from './hostproc.js';
import { metainitCmd, nsCommandLine, startMetainit } from './namespace.js';
import type { Bench, Outcome } from './report.js';
import { fmt, nowMs, quantile, sleep, table, tempDir, waitFor, writeNativeConfig } from './util.js';

const LINES = 1_000_000;
const FLOOD_MS = 15_000;
const TESTBED = process.env.METAINIT_TESTBED ?? '/var/cache/metainit-testbed/rootfs';
const PRODUCER = `yes "$(printf '%099d' 0)" | head -n ${LINES}; echo END`;

/** the last bytes of a file ('' when it is not there — also for the moment a rotation renamed it away) */
function tailOf(file: string, n = 200): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(file).size;
    const buf = Buffer.alloc(Math.min(n, size));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

async function throughMetainit(dir: string): Promise<number> {
  const cfg = writeNativeConfig(join(dir, 'cfg-t'), { flood: { exec: PRODUCER, shell: true, oneshot: true, log: { max_size: '1M', keep: 3 } } });
  const ns = await startMetainit(cfg, dir);
  try {
    const file = `/proc/${ns.pid1}/root/run/metainit-bench/log/native/flood.log`;
    const end = await waitFor('END in the log file', () => (/ stdout END\n$/.test(tailOf(file)) ? Date.now() : undefined), 120_000, 20);
    const m = /^(\S+Z) metainit: native\/flood: starting$/m.exec(execFileSync('cat', [ns.consoleFile], { encoding: 'utf8' }));
    if (!m) throw new Error('bench logflood: unable to find "native/flood: starting" on the console');
    return end - Date.parse(m[1]!);
  } finally {
    await ns.kill();
  }
}

/** The same stream into a logger of the test bed's root, on a tmpfs; wall time of the pipeline in ms. */
function throughLogger(logger: string): number {
  const script = [
    'set -e',
    `mount -t tmpfs tmpfs "${TESTBED}/run"`,
    `exec chroot "${TESTBED}" /bin/sh -c 'mkdir -p /run/l && printf "s1048576\\nn3\\n" > /run/l/config && t0=$(date +%s%N) && (${PRODUCER.replace(/'/g, "'\\''")}) | ${logger} && echo $(( ($(date +%s%N) - t0) / 1000000 ))'`,
  ].join('\n');
  const out = execFileSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
  return Number(out.trim().split('\n').pop());
}

/** host pid of PID 1's logger process (comm metainit-logger), if it runs */
function loggerOf(pid1: number): number | undefined {
  return childrenOf(pid1).find((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'metainit-logger';
    } catch {
      return false;
    }
  });
}

async function flood(dir: string): Promise<{ growth: number; p99: number; p50: number; samples: number; loggerPeak: number }> {
  const writer = `const b = Buffer.alloc(512 * 1024, '0'.repeat(99) + '\\n'); setInterval(() => process.stdout.write(b), 10)`;
  const cfg = writeNativeConfig(join(dir, 'cfg-f'), { flood: { exec: [process.execPath, '-e', writer], log: { max_size: '4M', keep: 1 } } });
  const ns = await startMetainit(cfg, dir);
  try {
    const before = memInfo(ns.pid1).rssMiB;
    let peak = before;
    let loggerPeak = 0;
    const sample = (): void => {
      peak = Math.max(peak, memInfo(ns.pid1).rssMiB);
      const l = loggerOf(ns.pid1);
      if (l !== undefined) loggerPeak = Math.max(loggerPeak, memInfo(l).rssMiB);
    };
    const c = await ns.client();
    const lat: number[] = [];
    const until = Date.now() + FLOOD_MS;
    const sampler = setInterval(sample, 250);
    while (Date.now() < until) {
      const t0 = nowMs();
      await c.call('status', {});
      lat.push(nowMs() - t0);
      await sleep(50);
    }
    clearInterval(sampler);
    c.close();
    return { growth: peak - before, p99: quantile(lat, 0.99), p50: quantile(lat, 0.5), samples: lat.length, loggerPeak };
  } finally {
    await ns.kill();
  }
}

async function benchLogflood(): Promise<Outcome> {
  if (!existsSync(join(TESTBED, 'usr/bin/svlogd')) || !existsSync(join(TESTBED, 'usr/bin/s6-log'))) throw new Error(`bench logflood: unable to find svlogd and s6-log in the test bed ${TESTBED} (fix: test/testbed/build.sh rootfs)`);
  const { dir, remove } = tempDir('logflood');
  try {
    const mi = await throughMetainit(dir);
    const sv = throughLogger('svlogd -tt /run/l');
    const s6 = throughLogger('s6-log T n3 s1048576 /run/l');
    const f = await flood(dir);
    const mb = (LINES * 100) / 1e6;
    const rate = (ms: number): number => mb / (ms / 1000);
    const best = Math.max(rate(sv), rate(s6));
    const ratio = rate(mi) / best;
    const met = ratio >= 1 && f.growth <= 8 && f.p99 <= 50;
    return {
      measured: `${fmt(rate(mi))} MB/s (${fmt(ratio, 2)}× the faster of svlogd and s6-log); under 50 MB/s: RSS +${fmt(f.growth)} MiB, status p99 ${fmt(f.p99)} ms`,
      verdict: met ? 'met' : 'not met',
      why: `metainit files ${fmt(rate(mi))} MB/s of 100-byte lines, svlogd ${fmt(rate(sv))} MB/s, s6-log ${fmt(rate(s6))} MB/s: the bytes are moved by metainit's logger process (one buffer per read, a timestamp per line, no string per line), not by PID 1. Under a 50 MB/s flood PID 1 grows by ${fmt(f.growth)} MiB — it never reads a log pipe — and answers status in ${fmt(f.p50)} ms median, ${fmt(f.p99)} ms p99 (${f.samples} requests); the logger process peaks at ${fmt(f.loggerPeak)} MiB RSS (its 1 MiB file queue blocks the writer).`,
      method: `throughput: ${LINES} lines then END, rotation at 1 MiB keeping 3, timestamps, tmpfs; metainit from its "starting" line to END in the file, svlogd/s6-log the pipeline's wall time. Flood: 512 KiB every 10 ms for ${FLOOD_MS / 1000} s, RSS every 250 ms, a status request every 50 ms.`,
      details: table(['logger', 'MB/s', 'ms'], [['metainit (native service, log: file)', fmt(rate(mi)), fmt(mi, 0)], ['svlogd -tt', fmt(rate(sv)), fmt(sv, 0)], ['s6-log T', fmt(rate(s6)), fmt(s6, 0)]]),
      commands: [`# producer: ${PRODUCER}`, nsCommandLine(metainitCmd('CFG', 'SOCK')), `unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs ${TESTBED}/run; chroot ${TESTBED} sh -c "PRODUCER | svlogd -tt /run/l"'`, `… | s6-log T n3 s1048576 /run/l`],
    };
  } finally {
    remove();
  }
}

export const logfloodBench: Bench = { key: 'logflood', title: 'service output to a rotated file: throughput, RSS and status under a flood', goal: '≥ 1× svlogd/s6-log; +8 MiB; p99 ≤ 50 ms', run: benchLogflood };
