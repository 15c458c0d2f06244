/**
 * timed-boot.ts — one qemu boot of the vm image whose console lines are time-stamped as they
 * appear, relative to the start of qemu.
 *
 * Model. test/testbed/boot.sh runs qemu with the serial console going to a file; this module
 * spawns it and reads the file every POLL_MS, stamping each new line with the time it was first
 * seen (so a stamp is late by at most POLL_MS plus the serial port's own delay — the same for
 * both inits measured). The image is booted in boot.sh's -snapshot mode: it is never written.
 * `at(re)` is the stamp of the first line matching re.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const POLL_MS = 50;

export interface TimedLine {
  /** ms after qemu was started */
  at: number;
  text: string;
}

export interface TimedBoot {
  /** boot.sh's exit status (0: the guest stopped by itself with the marker seen) and its summary line */
  code: number | null;
  summary: string;
  lines: TimedLine[];
  /** stamp (ms after qemu start) of the first line matching re */
  at(re: RegExp): number | undefined;
}

const ANSI = /\x1b\[[0-9;]*m/g;

export interface TimedBootOptions {
  bootSh: string;
  /** WORKDIR of boot.sh (the test bed's, with kernel/) */
  testbedDir: string;
  image: string;
  init: string;
  marker: string;
  cmdline: string[];
  timeoutS: number;
}

/** Boot once; resolves when qemu has stopped (the guest powered off, or boot.sh's timeout). */
export async function timedBoot(o: TimedBootOptions): Promise<TimedBoot> {
  const dir = mkdtempSync(join(tmpdir(), 'metainit-bench-vm-'));
  const log = join(dir, 'console.log');
  const t0 = Date.now();
  const child = spawn('bash', [o.bootSh, '-I', o.image, '-i', o.init, '-m', o.marker, '-t', String(o.timeoutS), '-l', log, '--', ...o.cmdline], {
    env: { ...process.env, WORKDIR: o.testbedDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', () => undefined);
  const lines: TimedLine[] = [];
  let partial = '';
  let offset = 0;
  const poll = (): void => {
    if (!existsSync(log)) return;
    const buf = readFileSync(log);
    if (buf.length <= offset) return;
    const now = Date.now() - t0;
    const chunk = partial + buf.subarray(offset).toString('utf8');
    offset = buf.length;
    const parts = chunk.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) lines.push({ at: now, text: p.replace(ANSI, '').replace(/\r/g, '') });
  };
  const timer = setInterval(poll, POLL_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearInterval(timer);
  poll();
  if (partial) lines.push({ at: Date.now() - t0, text: partial });
  rmSync(dir, { recursive: true, force: true });
  return {
    code,
    summary: stdout.trim().split('\n').pop() ?? '',
    lines,
    at: (re) => lines.find((l) => re.test(l.text))?.at,
  };
}
