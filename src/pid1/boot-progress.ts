/**
 * boot-progress.ts — the console lines a machine shows while it boots: one per instance, the
 * moment none of its wanted services is still on its way up — a oneshot still running is
 * counted, not waited for — (`[  OK  ] runit: 5/5 up in 1.2 s`,
 * or `[FAILED] sysv: 3/4 up — sysv/foo: exit code 1`), then one line for the whole boot. Like
 * systemd's `[ OK ]` lines, but per instance: a machine with hundreds of units stays readable.
 */
import type { Event } from '../base/events.js';
import { isFailed } from '../base/states.js';
import type { Logger } from '../base/types.js';
import type { Manager } from '../manager/manager.js';

/** services shown by name in a FAILED line */
const NAMED = 3;

/** Watch the boot; `print` gets each line. Returns a function that stops watching. */
export function bootProgress(manager: Pick<Manager, 'instances' | 'list' | 'events'>, print: Logger['info'], started = Date.now()): () => void {
  const reported = new Set<string>();
  let total = false;
  const check = (): void => {
    const all = manager.list();
    for (const inst of manager.instances) {
      if (reported.has(inst.name) || !inst.started) continue;
      const mine = all.filter((s) => s.instance === inst.name && s.target === 'up' && (s.kind === 'service' || s.kind === 'oneshot'));
      // a oneshot still running (a long job, a test driver) does not hold the line back: it is counted
      if (mine.some((s) => s.state === 'waiting' || (s.state === 'starting' && !s.oneshot))) continue;
      reported.add(inst.name);
      const failed = mine.filter((s) => isFailed(s.state) || s.state === 'respawn');
      const running = mine.filter((s) => s.oneshot && s.state === 'starting').length;
      const up = mine.length - failed.length - running;
      const took = ((Date.now() - (inst.startedAt ?? started)) / 1000).toFixed(1);
      const still = running ? `, ${running} oneshot(s) still running` : '';
      if (failed.length === 0) print(`[  OK  ] ${inst.name}: ${up}/${mine.length} up in ${took} s${still}`);
      else {
        const named = failed.slice(0, NAMED).map((s) => `${s.id}${s.reason ? `: ${s.reason}` : ''}`).join('; ');
        print(`[FAILED] ${inst.name}: ${up}/${mine.length} up${still} — ${named}${failed.length > NAMED ? ` and ${failed.length - NAMED} more` : ''}`);
      }
    }
    if (!total && manager.instances.length > 0 && reported.size === manager.instances.length) {
      total = true;
      print(`boot: ${manager.instances.length} instance(s) up in ${((Date.now() - started) / 1000).toFixed(1)} s (metainit status for details)`);
      stop();
    }
  };
  const onEvent = (ev: Event): void => {
    if (ev.type === 'state') setImmediate(check);
  };
  const timer = setInterval(check, 1000);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    manager.events.off('event', onEvent);
  };
  manager.events.on('event', onEvent);
  setImmediate(check);
  return stop;
}
