import { describe, expect, it } from 'vitest';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { ConfigError } from '../../../src/lib/errors.js';

const TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBojCCAUegAwIBAgIUH7tkzL7YvPz5MvlaobSQEHcbfUgwCgYIKoZIzj0EAwIw
JTEjMCEGA1UEAwwaY2FycG9vbCByb3VuZC10cmlwIHRlc3QgQ0EwIBcNMjYxMjA3
MTM1NDQyWhgPMjEyNjExMTMxMzU0NDJaMCUxIzAhBgNVBAMMGmNhcnBvb2wgcm91
bmQtdHJpcCB0ZXN0IENBMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8lDKP897
m3wKdeyNB00Mz05J6HoYw+twLaladnd+s2bGI+CD0hKE74aKS3HpBTcGdfa0E0yy
Xmio4TvWR0zlV6NTMFEwHQYDVR0OBBYEFGZiv6d1m+y9hEUofPhoHdaL3tdxMB8G
A1UdIwQYMBaAFGZiv6d1m+y9hEUofPhoHdaL3tdxMA8GA1UdEwEB/wQFMAMBAf8w
CgYIKoZIzj0EAwIDSQAwRgIhAJv3tBoDc3EajYms212U7cqfxHgyPFUysWxakXG3
wB7RAiEAj1rhnexNd3q4gfQdGRllwXxv4tOIf3rEGzp8RQd2bL4=
-----END CERTIFICATE-----
`;

const base = (etcd: string, extra = '') => `instances:
  - name: web
    protocol: etcd
    interface: eth0
    addresses: [10.0.0.100/24]
