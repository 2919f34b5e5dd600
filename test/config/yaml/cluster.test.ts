import { describe, expect, it } from 'vitest';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { ConfigError } from '../../../src/lib/errors.js';

const carp = `instances:
  - name: web
    protocol: etcd
    interface: eth0
    addresses: [10.0.0.100/24]
    etcd: { endpoints: [http://10.0.0.9:2379] }
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

describe('cluster: block', () => {
  it('reads the connection with the instances defaults and the node name', () => {
    const { config } = parseCarpoolYaml(`${carp}cluster:\n  node: n1\n  etcd: { endpoints: [http://10.0.0.1:2379], prefix: /prod, ttl: 6s }\n`);
    expect(config.cluster).toEqual({
      node: 'n1',
      etcd: { endpoints: ['http://10.0.0.1:2379'], prefix: '/prod', key: '/prod/(cluster)/leader', ttlMs: 6000, renewMs: 2000, requestTimeoutMs: 1200, marginMs: 600, pollMs: 3000 },
    });
  });

  it('is absent unless configured', () => {
    expect(parseCarpoolYaml(carp).config.cluster).toBeUndefined();
  });

  it('refuses keys of an instance key (key, renew) and bad endpoints, with the line', () => {
    const e = errors(`${carp}cluster:\n  etcd:\n    endpoints: [10.0.0.1:2379]\n    renew: 1s\n`);
    expect(e.map((d) => [d.code, d.line])).toEqual([['UNKNOWN_KEY', 10], ['INVALID_VALUE', 9]].sort((a, b) => (a[1] as number) - (b[1] as number)));
    expect(e.map((d) => d.message).join('\n')).toContain("'10.0.0.1:2379' is not an etcd URL");
  });

  it('needs etcd, refuses a node name with a slash and unreadable password files', () => {
    expect(errors(`${carp}cluster:\n  node: a\n`).map((d) => d.message)).toEqual(["missing 'etcd' in cluster"]);
    expect(errors(`${carp}cluster:\n  node: a/b\n  etcd: { endpoints: [http://10.0.0.1:2379] }\n`)[0]!.message).toContain("'a/b' is not a usable node name");
    const unreadable = () => { throw new Error('ENOENT'); };
    const e = errors(`${carp}cluster:\n  etcd: { endpoints: [http://10.0.0.1:2379], user: carpool, password_file: /etc/carpool/etcd.pass }\n`, unreadable);
    expect(e.map((d) => d.code)).toEqual(['PASSWORD_FILE_UNREADABLE']);
  });

  it('an etcd instance may use the cluster connection (etcd: cluster)', () => {
    const { config } = parseCarpoolYaml(`instances:
  - name: db
    protocol: etcd
    interface: eth0
    addresses: [10.0.0.101/24]
    etcd: cluster
cluster:
  etcd: { endpoints: [https://10.0.0.1:2379], prefix: /p, ttl: 4s, tls: { ca: /etc/carpool/ca.pem } }
`);
    expect(config.etcdInstances![0]!.etcd).toEqual({ ...config.cluster!.etcd, key: '/p/db/leader' });
    expect(config.etcdInstances![0]!.etcd.tls).toEqual({ ca: '/etc/carpool/ca.pem' });
  });

  it('etcd: cluster without a cluster block is an error on that line', () => {
    const e = errors('instances:\n  - name: db\n    protocol: etcd\n    interface: eth0\n    addresses: [10.0.0.101/24]\n    etcd: cluster\n');
    expect(e.map((d) => [d.code, d.line])).toEqual([['INVALID_VALUE', 6]]);
    expect(e[0]!.message).toContain("'cluster' needs a valid top-level cluster:");
  });
});
