/**
 * boot-env.ts — step 1 of the recipe (main.ts): what PID 1 sets up before any configuration is
 * read, in this order:
 *
 *   /proc      mounted first when PID 1 finds none (everything below reads it)
 *   mode       machine / container / supervisor (base/mode.ts)
 *   survival   uncaught errors logged, process.exit neutralised, fatal signals re-exec the image
 *              in place with the state file (survive.ts, state-file.ts)
 *   reaper     every orphan reaped, never a status Node or node-pty waits for (supervisor/reaper.ts)
 *   adopted    after a re-exec: the saved state (uptime, reaped count, children to re-adopt)
 *
 * The manager is attached once stage 2 creates it, so that a re-exec from then on saves its
 * snapshot.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { log } from '../base/log.js';
import type { EntrySpec } from '../config/entry.js';
import { detectMode, type Mode } from '../base/mode.js';
import { MS, realSys, type Sys } from '../base/sys.js';
import type { Manager } from '../manager/manager.js';
import { installReaper, type Reaper } from '../supervisor/reaper.js';
import { crashEnv, crashTimes } from './crash-loop.js';
import { execEnv, injectFault } from './fault.js';
import { collectFds, readState, writeState, type SavedState } from './state-file.js';
import { installSurvival, type Survival } from './survive.js';

export interface BootOptions {
  /** the configuration directory; none for `metainit -- CMD` alone */
  configDir: string | undefined;
  /** the main command of `metainit -- CMD` / `metainit run` */
  entry?: EntrySpec | undefined;
  socket?: string | undefined;
  container?: boolean | undefined;
  /** set by a re-exec: state file to re-adopt children from */
  reexecState?: string | undefined;
  /** the arguments `boot` was started with (re-used by a re-exec) */
  bootArgs: string[];
}

export interface BootEnv {
  sys: Sys;
  mode: Mode;
  survival: Survival;
  reaper: Reaper;
  /** the state saved by the image before this one, when this is a re-exec */
  adopted: SavedState | undefined;
  /** the machine's (or container's) start, not this image's */
  startedAt: number;
  /** orphans reaped by this image and every earlier one */
  reapedTotal(): number;
  version: string;
  attach(manager: Manager): void;
  saveState(): void;
}

/**
 * The state file of this metainit: `<run_dir>/state-<PID namespace inode>.json` once the
 * configuration is read (/run/metainit before), so that two metainits sharing a /run — one per
 * PID namespace — never read each other's children.
 */
/**
 * The open file limit PID 1 asks for (capped by fs.nr_open): room for ~16 000 native services.
 * Not more: children inherit it, and some programs still loop over every possible descriptor.
 */
const NOFILE_WANTED = 65_536;

/** crash times older than this are forgotten (fallback.within is the window that counts) */
const HISTORY_MS = 24 * 3600 * 1000;

function stateName(): string {
  try {
    return `state-${/\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? 'x'}.json`;
  } catch {
    return 'state.json';
  }
}

export function bootEnv(opts: BootOptions): BootEnv {
  const sys = realSys();
  if (process.pid === 1 && !existsSync('/proc/self')) {
    try {
      sys.mount('proc', '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
    } catch (e) {
      log.warn(`stage 1: unable to mount /proc: ${(e as Error).message}`);
    }
  }
  const mode = detectMode({ container: opts.container });
  try {
    sys.setName('metainit');
  } catch {
    /* cosmetic */
  }
  // four descriptors per native service (two log pipes, both ends): thousands of services need
  // more than the usual limit of 1024 or 20 000 (children inherit the raised limit)
  try {
    sys.raiseNofile(NOFILE_WANTED);
  } catch (e) {
    log.warn(`boot: unable to raise the open file limit: ${(e as Error).message}`);
  }
  let manager: Manager | undefined;
  const keepFds = (): number[] => collectFds(manager?.snapshot());
  const adopted = opts.reexecState ? readState(opts.reexecState, log) : undefined;
  const startedAt = adopted?.startedAt ?? Date.now();
  let survival: Survival | undefined;
  const reapedTotal = (): number => reaper.reaped + (adopted?.reaped ?? 0);
  const name = stateName();
  const history = crashTimes(process.env, Date.now(), HISTORY_MS).slice(-100);
  const stateFile = (): string => resolve(join(manager?.global?.run_dir ?? '/run/metainit', name));
  const saveState = (): void => {
    if (!manager) return;
    const state: SavedState = { version: 1, startedAt, reaped: reapedTotal(), adapters: manager.snapshot(), keepFds: keepFds() };
    if (writeState(stateFile(), state, log)) survival?.rearm();
  };
  survival = installSurvival({
    sys,
    log,
    execPath: process.execPath,
    argv: [...process.execArgv, process.argv[1] ?? 'metainit'],
    bootArgs: opts.bootArgs,
    // the crash history goes with every image: crash-loop.ts counts it
    env: [...execEnv(), ...crashEnv(history, 'crash')],
    requestEnv: [...execEnv(), ...crashEnv(history, 'request')],
    stateFile,
    keepFds,
    beforeExec: saveState,
  });
  if (mode === 'supervisor') sys.setSubreaper(true);
  const reaper = installReaper(sys);
  reaper.on('orphan', (r) => manager?.orphan(r.pid, r.code, r.signal === null ? null : String(r.signal)));
  const v = version();
  log.info(`metainit ${v} starting as pid ${process.pid} in ${mode} mode${opts.reexecState ? ' (re-exec)' : ''}`);
  injectFault(process.env.METAINIT_INJECT_FAULT, log);
  return { sys, mode, survival, reaper, adopted, startedAt, reapedTotal, version: v, attach: (m) => (manager = m), saveState };
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '?';
  }
}
