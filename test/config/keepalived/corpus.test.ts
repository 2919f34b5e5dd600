/**
 * keepalived's own sample configurations (testdata/keepalived-corpus/, see its SOURCES.md) through
 * `carpool check` (loadConfigFile) and `carpool convert` (emit YAML, read it back: the same model).
 * Every file has an entry saying what is expected today, so the test tightens as features land:
 * a "vrrp-only" or "refused" file that starts passing fails here until its entry is moved.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ConfigDiagnostic } from '../../../src/config/diagnostics.js';
import { emitCarpoolYaml } from '../../../src/config/emit-yaml.js';
import { loadConfigFile, type LoadOptions } from '../../../src/config/load.js';
import type { CarpoolConfig } from '../../../src/config/model.js';
import { parseCarpoolYaml } from '../../../src/config/yaml/parse.js';
import { ConfigError } from '../../../src/lib/errors.js';

const DIR = fileURLToPath(new URL('../../../testdata/keepalived-corpus/', import.meta.url));

type Expectation =
  /** keepalived accepts it: accepted (warnings allowed), and converted. */
  | { readonly kind: 'accepted'; readonly instances: number; readonly virtualServers?: number; readonly configId?: string }
  /** Accepted only with --vrrp-only, which drops its LVS part (the error code without it). */
  | { readonly kind: 'vrrp-only'; readonly instances: number; readonly without: string }
  /** Refused today: the error codes (file order) and why. */
  | { readonly kind: 'refused'; readonly codes: readonly string[]; readonly why: string; readonly configId?: string };

/** keepalived runs a file of virtual_server blocks alone (its checker process); so do check and convert. */
const LVS_ONLY = { kind: 'accepted', instances: 0, virtualServers: 1 } as const;

const CORPUS: Readonly<Record<string, Expectation>> = {
  'keepalived.conf.vrrp': { kind: 'accepted', instances: 4 }, // the same VIP twice (plain + label): warning
  'keepalived.conf.vrrp.sync': { kind: 'accepted', instances: 9 },
  'keepalived.conf.vrrp.scripts': { kind: 'accepted', instances: 3 },
  'keepalived.conf.sample': { kind: 'accepted', instances: 1, virtualServers: 1 },
  'keepalived.conf.track_interface': { kind: 'accepted', instances: 1 }, // static_routes
  // static_routes; `via A or B`: a multipath route, with keepalived's deprecation warning
  'keepalived.conf.vrrp.routes': { kind: 'accepted', instances: 1 },
  // static_rules and virtual_rules; `to 192.168.100./24` is skipped with a warning, as keepalived does
  'keepalived.conf.vrrp.rules': { kind: 'accepted', instances: 1 },
  'keepalived.conf.vrrp.static_ipaddress': { kind: 'accepted', instances: 1 },
  // net_namespace, as keepalived -i high reads it
  'keepalived.conf.conditional_conf': { kind: 'accepted', instances: 1, configId: 'high' },
  'keepalived.conf.HTTP_GET.port': LVS_ONLY,
  'keepalived.conf.IPv6': LVS_ONLY,
  'keepalived.conf.PING_CHECK': LVS_ONLY,
  'keepalived.conf.UDP_CHECK': LVS_ONLY,
  'keepalived.conf.fwmark': LVS_ONLY,
  'keepalived.conf.inhibit': LVS_ONLY,
  'keepalived.conf.misc_check': LVS_ONLY,
  'keepalived.conf.misc_check_arg': LVS_ONLY,
  'keepalived.conf.quorum': LVS_ONLY,
  'keepalived.conf.status_code': LVS_ONLY,
  'keepalived.conf.virtual_server_group': LVS_ONLY,
  'keepalived.conf.virtualhost': LVS_ONLY,
  // lvs_sync_daemon_interface (IPVS connection sync) is accepted with a warning naming conntrackd;
  // the sync group without group {} is removed with a warning, as keepalived does.
  'keepalived.conf.vrrp.lvs_syncd': { kind: 'accepted', instances: 3, virtualServers: 1 },
  'keepalived.conf.SMTP_CHECK': LVS_ONLY,
  // auth_type AH: VRRPv2 inside IPsec AH (src/protocol/vrrp/ah.ts), tested against keepalived
  'keepalived.conf.SSL_GET': { kind: 'accepted', instances: 1, virtualServers: 2 },
  // script "</dev/tcp/...": run by /bin/sh as keepalived 2.2.7 does (it fails every time where
  // /bin/sh is dash), with a NEEDS_SHELL warning naming the fix (/bin/bash -c '...')
  'keepalived.conf.vrrp.localcheck': { kind: 'accepted', instances: 9 },
};

function load(file: string, options: LoadOptions): { config?: CarpoolConfig; errors: ConfigDiagnostic[]; warnings: ConfigDiagnostic[] } {
  const warnings: ConfigDiagnostic[] = [];
  try {
    const config = loadConfigFile(join(DIR, file), { configId: 'lb1', ...options, onWarning: (w) => warnings.push(w) });
    return { config, errors: [], warnings };
  } catch (e) {
    if (e instanceof ConfigError) return { errors: e.diagnostics as ConfigDiagnostic[], warnings };
    throw e;
  }
}

/** `carpool convert`: the YAML it prints reads back as the same model, without errors. */
function converts(config: CarpoolConfig): void {
  const back = parseCarpoolYaml(emitCarpoolYaml(config, { header: 'corpus' }), { file: config.source });
  expect(back.config).toEqual(config);
}

describe("keepalived's sample configurations", () => {
  it('every sample has an entry', () => {
    expect(readdirSync(DIR).filter((f) => f.startsWith('keepalived.conf.')).sort()).toEqual(Object.keys(CORPUS).sort());
  });

  it.each(Object.entries(CORPUS))('%s', (file, want) => {
    if (want.kind === 'accepted') {
      const r = load(file, want.configId ? { configId: want.configId } : {});
      expect(r.errors.map((e) => e.message)).toEqual([]);
      expect(r.config!.instances).toHaveLength(want.instances);
      expect(r.config!.balancers?.virtualServers.length).toBe(want.virtualServers);
      converts(r.config!);
    } else if (want.kind === 'vrrp-only') {
      expect(load(file, {}).errors.map((e) => e.code)).toContain(want.without);
      const r = load(file, { vrrpOnly: true });
      expect(r.errors.map((e) => e.message)).toEqual([]);
      expect(r.config!.instances).toHaveLength(want.instances);
      expect(r.warnings.map((w) => w.code)).toContain('LVS_SKIPPED');
      converts(r.config!);
    } else {
      const r = load(file, want.configId ? { configId: want.configId } : {});
      expect(r.errors.map((e) => e.code), want.why).toEqual(want.codes);
    }
  });
});
