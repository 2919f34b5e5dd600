/**
 * Drivers for the scenario files in testdata/scenarios/carp/ and vrrp/ (see
 * test/helpers/datadriven.ts for the file format): one machine under test, driven through the
 * pure election (src/election/carp.ts, vrrp.ts) by scripted peers, the way the daemon shell
 * drives it. Every advert a peer sends goes through the real receive ladder; every `send` the
 * machine emits is answered with a send result (`sends ok|fail`). Time only moves with `tick`.
 *
 * Commands both protocols know:
 *   start | shutdown | standby on|off | stepdown | state
 *   advert from=IP ...                one advert from a peer, now
 *   peer IP ...                       the peer starts advertising at its interval (first one now)
 *   peer IP stop                      the peer goes silent (killed, cable pulled)
 *   lose from=IP count=N              the peer's next N adverts are lost on the way
 *   sends ok|fail                     what the shell reports for the machine's own sends
 *   tick +MS                          let MS milliseconds pass: timers fire, peers advertise
 * CARP:  node ip=IP [advbase= advskew= preempt= deadratio= neutral= manage=]
 *        advert/peer take advbase= advskew= (and password= to get it dropped)
 *        link down|up   demote on|off
 * VRRP:  node ip=IP [prio= version= interval= preempt= preempt_delay= state= owner-less]
 *        advert/peer take prio= interval=
 *        fault on|off [reason=...]   (the daemon's trackers: an interface down is a fault)
 *        priority N [reason=...]     (tracking weights changed the effective priority)
 *
 * Output: one line per effect, `t=<ms> <effect>`; identical consecutive lines (periodic
 * adverts) fold into `t=<first>..<last> <effect> (xN)`.
 */
import type { Command } from '../helpers/datadriven.js';
import { CarpMachine, type CarpEffect, type CarpInput } from '../../src/election/carp.js';
import { VrrpMachine } from '../../src/election/vrrp.js';
import { vrrpRxInstance, type VrrpEffect, type VrrpInput, type VrrpParams } from '../../src/election/vrrp-model.js';
import { carpAuthenticator, type CarpAuthenticator } from '../../src/protocol/carp/hmac.js';
import { checkAdvert as checkCarp, decodeAdvert as decodeCarp, encodeAdvert as encodeCarp, intervalMicros, verifyAdvert } from '../../src/protocol/carp/packet.js';
import { checkAdvert as checkVrrp, decodeAdvert as decodeVrrp, encodeAdvert as encodeVrrp, passwordAuthData, VRRP_AUTH_PASS } from '../../src/protocol/vrrp/packet.js';
import { parseIP, parseIPv4 } from '../../src/protocol/inet.js';
import type { GarpSettings } from '../../src/config/model.js';

const VIP = '10.0.0.100';
const GROUP = '224.0.0.18';
/** carpool's defaults for a VRRP instance without garp_* settings (src/config/vrrp-build.ts). */
const CARPOOL_DEFAULT_GARP: GarpSettings = {
  masterDelayMs: 5000, masterRepeat: 5, masterRefreshMs: 0, masterRefreshRepeat: 1, lowerPrioRepeat: 1, lowerPrioDelayMs: 5000, intervalMs: 0,
};

const fmtT = (t: number): string => String(Number(t.toFixed(3)));
const deadline = (t: number | undefined): string => (t === undefined ? '-' : fmtT(t));

