/**
 * signals.ts — what each signal means to PID 1, per mode, and the wiring that listens for them.
 *
 * The table honours the conventions users already type:
 *   machine mode:   systemd  SIGRTMIN+3 halt, +4 poweroff, +5 reboot; SIGINT (ctrl-alt-del) reboot
 *                   busybox  SIGUSR1 halt, SIGUSR2 poweroff, SIGTERM reboot
 *                   SIGPWR (power failure) poweroff; SIGHUP re-read configuration (sync)
 *   container mode: SIGTERM, SIGINT, SIGRTMIN+3, SIGRTMIN+4 stop everything and exit (exit code
 *                   of the `main` service if one is configured); SIGRTMIN+5 / SIGUSR1 / SIGUSR2 as
 *                   in machine mode but ending only this namespace; SIGHUP sync.
 *   supervisor:     as container.
 *   with a main service (container and supervisor mode, `metainit -- CMD` or `main:`), as tini
 *                   does: every signal a user can send is forwarded to main (to its process group
 *                   with `group`), except the stop signals (default SIGTERM, SIGINT), which stop
 *                   the container. SIGTTIN/SIGTTOU are ignored: PID 1 is not the terminal's
 *                   foreground once main is. Not forwarded: KILL/STOP (cannot be caught), the
 *                   faults (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS), CHLD and PIPE (PID 1's own).
 * SIGUSR1 always has a listener: without one Node would start its inspector.
 * Real-time signals go through the addon (libuv signal watchers): Node's process.on never fires
 * for them.
 */
import { constants as osConstants } from 'node:os';
import type { Mode } from '../base/mode.js';
import { signalName, SIGRTMAX } from '../base/signames.js';
import type { Sys } from '../base/sys.js';

export type SignalAction = 'halt' | 'poweroff' | 'reboot' | 'exit' | 'sync';

/** signal spec → action; RT signals written as RTMIN+n */
export function signalTable(mode: Mode): Record<string, SignalAction> {
  const common: Record<string, SignalAction> = {
    SIGUSR1: 'halt',
    SIGUSR2: 'poweroff',
    SIGPWR: 'poweroff',
    SIGHUP: 'sync',
    'RTMIN+3': 'halt',
    'RTMIN+4': 'poweroff',
    'RTMIN+5': 'reboot',
  };
  if (mode === 'machine') return { ...common, SIGTERM: 'reboot', SIGINT: 'reboot' };
  return { ...common, SIGTERM: 'exit', SIGINT: 'exit', 'RTMIN+3': 'exit', 'RTMIN+4': 'exit' };
}

/** the standard signals a main service is sent when PID 1 gets them (plus every real-time one) */
export const FORWARDED = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT', 'SIGCONT', 'SIGTSTP',
  'SIGURG', 'SIGXCPU', 'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR',
] as const;

/** With a main service: which signals stop the container, and where the others go. */
export interface MainSignals {
  /** canonical names (SIGTERM, SIGRTMIN+3) */
  stop: readonly string[];
  forward(signal: string): void;
}

/** The table of a container with a main service: stop signals → exit, the rest → forward. */
function listenMain(sys: Sys, main: MainSignals, onAction: (action: SignalAction, signal: string) => void): () => void {
  const stops: Array<() => void> = [];
  const route = (sig: string): void => (main.stop.includes(sig) ? onAction('exit', sig) : main.forward(sig));
  for (const sig of FORWARDED) {
    const handler = (): void => route(sig);
    process.on(sig, handler);
    stops.push(() => process.off(sig, handler));
  }
  for (let n = sys.SIGRTMIN; n <= SIGRTMAX; n++) {
    const name = signalName(n, sys.SIGRTMIN);
    stops.push(sys.signal(n, () => route(name)));
  }
  for (const sig of ['SIGTTIN', 'SIGTTOU'] as const) sys.ignoreSignal(osConstants.signals[sig]);
  return () => stops.forEach((s) => s());
}

/**
 * Install listeners for every signal of the table (or, with `main` outside machine mode, the
 * forwarding table); returns a function removing them.
 */
export function listenSignals(mode: Mode, sys: Sys, onAction: (action: SignalAction, signal: string) => void, main?: MainSignals): () => void {
  if (main && mode !== 'machine') return listenMain(sys, main, onAction);
  const stops: Array<() => void> = [];
  for (const [sig, action] of Object.entries(signalTable(mode))) {
    if (sig.startsWith('RTMIN+')) {
      const n = sys.SIGRTMIN + Number(sig.slice(6));
      stops.push(sys.signal(n, () => onAction(action, `SIGRTMIN+${sig.slice(6)}`)));
    } else {
      const handler = (): void => onAction(action, sig);
      process.on(sig as NodeJS.Signals, handler);
      stops.push(() => process.off(sig as NodeJS.Signals, handler));
    }
  }
  // Signals with no action still need a listener so that they are ignored, not fatal.
  for (const sig of ['SIGQUIT', 'SIGWINCH', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU'] as NodeJS.Signals[]) {
    const noop = (): void => {};
    process.on(sig, noop);
    stops.push(() => process.off(sig, noop));
  }
  return () => stops.forEach((s) => s());
}
