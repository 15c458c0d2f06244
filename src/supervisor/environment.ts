/**
 * environment.ts — the clean environment every supervised process starts with.
 *
 * Model: nothing of metainit's own environment leaks into a service (no NODE_*, no variables
 * of whoever started PID 1) except `container`, which tells a hosted init it runs in a container
 * and must stay visible to it. A child gets, in this order (later entries win):
 *   PATH      the standard search path below
 *   HOME, USER, LOGNAME   from the user database of the tree the service runs in
 *   container copied from metainit's environment when set
 *   environ   the service's own variables (may override any of the above)
 *   NOTIFY_SOCKET   when readiness is sd_notify (set last: it must point at metainit's socket)
 * Every adapter builds child environments here, so they all agree.
 */
import type { Identity } from './userdb.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface EnvOptions {
  identity: Pick<Identity, 'name' | 'home'>;
  /** the service's own variables */
  environ?: Record<string, string> | undefined;
  /** path of the sd_notify socket as seen by the child */
  notifySocket?: string | undefined;
  /** metainit's environment (default process.env); only `container` is taken from it */
  parent?: NodeJS.ProcessEnv | undefined;
}

export function childEnv(opts: EnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: DEFAULT_PATH,
    HOME: opts.identity.home,
    USER: opts.identity.name,
    LOGNAME: opts.identity.name,
  };
  const container = (opts.parent ?? process.env).container;
  if (container !== undefined) env.container = container;
  Object.assign(env, opts.environ ?? {});
  if (opts.notifySocket !== undefined) env.NOTIFY_SOCKET = opts.notifySocket;
  return env;
}
