/**
 * run.ts — the benchmark runner (`npm run bench` = build, then `node dist/bench/run.js`).
 *
 * Runs every benchmark once, one after the other (each boots and kills its own PID namespaces),
 * prints each headline as it comes, and rewrites the results section of docs/benchmarks.md with
 * the numbers, the verdicts, the exact commands and the machine facts. A benchmark that throws is
 * reported as "no result" with its error; the others still run.
 *
 *   node dist/bench/run.js [--only rss,status-cli,api,reap,respawn,oneshots,scale,logflood] [--no-write]
 *
 * Needs root (unshare, nsenter), tini, hyperfine and gcc; says which is missing.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { apiBench } from './api-latency.js';
import { oneshotsBench } from './oneshots.js';
import { reapBench } from './reap.js';
import { failedResult, machineFacts, render, writeResults, type Bench, type BenchResult } from './report.js';
import { respawnBench } from './respawn.js';
import { logfloodBench } from './logflood.js';
import { rssBench } from './rss.js';
import { scaleBench } from './scale.js';
import { statusCliBench } from './status-cli.js';
import { ROOT } from './util.js';

/** In this order: the memory reading first, on a machine nothing else of ours has touched yet. */
const BENCHES: Bench[] = [rssBench, statusCliBench, apiBench, reapBench, respawnBench, oneshotsBench, scaleBench, logfloodBench];

function missingTools(): string[] {
  const missing: string[] = [];
  for (const tool of ['unshare', 'nsenter', 'tini', 'hyperfine', 'gcc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const onlyArg = args.indexOf('--only');
  const only = onlyArg >= 0 ? (args[onlyArg + 1] ?? '').split(',') : undefined;
  const write = !args.includes('--no-write');
  const unknown = only?.filter((k) => !BENCHES.some((b) => b.key === k)) ?? [];
  if (unknown.length) {
    console.error(`bench: unable to run ${unknown.join(', ')}: no such benchmark (fix: one of ${BENCHES.map((b) => b.key).join(', ')})`);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('bench: unable to start: needs root for unshare --pid and nsenter (fix: run as root)');
    return 2;
  }
  const missing = missingTools();
  if (missing.length) {
    console.error(`bench: unable to start: ${missing.join(', ')} not found (fix: apt-get install -y tini hyperfine gcc util-linux)`);
    return 2;
  }

  const started = new Date();
  const loadAtStart = loadavg();
  const results: BenchResult[] = [];
  for (const b of BENCHES.filter((x) => !only || only.includes(x.key))) {
    const t0 = Date.now();
    process.stderr.write(`bench: ${b.title} … `);
    let r: BenchResult;
    try {
      r = { key: b.key, title: b.title, goal: b.goal, ...(await b.run()) };
    } catch (e) {
      r = failedResult(b, e);
    }
    results.push(r);
    process.stderr.write(`${r.measured} (goal ${r.goal}): ${r.verdict} [${((Date.now() - t0) / 1000).toFixed(1)} s]\n`);
    if (r.verdict === 'no result') process.stderr.write(`${r.details.join('\n')}\n`);
  }
  const seconds = (Date.now() - started.getTime()) / 1000;
  const section = render(results, machineFacts(ROOT, started, seconds, loadAtStart), `node dist/bench/run.js${args.length ? ' ' + args.join(' ') : ''}`);
  if (write) {
    const file = join(ROOT, 'docs', 'benchmarks.md');
    writeResults(file, section);
    process.stderr.write(`bench: results written to ${file} (${seconds.toFixed(0)} s)\n`);
  } else {
    process.stdout.write(section + '\n');
  }
  return results.some((r) => r.verdict === 'no result') ? 1 : 0;
}

process.exitCode = await main();
