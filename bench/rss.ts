/**
 * rss.ts — benchmark 1: memory of PID 1 when idle, metainit next to bare node and tini.
 *
 * Each candidate runs as PID 1 of its own namespace for IDLE_MS; then VmRSS, RssAnon and the
 * thread count of that PID 1 are read from the host's /proc/PID/status. metainit runs with two
 * idle services and its control API up (the socket answered a status request before the wait
 * started). A bare node that only imports zod and yaml is measured too: the floor for any PID 1
 * that loads those libraries. Goal: metainit ≤ 45 MB, against ~39 MB for a bare node.
 */
import { join } from 'node:path';
import { memInfo, type MemInfo } from './hostproc.js';
import { metainitCmd, nsCommandLine, startMetainit, startNamespace, type Namespace } from './namespace.js';
import type { Bench, Outcome } from './report.js';
import { fmt, ROOT, sleep, table, tempDir, writeNativeConfig } from './util.js';

const IDLE_MS = 3000;
const GOAL_MIB = 45;
const BARE_NODE = ['node', '-e', 'setInterval(()=>{},1000)'];
/** bare node plus the two libraries metainit's PID 1 loads (config + protocol schemas, YAML) */
const NODE_LIBS = ['node', '--input-type=module', '-e', `await import('${ROOT}/node_modules/zod/index.js'); await import('${ROOT}/node_modules/yaml/dist/index.js'); setInterval(()=>{},1000)`];
const TINI = ['tini', '-s', '--', 'sleep', '100'];

const quoteLast = (cmd: string[]): string[] => cmd.map((a, i) => (i === cmd.length - 1 ? `"${a}"` : a));

async function idleMem(ns: Namespace): Promise<MemInfo> {
  try {
    await sleep(IDLE_MS);
    return memInfo(ns.pid1);
  } finally {
    await ns.kill();
  }
}

async function benchRss(): Promise<Outcome> {
  const { dir, remove } = tempDir('rss');
  try {
    const cfg = writeNativeConfig(join(dir, 'cfg'), {
      idle1: { exec: 'sleep infinity' },
      idle2: { exec: 'sleep infinity' },
    });
    const mi = await idleMem(await startMetainit(cfg, dir));
    const node = await idleMem(await startNamespace(BARE_NODE, join(dir, 'node.log')));
    const libs = await idleMem(await startNamespace(NODE_LIBS, join(dir, 'libs.log')));
    const tini = await idleMem(await startNamespace(TINI, join(dir, 'tini.log')));
    const row = (name: string, m: MemInfo): string[] => [name, fmt(m.rssMiB), fmt(m.anonMiB), String(m.threads)];
    const met = mi.rssMiB <= GOAL_MIB;
    const over = mi.rssMiB - node.rssMiB;
    return {
      measured: `${fmt(mi.rssMiB)} MiB`,
      verdict: met ? 'met' : 'not met',
      why:
        `metainit uses ${fmt(over)} MiB more than a bare node (${fmt(node.rssMiB)} MiB), of which ${fmt(mi.anonMiB - node.anonMiB)} MiB anonymous` +
        (met ? '.' : `; the goal leaves room for ${fmt(GOAL_MIB - node.rssMiB)} MiB over bare node.`) +
        ` Importing zod and yaml alone (nothing else) puts an idle node at ${fmt(libs.rssMiB)} MiB (+${fmt(libs.rssMiB - node.rssMiB)} MiB); tini needs ${fmt(tini.rssMiB)} MiB.`,
      method: `each candidate is PID 1 of its own namespace, idle for ${IDLE_MS / 1000} s, then VmRSS / RssAnon / Threads of that PID 1 are read from the host's /proc (1 MiB = 1024 KiB; the goal's "MB" is read as MiB). metainit has 2 idle services (\`sleep infinity\`) and its unix-socket API up.`,
      details: table(['PID 1', 'VmRSS MiB', 'RssAnon MiB', 'threads'], [row('metainit (2 idle services, API up)', mi), row('bare node `setInterval`', node), row('node + `import` zod, yaml, `setInterval`', libs), row('tini -s -- sleep 100', tini)]),
      commands: [nsCommandLine(metainitCmd('CFG', 'SOCK')), nsCommandLine(quoteLast(BARE_NODE)), nsCommandLine(quoteLast(NODE_LIBS)), nsCommandLine(TINI), '# after 3 s: grep -E "VmRSS|RssAnon|Threads" /proc/<host pid of the namespace PID 1>/status'],
    };
  } finally {
    remove();
  }
}

export const rssBench: Bench = { key: 'rss', title: 'PID 1 RSS, idle, API up', goal: `≤ ${GOAL_MIB} MB`, run: benchRss };
