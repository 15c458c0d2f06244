/**
 * entry.ts — the container entrypoint's main command (`metainit -- CMD`, `metainit run -- CMD`)
 * as a native service of its own instance, `main`, named after the program: `main/nginx`.
 *
 * It runs in the foreground (schema.ts `foreground:` — metainit's stdio, environment and
 * terminal, its own process group), is never restarted (the container ends with it), and has no
 * stop signal of its own: what stops the container is passed on to it as it came (SIGINT stays
 * SIGINT, as under tini), with the usual stop timeout before its group is KILLed.
 */
import { basename } from 'node:path';
import { NativeService } from './schema.js';
import { resolveNativeService, type NativeServiceEntry } from './loader.js';

export interface EntrySpec {
  /** the main command and its arguments, as given */
  argv: string[];
  /** forward signals to main's process group (tini -g) */
  group: boolean;
  /** signals that stop the container instead of being forwarded */
  stopSignals: string[];
  /** metainit's own info lines on stderr too */
  verbose?: boolean;
}

/** the instance that holds the entrypoint's main command */
export const ENTRY_INSTANCE = 'main';

/** where the definition "comes from", in status and errors */
export const ENTRY_FILE = '(command line)';

/** `/usr/sbin/nginx` → nginx; anything a service name cannot hold becomes `-`; `main` if nothing is left */
export function entryServiceName(argv0: string): string {
  const name = basename(argv0).replace(/[^A-Za-z0-9_.@-]/g, '-').replace(/^[.-]+/, '');
  return name || 'main';
}

/** The main command as a native service entry (name and entry), or the reason it cannot be one. */
export function entryService(spec: EntrySpec): { name: string; entry: NativeServiceEntry } | string {
  const svc = NativeService.parse({ exec: spec.argv, restart: 'never', foreground: true });
  const r = resolveNativeService(svc, { exec: spec.argv }, { file: ENTRY_FILE, what: 'the main command' });
  if (!r.def) return r.diagnostics.map((d) => d.message).join('; ');
  return { name: entryServiceName(spec.argv[0]!), entry: { file: ENTRY_FILE, def: r.def, raw: JSON.stringify(spec.argv) } };
}
