/**
 * fake-sys.ts — a strict fake of the `Sys` seam for unit tests (dinit's bp_sys idea).
 *
 * createFakeSys(overrides) returns a Sys in which every method the test did not override throws
 * `fake sys: unexpected call to <name>(<args>)`, so a test states exactly which syscalls the code
 * under test may make, and an unexpected mount or reboot fails loudly instead of touching the
 * machine. Every call, expected or not, is appended to `calls` in order.
 */
import type { Sys } from '../../src/base/sys.js';

type Method = Exclude<keyof Sys, 'SIGRTMIN'>;

/** Every method of Sys; `satisfies` makes this fail to compile when Sys gains one. */
const METHODS = {
  waitpid: true,
  peek: true,
  kill: true,
  signal: true,
  setSubreaper: true,
  setName: true,
  reboot: true,
  mount: true,
  umount2: true,
  sethostname: true,
  sync: true,
  peercred: true,
  setCloexec: true,
  pipe: true,
  cloexecFrom: true,
  notifySocket: true,
  armCrashExec: true,
  execve: true,
  raiseNofile: true,
  spawnGroup: true,
  ignoreSignal: true,
} as const satisfies Record<Method, true>;

export interface FakeCall {
  name: Method;
  args: unknown[];
}

export interface FakeSys extends Sys {
  /** every call made, in order */
  readonly calls: FakeCall[];
  /** the argument lists of the calls to one method */
  callsTo(name: Method): unknown[][];
}

function show(v: unknown): string {
  if (typeof v === 'function') return '<function>';
  return JSON.stringify(v) ?? String(v);
}

export function createFakeSys(overrides: Partial<Sys> = {}): FakeSys {
  const calls: FakeCall[] = [];
  const fake: Record<string, unknown> = {
    SIGRTMIN: overrides.SIGRTMIN ?? 34,
    calls,
    callsTo: (name: Method) => calls.filter((c) => c.name === name).map((c) => c.args),
  };
  for (const name of Object.keys(METHODS) as Method[]) {
    const impl = overrides[name] as ((...args: unknown[]) => unknown) | undefined;
    fake[name] = (...args: unknown[]): unknown => {
      calls.push({ name, args });
      if (!impl) throw new Error(`fake sys: unexpected call to ${name}(${args.map(show).join(', ')})`);
      return impl(...args);
    };
  }
  return fake as unknown as FakeSys;
}
