/**
 * roles-check.ts — the role registry's verdict on a configuration directory, worked out offline
 * (`metainit check`).
 *
 * Model. At boot the manager loads every enabled instance through its adapter, collects the
 * adapters' role claims and lets the registry decide, before anything starts (manager.ts). Most
 * claims come from hosted inits — an init script or a runit service called `cron` — so they are
 * known only once the adapter has read its root. `metainit check` does the same up to that point
 * and stops: `Adapter.load()` only reads (instance file, init scripts, scan dirs, service files),
 * so this needs no system call and starts nothing. Returned: the registry's diagnostics only
 * (conflicts without a policy, owners naming no claimant, services that cannot run half); the
 * adapters' own load problems are left to plan.ts (native files) and to the boot log.
 */
import { join } from 'node:path';
import type { Diagnostic, Logger } from '../adapters/adapter.js';
import { adapterFactory } from '../adapters/factories.js';
import type { Sys } from '../pid1/sys.js';
import { decideForConfig } from '../roles/decide.js';
import type { InstanceClaim } from '../roles/registry.js';
import { loadGlobal, loadInstances } from './loader.js';

/** load() makes no system call; one that tried would fail plainly instead of touching the host */
const noSys = new Proxy({} as Sys, {
  get: (_, name) => () => {
    throw new Error(`check: unable to call ${String(name)}: an offline check makes no system calls`);
  },
});
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The diagnostics of the role decision booting `dir` would make. Never throws for bad input. */
export async function roleDiagnostics(dir: string): Promise<Diagnostic[]> {
  const global = loadGlobal(dir).config;
  const claims: InstanceClaim[] = [];
  const instances: string[] = [];
  for (const def of loadInstances(dir).instances) {
    if (def.config.enabled === false) continue;
    try {
      const adapter = (await adapterFactory(def.config.adapter))({
        instance: def.name,
        config: def.config as typeof def.config & Record<string, unknown>,
        configDir: dir,
        file: def.file,
        runDir: join(global.run_dir, def.name),
        logDir: global.log_dir,
        sys: noSys,
        log: quiet,
        deps: { state: () => 'unknown', onChange: () => () => undefined },
        emit: () => undefined,
      });
      await adapter.load();
      claims.push(...adapter.claims().map((c) => ({ instance: def.name, service: c.service, role: c.role })));
      instances.push(def.name);
    } catch {
      // an instance that cannot load claims nothing; its problem is reported by plan.ts or at boot
    }
  }
  return decideForConfig(global, join(dir, 'metainit.yaml'), claims, instances).diagnostics;
}
