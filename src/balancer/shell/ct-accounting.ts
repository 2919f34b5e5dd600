/**
 * Per-server packet and byte totals of NAT services without a per-packet nftables rule:
 * conntrack accounting (`net.netfilter.nf_conntrack_acct=1`, per network namespace) counts
 * every flow's packets and bytes both ways; a live flow's counters come with the conntrack dump
 * the balancer reads anyway (conntrack.ts), an ended flow's with its ctnetlink DESTROY event,
 * received here (native `ctEventsOpen`, decoded by core/ctevents.ts) and added up per ct mark
 * (the entry) and reply source (the real server). A flow is counted once: the live sum skips
 * the ids whose destroy event arrived (`destroyed`). Lost events (the socket's buffer
 * overran) are counted and shown ("stats incomplete"), never fatal.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { canonicalIP } from '../../protocol/inet.js';
import { native } from '../../net/native.js';
import { CT_MARK } from '../core/nft.js';
import { decodeCtEvents, NF_NETLINK_CONNTRACK_DESTROY, type CtEvent } from '../core/ctevents.js';

export interface PacketBytes { packets: number; bytes: number }

/** The receive buffer: ~250 bytes an event, room for tens of thousands between two turns of the loop. */
export const CT_EVENTS_RCVBUF = 16 << 20;

/** Totals of ended flows, by ct mark and real server; pure bookkeeping, fed decoded events. */
export class EndedFlows {
  private readonly byAddrPort = new Map<string, PacketBytes>();
  private readonly byAddr = new Map<string, PacketBytes>();
  /** Ids of flows seen ended, two generations (rotated at each live read): the live sum skips them. */
  private current = new Set<number>();
  private previous = new Set<number>();
  /** Events the kernel dropped (socket overruns: each overrun is at least one event). */
  lost = 0;
  /** Datagrams that did not parse. */
  malformed = 0;
  /** Destroy events of carpool's flows taken. */
  taken = 0;

  /** Decoded events: carpool's destroyed flows (mark with carpool's tag) with counters are added. */
  take(events: readonly CtEvent[]): void {
    for (const e of events) {
      if (e.type !== 'destroy' || ((e.mark & CT_MARK.mask) >>> 0) !== CT_MARK.tag) continue;
      if (e.id !== undefined) {
        if (this.current.has(e.id) || this.previous.has(e.id)) continue; // the same event twice
        this.current.add(e.id);
      }
      this.taken++;
      if (!e.counters) continue;
      const add = { packets: e.counters.origPackets + e.counters.replyPackets, bytes: e.counters.origBytes + e.counters.replyBytes };
      const addr = canonicalIP(e.reply.src) ?? e.reply.src;
      const mark = e.mark >>> 0;
      bump(this.byAddr, `${mark} ${addr}`, add);
      if (e.reply.sport !== undefined) bump(this.byAddrPort, `${mark} ${addr} ${e.reply.sport}`, add);
    }
  }

  /** Ended flows' totals for the entry of ct mark `mark` and the server at `address` (and `port`; undefined: any). */
  ended(mark: number, address: string, port?: number): PacketBytes {
    const addr = canonicalIP(address) ?? address;
    const v = port !== undefined ? this.byAddrPort.get(`${mark >>> 0} ${addr} ${port}`) : this.byAddr.get(`${mark >>> 0} ${addr}`);
    return v ? { ...v } : { packets: 0, bytes: 0 };
  }

  /** Whether a flow of this conntrack id was seen ended (its live counters must not be added too). */
  isEnded(id: number): boolean {
    return this.current.has(id) || this.previous.has(id);
  }

  /** A live read begins: ids older than the previous read are forgotten (the table no longer holds them). */
  rotate(): void {
    this.previous = this.current;
    this.current = new Set();
  }
}

function bump(m: Map<string, PacketBytes>, k: string, add: PacketBytes): void {
  const v = m.get(k);
  if (v) {
    v.packets += add.packets;
    v.bytes += add.bytes;
  } else m.set(k, { ...add });
}

/** The subscription: a NETLINK_NETFILTER socket on NFNLGRP_CONNTRACK_DESTROY feeding `flows`. */
export class CtAccounting {
  readonly flows = new EndedFlows();
  private fd: number | undefined;

  /** Subscribe; throws when the socket cannot be opened (the caller logs it: no totals of ended flows). */
  open(): void {
    if (this.fd !== undefined) return;
    this.fd = native().ctEventsOpen(NF_NETLINK_CONNTRACK_DESTROY, (bytes) => {
      if (bytes === null) {
        this.flows.lost++;
        return;
      }
      const d = decodeCtEvents(bytes);
      this.flows.malformed += d.malformed;
      this.flows.take(d.events);
    }, { rcvbuf: CT_EVENTS_RCVBUF });
  }

  close(): void {
    if (this.fd !== undefined) native().ctEventsClose(this.fd);
    this.fd = undefined;
  }
}

const ACCT = '/proc/sys/net/netfilter/nf_conntrack_acct';
const EVENTS = '/proc/sys/net/netfilter/nf_conntrack_events';

/**
 * Turn conntrack accounting on in this network namespace (`nf_conntrack_acct=1`, per netns) and
 * make sure events are delivered (`nf_conntrack_events`: 0 = never; 2, the default since Linux
 * 5.19, = for flows created while a listener is subscribed, which carpool is from its start; 1 =
 * always). Returns what was changed, for one log line; throws what the kernel said.
 */
export function enableConntrackAccounting(): string[] {
  const changed: string[] = [];
  if (!existsSync(ACCT)) {
    // Before the first plane nothing may have loaded conntrack yet (the plane's rules would).
    try { execFileSync('modprobe', ['nf_conntrack'], { stdio: 'ignore', timeout: 5_000 }); } catch { /* said below */ }
  }
  if (!existsSync(ACCT)) throw new Error(`${ACCT} is missing (nf_conntrack not loaded, and modprobe nf_conntrack did not load it)`);
  if (readFileSync(ACCT, 'utf8').trim() !== '1') {
    writeFileSync(ACCT, '1');
    changed.push('net.netfilter.nf_conntrack_acct=1');
  }
  if (existsSync(EVENTS) && readFileSync(EVENTS, 'utf8').trim() === '0') {
    writeFileSync(EVENTS, '1');
    changed.push('net.netfilter.nf_conntrack_events=1');
  }
  return changed;
}

/** Whether conntrack accounting is on in this namespace (undefined: no conntrack). For `carpool check --host`. */
export function conntrackAccounting(): boolean | undefined {
  return existsSync(ACCT) ? readFileSync(ACCT, 'utf8').trim() === '1' : undefined;
}
