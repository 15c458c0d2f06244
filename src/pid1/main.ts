/**
 * main.ts — PID 1, as a recipe read top-down (like tini's main):
 *
 *   0. a SIGUSR1 listener first (else Node starts its inspector on SIGUSR1)
 *   1. find the mode (machine / container / supervisor), install the survival net (uncaught
 *      errors logged, process.exit neutralised, fatal signals re-exec us) and the orphan reaper
 *   2. stage 1 — early set-up, machine mode only, skipped after a re-exec
 *   3. stage 2 — load the config, start the instances (re-adopting children after a re-exec)
 *   4. serve the control API
 *   5. wait for a shutdown request (signal, API call, or the container's main service ending)
 *   6. stage 3 — stop the instances in reverse order
 *   7. stage 4 — end every remaining process, unmount (machine), reboot(2) / exit
 */
process.on('SIGUSR1', () => {}); // replaced by the real table below; never let the inspector start

import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Diagnostic } from '../adapters/adapter.js';
import { startApi, type ApiHandle } from '../services-api/handler.js';
import { Manager } from '../supervisor/manager.js';
import { log } from './log.js';
import { detectMode, type Mode } from './mode.js';
import { installReaper } from './reaper.js';
import { finalKill, finish, unmountAll, type ShutdownKind } from './shutdown.js';
import { listenSignals, type SignalAction } from './signals.js';
import { runSteps, stage1Steps } from './stage1.js';
import { installSurvival } from './survive.js';
import { MS, realSys } from './sys.js';

export interface BootOptions {
  configDir: string;
  socket?: string | undefined;
  container?: boolean | undefined;
  /** set by a re-exec: state file to re-adopt children from */
  reexecState?: string | undefined;
  /** the arguments `boot` was started with (re-used by a re-exec) */
  bootArgs: string[];
}

interface SavedState {
  version: 1;
  startedAt: number;
  /** orphans reaped by earlier images of this PID 1 */
  reaped?: number;
  adapters: Record<string, unknown>;
  keepFds: number[];
}

export async function boot(opts: BootOptions): Promise<never> {
  const sys = realSys();
  let startedAt = Date.now();

  // 1. mode, survival net, reaper --------------------------------------------------------------
  if (process.pid === 1 && !existsSync('/proc/self')) {
    try {
      sys.mount('proc', '/proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC, null);
    } catch (e) {
      log.warn(`stage 1: unable to mount /proc: ${(e as Error).message}`);
    }
  }
  const mode: Mode = detectMode({ container: opts.container });
  try {
    sys.setName('metainit');
  } catch {
    /* cosmetic */
  }
  let manager: Manager | undefined;
  const stateFile = resolve('/run/metainit/state.json');
  const keepFds = (): number[] => collectFds(manager?.snapshot());
  const survival = installSurvival({
    sys,
    log,
    execPath: process.execPath,
    argv: [...process.execArgv, process.argv[1] ?? 'metainit'],
    bootArgs: opts.bootArgs,
    env: cleanEnv(),
    stateFile,
    keepFds,
    beforeExec: () => saveState(),
  });
  if (mode === 'supervisor') sys.setSubreaper(true);
  const reaper = installReaper(sys);
  reaper.on('orphan', (r) => manager?.orphan(r.pid, r.code, r.signal === null ? null : String(r.signal)));
  log.info(`metainit ${version()} starting as pid ${process.pid} in ${mode} mode${opts.reexecState ? ' (re-exec)' : ''}`);
  injectFault(process.env.METAINIT_INJECT_FAULT);

  // 2. stage 1 -----------------------------------------------------------------------------------
  const adopted = opts.reexecState ? readState(opts.reexecState) : undefined;
  if (adopted) startedAt = adopted.startedAt; // uptime is the machine's, not this image's
  const reapedTotal = (): number => reaper.reaped + (adopted?.reaped ?? 0);
  if (mode === 'machine' && !adopted) runSteps(stage1Steps(sys, (fd) => log.setFd(fd)), log);
  sys.cloexecFrom(adopted?.keepFds ?? []); // children get no stray descriptors

  // 3. stage 2 -----------------------------------------------------------------------------------
  manager = new Manager(resolve(opts.configDir), sys, log, mode !== 'supervisor');
  await manager.load();
  if (opts.socket) manager.global.socket = opts.socket;
  mkdirSync(dirname(stateFile), { recursive: true, mode: 0o755 });
  let saveTimer: NodeJS.Timeout | undefined;
  function saveState(): void {
    if (!manager) return;
    const state: SavedState = { version: 1, startedAt, reaped: reapedTotal(), adapters: manager.snapshot(), keepFds: keepFds() };
    try {
      writeFileSync(stateFile + '.tmp', JSON.stringify(state));
      renameSync(stateFile + '.tmp', stateFile);
      survival.rearm();
    } catch (e) {
      log.warn(`state: unable to write ${stateFile}: ${(e as Error).message}`);
    }
  }
  manager.events.on('event', (ev: { type: string }) => {
    if (ev.type !== 'state' || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = undefined;
      saveState();
    }, 100);
  });
  await manager.start(adopted?.adapters);

  // 4. API -----------------------------------------------------------------------------------------
  let requested: ((kind: ShutdownKind, why: string) => void) | undefined;
  const shutdownRequest = new Promise<{ kind: ShutdownKind; why: string }>((r) => (requested = (kind, why) => r({ kind, why })));
  let shuttingDown = false;
  const request = (kind: ShutdownKind, why: string): void => {
    if (shuttingDown) {
      log.info(`${why}: shutdown already in progress`);
      return;
    }
    shuttingDown = true;
    requested?.(kind, why);
  };
  let api: ApiHandle | undefined;
  try {
    api = await startApi(manager, sys, log, {
      mode,
      startedAt,
      reaped: reapedTotal,
      shutdown: (kind) => request(kind, `API ${kind} request`),
      reexec: () => survival.reexecNow(), // beforeExec writes the state file
      ownLog: (cb) => log.onLine((_level, _text, line) => cb(line)),
    }, version());
  } catch (e) {
    log.error(`control: unable to serve API on ${manager.global.socket}: ${(e as Error).message}`);
  }

  // 5. wait --------------------------------------------------------------------------------------
  listenSignals(mode, sys, (action: SignalAction, signal: string) => {
    if (action === 'sync') {
      log.info(`${signal}: re-reading configuration`);
      void manager!.sync().then((d: Diagnostic[]) => log.info(`sync: done, ${d.length} problem(s)`));
      return;
    }
    request(action, signal);
  });
  const mainId = manager.global.main;
  if (mainId && mode !== 'machine') {
    manager.events.on('event', (ev: { type: string; status?: { id: string; state: string } }) => {
      // like tini: the container ends when its main process ends (even if it would be respawned)
      if (ev.type === 'state' && ev.status?.id === mainId && ['ok', 'error', 'respawn'].includes(ev.status.state)) {
        request('exit', `main service ${mainId} ended`);
      }
    });
  }
  const { kind, why } = await shutdownRequest;
  log.info(`${why}: shutting down (${kind})`);

  // 6. stage 3 -----------------------------------------------------------------------------------
  const g = manager.global;
  await manager.stopAll(Date.now() + g.shutdown.timeout);
  const exitCode = containerExitCode(manager, mainId);
  await api?.close();

  // 7. stage 4 -----------------------------------------------------------------------------------
  await finalKill(mode, sys, log, g.shutdown.grace);
  if (mode === 'machine') unmountAll(mode, sys, log);
  finish(kind, mode, sys, log);
  if (mode === 'machine') {
    // reboot(2) failed: PID 1 exiting would panic the kernel; stay, with nothing left to run.
    log.error('stage 4: the system is halted; power it off by hand');
    return new Promise<never>(() => {});
  }
  log.info(`exiting with code ${exitCode}`);
  return survival.allowExit(exitCode);
}

