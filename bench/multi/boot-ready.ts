/**
 * boot-ready.ts — M1: from spawning the namespace to every wanted service of the five instances
 * (runit, s6, sysv rc, OpenRC, native) ready, booting test/ns/cases-multi/five-inits.
 *
 * One boot: t0 just before bootNs spawns `unshare`; then `status` over the API every 50 ms until
 * all five instances are listed and every service with target up is running/ok (sysv/cron,
 * vetoed, has target down). Two readings of "ready": *seen* — the poll that saw it — and
 * *reported* — the latest `since` among the wanted services, i.e. when PID 1 itself marked the
 * last one ready (no polling error). Along the way, for the breakdown: PID 1's console stamps
 * (node up, API listening, instance starts), each instance's last `since`, and for the
 * scan-directory inits the /proc start times of scanner, supervise processes and services —
 * when the hosted init really started them, against when metainit reported them. Each boot ends
 * with `metainit poweroff`, timed to the namespace's end. Median of `boots` boots.
 */
import { join } from 'node:path';
import type { ServiceStatus } from '../../src/base/states.js';
import { CASES_MULTI } from '../../test/ns/testbed-root.js';
import { fmt, median, table } from '../util.js';
import { bootCase, consoleTime, epochNow, hostStart, isSettled, isUpReady, nsStart, poll, services } from './case.js';
import type { MultiResult } from './report.js';

const INSTANCES = ['native', 'openrc', 'runit', 's6', 'sysv'];
const POLL_MS = 50;

/** ms after the spawn, per boot */
interface BootTimes {
  node: number;
  api: number;
  answered: number;
  reported: number;
  seen: number;
  /** instance → its last wanted service's `since` */
  instanceReady: Record<string, number>;
  /** instance → "starting instance" console line */
  instanceStart: Record<string, number>;
  /** scan-dir instance → scanner / first supervise / last service process start, last reported */
  scan: Record<string, { scanner: number; supervise: number; service: number; reported: number }>;
  poweroff: number;
  wanted: number;
}

async function bootOnce(): Promise<BootTimes> {
  const b = await bootCase(join(CASES_MULTI, 'five-inits'));
  const t0 = b.spawnedAt;
  const rel = (t: number | undefined): number => (t === undefined ? NaN : t - t0);
  try {
    const { value: all, at } = await poll(
      'every wanted service of the five instances ready',
      async () => {
        const all = await services(b.client);
        const listed = new Set(all.map((s) => s.instance));
        return INSTANCES.every((i) => listed.has(i)) && all.every(isSettled) ? all : undefined;
      },
      POLL_MS,
      90_000,
    );
    const wanted = all.filter(isUpReady);
    const lastSince = (xs: ServiceStatus[]): number => Math.max(...xs.map((s) => s.since));
    const log = b.ns.console();
    const instanceReady: Record<string, number> = {};
    const instanceStart: Record<string, number> = {};
    for (const i of INSTANCES) {
      instanceReady[i] = rel(lastSince(wanted.filter((s) => s.instance === i)));
      instanceStart[i] = rel(consoleTime(log, `metainit: ${i}: starting instance`));
    }
    const procs = b.ns.procs();
    const scan: BootTimes['scan'] = {};
    for (const [inst, scanner, supervise] of [
      ['runit', 'runsvdir', 'runsv'],
      ['s6', 's6-svscan', 's6-supervise'],
    ] as const) {
      const mine = wanted.filter((s) => s.instance === inst);
      scan[inst] = {
        scanner: rel(hostStart(procs.find((p) => p.comm === scanner)!.pid)),
        supervise: rel(Math.min(...procs.filter((p) => p.comm === supervise).map((p) => hostStart(p.pid) ?? NaN))),
        service: rel(Math.max(...mine.map((s) => nsStart(b.ns, s.pid!) ?? NaN))),
        reported: rel(lastSince(mine)),
      };
    }
    const off0 = epochNow();
    const r = await b.ns.cli(['poweroff']);
    if (r.code !== 0) throw new Error(`bench multi: unable to power off: ${r.stderr.trim()}`);
    await b.ns.waitExit(60_000);
    return {
      node: rel(consoleTime(log, 'starting as pid 1')),
      api: rel(consoleTime(log, 'control: listening')),
      answered: b.answeredAt - t0,
      reported: rel(lastSince(wanted)),
      seen: at - t0,
      instanceReady,
      instanceStart,
      scan,
      poweroff: epochNow() - off0,
      wanted: wanted.length,
    };
  } finally {
    await b.dispose();
  }
}

