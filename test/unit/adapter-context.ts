/**
 * adapter-context.ts — an AdapterContext for tests that drive one adapter directly: the parts a
 * test cares about are given (instance, config, sys, and whatever else it overrides), the rest
 * are inert — a quiet log, no reaper watch, no root hooks, every dependency `unknown`, events
 * dropped, paths under /etc/metainit and /run/metainit-test that nothing writes to offline.
 */
import type { AdapterContext } from '../../src/adapters/adapter.js';
import { quietLogger } from '../../src/base/types.js';
import { NO_CHILD_WATCH } from '../../src/supervisor/reaper.js';
import { NO_ROOT_HOOKS } from '../../src/supervisor/sandbox.js';

export function testContext(given: Pick<AdapterContext, 'instance' | 'config' | 'sys'> & Partial<AdapterContext>): AdapterContext {
  return {
    configDir: '/etc/metainit',
    file: `/etc/metainit/adapters.d/${given.instance}.yaml`,
    runDir: `/run/metainit-test/${given.instance}`,
    logDir: '/tmp',
    log: quietLogger,
    reaper: NO_CHILD_WATCH,
    mode: 'supervisor',
    rootHooks: NO_ROOT_HOOKS,
    deps: { state: () => 'unknown', onChange: () => () => undefined },
    emit: () => undefined,
    ...given,
  };
}
