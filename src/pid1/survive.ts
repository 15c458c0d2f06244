/**
 * survive.ts — PID 1 never dies.
 *
 * When PID 1 ends, the kernel kills every process of its namespace (and a real kernel panics),
 * so every way out of the process is closed except the one the shutdown path opens:
 *
 *   - an uncaught exception or unhandled rejection is logged
 *     (`unable to continue <what>: <error>`) and PID 1 carries on with its next event;
 *   - process.exit() and process.reallyExit() are replaced: a stray call from a library is logged
 *     and ignored. The real shutdown path ends the process with allowExit(code);
 *   - a ref'd keep-alive timer stops Node from exiting because its event loop ran empty;
 *   - fatal signals (abort, V8 out of memory, native faults) cannot be caught in JS: the addon's
 *     crash guard (sys.armCrashExec) re-executes a fresh image in place instead. It keeps our
 *     pid, so every child stays ours; the new image starts as
 *       node [execArgv] bin/run.js boot [original boot args] --reexec-state <stateFile>
 *     and re-adopts the services recorded in the state file. rearm() refreshes the prepared
 *     image when the descriptors that must survive the exec (log pipes) change;
 *   - reexecNow() takes the same way on purpose (`metainit reexec`, a live upgrade).
 */
import type { Logger } from '../base/types.js';
import type { Sys } from '../base/sys.js';

export interface SurvivalOptions {
  sys: Sys;
  log: Logger;
  /** the node binary (process.execPath) */
  execPath: string;
  /** what comes between node and `boot`: [...process.execArgv, '/path/to/bin/run.js'] */
  argv: string[];
  /** the arguments `boot` was started with (a --reexec-state among them is dropped) */
  bootArgs: string[];
  /** environment of the new image, as NAME=value strings (the crash re-exec's) */
  env: string[];
  /** environment of a re-exec on purpose (reexecNow); default `env` */
  requestEnv?: string[];
  /** where the state a re-exec re-adopts from is kept (written by the caller; a function: read at each arm and exec) */
  stateFile: string | (() => string);
  /** descriptors the new image must inherit (read ends of log pipes …) */
  keepFds: () => number[];
  /** called by reexecNow() just before execve (write the state file) */
  beforeExec?: () => void;
}

export interface Survival {
  /** the full argv of a re-exec, argv[0] included */
  readonly execArgv: readonly string[];
  /** re-arm the crash guard with the current keepFds() */
  rearm(): void;
  /** re-execute now (beforeExec, then execve); only returns by throwing */
  reexecNow(): never;
  /** the one sanctioned way out: restore process.exit and exit with `code` */
  allowExit(code: number): never;
}

let current: Survival | undefined;

/** Drop `--reexec-state X` / `--reexec-state=X` from a boot argument list. */
export function withoutReexecState(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--reexec-state') i++;
    else if (!a.startsWith('--reexec-state=')) out.push(a);
  }
  return out;
}

/** What was thrown: an Error with its stack, anything else as JSON. */
function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  let text: string;
  try {
    text = JSON.stringify(err) ?? String(err);
  } catch {
    text = String(err);
  }
  return `${text} (thrown value is not an Error)`;
}

/** Where a stray exit call came from: the first stack frame outside this file. */
function caller(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  const outside = frames.find((f) => !f.includes('survive.') && !f.includes('node:internal'));
  return outside?.trim().replace(/^at /, '') ?? 'unknown caller';
}

export function installSurvival(opts: SurvivalOptions): Survival {
  if (current) throw new Error('survive: unable to install the survival net: it is installed already');
  const { sys, log } = opts;
  const stateFile = typeof opts.stateFile === 'string' ? (): string => opts.stateFile as string : opts.stateFile;
  const argvNow = (): string[] => [opts.execPath, ...opts.argv, 'boot', ...withoutReexecState(opts.bootArgs), '--reexec-state', stateFile()];

  // 1. uncaught errors: log, carry on
  process.on('uncaughtException', (err, origin) => {
    const what = origin === 'unhandledRejection' ? 'an asynchronous task' : 'a callback';
    log.error(`unable to continue ${what}: ${describe(err)}`);
  });
  process.on('unhandledRejection', (reason) => {
    log.error(`unable to continue an asynchronous task: ${describe(reason)}`);
  });

  // 2. no exit but the sanctioned one
  const realExit = process.exit.bind(process);
  const proc = process as NodeJS.Process & { reallyExit(code?: number): void };
  const realReallyExit = proc.reallyExit.bind(process);
  const refuse =
    (name: string) =>
    (code?: number | string | null): never => {
      log.error(`unable to ${name}(${code ?? ''}) called by ${caller()}: PID 1 must keep running (ignored)`);
      return undefined as never;
    };
  process.exit = refuse('exit');
  proc.reallyExit = refuse('reallyExit');
  const keepAlive = setInterval(() => {}, 2 ** 30);

  // 3. fatal signals: re-exec in place
  const rearm = (): void => {
    try {
      sys.armCrashExec(opts.execPath, argvNow(), opts.env, opts.keepFds());
    } catch (e) {
      log.error(`survive: unable to arm the crash re-exec: ${(e as Error).message}`);
    }
  };
  rearm();

  current = {
    get execArgv(): readonly string[] {
      return argvNow();
    },
    rearm,
    reexecNow(): never {
      opts.beforeExec?.();
      try {
        return sys.execve(opts.execPath, argvNow(), opts.requestEnv ?? opts.env, opts.keepFds());
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw Object.assign(new Error(`reexec: unable to execute ${opts.execPath}: ${err.message}`), { code: err.code });
      }
    },
    allowExit(code: number): never {
      clearInterval(keepAlive);
      process.exit = realExit;
      proc.reallyExit = realReallyExit;
      return realExit(code);
    },
  };
  return current;
}

/** Re-execute the installed image now (the `metainit reexec` path); throws if not installed. */
export function reexecNow(): never {
  if (!current) throw new Error('reexec: unable to re-execute: the survival net is not installed');
  return current.reexecNow();
}