export async function bootReady(boots: number): Promise<MultiResult> {
  const runs: BootTimes[] = [];
  for (let i = 0; i < boots; i++) runs.push(await bootOnce());
  const med = (f: (t: BootTimes) => number): number => median(runs.map(f));
  const s = (ms: number): string => fmt(ms / 1000, 2);
  const seen = med((t) => t.seen);
  const reported = med((t) => t.reported);
  const runit = runs.map((t) => t.scan.runit!);
  const runsvdirScan = median(runit.map((x) => x.supervise - x.scanner));
  const runitLag = median(runit.map((x) => x.reported - x.service));
  const others = med((t) => Math.max(...INSTANCES.filter((i) => i !== 'runit').map((i) => t.instanceReady[i]!)));
  const slowest = INSTANCES.map((i) => [i, med((t) => t.instanceReady[i]!)] as const).sort((a, b) => b[1] - a[1])[0]!;

  const perBoot = table(
    ['boot', 'node up (PID 1 log)', 'API listening', 'socket answered', 'last `since`', 'seen by the 50 ms poll', 'poweroff → namespace gone'],
    runs.map((t, i) => [i + 1, s(t.node), s(t.api), s(t.answered), s(t.reported), s(t.seen), s(t.poweroff)]),
  );
  const perInstance = table(
    ['instance', 'instance started (console)', 'last wanted service ready (`since`)'],
    INSTANCES.map((i) => [i, s(med((t) => t.instanceStart[i]!)), s(med((t) => t.instanceReady[i]!))]),
  );
  const scanRows = table(
    ['instance', 'scanner process started', 'first supervise process started', 'last service process started', 'metainit reported the last running'],
    (['runit', 's6'] as const).map((i) => [i, s(med((t) => t.scan[i]!.scanner)), s(med((t) => t.scan[i]!.supervise)), s(med((t) => t.scan[i]!.service)), s(med((t) => t.scan[i]!.reported))]),
  );

  const runitLast = slowest[0] === 'runit';
  const runsvdirSlept = runsvdirScan >= 500;
  return {
    key: 'boot',
    title: 'Boot to all-ready, five inits',
    measured: `median ${s(seen)} s (last \`since\` ${s(reported)} s)`,
    verdict: runitLast && runsvdirSlept ? `runit is last: runsvdir sleeps 1 s on the fresh scan dir, metainit sees it up to 1 s later; the rest is ready at ${s(others)} s` : `last instance ready: ${slowest[0]} at ${s(slowest[1])} s`,
    why: [
      `From spawning the namespace, every wanted service of the five instances (${runs[0]!.wanted}) is ready after ${s(reported)} s by PID 1's own stamps and seen ready by the ${POLL_MS} ms poll at ${s(seen)} s (medians of ${boots} boots).`,
      `The last instance is ${slowest[0]}; without runit everything is ready at ${s(others)} s — sysv, s6, native/app (after role:logging, i.e. rsyslog in sysv) and OpenRC (whose whole instance waits for that role).`,
      ...(runsvdirSlept
        ? [
            `runit comes last for two reasons, neither of them work being done. (1) runsvdir starts its first runsv ${s(runsvdirScan)} s after it was started (/proc start times): runsvdir \`sleep(1)\`s before a scan when its directory's mtime is in the current second (runit's runsvdir.c: \`if (now <= mtime) sleep(1)\`), and metainit assembles that scan dir just before it starts runsvdir (src/adapters/scandir/adapter.ts \`relink()\` → scandir.ts \`assembleScanDir\`, then \`Scanner.start\`). The s6 scanner starts its supervisors at once.`,
            `(2) metainit reports a runit service running ${s(runitLag)} s after its process started (median): the scan-dir adapter reads supervise/status once a second (\`POLL_MS = 1000\` in scandir-adapter.ts), its interval starts with the instance, and its one early read (150 ms after runsvdir's spawn) comes before runsvdir's 1 s sleep is over — so the services start just after a tick and wait almost a full interval. Both are fixable: see the note below.`,
          ]
        : [`runsvdir started its first runsv ${s(runsvdirScan)} s after it was started, and metainit reported the runit services ${s(runitLag)} s after their processes started (its read of supervise/status: once a second, plus once 150 ms after the scanner's start).`]),
      `Before any instance starts, ≈ ${s(med((t) => t.node))} s go to unshare, the test bed overlay (copying the fixtures, the overlay mount, rc-update in setup.sh) and node's start-up, up to PID 1's first log line; the API listens at ${s(med((t) => t.api))} s. \`metainit poweroff\` of this machine takes ${s(med((t) => t.poweroff))} s (instances stop one after another, in reverse start order).`,
    ],
    method:
      `${boots} boots of test/ns/cases-multi/five-inits through test/ns/harness.ts bootNs + testbed-root.ts overlayBoot (the ns test's own path: \`unshare --pid --fork --kill-child --mount --propagation private --mount-proc\`, an overlay of the test bed as the instances' root). ` +
      `t0 = just before \`unshare\` is spawned; from the moment the socket answers (bootNs checks every 100 ms with one \`metainit status --json\`), the \`status\` request that \`status --json\` makes is sent over one API connection every ${POLL_MS} ms until all five instances are listed and every service with target up is running or ok. ` +
      `"last \`since\`" is the latest state-change stamp among those services (PID 1's Date.now()); process start times come from /proc/PID/stat (10 ms steps). Each boot ends with \`metainit poweroff\`. All times in seconds after t0; tables show medians except the first.`,
    details: ['Per boot (s after t0):', '', ...perBoot, '', 'Per instance (medians, s after t0):', '', ...perInstance, '', 'Scan-directory inits: the hosted init against metainit (medians, s after t0):', '', ...scanRows],
    commands: [
      'unshare --pid --fork --kill-child --mount --propagation private --mount-proc sh -c \'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/test && mount --bind "$0" /run/test && … exec node "$run" boot --config-dir "$dir" --socket "$sock"\' SCRATCH ./bin/run.js ./test/ns/cases-multi/five-inits SCRATCH/control.sock   # PATH starts with the overlay shim (testbed-root.ts)',
      `# then every ${POLL_MS} ms over one connection: {"v":1,"id":N,"method":"status","params":{}}   (= node ./bin/run.js status --json --socket SOCK)`,
      'node ./bin/run.js poweroff --socket SOCK',
    ],
  };
}
