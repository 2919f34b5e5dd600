/**
 * What DR and TUN services need from the host besides the nftables plane: the egress device
 * towards the real servers (DR: the kernel's route to each, which must be on a link of this
 * director — `fwd ip to ADDR device DEV` resolves the neighbour on DEV and never routes), and
 * one ipip device per TUN real server (created at start, deleted on stop; carpool owns the
 * names `cptun1`, `cptun2`, ...). Where the kernel cannot do it, the error says why and what
 * to do, and nothing stays half made.
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { VirtualService } from '../core/model.js';
import { serverKey } from '../core/model.js';
import { run, type RunResult } from '../../lib/exec.js';
import { CarpoolError } from '../../lib/errors.js';

/** Runs `ip ...`; replaceable in unit tests. */
export type IpRunner = (args: readonly string[]) => Promise<RunResult>;

export const ipRunner: IpRunner = (args) => run(['ip', ...args], { allowFail: true, timeoutMs: 10_000 });

/** carpool's ipip devices are `cptun<n>` (n from 1, in the order of the real servers' first appearance). */
export const TUNNEL_PREFIX = 'cptun';

const firstLine = (r: RunResult): string => (r.stderr.trim() || r.stdout.trim()).split('\n')[0] ?? '';

/**
 * DR: the device of the kernel's route to every real server (and sorry server) of the
 * service. Throws DR_NOT_ON_LINK when a server is reached through a gateway or is this host,
 * DR_EGRESS when the servers of one service sit behind different devices.
 */
export async function drEgress(vs: VirtualService, ip: IpRunner = ipRunner): Promise<string> {
  const addrs = [...new Set([...vs.realServers.map((r) => r.address), ...(vs.sorryServer ? [vs.sorryServer.address] : [])])];
  const devs = new Map<string, string[]>();
  for (const a of addrs) {
    const r = await ip(['-j', 'route', 'get', a]);
    let route: { dev?: string; gateway?: string; type?: string } | undefined;
    try {
      route = (JSON.parse(r.stdout) as { dev?: string; gateway?: string; type?: string }[])[0];
    } catch {
      route = undefined;
    }
    if (r.code !== 0 || !route?.dev) {
      throw new CarpoolError('DR_NOT_ON_LINK', `${vs.name}: no route to real server ${a} (ip route get ${a}: ${firstLine(r) || 'no answer'})`,
        'DR sends to the real servers on the director\'s own LAN: give this host an address on their subnet');
    }
    if (route.gateway || route.type === 'local' || route.dev === 'lo') {
      throw new CarpoolError('DR_NOT_ON_LINK', `${vs.name}: real server ${a} is ${route.gateway ? `reached through the gateway ${route.gateway} on ${route.dev}` : 'an address of this host'}; `
        + 'DR (lb_kind DR) forwards the unchanged packet to the real server\'s MAC address, so the real servers must share a LAN with the director',
      'put the real servers on a LAN of the director (an address of theirs on a directly connected subnet), or use lb_kind NAT');
    }
    devs.set(route.dev, [...(devs.get(route.dev) ?? []), a]);
  }
  if (devs.size > 1) {
    throw new CarpoolError('DR_EGRESS', `${vs.name}: the real servers sit behind different devices (${[...devs].map(([d, a]) => `${d}: ${a.join(', ')}`).join('; ')})`,
      'put the real servers of one DR virtual server on one LAN, or split it into one virtual_server per LAN');
  }
  return [...devs.keys()][0] ?? vs.ingressDevice ?? '';
}

/**
 * Can this kernel make ipip devices? Read from the system without changing it (for
 * `carpool check`): a loaded module, the kernel's config (/proc/config.gz), or the module
 * files. `unknown` when none of them says.
 */