/** exit status in container mode: the main service's (128+n if killed), else 0 */
function containerExitCode(manager: Manager, mainId: string | undefined): number {
  if (!mainId) return 0;
  const st = manager.list().find((s) => s.id === mainId);
  const last = st?.lastExit;
  if (!last) return 0;
  if (last.code !== null) return last.code;
  if (last.signal) return 128 + ((osConstants.signals as Record<string, number>)[last.signal] ?? 0);
  return 0;
}

function readState(file: string): SavedState | undefined {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as SavedState;
    if (s.version !== 1) throw new Error(`version ${String(s.version)} is not supported`);
    return s;
  } catch (e) {
    log.error(`state: unable to re-adopt children from ${file}: ${(e as Error).message}`);
    return undefined;
  }
}

/** fds named anywhere in adapter snapshots under a key ending in "Fd"/"Fds" (log pipes) */
function collectFds(snap: unknown): number[] {
  const out: number[] = [];
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'number' && /fds?$/i.test(key)) out.push(v);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(snap, '');
  return out;
}

/**
 * Test hook: METAINIT_INJECT_FAULT=throw:MS | reject:MS | abort:MS | exit:MS makes PID 1 fail on
 * purpose MS ms after boot, so the ns tests can prove the survival net. It is dropped from the
 * environment of a re-exec, so an injected abort happens once.
 */
function injectFault(spec: string | undefined): void {
  const m = /^(throw|reject|abort|exit):(\d+)$/.exec(spec ?? '');
  if (!m) return;
  log.warn(`test hook: injecting ${m[1]} in ${m[2]} ms`);
  setTimeout(() => {
    if (m[1] === 'throw') throw new Error('injected uncaught exception');
    if (m[1] === 'reject') void Promise.reject(new Error('injected unhandled rejection'));
    if (m[1] === 'exit') process.exit(3);
    if (m[1] === 'abort') process.abort();
  }, Number(m[2]));
}

function cleanEnv(): string[] {
  return Object.entries(process.env)
    .filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS' && k !== 'METAINIT_INJECT_FAULT')
    .map(([k, v]) => `${k}=${v ?? ''}`);
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return '?';
  }
}
