/**
 * config-watch.ts — pick up what a package installs while metainit runs, without a manual sync.
 *
 * Each adapter names the directories whose changes mean "re-read me" (`watchPaths`: an init.d,
 * a runlevel's rc links, a service directory, services.d). They are watched with inotify
 * (fs.watch, not recursive); a burst of events — dpkg unpacking a package, update-rc.d making
 * links — is folded into one `sync` QUIET_MS after the last event, at most one every MIN_GAP_MS,
 * and never two at once. Every sync decides the roles again before anything new starts
 * (manager.ts), so a second claimant a package brings is vetoed before it runs. A directory
 * that cannot be watched (missing, out of inotify watches) is said once and left alone.
 */
import { watch, type FSWatcher } from 'node:fs';

const QUIET_MS = 700;
const MIN_GAP_MS = 2000;

export interface ConfigWatch {
  close(): void;
}

export function watchConfig(paths: readonly string[], sync: (why: string) => Promise<unknown>, warn: (line: string) => void): ConfigWatch {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let last = 0;
  let why = '';
  let closed = false;

  const fire = (): void => {
    timer = undefined;
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    last = Date.now();
    const reason = why;
    sync(reason)
      .catch((e: unknown) => warn(`sync: unable to pick up the change in ${reason}: ${(e as Error).message}`))
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          schedule(reason);
        }
      });
  };
  const schedule = (path: string): void => {
    if (closed) return;
    why = path;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, Math.max(QUIET_MS, last + MIN_GAP_MS - Date.now()));
    timer.unref();
  };

  for (const path of [...new Set(paths)]) {
    try {
      const w = watch(path, { persistent: false }, () => schedule(path));
      w.on('error', (e) => {
        warn(`sync: stopped watching ${path}: ${e.message} (fix: run metainit sync after installing packages)`);
        w.close();
      });
      watchers.push(w);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') warn(`sync: unable to watch ${path}: ${code ?? (e as Error).message} (fix: run metainit sync after installing packages)`);
    }
  }
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
