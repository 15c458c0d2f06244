/**
 * case.ts — the machines the multi-init benchmarks boot, and how they look at them.
 *
 * Model. Every benchmark here boots metainit as PID 1 of a PID + mount namespace on an overlay of
 * the Debian test bed, exactly as the ns tier does (test/ns/harness.ts bootNs + testbed-root.ts
 * overlayBoot — imported from dist/test/ns, not copied), and drives it through its API socket.
 * Two configurations:
 *   - `five-inits` — the ns test's case (test/ns/cases-multi/five-inits): runit, s6, sysv rc,
 *     OpenRC and native in one root, OpenRC and native/app waiting for role:logging;
 *   - the hundred case — written here into a temporary directory: HUNDRED.runit runit services,
 *     HUNDRED.s6 s6 services and HUNDRED.native native services, each a bare `sleep`, in the same
 *     test bed root (runit's laid out the Debian way: /etc/sv/X with supervise → /run/runit/…,
 *     enabled by a link in /etc/runit/runsvdir/default).
 * Times are wall-clock epoch milliseconds throughout, the clock PID 1 stamps `since` with, so the
 * host's stamps, PID 1's `since` and its console lines compare directly. Process start times
 * come from /proc/PID/stat (clock ticks since boot, 10 ms steps) and are turned into the same
 * clock with /proc/uptime; they say when a supervisor really started a service, independently
 * of when metainit noticed.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bootNs, type Ns } from '../../test/ns/harness.js';
import { assertOverlay, CASES_MULTI, nsPath, overlayBoot } from '../../test/ns/testbed-root.js';
import { connect, type Client } from '../../src/services-api/client.js';
import type { ServiceStatus } from '../../src/base/states.js';
import { sleep } from '../util.js';

/** the hundred case: services per instance */
export const HUNDRED = { runit: 40, s6: 20, native: 40 } as const;
export const RUNIT_SCAN_IN_ROOT = '/run/metainit/runit/scan';

/** Wall clock in ms with sub-ms resolution (the clock of Date.now()). */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** `prefix-01` … `prefix-NN` */
export const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`);

/**
 * Write the hundred case into `dir` (a case folder in the shape of test/ns/cases-multi/<case>):
 * metainit.yaml, adapters.d/{runit,s6,native}.yaml, services.d/ and overlay/ with the runit and
 * s6 service directories. Config files are JSON, which is YAML.
 */
export function writeHundredCase(dir: string): { runit: string[]; s6: string[]; native: string[] } {
  const runit = names('bench-r', HUNDRED.runit);
  const s6 = names('bench-s', HUNDRED.s6);
  const native = names('bench-n', HUNDRED.native);
  const run = '#!/bin/sh\nexec sleep 100000\n';
  const file = (path: string, text: string, mode = 0o644): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text, { mode });
  };
  const link = (path: string, target: string): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    symlinkSync(target, join(dir, path));
  };
  file('metainit.yaml', JSON.stringify({ log_dir: '/run/metainit/log', shutdown: { grace: '2s', timeout: '30s' } }) + '\n');
  file('adapters.d/runit.yaml', JSON.stringify({ adapter: 'runit', root: '/run/test/root', services: runit }) + '\n');
  file('adapters.d/s6.yaml', JSON.stringify({ adapter: 's6', root: '/run/test/root', services: s6 }) + '\n');
  file('adapters.d/native.yaml', JSON.stringify({ adapter: 'native', root: '/run/test/root', services: 'services.d' }) + '\n');
  for (const n of runit) {
    file(`overlay/etc/sv/${n}/run`, run, 0o755);
    link(`overlay/etc/sv/${n}/supervise`, `/run/runit/supervise/${n}`);
    link(`overlay/etc/runit/runsvdir/default/${n}`, `/etc/sv/${n}`);
  }
  for (const n of s6) {
    file(`overlay/etc/s6/sv/${n}/run`, run, 0o755);
    link(`overlay/etc/s6/scan/${n}`, `/etc/s6/sv/${n}`);
  }
  for (const n of native) file(`services.d/${n}.yaml`, JSON.stringify({ exec: 'sleep 100000' }) + '\n');
  return { runit, s6, native };
}

export interface Booted {
  ns: Ns;
  /** one API connection (the same request `status --json` makes) */
  client: Client;
  /** epoch ms just before the namespace was spawned */
  spawnedAt: number;
  /** epoch ms when its control socket first answered (harness polling, 100 ms steps) */
  answeredAt: number;
  /** close the connection, end the namespace if still alive, remove scratch and shim */
  dispose(): Promise<void>;
}

/** Boot the case folder `caseDir` (five-inits, or one written by writeHundredCase) on the test bed overlay. */
export async function bootCase(caseDir: string): Promise<Booted> {
  // overlayBoot takes a folder under test/ns/cases-multi; a generated case lives elsewhere
  const boot = overlayBoot(relative(CASES_MULTI, caseDir));
  const spawnedAt = epochNow();
  let ns: Ns;
  try {
    ns = await bootNs({ ...boot.options, bootTimeoutMs: 60_000 });
  } catch (e) {
    boot.dispose();
    throw e;
  }
  const answeredAt = epochNow();
  let client: Client | undefined;
  const dispose = async (): Promise<void> => {
    client?.close();
    await ns.cleanup();
    boot.dispose();
  };
  try {
    assertOverlay(ns);
    client = await connect(ns.sock);
  } catch (e) {
    await dispose();
    throw e;
  }
  return { ns, client, spawnedAt, answeredAt, dispose };
}

export async function services(client: Client): Promise<ServiceStatus[]> {
  return ((await client.call('status', {})) as { services: ServiceStatus[] }).services;
}

/** Wanted (target up) and ready: running, or a finished oneshot. */
export const isUpReady = (s: ServiceStatus): boolean => s.target === 'up' && (s.state === 'running' || s.state === 'ok');
/** Nothing left to wait for: ready, or not wanted at all (a vetoed service). */
export const isSettled = (s: ServiceStatus): boolean => s.target === 'down' || isUpReady(s);

/**
 * Poll `check` every `everyMs` until it returns a value; resolves with it and the epoch ms of the
 * poll that saw it. Throws naming `what` after `timeoutMs`.
 */
export async function poll<T>(what: string, check: () => Promise<T | undefined> | T | undefined, everyMs: number, timeoutMs: number): Promise<{ value: T; at: number }> {
  const until = epochNow() + timeoutMs;
  for (;;) {
    const value = await check();
    const at = epochNow();
    if (value !== undefined) return { value, at };
    if (at > until) throw new Error(`bench multi: unable to see ${what}: still not there after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Epoch ms of the host's boot, from /proc/uptime (10 ms steps). */
function bootEpoch(): number {
  return Date.now() - Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
}

/** Epoch ms a process started, from a /proc/PID/stat path; undefined when it is gone. */
function startedAt(statPath: string): number | undefined {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return bootEpoch() + ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Start time of a host pid. */
export const hostStart = (pid: number): number | undefined => startedAt(`/proc/${pid}/stat`);
/** Start time of a pid of the namespace (as status shows it), read through its PID 1's /proc. */
export const nsStart = (ns: Ns, pid: number): number | undefined => startedAt(nsPath(ns, `/proc/${pid}/stat`));

/** Epoch ms of the first PID 1 console line containing `text`, undefined if none. */
export function consoleTime(log: string, text: string | RegExp): number | undefined {
  const line = log.split('\n').find((l) => (typeof text === 'string' ? l.includes(text) : text.test(l)));
  return line ? Date.parse(line.slice(0, line.indexOf(' '))) : undefined;
}
