/**
 * crash-loop.test.ts — how an image counts the crashes before it and when the fallback takes
 * over (the ns tier runs a real loop: test/ns/hostile.test.ts).
 */
import { expect } from 'chai';
import { crashEnv, crashTimes, fallbackFor } from '../../../src/pid1/crash-loop.js';

const cfg = (over: object = {}) => ({ crashes: 3, within: 60_000, ...over });

describe('crash loop', () => {
  it('counts the inherited crashes within the window, and this start if a crash caused it', () => {
    const now = 1_000_000;
    const env = { METAINIT_CRASHES: `${now - 90_000},${now - 30_000},junk,${now - 1000}`, METAINIT_REEXEC: 'crash' };
    expect(crashTimes(env, now, 60_000)).to.deep.equal([now - 30_000, now - 1000, now]);
    expect(crashTimes({ ...env, METAINIT_REEXEC: 'request' }, now, 60_000), 'a metainit reexec is no crash').to.deep.equal([now - 30_000, now - 1000]);
    expect(crashTimes({}, now, 60_000)).to.deep.equal([]);
  });

  it('passes the history on, marked crash for the armed image and request for metainit reexec', () => {
    expect(crashEnv([1, 2], 'crash')).to.deep.equal(['METAINIT_CRASHES=1,2', 'METAINIT_REEXEC=crash']);
    expect(crashEnv([], 'request')).to.deep.equal(['METAINIT_CRASHES=', 'METAINIT_REEXEC=request']);
  });

  it('falls back only at fallback.crashes: the configured command, else a console shell (machine) or exit 1 (container)', () => {
    expect(fallbackFor([1, 2], cfg(), true)).to.equal(undefined);
    expect(fallbackFor([1, 2, 3], cfg({ exec: ['/sbin/sulogin'] }), false)).to.deep.equal({ exec: ['/sbin/sulogin'] });
    expect(fallbackFor([1, 2, 3], cfg({ exec: 'echo hi' }), false)).to.deep.equal({ exec: ['/bin/sh', '-c', 'echo hi'] });
    expect(fallbackFor([1, 2, 3], cfg(), true)).to.deep.equal({ exec: ['/bin/sh', '-c', 'exec /bin/sh -i </dev/console >/dev/console 2>&1'] });
    expect(fallbackFor([1, 2, 3], cfg(), false)).to.deep.equal({ exit: 1 });
  });
});
