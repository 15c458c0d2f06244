/**
 * s6 adapter — hosts skarnet's s6 (s6-svscan, s6-supervise, s6-svc) as children of metainit.
 *
 * Instance file (adapters.d/NAME.yaml):
 *
 *   adapter: s6
 *   services_dir: /etc/s6/scan   # default; entries = enabled service directories (or links)
 *   services: [hello-s6]         # optional allow-list of entries of services_dir
 *   root: /srv/debian            # optional: a root filesystem to run in (chroot)
 *   after: [role:logging]
 *
 * About the default: s6 has no distribution-wide "enabled services" directory (s6-linux-init
 * builds /run/service at boot, s6-rc compiles a database), so metainit takes a directory of
 * links in the style of runit's /etc/service. /etc/s6/scan is what the test bed uses; point
 * services_dir at your own. metainit never runs s6-svscan on that directory itself: it assembles
 * its own scan dir of links to the entries (src/supervisor/scandir-adapter.ts). Note that s6-supervise
 * writes supervise/ and event/ into each service directory, as it always does.
 *
 * How s6 does each thing:
 *   - scanner: `s6-svscan SCAN`; its output and that of services without log/ reach metainit;
 *     a service with log/ gets its logger and the pipe between them from s6-svscan as usual;
 *   - control: `s6-svc -u|-d|-r -u|-<signal letter> DIR`; to stop all: `s6-svc -wD -T ms -d DIR`
 *     for each service at once;
 *   - stop the scanner: `s6-svscanctl -t SCAN` (SIGTERM if that fails);
 *   - state: supervise/status read directly and mapped by ./states.ts (notification-fd → the
 *     service is `starting` until it reports ready);
 *   - new or removed links: `s6-svscanctl -an SCAN` (rescan, stop supervisors of removed ones).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterContext, AdapterFactory } from '../adapter.js';
import { ScanDirAdapter } from '../scandir/adapter.js';
import { scanInstanceSchema, type ScanFlavor } from '../scandir/scandir.js';
import { s6Observation } from './states.js';

export const S6Instance = scanInstanceSchema('s6', '/etc/s6/scan');

/** s6-svc's option for each signal it can send (others go to the pid directly) */
const SVC_SIGNALS: Partial<Record<string, string>> = {
  SIGALRM: '-a',
  SIGABRT: '-b',
  SIGQUIT: '-q',
  SIGHUP: '-h',
  SIGKILL: '-k',
  SIGTERM: '-t',
  SIGINT: '-i',
  SIGUSR1: '-1',
  SIGUSR2: '-2',
  SIGSTOP: '-p',
  SIGCONT: '-c',
  SIGWINCH: '-y',
};

export const S6_FLAVOR: ScanFlavor = {
  kind: 's6',
  scanner: 's6-svscan',
  superviseComm: 's6-supervise',
  programs: ['s6-svscan', 's6-supervise', 's6-svc', 's6-svscanctl'],
  scannerArgv: (scan) => ['s6-svscan', scan],
  observe: (status, notify) => s6Observation(status, notify),
  notifies: (hostDir) => existsSync(join(hostDir, 'notification-fd')),
  up: (dir) => ['s6-svc', '-u', dir],
  down: (dir) => ['s6-svc', '-d', dir],
  restart: (dir) => ['s6-svc', '-r', '-u', dir],
  signal: (dir, sig) => (SVC_SIGNALS[sig] ? ['s6-svc', SVC_SIGNALS[sig]!, dir] : undefined),
  downAll: (dirs, ms) => dirs.map((dir) => ['s6-svc', '-wD', '-T', String(Math.max(1, ms)), '-d', dir]),
  stopScanner: { argv: (scan) => ['s6-svscanctl', '-t', scan], signal: 'SIGTERM' },
  rescan: (scan) => ['s6-svscanctl', '-an', scan],
};

export const createS6Adapter: AdapterFactory = (ctx: AdapterContext) => new ScanDirAdapter(ctx, S6_FLAVOR, S6Instance);
