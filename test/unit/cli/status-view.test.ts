/**
 * status-view.test.ts — the filters of `metainit status` and the detail view's lines.
 */
import { expect } from 'chai';
import { detailView, isExactName, matches, pick, statusList } from '../../../src/cli/status-view.js';
import type { ServiceStatus } from '../../../src/base/states.js';

const st = (id: string, state: ServiceStatus['state'], extra: Partial<ServiceStatus> = {}): ServiceStatus => ({
  id, instance: id.split('/')[0]!, name: id.split('/')[1]!, adapter: 'native', state, target: 'up', since: 0, restarts: 0, oneshot: false, kind: 'service', after: [], ...extra,
});

describe('cli: status filters and views', () => {
  const all = [st('native/web', 'running'), st('native/db', 'error'), st('runit/cron', 'running'), st('systemd/ssh.service', 'stopped')];

  it('picks by exact id, bare name, instance/ prefix, glob, and state', () => {
    expect(pick(all, ['web'], []).map((s) => s.id)).to.deep.equal(['native/web']);
    expect(pick(all, ['native/'], []).map((s) => s.id)).to.deep.equal(['native/web', 'native/db']);
    expect(pick(all, ['systemd/*.service', 'cron'], []).map((s) => s.id)).to.deep.equal(['runit/cron', 'systemd/ssh.service']);
    expect(pick(all, [], ['error', 'stopped']).map((s) => s.id)).to.deep.equal(['native/db', 'systemd/ssh.service']);
    expect(pick(all, ['native/'], ['running']).map((s) => s.id)).to.deep.equal(['native/web']);
    expect(matches('native/w.b', 'native/web', 'web'), 'a dot is no wildcard').to.equal(false);
    expect([isExactName('web'), isExactName('native/'), isExactName('w*')]).to.deep.equal([true, false, false]);
  });

  it('the table shows bad-config rows and marks a changed definition with its fix', () => {
    const text = statusList([st('native/web', 'running', { changed: true })], [{ id: 'native/typo', file: '/x/typo.yaml', message: 'key "restrat" is not known' }], false, 0);
    expect(text).to.match(/^native\/web +running\*/m);
    expect(text).to.match(/^native\/typo +bad-config .*key "restrat" is not known$/m);
    expect(text).to.include('run metainit apply native/web');
    // one table: the REASON column starts at the same place in every row
    const rows = text.split('\n').slice(0, 3);
    expect(rows[0]!.indexOf('STATE')).to.equal(rows[2]!.indexOf('bad-config'));
  });

  it('the detail view names the file, the command quoted as a shell would, dependencies both ways, the tree and the log', () => {
    const text = detailView({
      status: st('native/web', 'running', { pid: 40, after: ['db'], lastExit: { code: null, signal: 'SIGKILL' }, since: Date.now() - 5000 }),
      kind: 'native', file: '/etc/metainit/services.d/web.yaml', command: ['sh', '-c', 'echo hi; sleep 1'], dependents: ['native/api'],
      processes: [{ pid: 40, depth: 0, command: 'sh -c ...' }, { pid: 41, depth: 1, command: 'sleep 1' }], log: ['line one'],
    }, false);
    expect(text).to.include('defined in: /etc/metainit/services.d/web.yaml');
    expect(text).to.include("command: sh -c 'echo hi; sleep 1'");
    expect(text).to.match(/last exit: killed by SIGKILL/);
    expect(text).to.match(/after: db\n +dependents: native\/api/);
    expect(text).to.match(/ 40 sh -c \.\.\.\n +└─41 sleep 1/);
    expect(text).to.match(/last 1 log line\(s\):\n  line one$/);
  });
});
