/**
 * spec.ts — the CLI's commands, arguments and flags, declared once.
 *
 * Two front ends read this table: the oclif commands in src/commands (help, manifest, the
 * offline commands) and the fast path in fast.ts, which runs the everyday client commands
 * (`status`, `start`, `logs` …) without loading oclif or zod so that `metainit status` costs little
 * more than starting node. Keep this file free of imports: the fast path loads it first.
 */

export interface FlagSpec {
  type: 'boolean' | 'string' | 'integer';
  char?: string;
  description: string;
  env?: string;
  default?: string | number | boolean;
  hidden?: boolean;
}

export interface ArgSpec {
  name: string;
  description: string;
  required: boolean;
  /** the last argument may be given several times (status NAME…) */
  variadic?: boolean;
}

export interface CommandSpec {
  summary: string;
  args: ArgSpec[];
  flags: Record<string, FlagSpec>;
  /** runs against a live metainit through the control socket (fast path) */
  client: boolean;
  examples?: string[];
}

const socket: FlagSpec = { type: 'string', description: 'control socket of the running metainit', env: 'METAINIT_SOCKET' };
const json: FlagSpec = { type: 'boolean', description: 'print stable JSON instead of a table' };
const configDir: FlagSpec = { type: 'string', description: 'configuration directory', default: '/etc/metainit' };
const name: ArgSpec = { name: 'name', description: 'service, as instance/service or a unique service name', required: true };

function control(summary: string): CommandSpec {
  return { summary, args: [name], flags: { socket, json }, client: true };
}
/** start, stop, restart: jobs that wait for their outcome */
function job(summary: string, deps: boolean): CommandSpec {
  const flags: Record<string, FlagSpec> = {
    socket,
    json,
    'no-block': { type: 'boolean', description: 'ask and return at once, without waiting for the outcome' },
    timeout: { type: 'string', description: 'how long to wait for the outcome: 30 (seconds), 500ms, 2m (default 30s)' },
  };
  if (deps) flags['with-deps'] = { type: 'boolean', description: 'start its stopped dependencies first (without it, a stopped dependency fails the start at once)' };
  return { summary, args: [name], flags, client: true, examples: [`metainit ${summary.split(' ')[0]!.toLowerCase()} native/web${deps ? ' --with-deps' : ''} --timeout 10s`] };
}
function power(summary: string): CommandSpec {
  return { summary, args: [], flags: { socket }, client: true };
}

