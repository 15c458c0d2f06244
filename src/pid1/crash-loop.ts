/**
 * crash-loop.ts — when re-executed images keep dying, PID 1 stops spinning (depinit's
 * /etc/depinit/exec idea).
 *
 * A fatal signal re-executes metainit in place (survive.ts). If the new image dies the same way
 * again and again — a corrupt install, a bad upgrade — that is a loop that never serves anyone.
 * Each image therefore carries the times of the crashes before it in its environment
 * (METAINIT_CRASHES, milliseconds since the epoch, comma-separated), and knows whether it was
 * started by a crash (METAINIT_REEXEC=crash, what the armed crash image gets) or on purpose
 * (`metainit reexec`: METAINIT_REEXEC=request, which adds no crash). Once `fallback.crashes`
 * crashes fall within `fallback.within`, boot hands PID 1 to the fallback instead:
 *
 *   fallback.exec set      that command, exec'd in place (PID 1 stays PID 1; the children stay)
 *   machine mode, unset    /bin/sh on /dev/console: an emergency shell for the administrator
 *   container mode, unset  exit 1: the runtime sees the container fail and may restart it
 */
import type { Sys } from '../base/sys.js';
import type { Logger } from '../base/types.js';
import type { GlobalConfig } from '../config/schema.js';

export const CRASHES_ENV = 'METAINIT_CRASHES';
export const REEXEC_ENV = 'METAINIT_REEXEC';

/** The crash times this image counts: those it inherited within `windowMs`, plus now if a crash started it. */
export function crashTimes(env: NodeJS.ProcessEnv, now: number, windowMs: number): number[] {
  const inherited = (env[CRASHES_ENV] ?? '')
    .split(',')
    .map(Number)
    .filter((t) => Number.isFinite(t) && t > 0 && now - t < windowMs);
  return env[REEXEC_ENV] === 'crash' ? [...inherited, now] : inherited;
}

/** Environment entries for the next image: `crash` for the armed crash exec, `request` for `metainit reexec`. */
export function crashEnv(times: readonly number[], kind: 'crash' | 'request'): string[] {
  return [`${CRASHES_ENV}=${times.join(',')}`, `${REEXEC_ENV}=${kind}`];
}

export type Fallback = { exec: string[] } | { exit: number };

/** What to do instead of booting, or undefined when the crashes are not (yet) a loop. */
export function fallbackFor(times: readonly number[], cfg: GlobalConfig['fallback'], machine: boolean): Fallback | undefined {
  if (times.length < cfg.crashes) return undefined;
  const exec = typeof cfg.exec === 'string' ? ['/bin/sh', '-c', cfg.exec] : cfg.exec;
  if (exec) return { exec };
  if (machine) return { exec: ['/bin/sh', '-c', 'exec /bin/sh -i </dev/console >/dev/console 2>&1'] };
  return { exit: 1 };
}

/**
 * Called first by boot(): in an image started by a crash, count the crashes; in a loop, say so
 * and become the fallback (never returns then). The configuration is read only here, and a
 * broken one means the defaults.
 */
export async function crashLoopGuard(configDir: string | undefined, machine: boolean, sys: Pick<Sys, 'execve'>, log: Logger): Promise<void> {
  if (process.env[REEXEC_ENV] !== 'crash') return;
  const { loadGlobal } = await import('../config/loader.js');
  const { GlobalConfig } = await import('../config/schema.js');
  const cfg = (configDir === undefined ? GlobalConfig.parse({}) : loadGlobal(configDir).config).fallback;
  const times = crashTimes(process.env, Date.now(), cfg.within);
  const action = fallbackFor(times, cfg, machine);
  if (!action) return;
  const why = `metainit: crashed ${times.length} times within ${cfg.within / 1000} s (fallback.crashes ${cfg.crashes}, fallback.within ${cfg.within / 1000} s); see the errors above`;
  if ('exit' in action) {
    log.error(`${why}: exiting with status ${action.exit} instead of crashing again (fix: set fallback.exec in metainit.yaml for a command to become PID 1)`);
    process.exit(action.exit);
  }
  log.error(`${why}: PID 1 becomes the fallback ${action.exec.join(' ')}`);
  const env = Object.entries(process.env)
    .filter(([k]) => k !== CRASHES_ENV && k !== REEXEC_ENV && k !== 'METAINIT_INJECT_FAULT')
    .map(([k, v]) => `${k}=${v ?? ''}`);
  try {
    sys.execve(action.exec[0]!, action.exec, env, []);
  } catch (e) {
    log.error(`metainit: unable to exec the fallback ${action.exec[0]}: ${(e as Error).message} (fix: fallback.exec in metainit.yaml); booting again instead`);
  }
}
