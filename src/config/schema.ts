/**
 * schema.ts — zod schemas: the single source of truth for every configuration file.
 *
 * Types come from `z.infer`; defaults live here and nowhere else, each written once on its key
 * (an object that may be left out takes `.prefault({})`: its keys' own defaults fill it). Every object is `strict`, so an
 * unknown key is an error naming the key (the loader turns zod issues into one clear message per
 * file with the fix). Layout of a config directory:
 *
 *   DIR/metainit.yaml          GlobalConfig   (optional; every key has a default)
 *   DIR/adapters.d/NAME.yaml   InstanceConfig (one instance of an adapter per file; stem = name)
 *   DIR/services.d/NAME.yaml   NativeService  (the native instance's default services dir)
 */
import { z } from 'zod';
import { signalName, signalNumber } from '../base/signames.js';

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const UNITS_BYTES: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** A duration: a number of seconds (`10`, `0.5`) or a string with a unit (`500ms`, `10s`, `2m`). Parsed to milliseconds. */
export const Duration = z
  .union([z.number().nonnegative(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'number') return Math.round(v * 1000);
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration (fix: write seconds as a number, or a number with ms, s, m or h, e.g. "500ms", "10s")` });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * UNITS_MS[m[2] ?? 's']!);
  });

/** A size: a number of bytes or a string with a unit (`512k`, `10M`, `1G`). Parsed to bytes. */
export const Size = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'number') return v;
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kmg]?b?)\s*$/i.exec(v);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a size (fix: write bytes as a number, or a number with k, M or G, e.g. "10M")` });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * UNITS_BYTES[(m[2] ?? '').toLowerCase()]!);
  });

/**
 * A signal: a name with or without the SIG prefix, in any case (`TERM`, `SIGHUP`), a real-time
 * one (`RTMIN+3`, `SIGRTMAX-2`) or a number — whatever base/signames.ts reads. Normalised to the
 * canonical name (`SIGTERM`, `SIGRTMIN+3`).
 */
