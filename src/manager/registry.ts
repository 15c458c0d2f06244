/**
 * factories.ts — adapter kind → factory, loaded on demand.
 *
 * The manager never imports an adapter module directly: it asks this table for the factory of an
 * instance's `adapter:` kind. Modules are imported lazily so a machine that only runs native
 * services never loads node-pty (sysv) or the runit/s6 scan-dir code.
 */
import type { AdapterFactory } from '../adapters/adapter.js';

type Loader = () => Promise<AdapterFactory>;

const LOADERS: Record<string, Loader> = {
  native: async () => (await import('../adapters/native/index.js')).createNativeAdapter,
  runit: async () => (await import('../adapters/runit/index.js')).createRunitAdapter,
  s6: async () => (await import('../adapters/s6/index.js')).createS6Adapter,
  sysv: async () => (await import('../adapters/sysv/index.js')).createSysvAdapter,
  openrc: async () => (await import('../adapters/openrc/index.js')).createOpenrcAdapter,
  systemd: async () => (await import('../adapters/systemd/index.js')).createSystemdAdapter,
};

export function knownKinds(): string[] {
  return Object.keys(LOADERS);
}

export async function adapterFactory(kind: string): Promise<AdapterFactory> {
  const load = LOADERS[kind];
  if (!load) {
    throw new Error(`adapter ${kind}: unable to load adapter: not available in this build (fix: use one of ${knownKinds().join(', ')})`);
  }
  return load();
}
