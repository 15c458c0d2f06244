/**
 * shutdown-latch.ts — the one shutdown request PID 1 acts on. Signals, the API and the container's
 * main service may all ask; the first request wins and the rest are logged as "already in
 * progress".
 */
import type { Logger, ShutdownKind } from '../base/types.js';

export interface ShutdownRequest {
  kind: ShutdownKind;
  /** who asked: "SIGTERM", "API poweroff request", "main service native/app ended" */
  why: string;
}

export interface ShutdownLatch {
  request(kind: ShutdownKind, why: string): void;
  /** resolves with the first request */
  readonly requested: Promise<ShutdownRequest>;
}

export function shutdownLatch(log: Logger): ShutdownLatch {
  let resolve: ((r: ShutdownRequest) => void) | undefined;
  const requested = new Promise<ShutdownRequest>((r) => (resolve = r));
  return {
    requested,
    request: (kind, why) => {
      if (!resolve) {
        log.info(`${why}: shutdown already in progress`);
        return;
      }
      const r = resolve;
      resolve = undefined;
      r({ kind, why });
    },
  };
}
