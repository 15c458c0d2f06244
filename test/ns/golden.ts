/**
 * golden.ts — golden files, after dinit's igr-tests: a case folder keeps the output a user sees
 * (expected-status.txt, expected-check.txt, …) and a test compares the real output with it.
 *
 * Output is masked first, so that only what must not change is compared:
 *   - the case directory → <CASE>, the repository → <REPO>, harness scratch dirs → <SCRATCH>
 *   - ISO timestamps → <TIME>; the status header's "up 8s" → "up <T>"
 *   - in the `metainit status` table: PID → <PID>, SINCE → <T>, and cells a test names as
 *     legitimately varying (opts.vary, e.g. RESTARTS of a crashing service) → <VARIES>; the
 *     table is then re-aligned, so a 3-digit pid and a 5-digit one give the same text
 *   - "N orphan(s) reaped" → <N> when opts.reaped says the count depends on timing
 *
 * On a mismatch the test fails with a unified-style diff naming the expected file.
 * To accept new output, rerun the tests with METAINIT_UPDATE_GOLDEN=1: every compared file is
 * rewritten (or created) in the source tree instead of compared — then read the diff in git.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** the repository (this file runs as dist/test/ns/golden.js) */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const UPDATE = process.env.METAINIT_UPDATE_GOLDEN === '1';

export interface GoldenOptions {
  /** status-table cells that legitimately vary: service id → column names (e.g. ['RESTARTS']) */
  vary?: Record<string, string[]>;
  /** mask the orphan count of the status header (it depends on timing in this case) */
  reaped?: boolean;
}

/** What a CLI run showed: stdout, stderr (when any) and the exit code, as one text. */
export function cliText(r: { code: number; stdout: string; stderr: string }): string {
  const err = r.stderr.trim() ? `--- stderr ---\n${r.stderr.trimEnd()}\n` : '';
  return `${r.stdout.trimEnd()}\n${err}[exit ${r.code}]\n`;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const HEADER = /^SERVICE +STATE +PID +SINCE +RESTARTS +REASON$/;
const ROW = /^(\S+) +(\S+) +(\S+) +(\S+) +(\S+)(?: +(.*))?$/;
const COLUMNS = ['SERVICE', 'STATE', 'PID', 'SINCE', 'RESTARTS', 'REASON'];

/** Aligned columns, two spaces apart, as src/cli/format.ts prints them. */
function align(rows: string[][]): string[] {
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Mask the status tables of `lines` in place. */
function maskTables(lines: string[], opts: GoldenOptions): void {
  for (let h = 0; h < lines.length; h++) {
    if (!HEADER.test(lines[h]!)) continue;
    const rows: string[][] = [COLUMNS];
    let end = h + 1;
    for (let m: RegExpExecArray | null; end < lines.length && (m = ROW.exec(lines[end]!)); end++) {
      const cells = [m[1]!, m[2]!, /^\d+$/.test(m[3]!) ? '<PID>' : m[3]!, '<T>', m[5]!, m[6] ?? ''];
      for (const col of opts.vary?.[cells[0]!] ?? []) cells[COLUMNS.indexOf(col)] = '<VARIES>';
      rows.push(cells);
    }
    lines.splice(h, end - h, ...align(rows));
    h += rows.length - 1;
  }
}

/** The output as the golden file holds it. */
export function mask(text: string, caseDir: string, opts: GoldenOptions = {}): string {
  let t = text.replace(new RegExp(escape(resolve(caseDir)), 'g'), '<CASE>');
  t = t.replace(new RegExp(escape(REPO), 'g'), '<REPO>');
  t = t.replace(new RegExp(`${escape(tmpdir())}/metainit-[\\w.-]+`, 'g'), '<SCRATCH>');
  t = t.replace(/\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<TIME>');
  t = t.replace(/^(metainit pid \d+, \S+ mode), up \d+s, (\d+) orphan/m, (_, head: string, n: string) => `${head}, up <T>, ${opts.reaped ? '<N>' : n} orphan`);
  const lines = t.split('\n');
  maskTables(lines, opts);
  return lines.join('\n');
}

/** A small unified-style diff (longest common subsequence of lines). */
function diff(a: string[], b: string[]): string[] {
  const lcs = a.map(() => new Array<number>(b.length + 1).fill(0));
  lcs.push(new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) out.push(` ${a[i++]}`), j++;
    else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`-${a[i++]}`);
    else out.push(`+${b[j++]}`);
  }
  return out;
}

/**
 * Compare `actual` (masked) with `caseDir`/expected-`name`.txt (`name` with an extension, e.g.
 * "roles.json", names the file as is); with METAINIT_UPDATE_GOLDEN=1, write it instead.
 */
export function expectGolden(caseDir: string, name: string, actual: string, opts: GoldenOptions = {}): void {
  const file = join(caseDir, `expected-${name.includes('.') ? name : `${name}.txt`}`);
  const shown = relative(REPO, file);
  const got = mask(actual, caseDir, opts);
  if (UPDATE) {
    writeFileSync(file, got);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden: unable to compare with ${shown}: no such file (fix: rerun with METAINIT_UPDATE_GOLDEN=1 to create it, then read it)`);
  const want = readFileSync(file, 'utf8');
  if (want === got) return;
  const lines = diff(want.replace(/\n$/, '').split('\n'), got.replace(/\n$/, '').split('\n'));
  throw new Error(
    `golden: unable to match ${shown}: the output differs (fix: if the new output is right, rerun with METAINIT_UPDATE_GOLDEN=1 and review the rewritten file)\n` +
      `--- ${shown} (expected)\n+++ actual (masked)\n${lines.join('\n')}`,
  );
}
