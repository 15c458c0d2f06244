/**
 * config.test.ts — loading a configuration directory: values, defaults, normalisation, and the
 * message a user reads for each kind of mistake. Fixture directories live in
 * test/fixtures/config/<case>/; small one-off cases are written to a temporary directory.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../../../src/base/types.js';
import { closest, issuesToDiagnostics, type Subject } from '../../../src/config/errors.js';
import { loadGlobal, loadInstances, loadNativeServices, resolveNativeService } from '../../../src/config/loader.js';
import { checkConfig, planConfig } from '../../../src/manager/plan.js';
import { knownKinds } from '../../../src/manager/registry.js';
import { GlobalConfig, NativeService, SignalName } from '../../../src/config/schema.js';
import { parseYamlText } from '../../../src/config/yaml-file.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/config/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);

/** the one diagnostic about `file` (fails the test when there are none or several) */
function only(diags: Diagnostic[], file: string): Diagnostic {
  const hits = diags.filter((d) => d.file.endsWith(file));
  expect(hits, `diagnostics for ${file}: ${JSON.stringify(diags.map((d) => d.message))}`).to.have.length(1);
  return hits[0]!;
}

const temps: string[] = [];
/** a config dir made of { "relative/path": "text" } */
function tmpConfig(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'metainit-config-'));
  temps.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

const subject: Subject = { file: '/etc/metainit/services.d/x.yaml', what: 'service native/x', service: 'native/x' };
const problems = (input: unknown): string[] => {
  const r = NativeService.safeParse(input);
  expect(r.success, 'input should be invalid').to.equal(false);
  return issuesToDiagnostics(r.error!.issues, input, NativeService, subject).map((d) => d.message.replace(`${subject.file}: unable to load service native/x: `, ''));
};

describe('config: global file', () => {
  it('reads metainit.yaml, parsing durations and filling nested defaults', () => {
    const { config, diagnostics } = loadGlobal(fixture('valid'));
    expect(diagnostics).to.deep.equal([]);
    expect(config.log_dir).to.equal('/var/log/test');
    expect(config.shutdown).to.deep.equal({ grace: 500, timeout: 60_000 });
    expect(config.websocket).to.deep.equal({ enabled: true, port: 7788, token_file: '/etc/metainit/api-token' });
    expect(config.socket).to.equal('/run/metainit/control.sock');
  });

  it('uses every default when the file does not exist', () => {
    expect(loadGlobal(fixture('zinit-layout'))).to.deep.equal({ config: GlobalConfig.parse({}), diagnostics: [] });
  });

  it('falls back to the defaults and says why when the file is wrong', () => {
    const { config, diagnostics } = loadGlobal(fixture('bad-global'));
    expect(config).to.deep.equal(GlobalConfig.parse({}));
    const d = only(diagnostics, 'bad-global/metainit.yaml');
    expect(d).to.include({ level: 'error', key: 'websocket.port', file: join(fixture('bad-global'), 'metainit.yaml') });
    expect(d.message).to.equal(
      `${join(fixture('bad-global'), 'metainit.yaml')}: unable to load global config: key "websocket.port": expected a number, got the string "eighty" (fix: write a number without quotes)`,
    );
  });

  it('names the closest key inside a nested section', () => {
    const d = loadGlobal(tmpConfig({ 'metainit.yaml': 'shutdown: {grce: 1s}\n' })).diagnostics;
    expect(d.map((x) => x.message)).to.have.length(1);
    expect(d[0]!.message).to.match(/key "shutdown\.grce" is not known \(fix: did you mean "grace"\? valid keys: grace, timeout\)$/);
  });
});