${extra}    etcd:
${etcd}
`;

function errors(text: string, readFile?: (p: string) => string): { code: string | undefined; line: number; message: string }[] {
  try {
    parseCarpoolYaml(text, { file: '/etc/carpool/carpool.yaml', ...(readFile ? { readFile } : {}) });
  } catch (e) {
    if (e instanceof ConfigError) return e.diagnostics.map((d) => ({ code: d.code, line: d.line, message: d.message }));
    throw e;
  }
  return [];
}

describe('protocol: etcd instances', () => {
  it('reads an instance with defaults from the ttl', () => {
    const { config } = parseCarpoolYaml(base('      endpoints: [http://10.0.0.1:2379, https://etcd2:2379]'));
    expect(config.instances).toEqual([]);
    expect(config.etcdInstances).toEqual([{
      kind: 'etcd', name: 'web', interface: 'eth0', addresses: [{ family: 4, address: '10.0.0.100', prefix: 24 }],
      etcd: {
        endpoints: ['http://10.0.0.1:2379', 'https://etcd2:2379'], prefix: '/carpool', key: '/carpool/web/leader',
        ttlMs: 10_000, renewMs: 3333, requestTimeoutMs: 2000, marginMs: 1000, pollMs: 5000,
      },
    }]);
  });

  it('refuses endpoints that are not URLs, with their line', () => {
    const e = errors(base('      endpoints: [10.0.0.1:2379, "http://etcd:2379/v3"]'));
    expect(e.map((d) => [d.code, d.line])).toEqual([['INVALID_VALUE', 7], ['INVALID_VALUE', 7]]);
    expect(e[0]!.message).toContain("'10.0.0.1:2379' is not an etcd URL");
  });

  it('refuses unsafe timing at check time (renew + 2 × timeout > ttl − margin)', () => {
    const e = errors(base('      endpoints: [http://10.0.0.1:2379]\n      ttl: 5s\n      renew: 3s\n      request_timeout: 1s'));
    expect(e).toHaveLength(1);
    expect(e[0]!.code).toBe('INVALID_VALUE');
    expect(e[0]!.message).toContain('unsafe timing: renew (3000 ms) + 2 × request timeout (1000 ms)');
  });

  it('reports unsafe timing next to other errors, but not for a duration it could not read', () => {
    expect(errors(base('      endpoints: [10.0.0.1:2379]\n      ttl: 4s\n      renew: 3s')).map((d) => d.message)).toEqual([
      expect.stringContaining('unsafe timing'), expect.stringContaining('is not an etcd URL'),
    ]);
    expect(errors(base('      endpoints: [http://10.0.0.1:2379]\n      ttl: 4s\n      renew: soon')).map((d) => d.message)).toEqual([
      expect.stringContaining("'soon' is not a positive duration"),
    ]);
  });

  it('refuses a ttl etcd cannot express and a lone user', () => {
    const e = errors(base('      endpoints: [http://10.0.0.1:2379]\n      ttl: 2500ms\n      user: carpool'));
    expect(e.map((d) => d.message)).toEqual([
      expect.stringContaining('user and password_file go together'),
      expect.stringContaining('etcd leases count whole seconds'),
    ]);
  });

  it('reports unreadable TLS files', () => {
    const e = errors(base('      endpoints: [https://10.0.0.1:2379]\n      tls: { ca: /nonexistent/ca.pem }'), () => {
      throw new Error('ENOENT');
    });
    expect(e.map((d) => d.code)).toEqual(['PASSWORD_FILE_UNREADABLE']);
  });

  it('preference: priority, preempt and preempt_delay (default the ttl); none of them = no preference', () => {
    const read = (extra: string) => parseCarpoolYaml(base('      endpoints: [http://10.0.0.1:2379]\n      ttl: 6s', extra)).config.etcdInstances![0]!;
    expect(read('').preference).toBeUndefined();
    expect(read('    priority: 200\n    preempt: true\n').preference).toEqual({ priority: 200, preempt: true, preemptDelayMs: 6000 });
    expect(read('    preempt: true\n    preempt_delay: 0\n').preference).toEqual({ priority: 100, preempt: true, preemptDelayMs: 0 });
    expect(read('    priority: 50\n').preference).toEqual({ priority: 50, preempt: false, preemptDelayMs: 6000 });
  });

  it('preference: refuses a priority out of 1..254 and a bad delay with their lines; hints advskew and nopreempt', () => {
    const e = errors(base('      endpoints: [http://10.0.0.1:2379]', '    priority: 255\n    preempt: yes please\n    preempt_delay: soon\n    advskew: 10\n    nopreempt: true\n'));
    expect(e.map((d) => [d.line, d.message])).toEqual(expect.arrayContaining([
      [6, expect.stringContaining("priority in instance 'web': got 255")],
      [7, expect.stringContaining('preempt')],
      [8, expect.stringContaining("'soon' is not a duration")],
      [9, expect.stringContaining('priority (1..254, higher is preferred: the reverse of advskew)')],
      [10, expect.stringContaining("'preempt: false'")],
    ]));
    expect(e).toHaveLength(5);
  });

  it('round-trips through carpool convert', () => {
    const text = base('      endpoints: [https://10.0.0.1:2379]\n      prefix: /lab\n      ttl: 6s\n      tls: { ca: /etc/ssl/ca.pem }\n      user: carpool\n      password_file: /etc/carpool/etcd.pass',
      '    node: n1\n    priority: 180\n    preempt: true\n    preempt_delay: 2500ms\n    hooks: { up: [/bin/true, up], down: [/bin/true, down] }\n');
    // The CA file is read and must hold a certificate valid now (a self-signed one, valid 100 years).
    const read = (t: string) => parseCarpoolYaml(t, { readFile: (p) => (p.endsWith('.pem') ? TEST_CA : 'x') }).config;
    const first = read(text);
    expect(first.etcdInstances![0]!.etcd.key).toBe('/lab/web/leader');
    expect(first.etcdInstances![0]!.preference).toEqual({ priority: 180, preempt: true, preemptDelayMs: 2500 });
    const again = read(emitCarpoolYaml(first));
    expect(again.etcdInstances).toEqual(first.etcdInstances);
  });

  describe('unreachable: failsafe', () => {
    const ep = '      endpoints: [http://10.0.0.1:2379]\n';
    const fs = (block: string) => base(`${ep}      unreachable: failsafe\n${block}`);
    const key = () => '0123456789abcdef0123\n';
    const good = '      failsafe:\n        listen: 10.0.1.2:7391\n        peers: [10.0.1.2:7391, 10.0.2.2:7391, "[fd00::3]:7391"]\n        key_file: /etc/carpool/failsafe.key';

    it('reads the policy, this node, every member and the key file; round-trips', () => {
      const { config } = parseCarpoolYaml(fs(good), { readFile: key });
      expect(config.etcdInstances![0]!.etcd).toMatchObject({
        unreachable: 'failsafe',
        failsafe: { listen: { address: '10.0.1.2', port: 7391 }, peers: [{ address: '10.0.1.2', port: 7391 }, { address: '10.0.2.2', port: 7391 }, { address: 'fd00::3', port: 7391 }], keyFile: '/etc/carpool/failsafe.key' },
      });
      const again = parseCarpoolYaml(emitCarpoolYaml(config), { readFile: key }).config;
      expect(again.etcdInstances).toEqual(config.etcdInstances);
      expect(parseCarpoolYaml(base(`${ep}      unreachable: step-down`)).config.etcdInstances![0]!.etcd.unreachable).toBe('step-down');
    });

    it('failsafe without peers: an error at the policy line', () => {
      const e = errors(fs(''));
      expect(e.map((d) => [d.code, d.line])).toEqual([['MISSING_KEY', 8]]);
      expect(e[0]!.message).toContain('unreachable: failsafe needs the peers to ask');
    });

    it('peers without a key file, an unknown policy, a failsafe block under step-down', () => {
      const noKey = errors(fs('      failsafe:\n        listen: 10.0.1.2:7391\n        peers: [10.0.1.2:7391, 10.0.2.2:7391, 10.0.3.2:7391]'));
      expect(noKey.map((d) => [d.code, d.line])).toEqual([['MISSING_KEY', 9]]);
      expect(noKey[0]!.message).toContain("missing 'key_file'");
      expect(errors(base(`${ep}      unreachable: keep`))[0]!.message).toContain("unknown policy 'keep'");
      expect(errors(base(`${ep}${good}`), key)[0]!.message).toContain('the policy is step-down (the default)');
    });

    it('an even or one-member peer list: a majority is meaningless', () => {
      const even = errors(fs('      failsafe:\n        listen: 10.0.1.2:7391\n        peers: [10.0.1.2:7391, 10.0.2.2:7391]\n        key_file: /k'), key);
      expect(even.map((d) => [d.code, d.line])).toEqual([['INVALID_VALUE', 11]]);
      expect(even[0]!.message).toMatch(/2 members — a majority is meaningless \(an even count/);
      const one = errors(fs('      failsafe:\n        listen: 10.0.1.2:7391\n        peers: [10.0.1.2:7391]\n        key_file: /k'), key);
      expect(one[0]!.message).toContain('1 member — a majority is meaningless');
    });

    it('bad addresses, a listen that is not a peer, a duplicate, a short key', () => {
      const e = errors(fs('      failsafe:\n        listen: 10.0.9.9:7391\n        peers: [10.0.1.2:7391, 10.0.1.2:7391, host:1, 10.0.3.2:99999]\n        key_file: /k'), () => 'short\n');
      expect(e.map((d) => d.message)).toEqual([
        expect.stringContaining('10.0.9.9:7391 is not one of the peers'),
        expect.stringContaining('10.0.1.2:7391 is listed twice'),
        expect.stringContaining("'host:1' is not an address and port"),
        expect.stringContaining("'10.0.3.2:99999' is not an address and port"),
        expect.stringContaining('shorter than 16 bytes'),
      ]);
    });
  });
});
