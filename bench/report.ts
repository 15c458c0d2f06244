/**
 * report.ts — what a benchmark returns, and how the results land in docs/benchmarks.md.
 *
 * Model. Every benchmark is a function returning one BenchResult: a headline number, the goal it
 * is judged against and the verdict (decided by the benchmark from its own numbers), why, how it
 * was measured, a detail table and the exact commands it ran. run.ts collects them; render()
 * turns them, with the machine facts, into the markdown between the two RESULTS markers of
 * docs/benchmarks.md. Everything outside the markers (the prose intro) is left as written.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { shown, table } from './util.js';

export type Verdict = 'met' | 'not met' | 'no result';

/** A benchmark: what it measures and against which goal, and the function measuring it. */
export interface Bench {
  /** short name for --only */
  key: string;
  title: string;
  /** the goal as written in the plan, e.g. "≤ 45 MB" */
  goal: string;
  run(): Promise<Outcome>;
}

/** What one benchmark run found. */
export interface Outcome {
  /** the headline, e.g. "43.1 MiB" */
  measured: string;
  verdict: Verdict;
  /** qualifies the verdict in the summary, e.g. "met from the first spawn" */
  verdictNote?: string;
  /** one or two sentences: why the verdict, in numbers */
  why: string;
  /** how it was measured */
  method: string;
  /** markdown lines: tables and notes */
  details: string[];
  /** the exact commands run (besides the node API client) */
  commands: string[];
}

export type BenchResult = Omit<Bench, 'run'> & Outcome;

/** A benchmark that threw: reported, not hidden. */
export function failedResult(b: Bench, e: unknown): BenchResult {
  return { key: b.key, title: b.title, goal: b.goal, measured: '–', verdict: 'no result', why: `the benchmark failed: ${(e as Error).message.split('\n')[0]}`, method: '', details: ['```', String((e as Error).stack ?? e), '```'], commands: [] };
}

export const BEGIN = '<!-- RESULTS:BEGIN (written by `npm run bench`: bench/run.ts; edits here are overwritten) -->';
export const END = '<!-- RESULTS:END -->';

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '?';
  }
}

/** Facts about the machine and the tree the numbers came from. */
export function machineFacts(root: string, startedAt: Date, seconds: number, loadAtStart: number[]): string[] {
  const commit = sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  const changed = sh('git', ['-C', root, 'status', '--porcelain']).split('\n').filter(Boolean).length;
  const dirty = changed > 0 ? ` + ${changed} changed or untracked paths (git status)` : '';
  return [
    `- date: ${startedAt.toISOString()} (whole run: ${seconds.toFixed(0)} s)`,
    `- nproc: ${availableParallelism()} (${cpus()[0]?.model ?? '?'}), memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- kernel: ${release()}`,
    `- node: ${process.version}; ${sh('tini', ['--version'])}; ${sh('hyperfine', ['--version'])}; gcc ${sh('gcc', ['-dumpfullversion'])}`,
    `- tree: ${commit}${dirty}`,
    `- load average (1/5/15 min) at start ${loadAtStart.map((x) => x.toFixed(2)).join(' / ')}, at end ${loadavg().map((x) => x.toFixed(2)).join(' / ')} — other work on the machine shows up as noise, mostly in tails`,
    `- NODE_EXTRA_CA_CERTS unset for every timed process`,
  ];
}

export function render(results: BenchResult[], facts: string[], command: string): string {
  const out: string[] = [BEGIN, '', '## Results', '', `Produced by \`${command}\` on:`, '', ...facts, ''];
  out.push(
    ...table(
      ['#', 'benchmark', 'goal', 'measured', 'verdict'],
      results.map((r, i) => [i + 1, `[${r.title}](#${i + 1}-${anchor(r.title)})`, r.goal, r.measured, `**${r.verdict}**${r.verdictNote ? ` (${r.verdictNote})` : ''}`]),
    ),
    '',
  );
  results.forEach((r, i) => {
    out.push(`### ${i + 1}. ${r.title}`, '', `**${r.verdict}** (goal ${r.goal}, measured ${r.measured}): ${r.why}`, '');
    if (r.method) out.push(`*Method.* ${r.method}`, '');
    if (r.details.length) out.push(...r.details, '');
    if (r.commands.length) out.push('Commands (from the repository root; CFG, SOCK: the generated config directory and socket):', '', '```sh', ...r.commands.map(shown), '```', '');
  });
  out.push(END);
  return out.join('\n');
}

export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .trim()
    .replace(/ /g, '-');
}

/** Replace the part of `file` between the markers `begin` and `end` (appended if they are missing). */
export function writeBetween(file: string, section: string, begin = BEGIN, end = END): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  const next = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length) : text.trimEnd() + '\n\n' + section + '\n';
  writeFileSync(file, next);
}

/** Replace the results section of `file` (appended if the markers are missing). */
export function writeResults(file: string, section: string): void {
  writeBetween(file, section);
}
