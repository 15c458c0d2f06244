/**
 * rate-limit.test.ts — warnings a client can provoke at will (refused connections, wrong
 * tokens) reach the log a few times per window, then as one counted line.
 */
import { expect } from 'chai';
import { rateLimited } from '../../../src/base/rate-limit.js';

describe('rate-limited warnings', () => {
  it('logs the first few of a window, then one line counting the rest', async () => {
    const lines: string[] = [];
    const r = rateLimited((l) => lines.push(l), 3, 200);
    for (let i = 1; i <= 1000; i++) r.note(`refused ${i}`);
    expect(lines).to.deep.equal(['refused 1', 'refused 2', 'refused 3']);
    await new Promise((res) => setTimeout(res, 300));
    expect(lines).to.have.length(4);
    expect(lines[3]).to.equal('997 more like this in the last 0.2 s were not logged (last: refused 1000)');
    r.note('refused again');
    expect(lines.at(-1), 'a new window logs again').to.equal('refused again');
  });
});
