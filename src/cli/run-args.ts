/**
 * run-args.ts — the arguments of `metainit run [FLAGS] [--] CMD [ARGS…]` (and `metainit -- CMD`).
 *
 * Like tini and dumb-init, option parsing stops at `--` or at the first word that is not an
 * option: everything after it is the main command, passed on as it is (its own `-x` included).
 * The result is turned into the hidden flags of `boot`, so that a re-exec of PID 1 re-runs the
 * same entrypoint. Keep this file free of imports beyond spec.ts: the fast path loads it.
 */
import { COMMANDS } from './spec.js';

export interface RunArgs {
  argv: string[];
  configDir?: string | undefined;
  group: boolean;
  /** signal names, e.g. ['SIGTERM', 'SIGINT'] */
  stopSignals: string[];
  socket?: string | undefined;
  verbose: boolean;
}

/** "TERM,int, SIGHUP" → ['SIGTERM', 'SIGINT', 'SIGHUP']; "" → [] */
export function signalList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean)
    .map((s) => (s.startsWith('SIG') ? s : `SIG${s}`));
}

/** Parse `run`'s words (after `run`); a string is the usage error. */
export function parseRunArgs(words: string[]): RunArgs | string {
  const spec = COMMANDS.run!;
  const byChar = new Map(Object.entries(spec.flags).flatMap(([name, f]) => (f.char ? [[f.char, name] as const] : [])));
  const values: Record<string, string | boolean> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-') || w === '-') break;
    const [rawName, inline] = w.startsWith('--') ? [w.slice(2).split('=')[0]!, w.includes('=') ? w.slice(w.indexOf('=') + 1) : undefined] : [byChar.get(w.slice(1)) ?? w, undefined];
    const flag = spec.flags[rawName];
    if (!flag) return `unknown option ${w}`;
    if (flag.type === 'boolean') {
      if (inline !== undefined) return `option --${rawName} takes no value`;
      values[rawName] = true;
    } else {
      const v = inline ?? words[++i];
      if (v === undefined) return `option --${rawName} needs a value`;
      values[rawName] = v;
    }
  }
  const argv = words.slice(i);
  if (argv.length === 0 || argv[0] === '') return 'no command to run';
  const stop = values['stop-signals'];
  return {
    argv,
    configDir: values['config-dir'] as string | undefined,
    group: values.group === true,
    stopSignals: signalList(typeof stop === 'string' ? stop : String(spec.flags['stop-signals']!.default)),
    socket: values.socket as string | undefined,
    verbose: values.verbose === true,
  };
}

/** the `boot` words that run the same entrypoint */
export function bootWords(r: RunArgs): string[] {
  return [
    ...(r.configDir !== undefined ? ['--config-dir', r.configDir] : []),
    ...(r.socket !== undefined ? ['--socket', r.socket] : []),
    '--main-argv',
    JSON.stringify(r.argv),
    ...(r.group ? ['--group'] : []),
    ...(r.verbose ? ['--verbose'] : []),
    '--stop-signals',
    r.stopSignals.join(','),
  ];
}
