/**
 * protocol.ts — the messages between PID 1 and its logger process (node IPC, JSON).
 *
 * PID 1 → logger (`ToLogger`): `open` carries one pipe read end as the message's handle; `req`
 * numbers a request the logger answers with `done` or `tail`. Logger → PID 1 (`FromLogger`):
 * answers, lines for followers, problems with a file or pipe. PID 1 checks every message of
 * the logger against `FromLogger` (a broken logger must not break PID 1); the logger trusts its
 * parent and only imports the types.
 */
import { z } from 'zod';

export const LogStream = z.enum(['stdout', 'stderr']);
export type LogStream = z.infer<typeof LogStream>;

/** Where a service's lines go (normalised from the `log:` key, supervisor/logsink.ts). */
export const LogTarget = z.object({
  to: z.enum(['file', 'console', 'none']),
  /** absolute path */
  file: z.string(),
  /** rotate before the file would grow beyond this many bytes */
  maxSize: z.number(),
  /** rotated files kept */
  keep: z.number(),
  /** lines kept in memory */
  tail: z.number(),
  /** the file cannot keep up (slow or full disk): block the service on its pipe, or drop lines (counted) */
  whenFull: z.enum(['block', 'drop']),
});
export type LogTarget = z.infer<typeof LogTarget>;

const id = z.string();
const req = z.number();

export const ToLogger = z.discriminatedUnion('t', [
  /** the read end of one pipe comes with this message */
  z.object({ t: z.literal('open'), id, stream: LogStream, target: LogTarget }),
  z.object({ t: z.literal('retarget'), id, target: LogTarget }),
  /** drain and let go of the pipes; `forGood`: the service is gone (close the file, forget the tail) */
  z.object({ t: z.literal('release'), id, forGood: z.boolean(), req }),
  /** `raw`: the lines as filed, with their `<time> <stream> ` */
  z.object({ t: z.literal('tail'), id, n: z.number(), raw: z.boolean().optional(), req }),
  z.object({ t: z.literal('flush'), id: id.optional(), req }),
  /** one more (on) or one fewer follower; id undefined: every service */
  z.object({ t: z.literal('follow'), id: id.optional(), on: z.boolean() }),
  z.object({ t: z.literal('note'), id, stream: LogStream, line: z.string(), time: z.number() }),
  /** write what is queued and exit */
  z.object({ t: z.literal('exit'), req }),
]);
export type ToLogger = z.infer<typeof ToLogger>;

export const FromLogger = z.discriminatedUnion('t', [
  /** the logger listens: node reads the channel from the start, and a message (with its pipe) that
   * arrives before the listener is lost — PID 1 sends nothing before this */
  z.object({ t: z.literal('ready') }),
  z.object({ t: z.literal('done'), req }),
  z.object({ t: z.literal('tail'), req, lines: z.array(z.string()) }),
  z.object({ t: z.literal('lines'), id, stream: LogStream, lines: z.array(z.string()), time: z.number() }),
  z.object({ t: z.literal('error'), id, message: z.string() }),
]);
export type FromLogger = z.infer<typeof FromLogger>;
