/**
 * main.ts — PID 1, as a recipe read top-down (like tini's main):
 *
 *   0. a SIGUSR1 listener first (else Node starts its inspector on SIGUSR1)
 *   1. find the mode (machine / container / supervisor), install the survival net (uncaught
 *      errors logged, process.exit neutralised, fatal signals re-exec us) and the orphan reaper
 *   2. stage 1 — early set-up, machine mode only, skipped after a re-exec
 *   3. stage 2 — load the config (with `metainit -- CMD`, the command as service main/NAME)
 *   4. serve the control API
 *   5. listen for signals (forwarded to the main service, if any) and shutdown requests, then
 *      start the instances (re-adopting children after a re-exec)
 *   6. wait for a shutdown request (signal, API call, or the container's main service ending)
 *   7. stage 3 — stop main first (if any), then the instances in reverse order
 *   8. stage 4 — end every remaining process, unmount (machine), reboot(2) / exit
 *
 * Each step is one call; the pieces live beside this file: boot-env.ts (mode, net, reaper),
 * state-file.ts, shutdown-latch.ts, main-service.ts, stage1.ts, signals.ts, shutdown.ts.
 */
process.on('SIGUSR1', () => {}); // replaced by the real table below; never let the inspector start

import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { log } from '../base/log.js';
import type { Event } from '../base/events.js';
import { detectMode } from '../base/mode.js';
import { realSys } from '../base/sys.js';
import { Manager } from '../manager/manager.js';
import { startApi, type ApiHandle } from '../services-api/handler.js';
import { sharedLogger, stopSharedLogger } from '../supervisor/logger-process.js';
import { bootEnv, type BootOptions } from './boot-env.js';
import { bootProgress } from './boot-progress.js';
import { crashLoopGuard } from './crash-loop.js';
import { mainExitCode, mainSignals, stopMainFirst, watchMain } from './main-service.js';
import { finalKill, finish, unmountAll } from './shutdown.js';
import { shutdownLatch } from './shutdown-latch.js';
import { listenSignals } from './signals.js';
import { runSteps, stage1Steps } from './stage1.js';
import { debounced } from './state-file.js';

export type { BootOptions } from './boot-env.js';

export async function boot(opts: BootOptions): Promise<never> {
  // 0. an image started by a crash: in a crash loop, the fallback takes PID 1 over (crash-loop.ts)
  // the entrypoint's stdout is its command's: metainit speaks on stderr, and only of problems
  if (opts.entry) {
    log.setFd(2);
    log.setQuiet(opts.entry.verbose !== true);
  }
  const configDir = opts.configDir === undefined ? undefined : resolve(opts.configDir);
  await crashLoopGuard(configDir, detectMode({ container: opts.container }) === 'machine', realSys(), log);
  // 1. mode, survival net, reaper
  const env = bootEnv(opts);
  const { sys, mode, survival, reaper, adopted } = env;

  // 2. stage 1
  if (mode === 'machine' && !adopted) runSteps(stage1Steps(sys, (fd) => log.setFd(fd)), log);
  sys.cloexecFrom(adopted?.keepFds ?? []); // children get no stray descriptors

  // 3. stage 2 (the logger process that moves native services' output starts with the first one)
  sharedLogger(sys, { warn: (m) => log.warn(m) });
  const manager = new Manager(configDir ?? '', sys, log, { ownMountNamespace: mode !== 'supervisor', reaper, mode, entry: opts.entry });
  env.attach(manager);
  await manager.load();
  if (opts.socket) manager.global.socket = opts.socket;
  const saver = debounced(() => env.saveState());
  manager.events.on('event', (ev: { type: string }) => ev.type === 'state' && saver.touch());

  // 4. API — before any service is spawned, so that with thousands of services the control
  // socket answers at once (status shows them waiting/starting meanwhile)
  const latch = shutdownLatch(log);
  const api: ApiHandle | undefined = await startApi(manager, sys, log, {
    mode,
    startedAt: env.startedAt,
    reaped: env.reapedTotal,
    shutdown: (kind) => latch.request(kind, `API ${kind} request`),
    reexec: () => survival.reexecNow(), // beforeExec writes the state file
    ownLog: (cb) => log.onLine((_level, _text, line) => cb(line)),
  }, env.version).catch((e: unknown) => {
    log.error(`control: unable to serve API on ${manager.global.socket}: ${(e as Error).message}`);
    return undefined;
  });
  // 5. signals and the other shutdown requests — before anything is spawned, so that none is lost
  const mainId = manager.global.main;
  // with a main service, signals go to it (tini): the stop signals stop the container, main first
  let stopSignal: string | undefined;
  const main = mainId && mode !== 'machine' ? mainSignals(manager, mainId, opts.entry, log) : undefined;
  listenSignals(mode, sys, (action, signal) => {
    if (action === 'exit') stopSignal ??= signal;
    if (action !== 'sync') return latch.request(action, signal);
    log.info(`${signal}: re-reading configuration`);
    void manager.sync().then((d) => log.info(`sync: done, ${d.length} problem(s)`));
  }, main);
  manager.events.on('event', (ev: Event) => ev.type === 'shutdown' && latch.request(ev.kind, ev.why));
  if (mainId && mode !== 'machine') watchMain(manager, mainId, () => latch.request('exit', `main service ${mainId} ended`));
  // machine mode: one progress line per instance on the console as it comes up
  const progress = mode === 'machine' && !adopted ? bootProgress(manager, (line) => log.info(line)) : undefined;
  await manager.start(adopted?.adapters);

  // 6. wait

  const { kind, why } = await latch.requested;
  log.info(`${why}: shutting down (${kind})`);
  progress?.();

  // 7. stage 3
  const g = manager.global;
  const deadline = Date.now() + g.shutdown.timeout;
  if (main) await stopMainFirst(manager, main, mainId!, opts.entry ? stopSignal : undefined, deadline);
  await manager.stopAll(deadline);
  const exitCode = mainId ? mainExitCode(manager.list().find((s) => s.id === mainId)) : 0;
  await api?.close();
  // the logger files the services' last lines; a stuck one is killed (≤ 3 s, at least 0.5 s)
  await stopSharedLogger(Math.min(Date.now() + 3000, Math.max(deadline, Date.now() + 500)));

  // 8. stage 4
  await finalKill(mode, sys, log, g.shutdown.grace);
  if (mode === 'machine') await unmountAll(mode, sys, log);
  finish(kind, mode, sys, log);
  if (mode === 'machine') {
    // reboot(2) failed: PID 1 exiting would panic the kernel; stay, with nothing left to run.
    log.error('stage 4: the system is halted; power it off by hand');
    return new Promise<never>(() => {});
  }
  // a command run on a host without a configuration leaves no runtime directory behind
  if (opts.entry && !configDir && mode === 'supervisor') rmSync(g.run_dir, { recursive: true, force: true });
  log.info(`exiting with code ${exitCode}`);
  return survival.allowExit(exitCode);
}
