/**
 * log.ts — metainit's own log: one line per event, to the console, kept in a small ring.
 *
 * PID 1 writes to its stdout (the console the kernel or container runtime gave it, or
 * /dev/console opened by stage 1). Every line is `metainit: <text>` with a timestamp when the
 * output is not a terminal. Lines are also kept in memory (for `metainit logs metainit`) and
 * handed to listeners (the API's event stream) — never lost because nobody was listening.
 */
import { writeSync } from 'node:fs';
import type { Logger } from './types.js';

export type Level = 'info' | 'warning' | 'error';
type Listener = (level: Level, text: string, line: string) => void;

const RING = 500;

export class MetainitLog implements Logger {
  private readonly ring: string[] = [];
  private readonly listeners = new Set<Listener>();
  private fd = 1;
  private quiet = false;

  /** redirect output (stage 1 opens /dev/console when stdout is unusable) */
  setFd(fd: number): void {
    this.fd = fd;
  }

  /** write only warnings and errors (info lines stay in the ring: `metainit logs metainit`) */
  setQuiet(quiet: boolean): void {
    this.quiet = quiet;
  }

  info(text: string): void {
    this.write('info', text);
  }
  warn(text: string): void {
    this.write('warning', text);
  }
  error(text: string): void {
    this.write('error', text);
  }

  tail(n: number): string[] {
    return this.ring.slice(-n);
  }

  onLine(cb: Listener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private write(level: Level, text: string): void {
    const line = `${new Date().toISOString()} metainit: ${level === 'info' ? '' : level + ': '}${text}`;
    this.ring.push(line);
    if (this.ring.length > RING) this.ring.shift();
    try {
      if (!(this.quiet && level === 'info')) writeSync(this.fd, line + '\n');
    } catch {
      /* console gone: the ring and listeners still have the line */
    }
    for (const l of this.listeners) {
      try {
        l(level, text, line);
      } catch {
        /* a listener must never break logging */
      }
    }
  }
}

export const log = new MetainitLog();
