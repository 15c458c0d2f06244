/**
 * signames.ts — Linux signal numbers ↔ names, real-time signals included.
 *
 * Node knows the classic signals (os.constants.signals) but not the real-time ones, which a
 * PID 1 must speak: systemd's SIGRTMIN+3/+4/+5, a service's `stop_signal: RTMIN+3`, a child
 * that died of signal 37. The model:
 *   - a classic number maps to its first name in Node's table (6 → SIGABRT, not SIGIOT);
 *   - a real-time number n maps to `SIGRTMIN+k` with k = n − SIGRTMIN (34 → `SIGRTMIN+0`
 *     is written `SIGRTMIN`); the `SIGRTMAX-k` spelling is accepted on input only;
 *   - names are accepted with or without the SIG prefix, in any case, and as plain numbers.
 * SIGRTMIN depends on the libc: 34 with glibc (the machine's node), 35 with musl. Pass the
 * addon's `sys.SIGRTMIN` as `rtmin` where it matters; the default is glibc's.
 */
import { constants } from 'node:os';

/** glibc's SIGRTMIN (two RT signals are reserved for NPTL) and the kernel's SIGRTMAX. */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

const byName = constants.signals as Record<string, number>;
const byNumber = new Map<number, string>();
for (const [name, n] of Object.entries(byName)) if (!byNumber.has(n)) byNumber.set(n, name);

/** `SIGTERM` for 15, `SIGRTMIN+3` for 37; `SIG<n>` for a number that is no signal. */
export function signalName(n: number, rtmin = SIGRTMIN): string {
  const classic = byNumber.get(n);
  if (classic) return classic;
  if (Number.isInteger(n) && n >= rtmin && n <= SIGRTMAX) return n === rtmin ? 'SIGRTMIN' : `SIGRTMIN+${n - rtmin}`;
  return `SIG${n}`;
}

/**
 * The number of a signal spelled `TERM`, `SIGTERM`, `sigterm`, `RTMIN+3`, `SIGRTMIN+3`,
 * `SIGRTMAX-2`, `RTMIN` or `15`; undefined when it names no signal.
 */
export function signalNumber(name: string, rtmin = SIGRTMIN): number | undefined {
  const s = name.trim().toUpperCase();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n >= 1 && n <= SIGRTMAX ? n : undefined;
  }
  const full = s.startsWith('SIG') ? s : `SIG${s}`;
  const classic = byName[full];
  if (classic !== undefined) return classic;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(full);
  if (!rt) return undefined;
  const [, base, sign, k] = rt;
  const offset = (sign === '-' ? -1 : 1) * Number(k ?? 0);
  const n = (base === 'MIN' ? rtmin : SIGRTMAX) + offset;
  return n >= rtmin && n <= SIGRTMAX ? n : undefined;
}

/** True for real-time signals, which Node's process.on cannot receive (use sys.signal). */
export function isRealtime(n: number, rtmin = SIGRTMIN): boolean {
  return Number.isInteger(n) && n >= rtmin && n <= SIGRTMAX;
}
