/**
 * launch.ts — the three ways a native service's run is started:
 *   - piped (the default): its own session, stdout/stderr on the log pipes the logger reads,
 *     the service's user, group, root, cwd and clean environment (supervisor/process.ts spawnRun);
 *   - foreground (`foreground: true`, the container's main command): metainit's own stdio,
 *     environment and terminal, its own process group in metainit's session (spawnForeground);
 *   - on a pty (`console: true`): a terminal of its own that `metainit console` attaches to, each
 *     line it prints also logged (pty-runner.ts).
 * Readiness (NOTIFY_SOCKET, the fd) and the watchdog's WATCHDOG_USEC are prepared the same way
 * for all three.
 */
import type { ResolvedNativeService } from '../../config/loader.js';
import { ConsoleTap } from '../../supervisor/console-tap.js';
import { childEnv, DEFAULT_PATH } from '../../supervisor/environment.js';
import type { LogSink } from '../../supervisor/logsink.js';
import { ExecError, ptyRunAsRun, resolveProgram, spawnForeground, spawnRun, type Run } from '../../supervisor/process.js';
import { runOnPty } from '../../supervisor/pty-runner.js';
import type { Readiness } from '../../supervisor/readiness.js';
import { resolveIdentity } from '../../supervisor/userdb.js';
import type { ServiceHost } from './host.js';

/** the service's variables, with WATCHDOG_USEC when it has a watchdog */
function withWatchdog(def: ResolvedNativeService): Record<string, string> {
  return def.watchdog > 0 ? { ...def.environ, WATCHDOG_USEC: String(def.watchdog * 1000) } : def.environ;
}

/** a run that needs metainit's own root (foreground, console) */
function ownRootOnly(host: ServiceHost, key: string): void {
  if (host.root !== '/') throw new ExecError(`${key}: the instance runs in ${host.root}; a ${key} service runs in metainit's own root`);
}

/** argv as the service runs (user, env, root, cwd); stdout/stderr to the sink, or /dev/null with 'ignore' (a readiness test) */
export function launchPiped(host: ServiceHost, def: ResolvedNativeService, argv: string[], out: LogSink | 'ignore', readiness: Readiness): Run {
  const prep = out === 'ignore' ? {} : readiness.prepare();
  const [stdout, stderr] = out === 'ignore' ? (['ignore', 'ignore'] as const) : [out.stdout, out.stderr];
  const environ = out === 'ignore' ? def.environ : withWatchdog(def);
  return spawnRun({ argv, root: host.root, cwd: def.cwd, user: def.user, group: def.group, environ, stdout, stderr, ...prep }, host.sys);
}

/** the foreground run: metainit's stdio, environment and terminal (no log pipes) */
export function launchForeground(host: ServiceHost, def: ResolvedNativeService, readiness: Readiness): Run {
  ownRootOnly(host, 'foreground');
  const { notifySocket } = readiness.prepare();
  return spawnForeground({ argv: def.argv, cwd: def.cwd, environ: withWatchdog(def), notifySocket }, host.sys, host.watchChild);
}

/** the program on a pty of its own; `tap` opens it to viewers (none when it could not start) */
export function launchOnPty(host: ServiceHost, def: ResolvedNativeService, sink: LogSink, readiness: Readiness): { run: Run; tap?: ConsoleTap } {
  ownRootOnly(host, 'console');
  const { notifySocket } = readiness.prepare();
  const env = childEnv({ identity: resolveIdentity('/', undefined, undefined), environ: { TERM: 'xterm-256color', ...withWatchdog(def) }, notifySocket });
  const program = resolveProgram(def.argv[0]!, '/', env.PATH ?? DEFAULT_PATH);
  const pty = runOnPty({ argv: [program, ...def.argv.slice(1)], env, cwd: def.cwd, maxLines: 0, reaper: { manage: host.manage }, onLine: (line) => sink.line('stdout', line) });
  const run = ptyRunAsRun(pty);
  return pty.pid === 0 ? { run } : { run, tap: new ConsoleTap(pty) };
}