function num(cmd: Command, key: string, dflt: number): number {
  const v = cmd.kv.get(key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${key}=${v} is not a number`);
  return n;
}

function bool(cmd: Command, key: string, dflt: boolean): boolean {
  const v = cmd.kv.get(key);
  if (v === undefined) return dflt;
  if (v !== 'true' && v !== 'false') throw new Error(`${key}=${v}: true or false`);
  return v === 'true';
}

function onOff(cmd: Command): boolean {
  const v = cmd.args[0];
  if (v !== 'on' && v !== 'off' && v !== 'up' && v !== 'down' && v !== 'ok' && v !== 'fail') throw new Error(`${cmd.name}: on/off expected, got ${v ?? 'nothing'}`);
  return v === 'on' || v === 'up' || v === 'ok';
}

/** A scripted peer: advertises every `intervalMs` from `nextAt` while not stopped. */
interface Peer<A> {
  readonly ip: string;
  readonly advert: A;
  readonly intervalMs: number;
  nextAt: number | undefined;
}

/** What the two drivers share: the clock, scripted peers, advert loss, the output. */
abstract class Driver<A, E> {
  now = 0;
  protected started = false;
  private readonly peers = new Map<string, Peer<A>>();
  private readonly lose = new Map<string, number>();
  private sendsOk = true;
  private out: string[] = [];

  /** Which peer advert fields a command gives (`advbase=`, `prio=`...) and its interval. */
  protected abstract peerAdvert(cmd: Command, ip: string): { advert: A; intervalMs: number };
  /** Deliver a peer advert through the receive ladder; returns a drop reason or the machine's effects. */
  protected abstract deliver(ip: string, advert: A): string | E[];
  protected abstract step(input: 'tick' | 'start' | 'shutdown' | { sendResult: boolean }): E[];
  protected abstract nextDeadline(): number | undefined;
  /** Effect as text; `isSend` true for adverts the machine sends (answered with a send result). */
  protected abstract show(e: E): { text: string; isSend: boolean };
  protected abstract describe(a: A): string;
  protected abstract stateLine(): string;
  /** Protocol-specific commands; false = unknown. */
  protected abstract command(cmd: Command): boolean;

  run(cmd: Command): string[] {
    this.out = [];
    switch (cmd.name) {
      case 'start': this.effects(this.step('start')); break;
      case 'shutdown': this.effects(this.step('shutdown')); break;
      case 'state': this.out.push(this.stateLine()); break;
      case 'sends': this.sendsOk = onOff(cmd); break;
      case 'advert': {
        const ip = cmd.kv.get('from');
        if (!ip) throw new Error('advert needs from=IP');
        this.receive(ip, this.peerAdvert(cmd, ip).advert);
        break;
      }
      case 'peer': {
        const ip = cmd.args[0];
        if (!ip) throw new Error('peer IP ...');
        if (cmd.args[1] === 'stop') {
          if (!this.peers.delete(ip)) throw new Error(`no peer ${ip}`);
          break;
        }
        const { advert, intervalMs } = this.peerAdvert(cmd, ip);
        this.peers.set(ip, { ip, advert, intervalMs, nextAt: this.now });
        this.runUntil(this.now);
        break;
      }
      case 'lose': {
        const ip = cmd.kv.get('from');
        if (!ip) throw new Error('lose needs from=IP');
        this.lose.set(ip, num(cmd, 'count', 1));
        break;
      }
      case 'tick': {
        const m = /^\+(\d+(?:\.\d+)?)$/.exec(cmd.args[0] ?? '');
        if (!m) throw new Error('tick +MS');
        this.runUntil(this.now + Number(m[1]));
        break;
      }
      default:
        if (!this.command(cmd)) throw new Error(`unknown command ${cmd.name}`);
    }
    return fold(this.out);
  }

  protected effects(fx: readonly E[]): void {
    for (const e of fx) {
      const { text, isSend } = this.show(e);
      this.out.push(`t=${fmtT(this.now)} ${text}`);
      if (isSend) this.effects(this.step({ sendResult: this.sendsOk }));
    }
  }

  protected note(text: string): void {
    this.out.push(`t=${fmtT(this.now)} ${text}`);
  }

  private receive(ip: string, advert: A): void {
    const left = this.lose.get(ip) ?? 0;
    if (left > 0) {
      this.lose.set(ip, left - 1);
      this.note(`lost ${ip} ${this.describe(advert)}`);
      return;
    }
    const r = this.deliver(ip, advert);
    if (typeof r === 'string') this.note(`drop ${ip} ${this.describe(advert)}: ${r}`);
    else {
      this.note(`recv ${ip} ${this.describe(advert)}`);
      this.effects(r);
    }
  }

  /** Timers and peer adverts in time order up to `t` (a timer first when both are due together). */
  private runUntil(t: number): void {
    for (let guard = 0; ; guard++) {
      if (guard > 100_000) throw new Error(`the machine spins at t=${this.now}`);
      const d = this.started ? this.nextDeadline() : undefined;
      let peer: Peer<A> | undefined;
      for (const p of this.peers.values()) if (p.nextAt !== undefined && (!peer || p.nextAt < peer.nextAt!)) peer = p;
      const pt = peer?.nextAt;
      const next = Math.min(d ?? Infinity, pt ?? Infinity);
      if (next > t) break;
      this.now = Math.max(this.now, next);
      if (d !== undefined && d <= (pt ?? Infinity)) {
        this.effects(this.step('tick'));
      } else {
        peer!.nextAt = pt! + peer!.intervalMs;
        this.receive(peer!.ip, peer!.advert);
      }
    }
    this.now = t;
  }
}

/** Identical consecutive lines (after the time stamp) fold into one with the time range. */
export function fold(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < lines.length;) {
    const m = /^t=(\S+) (.*)$/.exec(lines[i]!);
    if (!m) { out.push(lines[i++]!); continue; }
    let j = i + 1;
    let last = m[1]!;
    for (; j < lines.length; j++) {
      const n = /^t=(\S+) (.*)$/.exec(lines[j]!);
      if (!n || n[2] !== m[2]) break;
      last = n[1]!;
    }
    out.push(j - i > 1 ? `t=${m[1]}..${last} ${m[2]} (x${j - i})` : lines[i]!);
    i = j;
  }
  return out;
}

// --- CARP -------------------------------------------------------------------------------

interface CarpPeerAdvert { readonly advbase: number; readonly advskew: number; readonly password: string }

export class CarpDriver extends Driver<CarpPeerAdvert, CarpEffect> {
  private m: CarpMachine | undefined;
  private ip = '';
  private auth: CarpAuthenticator | undefined;
  private counter = 1000n;

  private get machine(): CarpMachine {
    if (!this.m) throw new Error('no node yet: start the file with `node ip=...`');
    return this.m;
  }

  private authFor(password: string): CarpAuthenticator {
    return carpAuthenticator(new TextEncoder().encode(password), [parseIPv4(VIP)!]);
  }

  protected command(cmd: Command): boolean {
    switch (cmd.name) {
      case 'node': {
        this.ip = cmd.kv.get('ip') ?? '10.0.0.1';
        this.auth = this.authFor('secret');
        this.m = new CarpMachine({
          vhid: 1, advbase: num(cmd, 'advbase', 1), advskew: num(cmd, 'advskew', 0), deadratio: num(cmd, 'deadratio', 3),
          preempt: bool(cmd, 'preempt', false), neutral: bool(cmd, 'neutral', false), srcip: parseIPv4(this.ip)!, auth: this.auth,
          manageAddresses: bool(cmd, 'manage', true), shutdownHooks: true, ignoreIfState: false,
          random64: () => 0x0123456789abcdefn,
        });
        return true;
      }
      case 'link': this.effects(this.machine.step({ type: 'link', up: onOff(cmd) }, this.now)); return true;
      case 'demote': this.effects(this.machine.step({ type: 'demote', demoted: onOff(cmd), reason: cmd.kv.get('reason') ?? 'operator' }, this.now)); return true;
      case 'standby': this.effects(this.machine.step({ type: 'standby', on: onOff(cmd), reason: cmd.kv.get('reason') ?? 'operator' }, this.now)); return true;
      case 'stepdown': this.effects(this.machine.step({ type: 'stepDown', reason: cmd.kv.get('reason') ?? 'carpool demote' }, this.now)); return true;
      default: return false;
    }
  }

  protected peerAdvert(cmd: Command, _ip: string): { advert: CarpPeerAdvert; intervalMs: number } {
    const advert = { advbase: num(cmd, 'advbase', 1), advskew: num(cmd, 'advskew', 0), password: cmd.kv.get('password') ?? 'secret' };
    return { advert, intervalMs: intervalMicros(advert.advbase, advert.advskew) / 1000 };
  }

  protected deliver(ip: string, a: CarpPeerAdvert): string | CarpEffect[] {
    const payload = encodeCarp({ vhid: 1, advbase: a.advbase, advskew: a.advskew, counter: this.counter++ }, this.authFor(a.password));
    const c = checkCarp(payload, 255);
    const v = c.ok ? verifyAdvert(c.value, GROUP, GROUP, this.auth!, this.ip) : c;
    if (!v.ok) return v.reason;
    return this.machine.step({ type: 'advert', advert: v.value, src: parseIPv4(ip)!, srcText: ip }, this.now);
  }

  protected step(input: 'tick' | 'start' | 'shutdown' | { sendResult: boolean }): CarpEffect[] {
    if (input === 'start') this.started = true;
    const i: CarpInput = typeof input === 'string' ? { type: input } : { type: 'sendResult', ok: input.sendResult };
    return this.machine.step(i, this.now);
  }

  protected nextDeadline(): number | undefined {
    return this.machine.nextDeadline();
  }

  protected show(e: CarpEffect): { text: string; isSend: boolean } {
    switch (e.type) {
      case 'send': {
        const a = decodeCarp(e.payload);
        return { text: `send advbase=${a.advbase} advskew=${a.advskew}${e.to ? ` to=${e.to}` : ''}`, isSend: true };
      }
      case 'transition': return { text: `${e.from} -> ${e.to} (${e.reason})`, isSend: false };
      case 'hook': return { text: `hook ${e.which}`, isSend: false };
      case 'log': return { text: `log ${e.level}: ${e.message}`, isSend: false };
      default: return { text: e.type, isSend: false };
    }
  }

  protected describe(a: CarpPeerAdvert): string {
    return `advbase=${a.advbase} advskew=${a.advskew}${a.password !== 'secret' ? ` password=${a.password}` : ''}`;
  }

  protected stateLine(): string {
    const s = this.machine.status();
    return `state=${s.state} master=${s.master ?? '-'} link=${s.linkUp ? 'up' : 'down'} advskew=${s.advskewEffective}` +
      `${s.demoted ? ' demoted' : ''}${s.standby ? ' standby' : ''} next=${deadline(this.machine.nextDeadline())}`;
  }
}

// --- VRRP -------------------------------------------------------------------------------

interface VrrpPeerAdvert { readonly prio: number; readonly intervalMs: number; readonly password: string | undefined }

export class VrrpDriver extends Driver<VrrpPeerAdvert, VrrpEffect> {
  private m: VrrpMachine | undefined;
  private params: VrrpParams | undefined;

  private get machine(): VrrpMachine {
    if (!this.m) throw new Error('no node yet: start the file with `node ip=...`');
    return this.m;
  }

  protected command(cmd: Command): boolean {
    switch (cmd.name) {
      case 'node': {
        const version = num(cmd, 'version', 3);
        if (version !== 2 && version !== 3) throw new Error('version=2 or 3');
        const password = cmd.kv.get('password');
        const state = cmd.kv.get('state') ?? 'BACKUP';
        if (state !== 'MASTER' && state !== 'BACKUP') throw new Error('state=MASTER or BACKUP');
        this.params = {
          name: 'VI_1', version, family: 4, vrid: 1, priority: num(cmd, 'prio', 100),
          advertIntervalMs: num(cmd, 'interval', 1000), initialState: state,
          preempt: bool(cmd, 'preempt', true), preemptDelayMs: num(cmd, 'preempt_delay', 0),
          authData: password !== undefined ? passwordAuthData(password) : undefined,
          srcip: parseIP(cmd.kv.get('ip') ?? '10.0.0.1')!.bytes, mcastGroup: parseIP(GROUP)!.bytes, unicastPeers: [],
          v3ChecksumAsV2: false, addresses: [parseIP(VIP)!.bytes], routes: false, garp: CARPOOL_DEFAULT_GARP,
          lowerPrioNoAdvert: false, higherPrioSendAdvert: false, downTimerAdverts: 3, syncGroup: false,
        };
        this.m = new VrrpMachine(this.params);
        return true;
      }
      case 'fault': this.effects(this.machine.step({ type: 'fault', fault: onOff(cmd), reason: cmd.kv.get('reason') ?? 'tracker' }, this.now)); return true;
      case 'priority': {
        const p = Number(cmd.args[0]);
        if (!Number.isFinite(p)) throw new Error('priority N');
        this.effects(this.machine.step({ type: 'priority', priority: p, reason: cmd.kv.get('reason') ?? 'tracking' }, this.now));
        return true;
      }
      case 'standby': this.effects(this.machine.step({ type: 'standby', on: onOff(cmd), reason: cmd.kv.get('reason') ?? 'operator' }, this.now)); return true;
      case 'stepdown': this.effects(this.machine.step({ type: 'stepDown', reason: cmd.kv.get('reason') ?? 'carpool demote' }, this.now)); return true;
      default: return false;
    }
  }

  protected peerAdvert(cmd: Command, _ip: string): { advert: VrrpPeerAdvert; intervalMs: number } {
    const advert = { prio: num(cmd, 'prio', 100), intervalMs: num(cmd, 'interval', this.params?.advertIntervalMs ?? 1000), password: cmd.kv.get('password') };
    return { advert, intervalMs: advert.intervalMs };
  }

  protected deliver(ip: string, a: VrrpPeerAdvert): string | VrrpEffect[] {
    const p = this.params!;
    const src = parseIP(ip)!.bytes;
    const auth = a.password !== undefined ? { authType: VRRP_AUTH_PASS, authData: passwordAuthData(a.password) } : {};
    const payload = encodeVrrp({ version: p.version, vrid: p.vrid, priority: a.prio, intervalMs: a.intervalMs, addresses: p.addresses, ...auth },
      { family: 4, src, dst: p.mcastGroup });
    const v = checkVrrp({ family: 4, src, dst: p.mcastGroup, ttl: 255, payload }, (vrid) => (vrid === p.vrid ? vrrpRxInstance(p) : undefined));
    if (!v.ok) return v.reason;
    return this.machine.step({ type: 'advert', advert: v.value.advert, src }, this.now);
  }

  protected step(input: 'tick' | 'start' | 'shutdown' | { sendResult: boolean }): VrrpEffect[] {
    if (input === 'start') this.started = true;
    const i: VrrpInput = typeof input === 'string' ? { type: input } : { type: 'sendResult', ok: input.sendResult };
    return this.machine.step(i, this.now);
  }

  protected nextDeadline(): number | undefined {
    return this.machine.nextDeadline();
  }

  protected show(e: VrrpEffect): { text: string; isSend: boolean } {
    switch (e.type) {
      case 'send': {
        const a = decodeVrrp(e.payload, 4);
        const to = e.dstText === GROUP ? '' : ` to=${e.dstText}`;
        return { text: `send prio=${e.priority} interval=${a?.intervalMs ?? '?'}${to}`, isSend: true };
      }
      case 'transition': return { text: `${e.from} -> ${e.to} (${e.reason})`, isSend: false };
      case 'garp': return { text: `garp ${e.kind} x${e.count}`, isSend: false };
      case 'notify': return { text: `notify ${e.which} prio=${e.priority}`, isSend: false };
      case 'log': return { text: `log ${e.level}: ${e.message}`, isSend: false };
      case 'syncWant': return { text: `syncWant ${e.want}`, isSend: false };
      case 'syncFault': return { text: `syncFault ${e.fault} (${e.reason})`, isSend: false };
      default: return { text: e.type, isSend: false };
    }
  }

  protected describe(a: VrrpPeerAdvert): string {
    return `prio=${a.prio}${a.intervalMs !== this.params?.advertIntervalMs ? ` interval=${a.intervalMs}` : ''}${a.password !== undefined ? ` password=${a.password}` : ''}`;
  }

  protected stateLine(): string {
    const s = this.machine.status();
    return `state=${s.state} master=${s.master ?? '-'} prio=${s.effectivePriority}${s.masterPriority !== undefined ? ` master-prio=${s.masterPriority}` : ''}` +
      `${s.fault.own ? ' fault' : ''}${s.standby ? ' standby' : ''}${s.yielded ? ' yielded' : ''}${s.releasePending ? ' release-pending' : ''}` +
      ` next=${deadline(this.machine.nextDeadline())}`;
  }
}
