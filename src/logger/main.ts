/**
 * main.ts — the logger process: moves the bytes of every native service's output to its files.
 *
 * PID 1 (supervisor/logger-process.ts) starts this as its child with a node IPC channel and keeps
 * both ends of every log pipe itself; here the read ends are read, split into lines and filed
 * (service-log.ts). Whatever happens here — a flood, a full disk, a crash — PID 1's event loop and
 * memory are untouched: a stalled logger only makes the services block on their full pipes, and
 * a restarted one gets the pipes again from PID 1, with the unread bytes still in them.
 *
 * The process leaves when PID 1 says `exit` (after writing what it read), when the channel
 * closes (PID 1 re-executed or died: it stops reading, files what it has and goes; the next
 * logger reads on), or on SIGTERM. It imports no zod: the messages of its parent are trusted.
 */
import type { Socket } from 'node:net';
import type { FromLogger, ToLogger } from './protocol.js';
import { ServiceLog } from './service-log.js';

process.title = 'metainit-logger';

/** the logger gives itself this long to file what it has once told to go */
const EXIT_MS = 5000;

const logs = new Map<string, ServiceLog>();
let followAll = 0;
/** followers by service, also of services not yet opened */
const follows = new Map<string, number>();
let leaving = false;
/** ids of closed services whose tail is kept, oldest first */
const closed = new Set<string>();
const KEEP_CLOSED = 100;

function send(m: FromLogger): void {
  if (process.connected) process.send?.(m);
}

const hooks = {
  lines: (id: string, stream: 'stdout' | 'stderr', lines: string[], time: number) => send({ t: 'lines', id, stream, lines, time }),
  error: (id: string, message: string) => send({ t: 'error', id, message }),
  console: (text: Buffer) => {
    process.stdout.write(text);
  },
};

function logOf(id: string, m?: Extract<ToLogger, { target: unknown }>): ServiceLog | undefined {
  let log = logs.get(id);
  if (!log && m) {
    log = new ServiceLog(id, m.target, hooks);
    for (let i = 0; i < followAll + (follows.get(id) ?? 0); i++) log.follow(true);
    logs.set(id, log);
  }
  return log;
}

/**
 * A closed service's tail stays answerable (`metainit logs` after a stop), for the last
 * KEEP_CLOSED closed services; an older one is forgotten.
 */
function keepClosed(id: string): void {
  closed.delete(id);
  closed.add(id);
  for (const old of closed) {
    if (closed.size <= KEEP_CLOSED) break;
    closed.delete(old);
    logs.delete(old);
  }
}

async function handle(m: ToLogger, pipe: Socket | undefined): Promise<void> {
  switch (m.t) {
    case 'open': {
      if (!pipe) return hooks.error(m.id, `unable to read ${m.stream}: no pipe came with the message`);
      if (leaving) return void pipe.destroy();
      closed.delete(m.id);
      return logOf(m.id, m)!.attach(m.stream, pipe);
    }
    case 'retarget':
      return logOf(m.id, m)!.retarget(m.target);
    case 'release': {
      await logs.get(m.id)?.release(m.forGood);
      if (m.forGood) keepClosed(m.id);
      return send({ t: 'done', req: m.req });
    }
    case 'tail':
      return send({ t: 'tail', req: m.req, lines: logs.get(m.id)?.tail(m.n, m.raw === true) ?? [] });
    case 'flush':
      await Promise.all(m.id === undefined ? [...logs.values()].map((l) => l.flush()) : [logs.get(m.id)?.flush()]);
      return send({ t: 'done', req: m.req });
    case 'follow':
      if (m.id === undefined) {
        followAll = Math.max(0, followAll + (m.on ? 1 : -1));
        for (const l of logs.values()) l.follow(m.on);
      } else {
        follows.set(m.id, Math.max(0, (follows.get(m.id) ?? 0) + (m.on ? 1 : -1)));
        if (follows.get(m.id) === 0) follows.delete(m.id);
        logs.get(m.id)?.follow(m.on);
      }
      return;
    case 'note':
      return logs.get(m.id)?.note(m.stream, m.line, m.time);
    case 'exit':
      await leave(true);
      send({ t: 'done', req: m.req });
      return process.exit(0);
  }
}

/** file what was read, then close every file; `drain`: read the pipes a moment longer first (shutdown) — without, stop reading at once (the next logger reads on) */
async function leave(drain: boolean): Promise<void> {
  leaving = true;
  setTimeout(() => process.exit(0), EXIT_MS).unref();
  await Promise.all([...logs.values()].map((l) => (drain ? l.release(true) : l.release(true, 0))));
}

process.on('message', (m: ToLogger, pipe?: Socket) => {
  handle(m, pipe).catch((e: unknown) => send({ t: 'error', id: 'id' in m && m.id ? m.id : 'logger', message: `unable to ${m.t}: ${(e as Error).message}` }));
});
const gone = (): void => void leave(false).then(() => process.exit(0));
process.on('disconnect', gone);
// node emits 'disconnect' only once a half-read message is complete, and a message cut by PID 1's
// execve never is: `connected` turns false at the channel's end of file, so look at it as well
setInterval(() => !process.connected && !leaving && gone(), 500).unref();
process.on('SIGTERM', gone);
process.on('SIGINT', () => undefined);
send({ t: 'ready' });
process.on('SIGHUP', () => undefined);
process.stdout.on('error', () => undefined);