describe('config: instances', () => {
  it('loads adapters.d, passing adapter-specific keys through and resolving paths against the config dir', () => {
    const dir = fixture('valid');
    const { instances, diagnostics } = loadInstances(dir, knownKinds());
    expect(diagnostics).to.deep.equal([]);
    expect(instances.map((i) => i.name)).to.deep.equal(['native', 'runit']);
    const [native, runit] = instances;
    expect(native!.config).to.deep.include({ adapter: 'native', services: 'services.d', root: '/', enabled: true, after: [] }); // the native adapter resolves services: against the config dir
    expect(runit!.config).to.deep.include({ adapter: 'runit', services_dir: '/etc/service', root: join(dir, 'rootfs'), after: ['native', 'role:logging'] });
    expect(runit!.file).to.equal(join(dir, 'adapters.d', 'runit.yaml'));
  });

  it('assumes one native instance "native" when there is a services.d but no adapters.d', () => {
    const dir = fixture('zinit-layout');
    const { instances, diagnostics } = loadInstances(dir, knownKinds());
    expect(diagnostics).to.deep.equal([]);
    expect(instances).to.have.length(1);
    expect(instances[0]!.name).to.equal('native');
    expect(instances[0]!.config).to.deep.include({ adapter: 'native', services: join(dir, 'services.d') });
  });

  it('warns when there is nothing to run at all', () => {
    const { instances, diagnostics } = loadInstances(tmpConfig({ 'metainit.yaml': '' }), knownKinds());
    expect(instances).to.deep.equal([]);
    expect(diagnostics).to.have.length(1);
    expect(diagnostics[0]!.level).to.equal('warning');
    expect(diagnostics[0]!.message).to.contain('neither adapters.d nor services.d exists');
  });

  describe('with bad instance files', () => {
    const { instances, diagnostics } = loadInstances(fixture('instances'), knownKinds());

    it('skips each bad file and loads the rest (an adapter-specific key is the adapter\'s to judge)', () => {
      expect(instances.map((i) => i.name)).to.deep.equal(['main', 'off', 's6', 'strict']);
      expect(instances.find((i) => i.name === 's6')!.config).to.deep.include({ scandir: '/run/s6' });
    });

    it('leaves a native instance\'s own keys to the native adapter, which checks them strictly and suggests the key meant', async () => {
      expect(diagnostics.filter((d) => d.file.endsWith('strict.yaml'))).to.deep.equal([]);
      const c = await checkConfig(fixture('instances'));
      expect(only(c.plan.diagnostics, 'strict.yaml').message).to.match(
        /strict\.yaml: unable to load instance strict: key "servics" is not known \(fix: did you mean "services"\? valid keys: adapter, after, root, enabled, services\)$/,
      );
    });

    it('lists the adapters when the adapter is misspelt', () => {
      expect(only(diagnostics, 'typo.yaml').message).to.contain('key "adapter": expected one of "native", "runit", "s6", "sysv", "openrc", "systemd", got the string "natve"');
    });

    it('says an empty instance file is empty', () => {
      expect(only(diagnostics, 'empty.yaml').message).to.match(/unable to load instance empty: file is empty \(fix: add at least adapter: native/);
    });
  });
});

describe('config: native services', () => {
  const dir = join(fixture('valid'), 'services.d');
  const { services, diagnostics } = loadNativeServices(dir, 'native');

  it('loads every *.yaml and *.yml file, named by its stem, and nothing else', () => {
    expect(diagnostics).to.deep.equal([]);
    expect([...services.keys()].sort()).to.deep.equal(['dns', 'net', 'redis', 'report']);
  });

  it('parses the zos example file as written', () => {
    const redis = services.get('redis')!;
    expect(redis.def).to.deep.include({ oneshot: false, after: ['net', 'dns'], environ: { 'KEY-1': 'VALUE-1' }, restart: 'always', ready: 'spawn' });
    expect(redis.def.argv).to.deep.equal(['/usr/bin/redis-server', '--port', '7777']);
    expect(redis.file).to.equal(join(dir, 'redis.yaml'));
    expect(redis.raw).to.equal(readFileSync(join(dir, 'redis.yaml'), 'utf8'));
  });

  it('defaults restart to never for a oneshot', () => {
    expect(services.get('net')!.def.restart).to.equal('never');
  });

  it('turns test: into ready: {test} and splits both commands', () => {
    const dns = services.get('dns')!.def;
    expect(dns.ready).to.deep.equal({ test: '/usr/bin/dig @127.0.0.1 localhost', interval: 500, timeout: 0 });
    expect(dns.readyArgv).to.deep.equal(['/usr/bin/dig', '@127.0.0.1', 'localhost']);
    expect(dns.argv).to.deep.equal(['/usr/sbin/dnsmasq', '--keep-in-foreground', '--conf-file=/etc/dnsmasq conf']);
    expect(dns).to.not.have.property('test');
  });

  it('parses durations, sizes and signal names', () => {
    const dns = services.get('dns')!.def;
    expect(dns.backoff).to.deep.equal({ initial: 200, max: 5000, factor: 2, reset_after: 60_000 });
    expect(dns.stop_timeout).to.equal(2500);
    expect(dns.stop_signal).to.equal('SIGINT');
    expect(dns.log).to.deep.equal({ to: 'file', max_size: 10 * 1024 * 1024, keep: 2, tail: 1000, when_full: 'block' });
  });

  it('runs exec through /bin/sh -c only with shell: true', () => {
    expect(services.get('report')!.def.argv).to.deep.equal(['/bin/sh', '-c', 'echo "ready at $(date)" > /run/report']);
  });

  describe('with bad files', () => {
    const broken = loadNativeServices(join(fixture('broken'), 'services.d'), 'native');
    const d = broken.diagnostics;

    it('skips each bad file and loads the rest', () => {
      expect([...broken.services.keys()]).to.deep.equal(['good']);
      expect(d.every((x) => x.level === 'error')).to.equal(true);
      expect(d.find((x) => x.file.endsWith('typo.yaml'))!.service).to.equal('native/typo');
    });

    it('reports malformed YAML once, with line:col', () => {
      expect(only(d, 'malformed.yaml').message).to.match(/malformed\.yaml: unable to load service native\/malformed: line 3:1: invalid YAML: .+ \(fix: correct the YAML syntax at that position\)$/);
    });

    it('suggests the closest key for an unknown key', () => {
      const typo = d.filter((x) => x.file.endsWith('typo.yaml'));
      expect(typo.map((x) => x.key).sort()).to.deep.equal(['exce', 'exec']);
      expect(typo.find((x) => x.key === 'exce')!.message).to.match(/key "exce" is not known \(fix: did you mean "exec"\? valid keys: exec, shell, oneshot, /);
    });

    it('names the expected type and what was given', () => {
      const msgs = d.filter((x) => x.file.endsWith('wrongtype.yaml')).map((x) => x.message.replace(/^.*: unable to load service native\/wrongtype: /, ''));
      expect(msgs).to.deep.equal([
        'key "oneshot": expected true or false, got the string "yes" (fix: write oneshot: true or oneshot: false)',
        'key "after": expected a list, got the string "net" (fix: write a list, e.g. after: [a, b])',
      ]);
    });

    it('says a missing exec is required and how to add it', () => {
      expect(only(d, 'noexec.yaml').message).to.match(/: key "exec" is required \(fix: add exec: \/path\/to\/program args\)$/);
    });

    it('says an empty file is empty', () => {
      expect(only(d, 'empty.yaml').message).to.match(/unable to load service native\/empty: file is empty \(fix: add at least exec: /);
    });

    it('reports a command line with an unterminated quote', () => {
      expect(only(d, 'unquoted.yaml')).to.include({ key: 'exec' });
      expect(only(d, 'unquoted.yaml').message).to.contain('key "exec": unable to split command line: unterminated quote');
    });

    it('passes on the fix written in the schema for a bad duration', () => {
      expect(only(d, 'badduration.yaml').message).to.contain('key "stop_timeout": "soon" is not a duration (fix: write seconds as a number');
    });

    it('refuses a file name that is not a service name', () => {
      expect(only(d, 'bad name.yaml').message).to.contain('"bad name" is not a valid name (fix: rename the file');
    });
  });

  describe('normalisation', () => {
    const resolve = (input: Record<string, unknown>) => resolveNativeService(NativeService.parse(input), input, subject);

    it('keeps an exec list as the argv', () => {
      expect(resolve({ exec: ['/bin/echo', 'a b'] }).def!.argv).to.deep.equal(['/bin/echo', 'a b']);
    });

    it('warns that shell: true does nothing with an exec list', () => {
      const r = resolve({ exec: ['/bin/echo'], shell: true });
      expect(r.def!.argv).to.deep.equal(['/bin/echo']);
      expect(r.diagnostics.map((x) => x.level)).to.deep.equal(['warning']);
    });

    it('keeps an explicit restart policy', () => {
      expect(resolve({ exec: '/bin/true', oneshot: true, restart: 'always' }).def!.restart).to.equal('always');
    });

    it('refuses test: together with ready:', () => {
      const r = resolve({ exec: '/bin/true', test: '/bin/true', ready: 'notify' });
      expect(r.def).to.equal(undefined);
      expect(r.diagnostics[0]!.message).to.contain('both test: and ready: are given');
    });

    it('refuses a command line of blanks only', () => {
      expect(resolve({ exec: '   ' }).diagnostics[0]!.message).to.contain('key "exec": the command line has no words');
    });
  });
});

describe('config: signal names (one table: base/signames.ts)', () => {
  it('accepts classic and real-time names in any spelling and normalises them', () => {
    const parse = (v: unknown): unknown => SignalName.parse(v);
    expect(['TERM', 'sigterm', 'SIGTERM', 15].map(parse)).to.deep.equal(['SIGTERM', 'SIGTERM', 'SIGTERM', 'SIGTERM']);
    expect(['RTMIN+3', 'SIGRTMIN+3', 37].map(parse)).to.deep.equal(['SIGRTMIN+3', 'SIGRTMIN+3', 'SIGRTMIN+3']);
    expect(parse('rtmin')).to.equal('SIGRTMIN');
  });

  it('rejects what names no signal, with the fix', () => {
    const r = SignalName.safeParse('TREM');
    expect(r.success).to.equal(false);
    expect(r.error?.issues[0]?.message).to.equal('"TREM" is not a signal name (fix: use a name such as TERM, INT, HUP, QUIT, KILL, USR1, RTMIN+3)');
    expect(SignalName.safeParse('RTMIN+40').success).to.equal(false);
  });
});

describe('config: messages for zod issues', () => {
  it('suggests a key only when one is close', () => {
    expect(closest('exce', ['exec', 'shell'])).to.equal('exec');
    expect(closest('Oneshot', ['exec', 'oneshot'])).to.equal('oneshot');
    expect(closest('restart_delay', ['exec', 'oneshot'])).to.equal(undefined);
  });

  it('lists the forms a union accepts', () => {
    expect(problems({ exec: 5 })).to.deep.equal(['key "exec": expected a string or a list, got the number 5 (fix: write exec as a string or a list)']);
    expect(problems({ exec: 'x', ready: 'weird' })[0]).to.equal('key "ready": expected "notify", "spawn" or a mapping, got the string "weird" (fix: write ready as "notify", "spawn" or a mapping)');
  });

  it('reports the problem inside the union branch that matched', () => {
    expect(problems({ exec: 'x', ready: { fd: 'three' } })).to.deep.equal(['key "ready.fd": expected a number, got the string "three" (fix: write a number without quotes)']);
    expect(problems({ exec: 'x', ready: { fd: 3, timout: 1 } })[0]).to.match(/^key "ready\.timout" is not known \(fix: did you mean "timeout"\? valid keys: fd, notify, test, interval, timeout\)$/);
  });

  it('points at list items and suggests quoting a number given for a name', () => {
    expect(problems({ exec: 'x', after: ['net', 2] })).to.deep.equal(['key "after[1]": expected a string, got the number 2 (fix: quote it: "2")']);
  });

  it('explains bounds', () => {
    expect(problems({ exec: 'x', log: { to: 'file', keep: 500 } })).to.deep.equal(['key "log.keep": must be at most 100, got the number 500 (fix: use a value of at most 100)']);
    expect(problems({ exec: '' })).to.deep.equal(['key "exec": must not be empty (fix: give exec a value or remove the key)']);
  });

  it('says when the file is not a mapping at all', () => {
    expect(problems(['exec', '/bin/true'])).to.deep.equal(['expected a mapping of keys, got a list (fix: write one "key: value" per line)']);
  });

  it('reports a repeated key as a YAML error with its position', () => {
    const r = parseYamlText('exec: a\nexec: b\n', subject);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).to.equal(`${subject.file}: unable to load service native/x: line 2:1: invalid YAML: map keys must be unique ("exec" is repeated) (fix: keep one of the repeated keys)`);
  });
});

describe('config: hostile YAML', () => {
  it('finds a repeated key among 40 000 in one pass, and names it with its line', () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`);
    const r = parseYamlText(`environ:\n${keys.map((k) => `  ${k}`).join('\n')}\n  k7: again\n`, subject);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).to.include('line 40002:3: invalid YAML: map keys must be unique ("k7" is repeated)');
  });

  it('refuses an alias bomb and says what it is', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`), 'exec: *h'].join('\n');
    const r = parseYamlText(bomb, subject);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).to.match(/invalid YAML: its aliases \(\*name\) expand to too many nodes .*an alias bomb\?\) \(fix: write the repeated values out, or use fewer aliases\)$/);
  });

  it('refuses a file over the size cap before parsing it', () => {
    const r = parseYamlText(`exec: ${'x'.repeat(1024 * 1024 + 1)}\n`, subject);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.diagnostics[0]!.message).to.match(/characters, more than the 1048576 a configuration file may have \(fix: split it/);
  });
});

