/**
 * `carpool check --host`: what only the target host can tell about a valid configuration, as
 * `keepalived -t` run there would — the interfaces exist, the scripts and hooks are executables
 * nobody else can rewrite, the control socket's and state directories can be the daemon's own,
 * `nft` runs when there are balancers, the `sharing:` sections can run here (interfaces, this
 * host one of the nodes, the shared MAC, `nft -c` of their ruleset as root) (the agents are checked by resources/shell/agent-check.ts
 * with `host: true`). The decisions are pure over a `HostProbe`; `systemProbe()` asks this host.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { CarpoolConfig, Hook } from '../config/model.js';
import { suggest } from '../config/common.js';
import { CarpoolError } from '../lib/errors.js';
import { needsCounts } from '../balancer/core/schedulers.js';
import { sidesOf, type SharedAddress } from '../sharing/core/model.js';
import { renderSharing } from '../sharing/core/nft.js';
import { selfNode } from '../sharing/shell/sharing.js';

export interface HostFinding {
  readonly level: 'error' | 'warning';
  /** What it is about (`instance 'web'`, `control_socket`...). */
  readonly what: string;
  readonly message: string;
  /** What to do. */
  readonly hint: string;
}

export interface FileFacts {
  readonly kind: 'file' | 'dir' | 'other';
  readonly mode: number;
  readonly uid: number;
}

/** What the checks ask of the host. */
export interface HostProbe {
  /** Network interfaces of this namespace. */
  interfaces(): readonly string[];
  /** `stat` (following symlinks), undefined when missing. */
  stat(path: string): FileFacts | undefined;
  /** Directories of PATH. */
  readonly path: readonly string[];
  /** The daemon's user (root in production). */
  readonly uid: number;
  /** Does `nft` run? A reason when not. */
  nft(): { ok: true; version: string } | { ok: false; reason: string };
  /** The addresses on a device (its alias labels' too); undefined when unknown. */
  addresses?(dev: string): readonly string[] | undefined;
  /** A device's IFF_* flags; undefined when unknown. */
  flags?(dev: string): number | undefined;
  /** A device's MAC address. */
  mac?(dev: string): string | undefined;
  /** `nft -c -f -` of a ruleset (the kernel's answer; as root only, else undefined): a reason when refused. */
  nftCheck?(ruleset: string): { ok: true } | { ok: false; reason: string } | undefined;
}

/** IFF_MULTICAST (linux/if.h): the device can join multicast MAC groups (`ip maddr add`). */
const IFF_MULTICAST = 0x1000;

