/**
 * fake-sys.test.ts — the strict fake refuses what a test did not allow, and records everything.
 */
import { expect } from 'chai';
import { createFakeSys } from '../fake-sys.js';

describe('fake sys', () => {
  it('throws on a call the test did not override, naming the call and its arguments', () => {
    const sys = createFakeSys();
    expect(() => sys.mount(null, '/mnt', 'tmpfs', 2, 'size=1m')).to.throw('fake sys: unexpected call to mount(null, "/mnt", "tmpfs", 2, "size=1m")');
    expect(() => sys.signal(37, () => {})).to.throw('fake sys: unexpected call to signal(37, <function>)');
  });

  it('runs overrides and records every call in order', () => {
    const sys = createFakeSys({ peek: () => 0, kill: () => true, SIGRTMIN: 35 });
    expect(sys.peek()).to.equal(0);
    expect(sys.kill(12, 15)).to.equal(true);
    expect(() => sys.reboot(0x4321fedc)).to.throw(/unexpected call to reboot/);
    expect(sys.calls.map((c) => c.name)).to.deep.equal(['peek', 'kill', 'reboot']);
    expect(sys.callsTo('kill')).to.deep.equal([[12, 15]]);
    expect(sys.SIGRTMIN).to.equal(35);
  });
});
