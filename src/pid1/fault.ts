/**
 * fault.ts — the survival tests' hook: METAINIT_INJECT_FAULT=throw:MS | reject:MS | abort:MS |
 * exit:MS makes PID 1 fail on purpose MS ms after boot, so the ns tests can prove the survival
 * net. It is dropped from the environment of a re-exec (see `execEnv`), so an injected abort
 * happens once — unless it is a `loop-` one (loop-abort:MS …), which every image injects again:
 * a crash loop, for the fallback's test (crash-loop.ts).
 */
import type { Logger } from '../base/types.js';
import { CRASHES_ENV, REEXEC_ENV } from './crash-loop.js';

export function injectFault(spec: string | undefined, log: Logger): void {
  const m = /^(?:loop-)?(throw|reject|abort|exit):(\d+)$/.exec(spec ?? '');
  if (!m) return;
  log.warn(`test hook: injecting ${m[1]} in ${m[2]} ms`);
  setTimeout(() => {
    if (m[1] === 'throw') throw new Error('injected uncaught exception');
    if (m[1] === 'reject') void Promise.reject(new Error('injected unhandled rejection'));
    if (m[1] === 'exit') process.exit(3);
    if (m[1] === 'abort') process.abort();
  }, Number(m[2]));
}

/**
 * The environment a re-exec of PID 1 gets: this one, less the CA bundle node need not load, the
 * fault hook (a loop- one stays) and the crash history (crash-loop.ts adds the new one).
 */
export function execEnv(): string[] {
  return Object.entries(process.env)
    .filter(([k, v]) => k !== 'NODE_EXTRA_CA_CERTS' && (k !== 'METAINIT_INJECT_FAULT' || v?.startsWith('loop-')) && k !== CRASHES_ENV && k !== REEXEC_ENV)
    .map(([k, v]) => `${k}=${v ?? ''}`);
}