export const SignalName = z.union([z.string(), z.number().int()]).transform((v, ctx) => {
  const n = signalNumber(String(v));
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a signal name (fix: use a name such as TERM, INT, HUP, QUIT, KILL, USR1, RTMIN+3)` });
    return z.NEVER;
  }
  return signalName(n);
});

/** Dependency reference: "name" (same instance), "instance/name", or "role:NAME". */
export const DepRef = z.string().regex(/^(role:[a-z][a-z0-9-]*|[A-Za-z0-9_.@-]+(\/[A-Za-z0-9_.@:-]+)?)$/, {
  message: 'not a dependency reference (fix: write "name", "instance/name" or "role:NAME")',
});

export const ServiceName = z.string().regex(/^[A-Za-z0-9_.@-]+$/);

// ----------------------------------------------------------------------------- native service

export const RestartPolicy = z.enum(['always', 'on-failure', 'never']);

export const Backoff = z
  .object({
    /** first delay before a restart */
    initial: Duration.default(100),
    /** upper bound of the exponentially growing delay */
    max: Duration.default(30_000),
    /** multiplier applied after each failed run */
    factor: z.number().min(1).default(2),
    /** a run that lasted at least this long resets the delay to `initial` */
    reset_after: Duration.default(10_000),
  })
  .strict();

export const Readiness = z.union([
  /** sd_notify: READY=1 on $NOTIFY_SOCKET */
  z.literal('notify'),
  /** ready as soon as the process is spawned (default) */
  z.literal('spawn'),
  z
    .object({
      /** s6-style notification fd: the service writes a newline to this fd when ready */
      fd: z.number().int().min(3).max(255).optional(),
      /** sd_notify (same as the string form "notify") */
      notify: z.literal(true).optional(),
      /** a command run until it exits 0 (zinit `test:`); split like a shell, no shell */
      test: z.string().optional(),
      /** interval between two runs of `test` */
      interval: Duration.default(500),
      /** give up (service → error) when not ready in time; 0 = wait forever */
      timeout: Duration.default(0),
    })
    .strict()
    .refine((r) => [r.fd !== undefined, r.notify === true, r.test !== undefined].filter(Boolean).length === 1, {
      message: 'give exactly one of fd, notify or test (fix: e.g. "ready: {fd: 3}")',
    }),
]);

export const LogConfig = z.union([
  /** "file": log file under the log dir; "console": copy to metainit's stdout; "none": only the in-memory tail */
  z.enum(['file', 'console', 'none']),
  z
    .object({
      /** where lines go; default file */
      to: z.enum(['file', 'console', 'none']).default('file'),
      /** explicit log file path (default: <log_dir>/<instance>/<name>.log) */
      file: z.string().optional(),
      /** rotate when the file reaches this size */
      max_size: Size.default(1024 * 1024),
      /** rotated files kept (name.log.1 … name.log.N) */
      keep: z.number().int().min(0).max(100).default(3),
      /** lines kept in memory for `metainit logs` */
      tail: z.number().int().min(0).max(100_000).default(1000),
      /** the file cannot keep up (slow or full disk): block the service on its pipe, or drop lines (counted) */
      when_full: z.enum(['block', 'drop']).default('block'),
    })
    .strict(),
]);

export const NativeService = z
  .object({
    /** full command line, split like a shell without running one (or an argv array) */
    exec: z.union([z.string().min(1), z.array(z.string()).min(1)]),
    /** run `exec` through /bin/sh -c (opt-in) */
    shell: z.boolean().default(false),
    /** a oneshot runs once; exit 0 → `ok` and it is never respawned */
    oneshot: z.boolean().default(false),
    after: z.array(DepRef).default([]),
    /** extra environment; children otherwise get a clean one (PATH, HOME, USER, TERM, container) */
    environ: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String)).default({}),
    /** default: always for services, never for oneshots (filled in by the loader) */
    restart: RestartPolicy.optional(),
    backoff: Backoff.prefault({}),
    /** after this many restarts in a row without a run reaching backoff.reset_after → error; 0 = never give up */
    max_restarts: z.number().int().min(0).default(0),
    ready: Readiness.default('spawn'),
    user: z.union([z.string(), z.number().int()]).optional(),
    group: z.union([z.string(), z.number().int()]).optional(),
    cwd: z.string().optional(),
    /**
     * run as a container's main command does under tini: with metainit's own stdin, stdout, stderr
     * and environment, in its own process group of metainit's session — the terminal's foreground
     * when there is one (^C, ^Z and job control reach it). log: does not apply.
     */
    foreground: z.boolean().default(false),
    /**
     * run on a pseudo-terminal of its own that `metainit console NAME` attaches to (a shell, a
     * REPL, a program that wants a terminal); its output is also logged, line by line. For
     * interactive programs: its output passes through PID 1, unlike the log pipes of the others.
     */
    console: z.boolean().default(false),
    stop_signal: SignalName.default('SIGTERM'),
    stop_timeout: Duration.default(10_000),
    /** sd_notify watchdog: WATCHDOG=1 expected at least this often (WATCHDOG_USEC); 0 = off */
    watchdog: Duration.default(0),
    log: LogConfig.default('file'),
    /** roles this service can provide (role registry claims) */
    provides: z.array(z.string()).default([]),
    /** zinit compatibility: `test:` command = ready: {test: …} */
    test: z.string().optional(),
  })
  .strict();
export type NativeService = z.infer<typeof NativeService>;

// ----------------------------------------------------------------------------- instance

/**
 * Keys every instance file may have; adapter-specific keys are checked by the adapter's own schema.
 * `adapter` is any name here: the kinds this build has come from the adapter registry
 * (manager/registry.ts), which the loader is given (`loadInstances(dir, kinds)`).
 */
export const InstanceBase = z.object({
  adapter: z.string(),
  /** other instances ("runit") or roles ("role:logging") that must be ready first */
  after: z.array(DepRef).default([]),
  /** directory the instance runs chrooted in */
  root: z.string().default('/'),
  /** set false to keep the file but not start the instance */
  enabled: z.boolean().default(true),
});


// ----------------------------------------------------------------------------- global

export const GlobalConfig = z
  .object({
    /** control socket */
    socket: z.string().default('/run/metainit/control.sock'),
    /** members of this group (name or gid) may use the control socket besides root */
    group: z.union([z.string(), z.number().int()]).optional(),
    /** WebSocket API (off by default; loopback only; token from a root-only file) */
    websocket: z
      .object({
        enabled: z.boolean().default(false),
        port: z.number().int().min(1).max(65535).default(7788),
        token_file: z.string().default('/etc/metainit/api-token'),
      })
      .strict()
      .prefault({}),
    /** directory of per-service log files */
    log_dir: z.string().default('/var/log/metainit'),
    /** runtime state: sockets, state file, scan dirs */
    run_dir: z.string().default('/run/metainit'),
    /** in container mode, metainit exits with this service's exit code ("instance/name") */
    main: z.string().optional(),
    /** with a main service (container or supervisor mode): which signals to PID 1 stop the container; every other one is forwarded to main */
    main_signals: z
      .object({
        /** these stop the container: main first (with this very signal, unless it has a stop_signal of its own), then the rest */
        stop: z.array(SignalName).default(['SIGTERM', 'SIGINT']),
        /** forward to main's whole process group (tini -g), not only to its pid */
        group: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** when re-executed images keep crashing (pid1/crash-loop.ts): what PID 1 becomes instead */
    fallback: z
      .object({
        /** command exec'd in place of metainit (a string runs through /bin/sh -c); default: machine mode an emergency shell on the console, container mode exit 1 */
        exec: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
        /** this many crashes … */
        crashes: z.number().int().min(2).max(1000).default(5),
        /** … within this long make a loop */
        within: Duration.default(60_000),
      })
      .strict()
      .prefault({}),
    shutdown: z
      .object({
        /** stage 4: time between TERM and KILL of remaining processes (only waited while something lives) */
        grace: Duration.default(3000),
        /** stage 3: overall deadline for stopping all instances */
        timeout: Duration.default(90_000),
      })
      .strict()
      .prefault({}),
    /** role policy (see docs/roles.md): explicit owners and a priority order of instances */
    roles: z
      .object({
        owners: z.record(z.string(), z.string()).default({}),
        priority: z.array(z.string()).default([]),
        /** extra role names beyond the built-in ones */
        extra: z.array(z.string().regex(/^[a-z][a-z0-9-]*$/)).default([]),
        /** install a policy-rc.d answering 101 for vetoed services */
        policy_rc_d: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type GlobalConfig = z.infer<typeof GlobalConfig>;
