/**
 * report.ts — what a multi-init measurement returns, and the section of docs/benchmarks.md it
 * lands in.
 *
 * Model. Issue 3 sets no numeric goals for these measurements, so a result carries a *verdict*
 * in words (decided by the measurement from its own numbers: what is fast, what is slow and
 * whose doing it is) rather than met / not met. run.ts collects the results; render() turns
 * them, with the machine facts of ../report.ts, into the markdown between the lines
 * `<!-- multi-init:begin -->` and `<!-- multi-init:end -->`; writeSection() replaces exactly that
 * part of the file (appending it at the end the first time) and leaves everything else — the
 * issue 2 results and the prose around them — as it is.
 */
import { anchor, writeBetween } from '../report.js';
import { shown, table } from '../util.js';

export interface MultiResult {
  key: string;
  title: string;
  /** the headline, e.g. "median 2.41 s" */
  measured: string;
  /** one short phrase for the summary table */
  verdict: string;
  /** sentences: the verdict, with the numbers that decide it and where the time goes */
  why: string[];
  method: string;
  /** markdown lines: tables and notes */
  details: string[];
  /** the exact commands (placeholders: SOCK, P = host pid of PID 1, ROOT = /run/test/root) */
  commands: string[];
}

export const BEGIN = '<!-- multi-init:begin -->';
export const END = '<!-- multi-init:end -->';

/** A measurement that threw: reported, not hidden. */
export function failed(key: string, title: string, e: unknown): MultiResult {
  const err = e as Error;
  return { key, title, measured: '–', verdict: 'no result', why: [`The measurement failed: ${err.message.split('\n')[0]}`], method: '', details: ['```', String(err.stack ?? e), '```'], commands: [] };
}

export function render(results: MultiResult[], facts: string[], command: string, intro: string[], notes: string[]): string {
  const out: string[] = [BEGIN, '', '## Several inits at once (issue 3)', '', ...intro, '', `Produced by \`${command}\` on:`, '', ...facts, ''];
  out.push(...table(['#', 'measurement', 'measured', 'verdict'], results.map((r, i) => [`M${i + 1}`, `[${r.title}](#m${i + 1}-${anchor(r.title)})`, r.measured, r.verdict])), '');
  results.forEach((r, i) => {
    out.push(`### M${i + 1}. ${r.title}`, '', `**${r.verdict}** (measured ${r.measured}). ${r.why.join(' ')}`, '');
    if (r.method) out.push(`*Method.* ${r.method}`, '');
    if (r.details.length) out.push(...r.details, '');
    if (r.commands.length) out.push('Commands (from the repository root):', '', '```sh', ...r.commands.map(shown), '```', '');
  });
  if (notes.length) out.push(...notes, '');
  out.push(END);
  return out.join('\n');
}


/** Replace the multi-init section of `file`, or append it at the end when the markers are missing. */
export function writeSection(file: string, section: string): void {
  writeBetween(file, section, BEGIN, END);
}