export const COMMANDS: Record<string, CommandSpec> = {
  boot: {
    summary: 'Run the manager in the foreground (what PID 1 runs)',
    args: [],
    flags: {
      'config-dir': configDir,
      socket: { type: 'string', description: 'control socket to serve (default: from metainit.yaml, /run/metainit/control.sock)' },
      container: { type: 'boolean', description: 'container mode even when not in a PID namespace: SIGTERM/SIGINT stop everything and exit' },
      'reexec-state': { type: 'string', description: 'state file to re-adopt children from (set by a re-exec)', hidden: true },
      // what `metainit run -- CMD` turns into (so that a re-exec of PID 1 runs the same entrypoint)
      'main-argv': { type: 'string', description: 'the main command as a JSON array (metainit run)', hidden: true },
      group: { type: 'boolean', description: "forward signals to the main command's process group", hidden: true },
      'stop-signals': { type: 'string', description: 'signals that stop the container (metainit run)', hidden: true },
      verbose: { type: 'boolean', description: "with --main-argv: print metainit's progress lines too", hidden: true },
    },
    client: false,
    examples: ['metainit boot --config-dir ./examples/demo --socket /tmp/metainit.sock'],
  },
  run: {
    summary: 'Run CMD as the main service, as tini does (also: metainit -- CMD): signals forwarded, zombies reaped, its exit status returned',
    args: [{ name: 'command', description: 'the main command and its arguments, after --', required: true }],
    flags: {
      'config-dir': { type: 'string', description: "also run this configuration directory's services (default: none)" },
      group: { type: 'boolean', char: 'g', description: "forward signals to the main command's whole process group, not only to it" },
      'stop-signals': { type: 'string', description: 'signals that stop the container instead of being forwarded (comma-separated; "" for none)', default: 'SIGTERM,SIGINT' },
      socket: { type: 'string', description: 'control socket to serve (default: /run/metainit/control.sock as root, else in $XDG_RUNTIME_DIR)' },
      verbose: { type: 'boolean', char: 'v', description: "print metainit's own progress lines too (default: only warnings and errors, on stderr)" },
    },
    client: false,
    examples: ['metainit -- nginx -g "daemon off;"', 'metainit run -g -- /usr/local/bin/app --port 80', 'metainit run --config-dir /etc/metainit -- /app/server'],
  },
  status: {
    summary: 'Show every service as a table (with files that failed to load), or one in detail; filter by names, instance/, globs and --state',
    args: [{ name: 'name', description: 'one service (detail view), or several names, instance/ prefixes and globs (a filtered table)', required: false, variadic: true }],
    flags: {
      socket,
      json,
      all: { type: 'boolean', char: 'a', description: 'every kind of unit (sockets, timers, targets …), not only services and oneshots' },
      state: { type: 'string', description: 'only services in these states (comma-separated: running,error,bad-config …)' },
    },
    client: true,
    examples: ['metainit status', 'metainit status native/redis', 'metainit status native/ --state error', "metainit status 'systemd/*.service' runit/", 'metainit status --all --json'],
  },
  'is-active': {
    summary: 'Print active, activating, failed … for a service; exit 0 when it is active, 3 when not, 4 when there is no such service',
    args: [name],
    flags: { socket },
    client: true,
    examples: ['metainit is-active native/redis && echo up'],
  },
  'is-failed': {
    summary: 'Print the state word for a service; exit 0 when it failed (error), 1 when not',
    args: [name],
    flags: { socket },
    client: true,
  },
  start: job('Start a service and wait until it is ready (a stopped dependency fails it at once, naming it)', true),
  stop: job('Stop a service and wait until it has stopped', false),
  restart: job('Restart a service and wait until it is ready again', true),
  reload: control('Ask a service to re-read its own configuration (HUP, init script reload); for a native service: apply its changed file'),
  apply: control("Re-read a service's definition (native YAML file, init script header, run directory) and apply it"),
  kill: {
    summary: 'Send a signal to every process of a service (its process group or cgroup), or with --main to its main process only',
    args: [name, { name: 'signal', description: 'signal name, e.g. HUP, USR1, TERM', required: true }],
    flags: { socket, main: { type: 'boolean', description: 'only the main process, not the rest of its process group' } },
    client: true,
  },
  logs: {
    summary: 'Print the last lines of a service log (metainit for its own)',
    args: [name],
    flags: {
      socket,
      follow: { type: 'boolean', char: 'f', description: 'keep printing new lines' },
      lines: { type: 'integer', char: 'n', description: 'number of lines', default: 50 },
      output: { type: 'string', char: 'o', description: 'cat (the lines as written, default), short (time, stream, line), json (one object per line)' },
      since: { type: 'string', description: 'only lines since then: 10m, 2h, 1d back, or a time (21:00, 2026-12-01 21:00)' },
    },
    client: true,
  },
  console: {
    summary: "Attach to a console: a hosted systemd's /dev/console (metainit console systemd); its scrollback first, then live; detach with Ctrl-]",
    args: [{ name: 'name', description: 'an instance with a console (a systemd instance), or a service with one', required: true }],
    flags: { socket },
    client: true,
    examples: ['metainit console systemd'],
  },
  events: {
    summary: 'Follow what happens: state changes (restarts marked), orphans reaped, messages, shutdown requests, service lines with --type log',
    args: [{ name: 'name', description: 'only events of these services (names, instance/, globs)', required: false, variadic: true }],
    flags: {
      socket,
      json: { type: 'boolean', description: 'one JSON object per line' },
      type: { type: 'string', description: 'only these types, comma-separated: state, orphan, message, shutdown, log (default: all but log)' },
    },
    client: true,
    examples: ['metainit events', 'metainit events --type state native/', 'metainit events --type log,state native/web --json'],
  },
  sync: { summary: 'Re-read the configuration: start new services, stop deleted ones', args: [], flags: { socket, json }, client: true },
  roles: {
    summary: 'Show who holds each system role and who was vetoed',
    args: [],
    flags: { socket, json, 'config-dir': { type: 'string', description: 'decide offline for this configuration directory instead of asking the running metainit' } },
    client: true,
    examples: ['metainit roles', 'metainit roles --config-dir /etc/metainit --json'],
  },
  halt: power('Stop everything and halt'),
  poweroff: power('Stop everything and power off'),
  reboot: power('Stop everything and reboot'),
  reexec: power('Re-execute metainit in place (live upgrade), keeping every service running'),
  completion: {
    summary: 'Print the shell completion script (bash or zsh), generated from the command table',
    args: [{ name: 'shell', description: 'bash or zsh', required: true }],
    flags: {},
    client: false,
    examples: ['source <(metainit completion bash)', 'metainit completion zsh > "${fpath[1]}/_metainit"'],
  },
  man: {
    summary: 'Print the metainit(1) man page (roff), generated from the command table',
    args: [],
    flags: {},
    client: false,
    examples: ['metainit man | man -l -'],
  },
  check: {
    summary: 'Check a configuration directory offline: schema errors, unknown keys, cycles',
    args: [],
    flags: { 'config-dir': configDir, json },
    client: false,
  },
  plan: {
    summary: 'Print the parallel start levels of a configuration directory',
    args: [],
    flags: { 'config-dir': configDir, json },
    client: false,
  },
};
