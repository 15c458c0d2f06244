/**
 * util.ts — small pieces every benchmark shares: paths, a clean environment, temporary
 * directories, native config directories, compiling the C helpers, and statistics.
 *
 * Model. A benchmark writes everything it needs into its own temporary directory under /tmp
 * (config, socket, console log, stamps, compiled helpers) and removes it when done. /tmp is shared
 * with the PID namespaces (they get a private *copy* of the mount table, not a new /tmp), so the
 * host side reads the socket and stamp files the namespace writes. Config files are written as
 * JSON, which is YAML.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/bench/util.js). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The CLI/init entry the benchmarks boot and time. */
export const RUN_JS = join(ROOT, 'bin', 'run.js');

/** A command line as shown in the report: paths inside the repository relative to it. */
export function shown(cmd: string): string {
  return cmd.split(ROOT + '/').join('./');
}

/** The environment every timed process gets: NODE_EXTRA_CA_CERTS costs ~55 ms per node start here. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** A fresh directory /tmp/metainit-bench-NAME.XXXXXX, and a function removing it. */
export function tempDir(name: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(`/tmp/metainit-bench-${name}.`);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Write a native config directory DIR/{metainit.yaml, services.d/NAME.yaml}: `services` maps each
 * service name to its definition. Logs go to a tmpfs inside the namespace.
 */
export function writeNativeConfig(dir: string, services: Record<string, Record<string, unknown>>): string {
  mkdirSync(join(dir, 'services.d'), { recursive: true });
  writeFileSync(join(dir, 'metainit.yaml'), JSON.stringify({ log_dir: '/run/metainit-bench/log', shutdown: { grace: '1s', timeout: '5s' } }) + '\n');
  for (const [name, def] of Object.entries(services)) writeFileSync(join(dir, 'services.d', `${name}.yaml`), JSON.stringify(def) + '\n');
  return dir;
}

/** A small realistic set: four long-running services (two chained by `after`) and a finished oneshot. */
export const FIVE_SERVICES: Record<string, Record<string, unknown>> = {
  web: { exec: 'sleep infinity' },
  db: { exec: 'sleep infinity' },
  cache: { exec: 'sleep infinity', after: ['db'] },
  worker: { exec: 'sleep infinity', after: ['cache'] },
  setup: { exec: 'true', oneshot: true },
};

/** Compile bench/helpers/NAME.c into DIR/NAME with gcc -O2; returns the binary's path. */
export function compileHelper(name: string, dir: string): string {
  const out = join(dir, name);
  execFileSync('gcc', ['-O2', '-Wall', '-o', out, join(ROOT, 'bench', 'helpers', `${name}.c`)], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Block the thread for `ms` (used inside tight synchronous polling loops). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Monotonic clock in ms (the same clock as CLOCK_MONOTONIC in the C helpers). */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Wait until `check()` returns a value other than undefined, polling every `everyMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`bench: unable to see ${what}: still not there after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

// ----------------------------------------------------------------------------- statistics

/** The q-quantile (0..1) of `xs` by the nearest-rank method. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** `12.3` with `digits` decimals (a dash for NaN). */
export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

/** A ratio with 2 decimals, or 3 when 2 would round it onto `goal` and hide which side it is on. */
export function fmtRatio(x: number, goal: number): string {
  const two = fmt(x, 2);
  return Number(two) === goal && x !== goal ? fmt(x, 3) : two;
}

/** Render a markdown table. */
export function table(head: string[], rows: Array<Array<string | number>>): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** one command's entry in hyperfine's --export-json output (seconds) */
export interface HyperfineRun {
  command: string;
  mean: number;
  stddev: number;
  median: number;
  min: number;
  max: number;
}