export function systemProbe(): HostProbe {
  return {
    interfaces: () => { try { return readdirSync('/sys/class/net'); } catch { return []; } },
    stat: (p) => {
      try {
        const st = statSync(p);
        return { kind: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other', mode: st.mode & 0o7777, uid: st.uid };
      } catch { return undefined; }
    },
    path: (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).filter(Boolean),
    uid: process.geteuid?.() ?? 0,
    addresses: (dev) => Object.entries(networkInterfaces()).filter(([name]) => name.split(':')[0] === dev).flatMap(([, list]) => (list ?? []).map((a) => a.address)),
    flags: (dev) => { try { return parseInt(readFileSync(`/sys/class/net/${dev}/flags`, 'utf8'), 16); } catch { return undefined; } },
    mac: (dev) => { try { return readFileSync(`/sys/class/net/${dev}/address`, 'utf8').trim(); } catch { return undefined; } },
    nftCheck: (ruleset) => {
      if ((process.geteuid?.() ?? 0) !== 0) return undefined;
      const r = spawnSync('nft', ['-c', '-f', '-'], { input: ruleset, encoding: 'utf8', timeout: 10_000 });
      if (r.error) return { ok: false, reason: r.error.message };
      return r.status === 0 ? { ok: true } : { ok: false, reason: (r.stderr || '').trim().split('\n').slice(0, 3).join(' | ') };
    },
    nft: () => {
      const r = spawnSync('nft', ['--version'], { encoding: 'utf8', timeout: 5000 });
      if (r.error) return { ok: false, reason: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'nft is not installed' : r.error.message };
      if (r.status !== 0) return { ok: false, reason: `nft --version exited with ${r.status ?? r.signal}: ${(r.stderr || '').trim()}` };
      return { ok: true, version: r.stdout.trim() };
    },
  };
}

const mode = (m: number) => m.toString(8).padStart(4, '0');

/** Every finding for `config` on the host `probe` describes. */
export function checkHost(config: CarpoolConfig, probe: HostProbe): HostFinding[] {
  const out: HostFinding[] = [];
  const have = probe.interfaces();
  const iface = (what: string, name: string, role: string) => {
    const base = name.split(':')[0]!; // an alias label (eth0:carp0) lives on eth0
    if (have.includes(base)) return;
    const guess = suggest(base, have);
    out.push({ level: 'error', what, message: `${role} '${base}' does not exist on this host${guess ? ` — did you mean '${guess}'?` : ''}`,
      hint: `one of ${have.join(', ') || '(none)'}` });
  };
  const script = (what: string, hook: Hook | undefined, role: string) => {
    if (!hook || hook.shell) return; // a shell string: /bin/sh runs it, its words are not files
    const prog = hook.argv[0];
    if (!prog) return;
    let file = prog;
    if (!isAbsolute(prog)) {
      const found = probe.path.map((d) => join(d, prog)).find((p) => probe.stat(p)?.kind === 'file');
      if (!found) {
        out.push({ level: 'error', what, message: `${role} '${prog}' is not found in PATH (${probe.path.join(':')})`, hint: 'an absolute path to an executable' });
        return;
      }
      file = found;
    }
    const st = probe.stat(file);
    if (!st) { out.push({ level: 'error', what, message: `${role} ${file} does not exist`, hint: 'install it, or fix the path' }); return; }
    if (st.kind !== 'file') { out.push({ level: 'error', what, message: `${role} ${file} is not a regular file`, hint: 'a script or a program' }); return; }
    if ((st.mode & 0o111) === 0) { out.push({ level: 'error', what, message: `${role} ${file} is not executable (mode ${mode(st.mode)})`, hint: `chmod +x ${file}` }); return; }
    // keepalived's script security: a script others can rewrite runs as root.
    if ((st.mode & 0o022) !== 0) {
      out.push({ level: 'warning', what, message: `${role} ${file} is writable by group or others (mode ${mode(st.mode)}); it runs as root`, hint: `chmod go-w ${file}` });
    }
    if (st.uid !== probe.uid && st.uid !== 0) {
      out.push({ level: 'warning', what, message: `${role} ${file} is owned by uid ${st.uid}; it runs as root`, hint: `chown root ${file}` });
    }
  };
  for (const i of config.instances) {
    const what = `instance '${i.name}'`;
    iface(what, i.interface, 'interface');
    // The daemon's NO_SOURCE: adverts go from an address of the device that is not a VIP.
    const dev = i.interface.split(':')[0]!;
    const family = i.kind === 'carp' ? 4 : i.family;
    const local = !i.srcip && have.includes(dev) ? probe.addresses?.(dev) : undefined;
    const vips = new Set(i.addresses.map((a) => a.address));
    if (local && !local.some((a) => !vips.has(a) && (family === 4 ? !a.includes(':') : /^fe80:/i.test(a)))) {
      out.push({ level: 'error', what, message: `${dev} has no ${family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send adverts from`,
        hint: `configure an address on ${dev} or set the source address for the instance` });
    }
    for (const a of i.addresses) if (a.dev) iface(what, a.dev, `the device of address ${a.address}`);
    if (i.kind === 'carp') {
      script(what, i.upHook, 'up hook');
      script(what, i.downHook, 'down hook');
    } else {
      for (const a of i.excludedAddresses) if (a.dev) iface(what, a.dev, `the device of address ${a.address}`);
      for (const t of i.trackInterfaces) iface(what, t.name, 'tracked interface');
      for (const [k, h] of Object.entries(i.notify) as [string, Hook | undefined][]) script(what, h, `notify ${k} script`);
    }
  }
  for (const g of config.syncGroups) for (const [k, h] of Object.entries(g.notify) as [string, Hook | undefined][]) script(`sync group '${g.name}'`, h, `notify ${k} script`);
  for (const s of config.vrrpScripts) script(`vrrp_script '${s.name}'`, s.hook, 'script');
  for (const g of config.resources?.groups ?? []) if (g.fence) script(`group '${g.id}'`, { argv: g.fence.argv, shell: false }, 'fence command');
  // The daemon creates its directories (0700) and refuses ones others can write to (daemon/private-dir.ts).
  for (const [what, dir] of [['control_socket', dirname(config.controlSocket)], ['state_dir', config.stateDir]] as const) {
    const st = probe.stat(dir);
    if (!st) {
      let parent = dirname(dir);
      while (parent !== dirname(parent) && !probe.stat(parent)) parent = dirname(parent);
      if (probe.stat(parent)?.kind !== 'dir') out.push({ level: 'error', what, message: `${dir} cannot be created: ${parent} is not a directory`, hint: 'another directory' });
      continue;
    }
    if (st.kind !== 'dir') out.push({ level: 'error', what, message: `${dir} is not a directory`, hint: 'a directory only the daemon\'s user owns' });
    else if (st.uid !== probe.uid) out.push({ level: 'error', what, message: `${dir} is owned by uid ${st.uid}, not by the daemon's user (uid ${probe.uid})`, hint: `chown ${probe.uid} ${dir}, or another directory` });
    else if ((st.mode & 0o022) !== 0) out.push({ level: 'error', what, message: `${dir} is writable by group or others (mode ${mode(st.mode)})`, hint: `chmod go-w ${dir} (0700 is best)` });
  }
  for (const e of config.etcdInstances ?? []) iface(`instance '${e.name}'`, e.interface, 'interface');
  for (const x of config.sharing ?? []) checkShared(x, probe, have, iface, out);
  if (config.sharing?.length) {
    const n = probe.nft();
    if (!n.ok) out.push({ level: 'error', what: 'sharing', message: `load sharing needs nftables: ${n.reason}`, hint: 'apt-get install nftables (nft 0.9.3 or later), and a kernel with nf_tables' });
    else {
      // The ruleset the daemon starts with (no local bucket), as the kernel answers `nft -c` (root).
      const c = probe.nftCheck?.(renderSharing(config.sharing, new Map(), (dev) => probe.mac?.(dev)));
      if (c && !c.ok) {
        out.push({ level: 'error', what: 'sharing', message: `this kernel or nft refuses the load sharing ruleset: ${c.reason}`,
          hint: `nftables with the ip and arp families${config.sharing.some((x) => x.mode === 'stealth') ? ', and the netdev egress hook for stealth mode (kernel 5.16, nft 1.0.1 or newer)' : ''}; see docs/sharing.md` });
      }
    }
  }
  if (config.balancers?.virtualServers.length) {
    const n = probe.nft();
    if (!n.ok) out.push({ level: 'error', what: 'balancers', message: `the load balancer needs nftables: ${n.reason}`, hint: 'apt-get install nftables (nft 0.9.3 or later), and a kernel with nf_tables' });
    // The daemon's CONNTRACK_UNAVAILABLE: count-based schedulers read the counts with `conntrack`.
    const counting = config.balancers.virtualServers.filter((v) => needsCounts(v.scheduler)).map((v) => `${v.name} (${v.scheduler})`);
    if (counting.length && !probe.path.some((d) => probe.stat(join(d, 'conntrack'))?.kind === 'file')) {
      out.push({ level: 'error', what: 'balancers', message: `${counting.join(', ')} need connection counts, read with \`conntrack\`, which is not in PATH (${probe.path.join(':')})`,
        hint: 'install the conntrack package (apt install conntrack), or choose a scheduler that needs no counts (rr, wrr, sh, mh)' });
    }
  }
  return out;
}

/**
 * A `sharing:` section on this host: its interfaces exist, this host is one of its nodes (the
 * daemon's own rule, `selfNode`), the NIC can receive the shared MAC (a multicast group needs
 * IFF_MULTICAST and `ip`; unicast and stealth add it with `bridge fdb`).
 */
function checkShared(x: SharedAddress, probe: HostProbe, have: readonly string[], iface: (what: string, name: string, role: string) => void, out: HostFinding[]): void {
  const what = `sharing '${x.name}'`;
  for (const side of sidesOf(x)) iface(what, side.interface, side.role === 'outside' ? 'outside interface' : 'interface');
  const dev = x.interface.split(':')[0]!;
  const local = have.includes(dev) ? probe.addresses?.(dev) : undefined;
  if (local) {
    try {
      selfNode(x, local);
    } catch (err) {
      if (!(err instanceof CarpoolError)) throw err;
      out.push({ level: 'error', what, message: err.message.replace(/^sharing '[^']*': /, ''), hint: err.hint ?? 'a node address of the list on the interface' });
    }
  }
  const tool = x.mode === 'multicast' ? 'ip' : 'bridge';
  if (!probe.path.some((d) => probe.stat(join(d, tool))?.kind === 'file')) {
    out.push({ level: 'error', what, message: `${x.mode} mode receives the shared MAC ${x.mac} with \`${tool}\`, which is not in PATH (${probe.path.join(':')})`,
      hint: 'apt-get install iproute2' });
  }
  if (x.mode === 'multicast') {
    for (const side of sidesOf(x)) {
      const d = side.interface.split(':')[0]!;
      const f = have.includes(d) ? probe.flags?.(d) : undefined;
      if (f !== undefined && (f & IFF_MULTICAST) === 0) {
        out.push({ level: 'error', what, message: `${d} has no MULTICAST flag: it cannot receive the shared multicast MAC ${side.mac}`,
          hint: `ip link set ${d} multicast on, or mode: unicast` });
      }
    }
  }
}
