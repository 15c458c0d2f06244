/**
 * types.ts — the few shapes every layer speaks: a diagnostic about configuration, a logger, a
 * kind of shutdown. Schemas are zod (the protocol sends diagnostics to clients); types come from
 * `z.infer`. Importers that need only the types write `import type` and load no zod.
 */
import { z } from 'zod';

/** One problem found while loading configuration: names the file, the key and the fix. */
export const Diagnostic = z.object({
  level: z.enum(['error', 'warning']),
  /** file the problem is in (absolute path) */
  file: z.string(),
  /** offending key path, e.g. "restart.max_delay" ('' when the whole file is the problem) */
  key: z.string(),
  /** full message: "<subject>: unable to <verb> <object>: <reason> (fix: …)" */
  message: z.string(),
  /** service id the diagnostic concerns, when there is one */
  service: z.string().optional(),
});
export type Diagnostic = z.infer<typeof Diagnostic>;

export interface Logger {
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

/** A logger that drops everything (offline analysis, tests). */
export const quietLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** What a shutdown request asks for: the machine's three, or (container) "stop and exit". */
export const ShutdownKind = z.enum(['halt', 'poweroff', 'reboot', 'exit']);
export type ShutdownKind = z.infer<typeof ShutdownKind>;
