/**
 * scanner-kill.ts — M3: kill -9 of runsvdir (from the host) to all its services running again,
 * on the booted hundred case (case.ts) with its 40 runit services.
 *
 * What metainit does (src/adapters/scandir/scanner.ts): on the scanner's death it SIGTERMs the
 * orphaned runsv processes (each takes its service down and exits), waits until the instance's
 * process family is gone (checked every 100 ms, SIGKILL after 5 s), then starts runsvdir again
 * after a delay — 0.5 s, doubled after each scanner that died within 10 s of its start, back to
 * 0.5 s after a run of 10 s. So that every kill here meets the 0.5 s delay, each kill waits until
 * the current runsvdir is ≥ 10.5 s old; the delay metainit announced is read from its console.
 *
 * One kill: the runit services' pids are noted, runsvdir gets SIGKILL, and every 20 ms the host's
 * /proc and PID 1's `status` are read until every runit/* is `running` with a new pid. Stamps:
 * old runsv processes all gone; new runsvdir started, its first runsv started, the last service
 * process started (/proc start times, 10 ms steps); metainit's last `since`; the poll that saw
 * it. Median of `kills`. The services of the other instances must keep their pids throughout.
 */
import type { HostProc } from '../../test/ns/harness.js';
import type { ServiceStatus } from '../../src/base/states.js';
import { fmt, median, sleep, table } from '../util.js';
import { epochNow, hostStart, nsStart, poll, services, type Booted } from './case.js';
import type { MultiResult } from './report.js';

const POLL_MS = 20;
/** a scanner that ran this long is restarted after the initial delay again */
const RESET_AFTER_MS = 10_500;

/** ms after the kill */
interface KillTimes {
  oldGone: number;
  scanner: number;
  supervise: number;
  service: number;
  reported: number;
  seen: number;
  announcedDelay: number;
  othersChanged: number;
}

const alive = (pid: number, procs: HostProc[]): boolean => procs.some((p) => p.pid === pid && p.state !== 'Z');

async function killOnce(b: Booted, runitCount: number): Promise<KillTimes> {
  const procs0 = b.ns.procs();
  const scanner = procs0.filter((p) => p.comm === 'runsvdir' && p.state !== 'Z');
  if (scanner.length !== 1) throw new Error(`bench multi: unable to find the one runsvdir: ${scanner.length} found`);
  const age = Date.now() - (hostStart(scanner[0]!.pid) ?? 0);
  if (age < RESET_AFTER_MS) await sleep(RESET_AFTER_MS - age);
  const before = new Map((await services(b.client)).map((s) => [s.id, s.pid]));
  const oldRunsv = b.ns.procs().filter((p) => p.comm === 'runsv' && p.ppid === scanner[0]!.pid).map((p) => p.pid);
  const logBefore = b.ns.console().length;

  const t0 = epochNow();
  process.kill(scanner[0]!.pid, 'SIGKILL');
  let oldGone = NaN;
  const { value: all, at } = await poll(
    `all ${runitCount} runit services running again with new pids`,
    async () => {
      if (Number.isNaN(oldGone)) {
        const procs = b.ns.procs();
        if (!oldRunsv.some((pid) => alive(pid, procs))) oldGone = epochNow() - t0;
      }
      const all = await services(b.client);
      const runit = all.filter((s) => s.instance === 'runit');
      const back = runit.length === runitCount && runit.every((s) => s.state === 'running' && s.pid !== undefined && s.pid !== before.get(s.id));
      return back ? all : undefined;
    },
    POLL_MS,
    60_000,
  );
  const runit = all.filter((s) => s.instance === 'runit');
  const procs = b.ns.procs();
  const newScanner = procs.find((p) => p.comm === 'runsvdir' && p.state !== 'Z');
  const rel = (t: number | undefined): number => (t === undefined ? NaN : t - t0);
  const announced = /runit: runsvdir killed by SIGKILL; restarting it in (\d+) ms/.exec(b.ns.console().slice(logBefore));
  return {
    oldGone,
    scanner: rel(newScanner ? hostStart(newScanner.pid) : undefined),
    supervise: rel(Math.min(...procs.filter((p) => p.comm === 'runsv' && p.ppid === newScanner?.pid).map((p) => hostStart(p.pid) ?? NaN))),
    service: rel(Math.max(...runit.map((s) => nsStart(b.ns, s.pid!) ?? NaN))),
    reported: rel(Math.max(...runit.map((s: ServiceStatus) => s.since))),
    seen: at - t0,
    announcedDelay: announced ? Number(announced[1]) : NaN,
    othersChanged: all.filter((s) => s.instance !== 'runit' && s.pid !== before.get(s.id)).length,
  };
}

