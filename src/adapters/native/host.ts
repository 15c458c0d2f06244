/**
 * host.ts — what the native adapter gives each of its services (ServiceHost), what a service
 * keeps across a re-exec of PID 1 (ServiceSnapshot), and two small derivations from them: a
 * dependency reference as shown in reasons, and the options of a service's log sink.
 */
import type { ServiceState, Target } from '../../base/states.js';
import type { Sys } from '../../base/sys.js';
import type { Logger } from '../../base/types.js';
import type { ResolvedNativeService } from '../../config/loader.js';
import { logTarget, type LogFds, type LogSinkOptions } from '../../supervisor/logsink.js';
import type { WatchPid } from '../../supervisor/process.js';
import type { ManagedPids } from '../../supervisor/pty-runner.js';
import type { AdapterEvent, DepState } from '../adapter.js';

export type RestartPolicy = 'always' | 'on-failure' | 'never';

/** What the adapter gives every service. */
export interface ServiceHost {
  instance: string;
  root: string;
  runDir: string;
  logDir: string;
  sys: Sys;
  log: Logger;
  emit(ev: AdapterEvent): void;
  /** where a dependency named in `after` stands */
  depState(ref: string): DepState;
  /** the reaper's watch for pids that are not libuv children (adopted after a re-exec) */
  watchPid?: WatchPid | undefined;
  /** the reaper's watch for a child of ours that is not a libuv child (a foreground run) */
  watchChild: WatchPid;
  /** the reaper's "leave this pid to its owner" (node-pty waits for a console run itself) */
  manage: ManagedPids['manage'];
}

/** What survives a re-exec of PID 1 (see NativeAdapter.snapshot). */
export interface ServiceSnapshot {
  name: string;
  state: ServiceState;
  target: Target;
  since: number;
  restarts: number;
  reason?: string | undefined;
  pid?: number | undefined;
  startedAt?: number | undefined;
  /** the pid's start time (field 22 of /proc/PID/stat): re-adoption takes the pid only if it still matches */
  procStart?: string | undefined;
  logFds?: LogFds | undefined;
}

/** "instance/name" for a bare name of the same instance; other references as written. */
export function refName(host: ServiceHost, ref: string): string {
  return ref.startsWith('role:') || ref.includes('/') ? ref : `${host.instance}/${ref}`;
}

/** Where a service's output goes: its log target, the instance's event stream, warnings to PID 1's log. */
export function sinkOptions(host: ServiceHost, name: string, def: ResolvedNativeService): LogSinkOptions {
  return {
    id: `${host.instance}/${name}`,
    target: logTarget(def.log, host.logDir, host.instance, name),
    emit: (ev) => host.emit(ev),
    onError: (m) => host.log.warn(m),
  };
}
