/**
 * events-view.ts — one line per event for `metainit events` (and `--json`: one JSON object per
 * line). Restarts are marked: a service coming back after a respawn says which restart it is.
 */
import type { Event } from '../base/events.js';
import { paint, paintState } from './format.js';

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

/** the line for one event */
export function eventLine(ev: Event, color: boolean, now = Date.now()): string {
  switch (ev.type) {
    case 'state': {
      const s = ev.status;
      const restart = s.state === 'starting' && s.restarts > 0 ? ` ${paint(`-- restart ${s.restarts}`, 'bold', color)}` : '';
      const pid = s.pid !== undefined ? ` (pid ${s.pid})` : '';
      return `${time(s.since)} state   ${s.id} ${paintState(s.state, color)}${pid}${s.reason ? `: ${s.reason}` : ''}${restart}`;
    }
    case 'log':
      return `${time(ev.time)} log     ${ev.id} ${ev.stream}: ${ev.line}`;
    case 'orphan':
      return `${time(now)} orphan  pid ${ev.pid} reaped, ${ev.signal ? `killed by ${ev.signal}` : `exit code ${ev.code}`}`;
    case 'message':
      return `${time(now)} message ${ev.level === 'info' ? '' : `${paint(ev.level, ev.level === 'error' ? 'red' : 'yellow', color)}: `}${ev.text}`;
    case 'shutdown':
      return `${time(now)} shutdown ${ev.kind}: ${ev.why}`;
    case 'console':
      return `${time(now)} console ${ev.id}: ${JSON.stringify(ev.data)}`;
  }
}

/** the service an event is about, if any */
export function eventService(ev: Event): string | undefined {
  if (ev.type === 'state') return ev.status.id;
  if (ev.type === 'log') return ev.id;
  return undefined;
}