describe('config: check and plan', () => {
  it('passes a valid directory and plans instances and services in levels', async () => {
    const c = await checkConfig(fixture('valid'));
    expect(c.ok).to.equal(true);
    expect(c.errors).to.deep.equal([]);
    // runit's after: [role:logging] with no logging claimant in the directory: ordering only, said once
    expect(c.warnings.map((d) => d.message.replace(/ \(fix: .*\)$/, '').replace(`${d.file}: `, ''))).to.deep.equal(['runit: after "role:logging": nobody holds role logging, so this orders nothing: runit starts without waiting for it']);
    expect(c.plan.instanceLevels).to.deep.equal([['native'], ['runit']]);
    expect(c.plan.levels).to.deep.equal([['native/net'], ['native/dns'], ['native/redis'], ['native/report']]);
  });

  it('levels an instance after role:NAME behind the instance holding that role, as boot waits for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metainit-plan-role-'));
    try {
      const put = (f: string, text: string): void => {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), text);
      };
      put('adapters.d/a.yaml', 'adapter: native\nservices: a-services\nafter: [role:logging]\n');
      put('a-services/app.yaml', 'exec: /bin/sleep 100\n');
      put('adapters.d/z.yaml', 'adapter: native\nservices: z-services\n');
      put('z-services/logger.yaml', 'exec: /bin/sleep 100\nprovides: [logging]\n');
      const p = await planConfig(dir);
      expect(p.diagnostics).to.deep.equal([]);
      expect(p.instanceLevels).to.deep.equal([['z'], ['a']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('plans 1→2, 3→4 as [[1,3],[2,4]]', async () => {
    const p = await planConfig(fixture('levels'));
    expect(p.diagnostics).to.deep.equal([]);
    expect(p.levels).to.deep.equal([['native/1', 'native/3'], ['native/2', 'native/4']]);
  });

  it('reports a cycle of three once and still plans the independent services', async () => {
    const c = await checkConfig(fixture('cycle'));
    expect(c.ok).to.equal(false);
    expect(c.errors.map((d) => d.message)).to.deep.equal([`${join(fixture('cycle'), 'services.d', 'a.yaml')}: native/a: unable to schedule: dependency cycle a → b → c → a (fix: remove one of these after: entries)`]);
    expect(c.errors[0]).to.include({ file: join(fixture('cycle'), 'services.d', 'a.yaml'), service: 'native/a', key: 'after' });
    expect(c.plan.cycles).to.deep.equal([['native/a', 'native/b', 'native/c']]);
    expect(c.plan.levels).to.deep.equal([['native/d'], ['native/f', 'native/g']]);
    expect(c.plan.blocked).to.deep.equal(['native/a', 'native/b', 'native/c', 'native/e']);
  });

  it('warns about an after: entry that names no service', async () => {
    const c = await checkConfig(fixture('cycle'));
    expect(c.warnings.map((d) => d.message)).to.deep.equal([`${join(fixture('cycle'), 'services.d', 'g.yaml')}: native/g: after "ghost": no such service (fix: correct the name, add what it names, or remove it from after:)`]);
    expect(c.plan.unknownRefs).to.deep.equal([{ from: 'native/g', ref: 'ghost', file: join(fixture('cycle'), 'services.d', 'g.yaml') }]);
  });

  it('checks references across instances as far as they can be known offline', async () => {
    const p = await planConfig(fixture('instances'));
    // each names its file first: shown here without it
    const refs = p.diagnostics.filter((d) => d.key === 'after').map((d) => d.message.replace(/ \(fix: .*\)$/, '').replace(`${d.file}: `, ''));
    expect(refs).to.deep.equal([
      'main/web: after "off/bar": instance off is disabled, so this never becomes ready',
      'main/web: after "main/nope": no such service',
      'main/web: after "elsewhere/x": no such instance "elsewhere"',
      'main/web: after "role:logging": nobody holds role logging, so this orders nothing: main/web starts without waiting for it',
      's6: after "ghost": no such instance',
      's6: after "role:logging": nobody holds role logging, so this orders nothing: s6 starts without waiting for it',
    ]);
    expect(p.levels).to.deep.equal([['main/db'], ['main/web']]);
    expect(p.instanceLevels).to.deep.equal([['main']]); // strict and s6 have errors in their own files: reported, not run
  });

  it('an unknown role in after: is an error; a role nobody holds orders nothing, and says so', async () => {
    const dir = tmpConfig({
      'metainit.yaml': 'roles: {extra: [mail-transport]}\n',
      'services.d/a.yaml': 'exec: sleep 1\nafter: [role:time-sync, role:bogus-role, role:mail-transport, role:logging]\n',
      'services.d/syslog.yaml': 'exec: sleep 1\nprovides: [logging]\n',
      'adapters.d/native.yaml': 'adapter: native\nafter: [role:cron]\n',
    });
    const c = await checkConfig(dir);
    const file = join(dir, 'services.d/a.yaml');
    expect(c.errors.map((d) => d.message)).to.deep.equal([`${file}: native/a: after "role:bogus-role": no such role (fix: use one of logging, cron, monitoring, device-manager, network, time-sync, message-bus, login, system-init, shutdown, mail-transport, or add it to roles.extra in metainit.yaml)`]);
    const unheld = c.warnings.filter((d) => /nobody holds role/.test(d.message)).map((d) => d.message.replace(/ \(fix: .*\)$/, ''));
    expect(unheld).to.deep.equal([
      `${file}: native/a: after "role:time-sync": nobody holds role time-sync, so this orders nothing: native/a starts without waiting for it`,
      `${file}: native/a: after "role:mail-transport": nobody holds role mail-transport, so this orders nothing: native/a starts without waiting for it`,
      `${join(dir, 'adapters.d/native.yaml')}: native: after "role:cron": nobody holds role cron, so this orders nothing: native starts without waiting for it`,
    ]);
  });

  it('a configuration directory that does not exist is an error, not an empty configuration', async () => {
    const c = await checkConfig('/nonexistent/metainit');
    expect(c.ok).to.equal(false);
    expect(c.errors[0]!.message).to.equal('/nonexistent/metainit: unable to read the configuration: ENOENT (fix: pass --config-dir the directory that holds metainit.yaml, adapters.d or services.d)');
  });

  it('reports a cycle between instance files', async () => {
    const dir = tmpConfig({ 'adapters.d/a.yaml': 'adapter: runit\nafter: [b]\n', 'adapters.d/b.yaml': 'adapter: s6\nafter: [a]\n', 'adapters.d/c.yaml': 'adapter: sysv\n' });
    const c = await checkConfig(dir);
    expect(c.errors.filter((d) => d.key === 'after').map((d) => d.message)).to.deep.equal([`${join(dir, 'adapters.d', 'a.yaml')}: a: unable to schedule: dependency cycle a → b → a (fix: remove one of these after: entries)`]);
    expect(c.plan.instanceLevels).to.deep.equal([['c']]);
  });

  it("reports each adapter's own load problems, as booting would (one pipeline)", async () => {
    const empty = mkdtempSync(join(tmpdir(), 'metainit-empty-root-'));
    const dir = tmpConfig({ 'adapters.d/r.yaml': `adapter: runit\nroot: ${empty}\n`, 'adapters.d/s.yaml': `adapter: sysv\nroot: ${empty}\nrunlevl: 2\n` });
    const c = await checkConfig(dir);
    const msgs = c.errors.map((d) => d.message);
    expect(msgs).to.include(`${join(dir, 'adapters.d/r.yaml')}: unable to load instance r: runsvdir, runsv, sv not found in root ${empty} (fix: install runit in that root, or point root at one that has it)`);
    expect(msgs.some((m) => m.startsWith(`${join(dir, 'adapters.d/s.yaml')}: unable to load instance s: key "runlevl" is not known (fix: did you mean "runlevel"?`))).to.equal(true, msgs.join('\n'));
    expect(c.plan.summaries, 'instances whose own file does not load are not planned').to.deep.equal([]);
    rmSync(empty, { recursive: true, force: true });
  });
});