export function ipipSupport(): { readonly verdict: 'yes' | 'no' | 'unknown'; readonly why: string } {
  if (existsSync('/sys/module/ipip')) return { verdict: 'yes', why: 'the ipip module is loaded' };
  if (existsSync('/proc/config.gz')) {
    try {
      const cfg = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
      const m = /^CONFIG_NET_IPIP=([ym])$/m.exec(cfg);
      if (m) return { verdict: 'yes', why: `CONFIG_NET_IPIP=${m[1]!}` };
      return { verdict: 'no', why: 'the kernel is built without IP-in-IP tunnels (CONFIG_NET_IPIP is not set in /proc/config.gz)' };
    } catch {
      // unreadable: fall through to the module files
    }
  }
  let release: string;
  try {
    release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    return { verdict: 'unknown', why: 'cannot read the kernel release' };
  }
  for (const f of ['modules.builtin', 'modules.dep']) {
    const p = `/lib/modules/${release}/${f}`;
    if (existsSync(p) && /(^|\/)ipip\.ko/m.test(readFileSync(p, 'utf8'))) return { verdict: 'yes', why: `ipip.ko in ${p}` };
  }
  if (existsSync(`/lib/modules/${release}/modules.dep`)) return { verdict: 'no', why: `no ipip module in /lib/modules/${release}` };
  return { verdict: 'unknown', why: 'no kernel config or module list to read' };
}

export const TUN_HINT = 'load or build the ipip module (modprobe ipip; kernel option CONFIG_NET_IPIP), or use lb_kind DR (real servers on the director\'s LAN) or NAT';

/** The ipip devices of TUN services: one per real server address, made at start, deleted on stop. */
export class Tunnels {
  /** Real server address → device name. */
  private readonly byAddress = new Map<string, string>();
  private readonly made: string[] = [];

  constructor(private readonly ip: IpRunner = ipRunner) {}

  /** Name every TUN real server's device (no system change). */
  plan(services: readonly VirtualService[]): void {
    for (const vs of services) {
      if (vs.method !== 'tun') continue;
      for (const a of [...vs.realServers.map((r) => r.address), ...(vs.sorryServer ? [vs.sorryServer.address] : [])]) {
        if (!this.byAddress.has(a)) this.byAddress.set(a, `${TUNNEL_PREFIX}${this.byAddress.size + 1}`);
      }
    }
  }

  /** Server key → device, for `planService` (`PlanOptions.tunnelDevices`). */
  devices(vs: VirtualService): Map<string, string> {
    const m = new Map<string, string>();
    const servers = [...vs.realServers, ...(vs.sorryServer ? [vs.sorryServer] : [])];
    for (const r of servers) {
      const d = this.byAddress.get(r.address);
      if (d) m.set(serverKey(r.address, r.port), d);
    }
    return m;
  }

  get size(): number {
    return this.byAddress.size;
  }

  /**
   * Make the devices (`ip link add cptunN type ipip remote RIP`, up); a stale one of the same
   * name (a crash) is replaced. Throws TUN_UNSUPPORTED when the kernel refuses, after removing
   * the devices made so far.
   */
  async create(): Promise<void> {
    for (const [addr, dev] of this.byAddress) {
      await this.ip(['link', 'del', dev]);
      const r = await this.ip(['link', 'add', dev, 'type', 'ipip', 'remote', addr]);
      const up = r.code === 0 ? await this.ip(['link', 'set', dev, 'up']) : r;
      if (r.code === 0) this.made.push(dev);
      if (up.code !== 0) {
        await this.remove();
        const unknown = /unknown device type|not supported/i.test(up.stderr);
        throw new CarpoolError('TUN_UNSUPPORTED', `cannot make the ipip tunnel to real server ${addr} (ip link add ${dev} type ipip remote ${addr}: ${firstLine(up)})`
          + (unknown ? ': this kernel has no IP-in-IP tunnels (CONFIG_NET_IPIP)' : ''), TUN_HINT);
      }
    }
  }

  /** Delete the devices this daemon made (errors ignored: they may be gone already). */
  async remove(): Promise<void> {
    while (this.made.length) await this.ip(['link', 'del', this.made.pop()!]);
  }
}
