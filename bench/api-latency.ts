/**
 * api-latency.ts — benchmark 3: round-trip time of control API requests.
 *
 * One connection from a node client (src/services-api/client.ts, what the CLI uses) to a
 * metainit with five services; for each request kind, WARMUP requests are thrown away, then
 * REQUESTS are sent one after the other (the next only once the answer is in) and each round
 * trip is timed with the monotonic clock. Request kinds: `status` (every service), `status` of
 * one service, and `logs` with lines 0 (the cheapest method that still reaches the manager).
 * Goal: p50 of `status` ≤ 1 ms. PID 1's RSS after all requests is reported too.
 */
import { join } from 'node:path';
import type { Client } from '../src/services-api/client.js';
import { memInfo } from './hostproc.js';
import { startMetainit } from './namespace.js';
import type { Bench, Outcome } from './report.js';
import { FIVE_SERVICES, fmt, nowMs, quantile, table, tempDir, writeNativeConfig } from './util.js';

const REQUESTS = 2000;
const WARMUP = 200;
const GOAL_P50_MS = 1;

interface Kind {
  label: string;
  method: string;
  params: Record<string, unknown>;
}

const KINDS: Kind[] = [
  { label: '`status` (5 services)', method: 'status', params: {} },
  { label: '`status` `{name: "web"}`', method: 'status', params: { name: 'web' } },
  { label: '`logs` `{name: "web", lines: 0}`', method: 'logs', params: { name: 'web', lines: 0 } },
];

async function roundTrips(c: Client, k: Kind): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await c.call(k.method, k.params);
  const out: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = nowMs();
    await c.call(k.method, k.params);
    out.push(nowMs() - t0);
  }
  return out;
}

async function benchApiLatency(): Promise<Outcome> {
  const { dir, remove } = tempDir('api');
  try {
    const ns = await startMetainit(writeNativeConfig(join(dir, 'cfg'), FIVE_SERVICES), dir);
    const samples: number[][] = [];
    let rssAfter: number;
    const rssBefore = memInfo(ns.pid1).rssMiB;
    try {
      const c = await ns.client();
      for (const k of KINDS) samples.push(await roundTrips(c, k));
      c.close();
      rssAfter = memInfo(ns.pid1).rssMiB;
    } finally {
      await ns.kill();
    }
    const q = (xs: number[], p: number): string => fmt(quantile(xs, p), 3);
    const rows = KINDS.map((k, i) => {
      const xs = samples[i]!;
      return [k.label, q(xs, 0.5), q(xs, 0.9), q(xs, 0.99), q(xs, 1), fmt(xs.length / (xs.reduce((a, b) => a + b, 0) / 1000), 0)];
    });
    const status = samples[0]!;
    const p50 = quantile(status, 0.5);
    return {
      measured: `p50 ${fmt(p50, 3)} ms, p99 ${fmt(quantile(status, 0.99), 3)} ms`,
      verdict: p50 <= GOAL_P50_MS ? 'met' : 'not met',
      why: `${REQUESTS} sequential \`status\` requests over one connection: p50 ${fmt(p50, 3)} ms; the cheap methods show the fixed cost of a round trip (framing, zod validation of the request, JSON) — ${fmt(quantile(samples[2]!, 0.5), 3)} ms for \`logs\` with 0 lines. PID 1 RSS went from ${fmt(rssBefore)} to ${fmt(rssAfter)} MiB over the ${KINDS.length * (REQUESTS + WARMUP)} requests.`,
      method: `one unix-socket connection from the node client (\`connect(path)\` → \`call(method, params)\`, the CLI's client module); ${WARMUP} warm-up requests per kind, then ${REQUESTS} sequential requests timed with process.hrtime. Against metainit as PID 1 of a namespace with 5 services.`,
      details: table(['request', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'req/s'], rows),
      commands: ['# in node (bench/api-latency.ts): const c = await connect(SOCK); for (…) { t0 = hrtime(); await c.call("status", {}); … }'],
    };
  } finally {
    remove();
  }
}

export const apiBench: Bench = { key: 'api', title: 'API request latency', goal: `p50 ≤ ${GOAL_P50_MS} ms`, run: benchApiLatency };
