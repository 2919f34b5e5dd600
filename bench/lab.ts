/**
 * The bench's LAN and its observers: a lab LAN from src/lab (switch, hosts h1/h2, client),
 * the client prober, per-host address monitors (when did a host get or lose the VIP), the
 * advert listener, and clean-up of addresses a killed daemon left behind.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLan, destroyLan, type Lan, type LabHost } from '../src/lab/netns.js';
import { run } from '../src/lib/exec.js';
import { Proc, now, sleep } from './proc.js';

export interface Ctx {
  readonly lan: Lan;
  readonly prefix: string;
  /** The virtual address (no prefix length) and with /24. */
  readonly vip: string;
  readonly vipCidr: string;
  readonly dir: string;
  /** Write a file in the run's temp dir; returns its path. */
  write(name: string, text: string, mode?: number): string;
  path(name: string): string;
}

export const SUBNET = '10.213.0';

export async function setupLab(prefix: string, hosts = 2): Promise<Ctx> {
  const lan = await createLan({ prefix, hosts, subnet: SUBNET });
  const dir = mkdtempSync(join(tmpdir(), 'carpool-bench-'));
  const vip = `${SUBNET}.100`;
  return {
    lan, prefix, vip, vipCidr: `${vip}/24`, dir,
    path: (name) => join(dir, name),
    write: (name, text, mode = 0o644) => {
      const p = join(dir, name);
      writeFileSync(p, text, { mode });
      return p;
    },
  };
}

export async function teardownLab(ctx: Ctx | undefined, prefix: string): Promise<void> {
  await destroyLan(prefix);
  if (ctx) rmSync(ctx.dir, { recursive: true, force: true });
}

export const host = (ctx: Ctx, i: number): LabHost => ctx.lan.hosts[i - 1]!;

/** Remove the VIP from every host (a SIGKILLed daemon leaves it behind) and forget the client's ARP entry. */
export async function resetAddresses(ctx: Ctx): Promise<void> {
  for (const h of ctx.lan.hosts) await run(['ip', '-n', h.ns, 'addr', 'del', ctx.vipCidr, 'dev', h.ifname], { allowFail: true });
  if (ctx.lan.client) await run(['ip', '-n', ctx.lan.client.ns, 'neigh', 'flush', 'dev', ctx.lan.client.ifname], { allowFail: true });
}

/** Hosts that hold the VIP right now. */
export async function holders(ctx: Ctx): Promise<string[]> {
  const out: string[] = [];
  for (const h of ctx.lan.hosts) {
    const res = await run(['ip', '-n', h.ns, '-o', 'addr', 'show', 'dev', h.ifname], { allowFail: true });
    if (res.stdout.includes(` ${ctx.vipCidr} `)) out.push(h.name);
  }
  return out;
}

export interface AddrEvent {
  readonly t: number;
  readonly host: string;
  readonly added: boolean;
}

/**
 * `ip monitor address` in every host namespace: the moment each host gains or loses the
 * VIP, timestamped on arrival (netlink notifications come as the kernel changes the address).
 */
export class AddressWatch {
  private readonly procs: Proc[];
  constructor(private readonly ctx: Ctx) {
    this.procs = ctx.lan.hosts.map((h) => new Proc(`addr-${h.name}`, ['ip', '-n', h.ns, '-o', 'monitor', 'address']));
  }

  /** Let the monitors subscribe before anything happens. */
  async ready(): Promise<void> {
    await sleep(150);
  }

  events(since = 0): AddrEvent[] {
    const out: AddrEvent[] = [];
    this.procs.forEach((p, i) => {
      for (const l of p.lines) {
        if (l.t < since || !l.text.includes(` ${this.ctx.vipCidr} `)) continue;
        out.push({ t: l.t, host: this.ctx.lan.hosts[i]!.name, added: !l.text.startsWith('Deleted') });
      }
    });
    return out.sort((a, b) => a.t - b.t);
  }

  /** First time at or after `since` that `host` gained the VIP. */
  gained(hostName: string, since: number): number | undefined {
    return this.events(since).find((e) => e.host === hostName && e.added)?.t;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop('SIGTERM', 500)));
  }
}

export interface ProbeRecords {
  readonly intervalMs: number;
  /** [sent at (epoch ms), rtt ms or null]. */
  readonly r: readonly (readonly [number, number | null])[];
}

/** The client prober (bench/probe-child.ts) inside the client namespace. */
export class Probe {
  private readonly proc: Proc;
  constructor(ctx: Ctx, readonly intervalMs = 10) {
    const c = ctx.lan.client!;
    this.proc = new Proc('probe', ['ip', 'netns', 'exec', c.ns, process.execPath, '--import', 'tsx', 'bench/probe-child.ts', ctx.vip, c.ifname, String(intervalMs)]);
  }

  async ready(): Promise<void> {
    await this.proc.waitFor(/"ready"/, 15_000);
  }

  async stop(): Promise<ProbeRecords> {
    this.proc.signal('SIGINT');
    await Promise.race([this.proc.exited, sleep(5000)]);
    await this.proc.stop('SIGKILL', 500);
    const line = this.proc.lines.find((l) => l.text.includes('"records"'));
    if (!line) throw new Error(`probe printed no records:\n${this.proc.lines.map((l) => l.text).join('\n')}`);
    return JSON.parse(line.text) as ProbeRecords;
  }
}

/**
 * Advert arrival times in the client namespace: `tcpdump -tt` of IP protocol 112. The times
 * are the kernel's receive timestamps (taken as the frame crosses the veth, i.e. when the
 * master sent it), so a busy CPU delays tcpdump's output but not the times it prints.
 */
export class AdvertListener {
  private readonly proc: Proc;
  constructor(ctx: Ctx) {
    const c = ctx.lan.client!;
    this.proc = new Proc('adverts', ['ip', 'netns', 'exec', c.ns, 'tcpdump', '-l', '-n', '-tt', '--immediate-mode', '-i', c.ifname, 'ip proto 112']);
  }

  async ready(): Promise<void> {
    await this.proc.waitFor(/listening on/, 10_000);
  }

  /** Arrival times (epoch ms) of adverts from `src` within [from, to]. */
  arrivals(src: string, from: number, to: number): number[] {
    const out: number[] = [];
    for (const l of this.proc.lines) {
      const m = /^(\d+\.\d+) IP (\S+) > /.exec(l.text);
      if (!m || m[2] !== src) continue;
      const t = Number(m[1]) * 1000;
      if (t >= from && t <= to) out.push(t);
    }
    return out;
  }

  async stop(): Promise<void> {
    // Let tcpdump print what it has already captured.
    await sleep(100);
    await this.proc.stop('SIGINT', 2000);
  }
}

export { now };
