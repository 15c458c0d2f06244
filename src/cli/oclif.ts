/**
 * oclif.ts — builds oclif Command classes from the single COMMANDS table (spec.ts), so that help,
 * the manifest and the fast path can never disagree about a flag. Client commands run the same
 * code as the fast path (client-commands.ts).
 */
import { Args, Command, Flags, type Interfaces } from '@oclif/core';
import { COMMANDS, type CommandSpec } from './spec.js';
import { runClientCommand } from './client-commands.js';


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

/** An oclif command class for the client command `name`. */
export function clientCommand(name: string): typeof Command {
  const spec = COMMANDS[name]!;
  return class extends Command {
    static override summary = spec.summary;
    static override args = oclifArgs(spec);
    static override flags = oclifFlags(spec);
    static override examples = spec.examples ?? [];
    async run(): Promise<void> {
      const { args, flags } = await this.parse(this.constructor as typeof Command);
      process.exitCode = await runClientCommand(name, args as Record<string, string | undefined>, flags as Record<string, string | number | boolean | undefined>);
    }
  };
}

/** An oclif command class for a fast-path command that is no client (`completion`, `man`): help from the table, the work in fast.ts. */
export function fastCommand(name: string): typeof Command {
  const spec = COMMANDS[name]!;
  return class extends Command {
    static override summary = spec.summary;
    static override args = oclifArgs(spec);
    static override flags = oclifFlags(spec);
    static override examples = spec.examples ?? [];
    async run(): Promise<void> {
      const { runFast } = await import('./fast.js');
      process.exitCode = await runFast([name, ...this.argv]);
    }
  };
}
