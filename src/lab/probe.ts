/**
 * The client's view of a virtual IP: ICMP echo requests every `intervalMs`, each answer
 * matched to its request. The host that holds the address answers from its kernel, so
 * no server is needed. The outage of a failover is the gap between the last answered
 * probe before the fault and the first answered one after it.
 */
import { RawSocket } from '../net/raw-socket.js';
import { internetChecksum } from '../protocol/checksum.js';

export interface ProbeRecord {
  readonly seq: number;
  /** Monotonic send time (ms). */
  readonly sentAt: number;
  /** Round-trip time in ms, or undefined when no answer came. */
  rttMs?: number;
}

export interface ProbeOptions {
  readonly target: string;
  readonly ifname: string;
  readonly intervalMs: number;
  /** Called for every answer and every probe declared lost (after `lossAfterMs`). */
  readonly onResult?: (r: ProbeRecord, ok: boolean) => void;
  /** Called on the first answer after a gap: how many probes went unanswered and for how long. */
  readonly onRecovered?: (gap: { readonly lost: number; readonly outageMs: number; readonly at: number }) => void;
  readonly lossAfterMs?: number;
}

export class Prober {
  private readonly sock: RawSocket;
  private readonly records: ProbeRecord[] = [];
  private readonly bySeq = new Map<number, ProbeRecord>();
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private lastAnswered: ProbeRecord | undefined;
  private answered = 0;
  private readonly id = process.pid & 0xffff;
  private readonly started = performance.now();

  constructor(private readonly opts: ProbeOptions) {
    this.sock = RawSocket.open({ family: 4, protocol: 1, ifname: opts.ifname });
    this.sock.onPacket((p) => {
      const b = p.payload;
      if (b.length < 8 || b[0] !== 0 || ((b[4]! << 8) | b[5]!) !== this.id) return;
      const seq = (b[6]! << 8) | b[7]!;
      const rec = this.bySeq.get(seq);
      if (!rec || rec.rttMs !== undefined) return;
      rec.rttMs = performance.now() - rec.sentAt;
      this.answered++;
      const last = this.lastAnswered;
      if (!last || rec.sentAt > last.sentAt) {
        this.lastAnswered = rec;
        // A gap is probes that went out between the two answers and are still unanswered; a late
        // send (the probe's own event loop stalled) is no outage.
        const lost = last ? this.unansweredBetween(last, rec) : 0;
        if (last && lost > 0) this.opts.onRecovered?.({ lost, outageMs: rec.sentAt - last.sentAt, at: rec.sentAt });
      }
      this.opts.onResult?.(rec, true);
    });
  }

  private unansweredBetween(from: ProbeRecord, to: ProbeRecord): number {
    let n = 0;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.sentAt <= from.sentAt) break;
      if (r.sentAt < to.sentAt && r.rttMs === undefined) n++;
    }
    return n;
  }

  start(): void {
    const tick = (): void => {
      this.send();
      this.expire();
      // Schedule against the ideal grid so spacing does not drift.
      const next = this.started + (this.seq) * this.opts.intervalMs - performance.now();
      this.timer = setTimeout(tick, Math.max(0, next));
    };
    tick();
  }

  private send(): void {
    const seq = this.seq++ & 0xffff;
    const pkt = new Uint8Array(16);
    pkt[0] = 8; // echo request
    pkt[4] = this.id >> 8; pkt[5] = this.id & 0xff;
    pkt[6] = seq >> 8; pkt[7] = seq & 0xff;
    const sum = internetChecksum(pkt);
    pkt[2] = sum >> 8; pkt[3] = sum & 0xff;
    const rec: ProbeRecord = { seq, sentAt: performance.now() };
    this.records.push(rec);
    this.bySeq.set(seq, rec);
    this.sock.send(this.opts.target, pkt);
  }

  private expiredUpTo = 0;
  private expire(): void {
    const limit = performance.now() - (this.opts.lossAfterMs ?? 1000);
    while (this.expiredUpTo < this.records.length && this.records[this.expiredUpTo]!.sentAt < limit) {
      const r = this.records[this.expiredUpTo++]!;
      if (r.rttMs === undefined) this.opts.onResult?.(r, false);
    }
  }

  /** Probes sent and answered so far. */
  counts(): { sent: number; answered: number } {
    return { sent: this.records.length, answered: this.answered };
  }

  stop(): ProbeRecord[] {
    if (this.timer) clearTimeout(this.timer);
    this.sock.close();
    return this.records;
  }
}

export interface OutageSummary {
  readonly sent: number;
  readonly answered: number;
  readonly lost: number;
  /** Longest run of unanswered probes, as time from the last answer before it to the first after (ms). */
  readonly longestOutageMs: number;
  /** Every gap (last answered -> next answered) longer than 1.5 probe intervals. */
  readonly outages: readonly { readonly fromMs: number; readonly toMs: number; readonly lost: number }[];
}

/** Summarize probes; times relative to the first probe. Probes still in flight at the end are ignored. */
export function summarize(records: readonly ProbeRecord[], intervalMs: number, settleMs = 200): OutageSummary {
  if (records.length === 0) return { sent: 0, answered: 0, lost: 0, longestOutageMs: 0, outages: [] };
  const t0 = records[0]!.sentAt;
  const endAt = records[records.length - 1]!.sentAt - settleMs;
  const considered = records.filter((r) => r.sentAt <= endAt);
  const answered = considered.filter((r) => r.rttMs !== undefined);
  const outages: { fromMs: number; toMs: number; lost: number }[] = [];
  let last: ProbeRecord | undefined;
  let lostRun = 0;
  for (const r of considered) {
    if (r.rttMs === undefined) { lostRun++; continue; }
    if (last && lostRun > 0 && r.sentAt - last.sentAt > 1.5 * intervalMs) {
      outages.push({ fromMs: last.sentAt - t0, toMs: r.sentAt - t0, lost: lostRun });
    }
    last = r;
    lostRun = 0;
  }
  return {
    sent: considered.length,
    answered: answered.length,
    lost: considered.length - answered.length,
    longestOutageMs: Math.max(0, ...outages.map((o) => o.toMs - o.fromMs)),
    outages,
  };
}
