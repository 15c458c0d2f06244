/**
 * state-file.ts — what PID 1 keeps across a re-exec of itself (a crash, or `metainit reexec`):
 * when the machine started, how many orphans earlier images reaped, each adapter's snapshot of
 * the children it wants re-adopted, and the descriptors (log pipes) that must stay open.
 *
 * The file is `<run_dir>/state-<PID namespace inode>.json` (boot-env.ts). It is written atomically (temp file,
 * rename) a moment after service states change — at most once per 100 ms — and right before an
 * exec, and read once by the new image.
 */
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../base/types.js';

export interface SavedState {
  version: 1;
  startedAt: number;
  /** orphans reaped by earlier images of this PID 1 */
  reaped?: number;
  adapters: Record<string, unknown>;
  keepFds: number[];
}

export function readState(file: string, log: Logger): SavedState | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
    if (s.version !== 1) throw new Error(`version ${String(s.version)} is not supported`);
    return s;
  } catch (e) {
    log.error(`state: unable to re-adopt children from ${file}: ${(e as Error).message}`);
    return undefined;
  }
}

export function writeState(file: string, state: SavedState, log: Logger): boolean {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
    writeFileSync(file + '.tmp', JSON.stringify(state));
    renameSync(file + '.tmp', file);
    return true;
  } catch (e) {
    log.warn(`state: unable to write ${file}: ${(e as Error).message}`);
    return false;
  }
}

/** fds named anywhere in adapter snapshots under a key ending in "Fd"/"Fds" (log pipes) */
export function collectFds(snap: unknown): number[] {
  const out: number[] = [];
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'number' && /fds?$/i.test(key)) out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(snap, '');
  return out;
}

/** Calls `save` once, 100 ms after the first of a burst of `touch()` calls. */
export function debounced(save: () => void, ms = 100): { touch(): void } {
  let timer: NodeJS.Timeout | undefined;
  return {
    touch: () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        save();
      }, ms);
    },
  };
}
