/**
 * fast.ts — the CLI fast path: parse a client command from COMMANDS with node:util's parseArgs
 * and run it, without loading oclif (≈100 ms) or zod (≈60 ms). bin/run.js sends here every
 * client command that does not ask for --help; everything else goes through oclif.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { closest } from '../config/errors.js';
import { bootWords, parseRunArgs, signalList } from './run-args.js';
import { COMMANDS } from './spec.js';

/**
 * PID 1's image: the one-file bundle of pid1/main.js (tools/bundle.mjs, `npm run build`) when it
 * is there and not older than what tsc wrote, else main.js itself (a tsc-only build).
 */
function pid1Image(): string {
  const main = new URL('../pid1/main.js', import.meta.url);
  const bundle = new URL('../pid1/main.bundle.js', import.meta.url);
  try {
    return statSync(bundle).mtimeMs >= statSync(main).mtimeMs ? bundle.href : main.href;
  } catch {
    return main.href;
  }
}

/** client commands and `boot` (PID 1 must not pay oclif's memory and start-up cost) */
export function isFastCommand(argv: string[]): boolean {
  const cmd = argv[0];
  if (cmd === undefined || argv.includes('--help') || argv.includes('-h')) return false;
  if (cmd === 'completion' || cmd === 'man') return true;
  if (cmd === 'run') return !argv.slice(1, Math.max(1, argv.indexOf('--'))).some((w) => w === '--help' || w === '-h');
  return COMMANDS[cmd]?.client === true || cmd === 'boot';
}

export async function runFast(argv: string[]): Promise<number> {
  if (argv[0] === 'run') {
    // `run` is `boot` with the main command in hidden flags (a re-exec keeps them)
    const r = parseRunArgs(argv.slice(1));
    if (typeof r === 'string') {
      process.stderr.write(`metainit run: unable to parse arguments: ${r} (fix: metainit run [-g] [--config-dir DIR] -- CMD [ARGS…])\n`);
      return 2;
    }
    argv = ['boot', ...bootWords(r)];
  }
  const name = argv[0]!;
  const spec = COMMANDS[name]!;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [flag, f] of Object.entries(spec.flags)) {
    options[flag] = { type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.char ? { short: f.char } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(1), options, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`metainit ${name}: unable to parse arguments: ${(e as Error).message} (fix: see metainit ${name} --help)\n`);
    return 2;
  }
  const missing = spec.args.filter((a, i) => a.required && parsed.positionals[i] === undefined);
  const variadic = spec.args.at(-1)?.variadic === true;
  if (missing.length > 0 || (!variadic && parsed.positionals.length > spec.args.length)) {
    const usage = spec.args.map((a) => (a.required ? a.name.toUpperCase() : `[${a.name.toUpperCase()}]`)).join(' ');
    process.stderr.write(`metainit ${name}: unable to parse arguments: expected ${usage || 'no arguments'} (fix: metainit ${name} ${usage})\n`);
    return 2;
  }
  const flags: Record<string, string | number | boolean | undefined> = {};
  for (const [flag, f] of Object.entries(spec.flags)) {
    const v = parsed.values[flag] as string | boolean | undefined;
    if (v === undefined) flags[flag] = f.env ? process.env[f.env] : f.default;
    else if (f.type === 'integer') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) {
        process.stderr.write(`metainit ${name}: unable to parse --${flag}: "${String(v)}" is not a whole number\n`);
        return 2;
      }
      flags[flag] = n;
    } else flags[flag] = v;
  }
  if (name === 'boot') {
    // PID 1's young generation stays at its first 1 MiB semi-space instead of growing to 8 MiB
    // during boot and staying there (≈ 5 MiB of idle RSS; docs/benchmarks.md)
    setFlagsFromString('--semi-space-growth-factor=1');
    const { boot } = (await import(pid1Image())) as typeof import('../pid1/main.js');
    const i = argv.indexOf('--reexec-state');
    const bootArgs = argv.slice(1).filter((_, j) => j + 1 !== i && j + 1 !== i + 1);
    const mainArgv = flags['main-argv'] as string | undefined;
    await boot({
      configDir: mainArgv !== undefined && parsed.values['config-dir'] === undefined ? undefined : String(flags['config-dir']),
      entry: mainArgv === undefined ? undefined : { argv: JSON.parse(mainArgv) as string[], group: flags.group === true, verbose: flags.verbose === true, stopSignals: signalList(String(flags['stop-signals'] ?? '')) },
      socket: flags.socket as string | undefined,
      container: flags.container === true,
      reexecState: flags['reexec-state'] as string | undefined,
      bootArgs,
    });
    return 0;
  }
  if (name === 'completion' || name === 'man') {
    const gen = await import('./docs-gen.js');
    const shell = parsed.positionals[0];
    if (name === 'man') return process.stdout.write(gen.manPage(process.env.npm_package_version ?? packageVersion())), 0;
    if (shell !== 'bash' && shell !== 'zsh') {
      process.stderr.write(`metainit completion: unable to write completion for ${shell}: not a shell this knows (fix: metainit completion bash, or zsh)\n`);
      return 2;
    }
    process.stdout.write(shell === 'bash' ? gen.bashCompletion() : gen.zshCompletion());
    return 0;
  }
  const args = Object.fromEntries(spec.args.map((a, i) => [a.name, parsed.positionals[i]]));
  const { runClientCommand } = await import('./client-commands.js');
  return runClientCommand(name, args, flags, parsed.positionals.slice(spec.args.length));
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0';
  }
}

export function isKnownCommand(cmd: string | undefined): boolean {
  return cmd !== undefined && cmd in COMMANDS;
}

/** For a word that is no command: the usage error, with the command meant when it is a plausible typo. */
export function unknownCommand(cmd: string): string {
  const hit = closest(cmd, Object.keys(COMMANDS));
  return `metainit: unable to run ${cmd}: no such command (fix: ${hit ? `did you mean "metainit ${hit}"? ` : ''}see metainit --help)`;
}
