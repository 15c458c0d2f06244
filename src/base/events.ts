/**
 * events.ts — what happens, as it goes out on the manager's event stream and the API's `events`
 * subscription: a service changed state, a service wrote a line, metainit said something, the
 * reaper collected an orphan. One zod schema per event; adapters emit the first three, the
 * manager adds `orphan`.
 */
import { z } from 'zod';
import { ServiceStatus } from './states.js';
import { ShutdownKind } from './types.js';

/** A service changed state (the full status after the change). */
export const StateEvent = z.object({ type: z.literal('state'), status: ServiceStatus });
/** The reaper collected an orphan that no service owned. */
export const OrphanEvent = z.object({
  type: z.literal('orphan'),
  pid: z.number().int(),
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
});
/** One line a service wrote; `id` is "instance/service", `time` ms since epoch. */
export const LogEvent = z.object({
  type: z.literal('log'),
  id: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  line: z.string(),
  time: z.number(),
});
/** A line of metainit's own log. */
export const MessageEvent = z.object({ type: z.literal('message'), level: z.enum(['info', 'warning', 'error']), text: z.string() });

/**
 * An instance asks for the whole machine to go down: a hosted init (systemd with `on_poweroff:
 * machine`) was told to power off, halt or reboot from inside. PID 1 acts on the first request.
 */
export const ShutdownEvent = z.object({ type: z.literal('shutdown'), kind: ShutdownKind, why: z.string() });

/** Output of a console a client attached to (`metainit console`): raw terminal text, escapes and all. */
export const ConsoleEvent = z.object({ type: z.literal('console'), id: z.string(), data: z.string() });

export const Event = z.discriminatedUnion('type', [StateEvent, OrphanEvent, LogEvent, MessageEvent, ShutdownEvent, ConsoleEvent]);
export type Event = z.infer<typeof Event>;
export const EventType = z.enum(['state', 'orphan', 'log', 'message', 'shutdown', 'console']);
export type EventType = z.infer<typeof EventType>;

/** What an adapter reports (an orphan is the reaper's, not an adapter's). */
export type AdapterEvent = Exclude<Event, { type: 'orphan' }>;
