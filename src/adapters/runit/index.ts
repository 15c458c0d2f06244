/**
 * runit adapter — hosts Debian's runit (runsvdir, runsv, sv) as children of metainit.
 *
 * Instance file (adapters.d/NAME.yaml):
 *
 *   adapter: runit
 *   services_dir: /etc/service   # default; entries = enabled services (links to /etc/sv/X)
 *   services: [ssh, cron]        # optional allow-list of entries of services_dir
 *   root: /srv/debian            # optional: a root filesystem to run in (chroot)
 *   after: [role:logging]
 *
 * All the machinery (scan dir, supervision of runsvdir, polling, stop, kill) is shared with s6 in
 * src/supervisor/scandir*.ts; this file says only how runit does each thing:
 *   - scanner: `runsvdir -P SCAN` (-P: every runsv in its own session); no log argument, so the
 *     runsv messages and the output of services without log/ reach metainit's pipe;
 *   - control: `sv up|down|restart|<signal> DIR` inside the root; `sv -w N down DIR…` to stop all;
 *   - stop the scanner: SIGHUP to runsvdir, which sends TERM to every runsv; each stops its
 *     service (and its log/ service) and exits;
 *   - state: supervise/status read directly and mapped by ./states.ts;
 *   - new or removed links: runsvdir rescans the scan dir by itself every 5 s.
 */
import type { AdapterContext, AdapterFactory } from '../adapter.js';
import { ScanDirAdapter } from '../scandir/adapter.js';
import { scanInstanceSchema, type ScanFlavor } from '../scandir/scandir.js';
import { runitObservation } from './states.js';

export const RunitInstance = scanInstanceSchema('runit', '/etc/service');

/** sv's command for each signal it can send (others go to the pid directly) */
const SV_SIGNALS: Partial<Record<string, string>> = {
  SIGSTOP: 'pause',
  SIGCONT: 'cont',
  SIGHUP: 'hup',
  SIGALRM: 'alarm',
  SIGINT: 'interrupt',
  SIGQUIT: 'quit',
  SIGUSR1: '1',
  SIGUSR2: '2',
  SIGTERM: 'term',
  SIGKILL: 'kill',
};

export const RUNIT_FLAVOR: ScanFlavor = {
  kind: 'runit',
  scanner: 'runsvdir',
  superviseComm: 'runsv',
  programs: ['runsvdir', 'runsv', 'sv'],
  scannerArgv: (scan) => ['runsvdir', '-P', scan],
  observe: (status) => runitObservation(status),
  notifies: () => false,
  up: (dir) => ['sv', 'up', dir],
  down: (dir) => ['sv', 'down', dir],
  restart: (dir) => ['sv', '-w', '7', 'restart', dir],
  signal: (dir, sig) => (SV_SIGNALS[sig] ? ['sv', SV_SIGNALS[sig]!, dir] : undefined),
  downAll: (dirs, ms) => [['sv', '-w', String(Math.max(1, Math.floor(ms / 1000))), 'down', ...dirs]],
  stopScanner: { signal: 'SIGHUP' },
};

export const createRunitAdapter: AdapterFactory = (ctx: AdapterContext) => new ScanDirAdapter(ctx, RUNIT_FLAVOR, RunitInstance);
