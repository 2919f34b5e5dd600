/**
 * A LAN of network namespaces: one "switch" namespace holding a Linux bridge, N hosts
 * each with an `eth0` veth into the bridge, optionally a client. Every namespace is
 * named `<prefix>-<role>` so everything a lab (or a test) made can be found and removed
 * by prefix, also after a crash. Only private addresses inside these namespaces are used.
 */
import { run, inNs } from '../lib/exec.js';

export interface LabHost {
  /** Short name: `h1`, `h2`, ..., or `c` for the client. */
  readonly name: string;
  /** Namespace name. */
  readonly ns: string;
  /** Interface inside the host namespace. */
  readonly ifname: string;
  /** The host's own address (no prefix). */
  readonly address: string;
  /** Port name of this host's veth inside the switch namespace. */
  readonly port: string;
}

export interface LanSpec {
  /** Unique prefix for all namespaces, e.g. `cpt1234`; at most 10 chars. */
  readonly prefix: string;
  /** Number of hosts (h1..hN). */
  readonly hosts: number;
  /** First three octets of the /24 used, e.g. `10.77.0`. Hosts get .1.., the client .250. */
  readonly subnet: string;
  /** Add a client namespace `c` (default true). */
  readonly client?: boolean;
  /** Number of LANs (bridges); LAN k uses subnet with third octet +k and interface `eth<k>`. */
  readonly lans?: number;
}

export interface Lan {
  readonly prefix: string;
  readonly switchNs: string;
  readonly hosts: readonly LabHost[];
  readonly client: LabHost | undefined;
  /** Per extra LAN (index >= 1): the host interfaces on that LAN. */
  readonly extra: readonly (readonly LabHost[])[];
  readonly subnet: string;
}

/** All network namespaces currently present whose name starts with `prefix-`. */
export async function listNamespaces(prefix: string): Promise<string[]> {
  const res = await run(['ip', '-o', 'netns', 'list'], { allowFail: true });
  return res.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${prefix}-`));
}

/** Remove every namespace of the lab `prefix` (and with it their veths and bridges). Idempotent. */
export async function destroyLan(prefix: string): Promise<void> {
  for (const ns of await listNamespaces(prefix)) {
    // Processes started inside keep a namespace alive only via their own fds; `ip netns del`
    // unmounts the name, the kernel frees it when the last process exits. Callers stop
    // their own processes by PID before this.
    await run(['ip', 'netns', 'del', ns], { allowFail: true });
  }
}

async function ip(ns: string | undefined, ...args: string[]): Promise<void> {
  await run(inNs(ns, ['ip', ...args]));
}

/** Build the LAN. On failure everything made so far is removed again. */
export async function createLan(spec: LanSpec): Promise<Lan> {
  const { prefix } = spec;
  if (!/^[a-z][a-z0-9]{0,9}$/.test(prefix)) throw new Error(`lab prefix must be 1-10 lowercase letters/digits: ${prefix}`);
  await destroyLan(prefix);
  const switchNs = `${prefix}-sw`;
  const lans = spec.lans ?? 1;
  const base = spec.subnet.split('.').map(Number);
  try {
    await ip(undefined, 'netns', 'add', switchNs);
    await ip(switchNs, 'link', 'set', 'lo', 'up');
    for (let k = 0; k < lans; k++) {
      await ip(switchNs, 'link', 'add', `br${k}`, 'type', 'bridge', 'forward_delay', '0', 'mcast_snooping', '0', 'stp_state', '0');
      await ip(switchNs, 'link', 'set', `br${k}`, 'up');
    }
    const names = Array.from({ length: spec.hosts }, (_, i) => `h${i + 1}`);
    if (spec.client ?? true) names.push('c');
    const hosts: LabHost[] = [];
    const extra: LabHost[][] = Array.from({ length: Math.max(0, lans - 1) }, () => []);
    for (const name of names) {
      const ns = `${prefix}-${name}`;
      await ip(undefined, 'netns', 'add', ns);
      await ip(ns, 'link', 'set', 'lo', 'up');
      // No duplicate address detection: link-local and virtual IPv6 addresses are usable at once.
      await run(inNs(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']));
      const hostNo = name === 'c' ? 250 : Number(name.slice(1));
      for (let k = 0; k < lans; k++) {
        if (name === 'c' && k > 0) continue;
        const ifname = `eth${k}`;
        const port = k === 0 ? name : `${name}e${k}`;
        await ip(undefined, 'link', 'add', port, 'netns', switchNs, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns);
        await ip(switchNs, 'link', 'set', port, 'master', `br${k}`);
        await ip(switchNs, 'link', 'set', port, 'up');
        const address = `${base[0]}.${base[1]}.${(base[2] ?? 0) + k}.${hostNo}`;
        await ip(ns, 'addr', 'add', `${address}/24`, 'dev', ifname);
        await ip(ns, 'link', 'set', ifname, 'up');
        const host: LabHost = { name, ns, ifname, address, port };
        if (k === 0) hosts.push(host);
        else extra[k - 1]!.push(host);
      }
    }
    const client = hosts.find((h) => h.name === 'c');
    return { prefix, switchNs, hosts: hosts.filter((h) => h.name !== 'c'), client, extra, subnet: spec.subnet };
  } catch (err) {
    await destroyLan(prefix);
    throw err;
  }
}

/** Take a host's switch port down: the host's interface loses carrier (cable pulled). */
export async function cutLink(lan: Lan, host: LabHost): Promise<void> {
  await ip(lan.switchNs, 'link', 'set', host.port, 'down');
}

export async function restoreLink(lan: Lan, host: LabHost): Promise<void> {
  await ip(lan.switchNs, 'link', 'set', host.port, 'up');
}

/** Addresses (`a.b.c.d/nn`) currently on `ifname` in namespace `ns`. */
export async function addressesOf(ns: string, ifname: string): Promise<string[]> {
  const res = await run(inNs(ns, ['ip', '-o', 'addr', 'show', 'dev', ifname]), { allowFail: true });
  return [...res.stdout.matchAll(/inet6? (\S+)/g)].map((m) => m[1]!);
}
