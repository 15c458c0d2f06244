/**
 * run.ts — the multi-init benchmarks of issue 3 (`node dist/bench/multi/run.js`, after
 * `npx tsc -p .`), all in one run of about two minutes:
 *
 *   M1 boot-ready.ts    spawn → every wanted service of five inits ready (median of 3 boots)
 *   M2 status-vs-sv.ts  `metainit status` over ~100 services vs `sv status` over the runit ones
 *   M3 scanner-kill.ts  kill -9 runsvdir → its services running again (median of 3 kills)
 *
 * M2 and M3 share one boot of the hundred case (case.ts). The results replace the part of
 * docs/benchmarks.md between `<!-- multi-init:begin -->` and `<!-- multi-init:end -->`
 * (report.ts); the rest of that file belongs to bench/run.ts.
 *
 *   node dist/bench/multi/run.js [--only boot,status,kill] [--no-write]
 *
 * Needs root, unshare, nsenter, hyperfine and the test bed (METAINIT_TESTBED, default
 * /var/cache/metainit-testbed/rootfs); says which is missing. Every machine it boots is a PID
 * namespace that ends with the run.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { whyNot } from '../../test/ns/testbed-root.js';
import { machineFacts } from '../report.js';
import { ROOT, tempDir } from '../util.js';
import { bootReady } from './boot-ready.js';
import { bootCase, isUpReady, poll, services, writeHundredCase } from './case.js';
import { failed, render, writeSection, type MultiResult } from './report.js';
import { scannerKill } from './scanner-kill.js';
import { statusVsSv } from './status-vs-sv.js';

const BOOTS = 3;
const KILLS = 3;
const KEYS = ['boot', 'status', 'kill'];

const INTRO = [
  'metainit\'s reason to exist is running several inits side by side. These measurements boot it',
  'the way the ns tests do — PID 1 of a PID + mount namespace, the hosted inits in an overlay of the',
  'Debian test bed — and time what a user of several inits waits for: the boot of five of them, a',
  'status listing across a hundred services, and the recovery of runit after its runsvdir is',
  'killed. Code: `bench/multi/` (one file per measurement, `case.ts` for the machines they boot).',
  'Run with `npx tsc -p . && node dist/bench/multi/run.js` as root; about a minute.',
];

/** Measured by hand while writing these benchmarks: kept here because this section is generated. */
const NOTES = [
  '**Measured by hand (2026-11-22), not by the run above: the 1 s runsvdir sleep at boot is avoidable.**',
  'With one line added to a *copy* of `dist/src/adapters/scandir/adapter.js` — after `assembleScanDir()`,',
  'when no scanner runs yet, set the scan dir\'s mtime 2 s into the past (`utimesSync`) — runsvdir started',
  'its runsv processes at once, the adapter\'s read 150 ms after the scanner\'s start saw them running, and',
  'M1 fell from 2.51 s to **1.27 s** (median of 3; runit ready at 0.80 s, OpenRC then last at 1.25 s).',
  'Only the first start may be backdated safely: runsvdir rescans when the mtime *differs* from the one it',
  'saw, so a running runsvdir must keep seeing real mtimes.',
];

function missingTools(): string[] {
  return ['unshare', 'nsenter', 'hyperfine'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

async function attempt(key: string, title: string, fn: () => Promise<MultiResult>): Promise<MultiResult> {
  const t0 = Date.now();
  process.stderr.write(`bench multi: ${title} … `);
  let r: MultiResult;
  try {
    r = await fn();
  } catch (e) {
    r = failed(key, title, e);
  }
  process.stderr.write(`${r.measured}: ${r.verdict} [${((Date.now() - t0) / 1000).toFixed(1)} s]\n`);
  if (r.verdict === 'no result') process.stderr.write(`${r.details.join('\n')}\n`);
  return r;
}

/** M2 and M3 on one boot of the hundred case. */
async function hundred(only: (k: string) => boolean): Promise<MultiResult[]> {
  const { dir, remove } = tempDir('multi');
  const out: MultiResult[] = [];
  try {
    const names = writeHundredCase(join(dir, 'case'));
    const total = names.runit.length + names.s6.length + names.native.length;
    const b = await bootCase(join(dir, 'case'));
    try {
      await poll('the hundred services running', async () => ((await services(b.client)).filter(isUpReady).length === total ? true : undefined), 50, 90_000);
      if (only('status')) out.push(await attempt('status', `metainit status with ${total} services vs sv status`, () => statusVsSv(b, names.runit, total, dir)));
      if (only('kill')) out.push(await attempt('kill', `kill -9 runsvdir to its ${names.runit.length} services running again`, () => scannerKill(b, names.runit.length, KILLS)));
    } catch (e) {
      const failedOne = ['status', 'kill'].filter(only).find((k) => !out.some((r) => r.key === k));
      if (failedOne) out.push(failed(failedOne, 'the hundred case', e));
    } finally {
      await b.dispose();
    }
  } finally {
    remove();
  }
  return out;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const onlyArg = args.indexOf('--only');
  const onlyList = onlyArg >= 0 ? (args[onlyArg + 1] ?? '').split(',') : KEYS;
  const unknown = onlyList.filter((k) => !KEYS.includes(k));
  if (unknown.length) {
    console.error(`bench multi: unable to run ${unknown.join(', ')}: no such measurement (fix: one of ${KEYS.join(', ')})`);
    return 2;
  }
  const only = (k: string): boolean => onlyList.includes(k);
  const missing = missingTools();
  const why = whyNot() ?? (missing.length ? `${missing.join(', ')} not found (fix: apt-get install -y ${missing.includes('hyperfine') ? 'hyperfine ' : ''}util-linux)` : undefined);
  if (why) {
    console.error(`bench multi: unable to start: ${why}`);
    return 2;
  }
  const started = new Date();
  const load = loadavg();
  const results: MultiResult[] = [];
  if (only('boot')) results.push(await attempt('boot', 'Boot to all-ready, five inits', () => bootReady(BOOTS)));
  if (only('status') || only('kill')) results.push(...(await hundred(only)));
  const seconds = (Date.now() - started.getTime()) / 1000;
  const section = render(results, machineFacts(ROOT, started, seconds, load), `node dist/bench/multi/run.js${args.length ? ' ' + args.join(' ') : ''}`, INTRO, NOTES);
  if (args.includes('--no-write')) process.stdout.write(section + '\n');
  else {
    const file = join(ROOT, 'docs', 'benchmarks.md');
    writeSection(file, section);
    process.stderr.write(`bench multi: results written to ${file} (${seconds.toFixed(0)} s)\n`);
  }
  return results.some((r) => r.verdict === 'no result') ? 1 : 0;
}

process.exitCode = await main();
