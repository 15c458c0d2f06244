/**
 * oclif.ts — builds oclif Command classes from the single COMMANDS table (spec.ts), so that help,
 * the manifest and the fast path can never disagree about a flag. The commands run the same
 * code as the fast path (fast.ts).
 */
import { Args, Command, Flags, type Interfaces } from '@oclif/core';
import { COMMANDS, type CommandSpec } from './spec.js';


export function oclifFlags(spec: CommandSpec): Interfaces.FlagInput {
  const flags: Interfaces.FlagInput = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const common = { description: f.description, hidden: f.hidden ?? false, ...(f.char ? { char: f.char as 'f' } : {}), ...(f.env ? { env: f.env } : {}) };
    if (f.type === 'boolean') flags[name] = Flags.boolean(common);
    else if (f.type === 'integer') flags[name] = Flags.integer({ ...common, ...(f.default !== undefined ? { default: Number(f.default) } : {}) });
    else flags[name] = Flags.string({ ...common, ...(f.default !== undefined ? { default: String(f.default) } : {}) });
  }
  return flags;
}

export function oclifArgs(spec: CommandSpec): Record<string, ReturnType<typeof Args.string>> {
  return Object.fromEntries(spec.args.map((a) => [a.name, Args.string({ description: a.description, required: a.required })]));
}

/**
 * An oclif command class for the table's command `name` (the client commands, `completion`,
 * `man`): help, flags and manifest from the table, the work done by the fast path — the one
 * parser and runner every command goes through (bin/run.js sends only --help here).
 */
export function tableCommand(name: string): typeof Command {
  const spec = COMMANDS[name]!;
  return class extends Command {
    static override summary = spec.summary;
    static override args = oclifArgs(spec);
    static override flags = oclifFlags(spec);
    static override examples = spec.examples ?? [];
    static override strict = spec.args.at(-1)?.variadic !== true;
    async run(): Promise<void> {
      const { runFast } = await import('./fast.js');
      process.exitCode = await runFast([name, ...this.argv]);
    }
  };
}