export async function scannerKill(b: Booted, runitCount: number, kills: number): Promise<MultiResult> {
  const runs: KillTimes[] = [];
  for (let i = 0; i < kills; i++) runs.push(await killOnce(b, runitCount));
  const med = (f: (t: KillTimes) => number): number => median(runs.map(f));
  const s = (ms: number): string => fmt(ms / 1000, 2);
  const seen = med((t) => t.seen);
  const delays = [...new Set(runs.map((t) => t.announcedDelay))];
  const scanLag = med((t) => t.supervise - t.scanner);
  const pollLag = med((t) => t.reported - t.service);
  const changed = runs.reduce((n, t) => n + t.othersChanged, 0);

  return {
    key: 'kill',
    title: `kill -9 runsvdir to its ${runitCount} services running again`,
    measured: `median ${s(seen)} s (last \`since\` ${s(med((t) => t.reported))} s)`,
    verdict: `recovers every time; ${s(med((t) => t.scanner))} s of it is cleanup plus the deliberate ${delays.join('/')} ms restart delay`,
    why: [
      `After \`kill -9\` of runsvdir, all ${runitCount} runit services are running again under a new runsvdir, with new pids, ${s(seen)} s later as the 20 ms poll sees it (median of ${kills}; PID 1's own stamps: ${s(med((t) => t.reported))} s).`,
      `The time is spent, in order: the orphaned runsv processes stop their services and exit (all gone at ${s(med((t) => t.oldGone))} s; metainit checks every 100 ms); then metainit's restart delay — announced ${delays.join(', ')} ms: the adapter restarts runsvdir after a delay that starts at 0.5 s and doubles for a scanner that dies within 10 s of its start — brings the new runsvdir at ${s(med((t) => t.scanner))} s.`,
      scanLag >= 500
        ? `runsvdir then sleeps ${s(scanLag)} s before its first scan (its scan dir's mtime is in the current second, see M1), the last service process starts at ${s(med((t) => t.service))} s, and metainit reports it ${s(pollLag)} s later (its supervise/status read, once a second).`
        : `runsvdir scans at once (the scan dir is old by now, unlike at boot: no 1 s sleep), the last service process starts at ${s(med((t) => t.service))} s, and metainit reports it ${s(pollLag)} s later — ${pollLag < 300 ? 'caught by the read the adapter makes 150 ms after starting a scanner, not by the once-a-second poll' : 'at its once-a-second read of supervise/status'}.`,
      ...(() => {
        const worst = runs.reduce((a, t) => (t.seen > a.seen ? t : a));
        return worst.seen - seen > 300
          ? [`The worst of the ${kills} kills took ${s(worst.seen)} s: its last service started at ${s(worst.service)} s, after that early read, so only the next once-a-second read (\`POLL_MS\` in src/adapters/scandir/adapter.ts) reported it, ${s(worst.reported - worst.service)} s later.`]
          : [];
      })(),
      `So ${fmt((med((t) => t.scanner) / seen) * 100, 0)} % of the recovery is metainit waiting on purpose (cleanup, then the delay that keeps a crash-looping runsvdir from spinning); runit itself needs ${s(med((t) => t.service) - med((t) => t.scanner))} s to bring ${runitCount} services back.`,
      `${changed === 0 ? 'No service of the s6 or native instance changed pid during the kills.' : `${changed} service(s) of other instances changed pid during the kills — the kill was not contained.`}`,
    ],
    method:
      `the hundred case booted as in M2 (same machine, right after it). Before each kill, the wait until runsvdir is ≥ ${RESET_AFTER_MS / 1000} s old (so the restart delay is back at its initial 0.5 s); then \`kill -9\` of runsvdir's host pid, and every ${POLL_MS} ms a read of the namespace's processes from the host's /proc and one \`status\` request over the API, until every runit service is running with a pid different from before the kill. Process start times from /proc/PID/stat (10 ms steps). All times in seconds after the kill.`,
    details: table(
      ['kill', 'old runsv all gone', 'new runsvdir started', 'first new runsv', 'last service process started', 'last `since`', 'seen by the 20 ms poll', 'announced delay ms'],
      runs.map((t, i) => [i + 1, s(t.oldGone), s(t.scanner), s(t.supervise), s(t.service), s(t.reported), s(t.seen), t.announcedDelay]),
    ),
    commands: ['kill -9 <host pid of runsvdir>   # from the host', `# then every ${POLL_MS} ms: /proc/*/stat of the namespace, and {"method":"status"} over the API (= node ./bin/run.js status --json --socket SOCK)`],
  };
}
