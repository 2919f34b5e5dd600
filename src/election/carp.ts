/**
 * The CARP election as ucarp 1.5.2 runs it (carp-protocol notes §3), as a pure state
 * machine: every input (a validated advert, a timer tick, a link event, an operator
 * command) goes through `step(input, now)`, which returns effects for the shell to carry
 * out. Time is a monotonic millisecond number handed in; randomness (the initial
 * counter) is injected. Same state + same input => same effects.
 *
 * Where ucarp misbehaves on the host (blocking on scripts, leaving the VIP on the wire
 * after a planned stop) the machine does better without changing what ucarp peers see:
 * - a master that stops or steps down sends a BSD "bow-out" advert (advbase = advskew =
 *   255), which ucarp and BSD backups treat as "master going to time out" and take over
 *   at once (§3.5), instead of waiting 3 s;
 * - it keeps the addresses until the new master is heard ("make before break"), so a
 *   planned switchover loses no client packets.
 */
import { BOW_OUT, encodeAdvert, intervalMicros, type CarpAdvert, counterValue } from '../protocol/carp/packet.js';
import type { CarpAuthenticator } from '../protocol/carp/hmac.js';
import type { LogLevel } from '../lib/log-level.js';
import { SendHealth, SEND_ERROR_THRESHOLD, YIELD_ECHOES } from './common.js';

export type { LogLevel };

export type CarpState = 'INIT' | 'BACKUP' | 'MASTER';

export interface CarpParams {
  readonly vhid: number;
  readonly advbase: number;
  readonly advskew: number;
  readonly deadratio: number;
  readonly preempt: boolean;
  readonly neutral: boolean;
  /** Our advert source address (4 bytes): the tie-break key on equal intervals. */
  readonly srcip: Uint8Array;
  readonly auth: CarpAuthenticator;
  /** Emit add/remove address effects (native mode); ucarp mode leaves that to scripts. */
  readonly manageAddresses: boolean;
  /** On shutdown run the down hook / release addresses (ucarp `-z`). */
  readonly shutdownHooks: boolean;
  /** Ignore carrier loss (ucarp `-S`). */
  readonly ignoreIfState: boolean;
  /** 64 random bits, used until the first valid advert is heard (ucarp `sc_init_counter`). */
  readonly random64: () => bigint;
}

export type CarpInput =
  | { readonly type: 'start' }
  | { readonly type: 'tick' }
  /** An advert that passed the whole validation ladder (checksum, version, vhid, HMAC). */
  | { readonly type: 'advert'; readonly advert: CarpAdvert; readonly src: Uint8Array; readonly srcText: string }
  | { readonly type: 'link'; readonly up: boolean }
  /** Planned hand-over: SIGUSR2 or `carpool demote`. */
  | { readonly type: 'stepDown'; readonly reason: string }
  /**
   * Daemon shutting down (SIGTERM etc.), or the instance removed by a reload (`release`:
   * a master bows out and releases even without shutdown hooks). Emits `stopped` once it
   * is safe to exit.
   */
  | { readonly type: 'shutdown'; readonly release?: boolean }
  /**
   * Live reload: new settings in place (same vhid and source). No state change: a master
   * advertises the new skew with its next advert, a backup's master-down timer is re-armed
   * with the next advert it hears.
   */
  | { readonly type: 'reconfigure'; readonly params: CarpParams }
  /** Outcome of an advert `send` effect (ucarp counts failed writes, §3.6). */
  | { readonly type: 'sendResult'; readonly ok: boolean }
  /** Advertise as slow (skew 240, as BSD demotion and ucarp's send-error mode do). */
  | { readonly type: 'demote'; readonly demoted: boolean; readonly reason: string }
  /**
   * A member of this instance's CARP group lost its link (carp-group.ts): advertise skew
   * 240 but keep the role; a preempting peer takes over, as with BSD's preempt sysctl.
   */
  | { readonly type: 'groupDemote'; readonly demoted: boolean; readonly reason: string }
  /**
   * Standby: this node must not hold the addresses (a resource group cannot run here, or
   * the operator moved it away). A master hands over at once; a backup never takes over.
   */
  | { readonly type: 'standby'; readonly on: boolean; readonly reason: string };


export type CarpEffect =
  /** An advert: to the multicast group, or with `to` unicast to one peer (yield echoes). */
  | { readonly type: 'send'; readonly payload: Uint8Array; readonly to?: string }
  | { readonly type: 'transition'; readonly from: CarpState; readonly to: CarpState; readonly reason: string }
  | { readonly type: 'addAddresses' }
  | { readonly type: 'removeAddresses' }
  | { readonly type: 'hook'; readonly which: 'up' | 'down' }
  | { readonly type: 'garp' }
  | { readonly type: 'log'; readonly level: LogLevel; readonly message: string }
  /** Shutdown finished: the daemon may exit. */
  | { readonly type: 'stopped' };

/** ucarp stops answering for this long after SIGUSR2 (it `sleep(3)`s). */
export const STEP_DOWN_HOLD_MS = 3000;
/** Skew ucarp advertises after SEND_ERROR_THRESHOLD failed sends (it looks slow, so others win). */
export const SEND_ERROR_SKEW = 240;

export interface CarpStatus {
  readonly state: CarpState;
  /** Source address of the current master as last heard; `self` when we are master. */
  readonly master: string | undefined;
  readonly linkUp: boolean;
  readonly advskewEffective: number;
  readonly demoted: boolean;
  /** Why the CARP group demotes this instance, or undefined. */
  readonly groupDemoted: string | undefined;
  readonly standby: boolean;
  readonly lastTransition: { readonly from: CarpState; readonly to: CarpState; readonly reason: string; readonly at: number } | undefined;
  readonly advertsSent: number;
  readonly advertsReceived: number;
}

/** Interpret the 4 network-order bytes as a little-endian uint32: the x86 ucarp tie-break (§3.5). */
export function ucarpTieKey(addr: Uint8Array): number {
  return (addr[0]! | (addr[1]! << 8) | (addr[2]! << 16) | (addr[3]! << 24)) >>> 0;
}

export class CarpMachine {
  private st: CarpState = 'INIT';
  /** BACKUP: when the master is declared dead. Undefined while the link is down or in INIT. */
  private masterDownAt: number | undefined;
  /** MASTER: when the next advert goes out. */
  private nextAdvertAt: number | undefined;
  /** Counter of the last advert sent or heard; undefined until a valid advert was heard. */
  private counter: bigint | undefined;
  /** Second gratuitous ARP goes out with the advert that brings this to 0 (§3.4). */
  private delayedArp = 0;
  private linkUp = true;
  private readonly sendHealth = new SendHealth();
  private demoted = false;
  private groupDemoted: string | undefined;
  private standby = false;
  /** After a step-down: no preemption and no takeover before this time. */
  private holdUntil: number | undefined;
  private yieldEchoes = 0;
  private yieldEchoAt: number | undefined;
  private yieldTo: string | undefined;
  /**
   * Addresses are still held after leaving MASTER by a planned step-down; they are
   * released when another master is heard or at `releaseAt`, whichever comes first.
   */
  private releasePending = false;
  private releaseAt: number | undefined;
  private stopping = false;
  private masterAddr: string | undefined;
  private lastTransition: CarpStatus['lastTransition'];
  private sent = 0;
  private received = 0;

  constructor(private p: CarpParams) {}

  get params(): CarpParams {
    return this.p;
  }

  get state(): CarpState {
    return this.st;
  }

  /** The one timer the shell arms: the earliest pending deadline, or undefined. */
  nextDeadline(): number | undefined {
    const ds = [this.masterDownAt, this.nextAdvertAt, this.releasePending ? this.releaseAt : undefined, this.yieldEchoes > 0 && this.st === 'BACKUP' && !this.stopping ? this.yieldEchoAt : undefined]
      .filter((d): d is number => d !== undefined);
    return ds.length ? Math.min(...ds) : undefined;
  }

  status(): CarpStatus {
    return {
      state: this.st,
      master: this.st === 'MASTER' ? 'self' : this.masterAddr,
      linkUp: this.linkUp,
      advskewEffective: this.effectiveSkew(),
      demoted: this.demoted,
      groupDemoted: this.groupDemoted,
      standby: this.standby,
      lastTransition: this.lastTransition,
      advertsSent: this.sent,
      advertsReceived: this.received,
    };
  }

  /** Advertised interval in ms with the current (possibly demoted) skew. */
  advertIntervalMs(): number {
    return intervalMicros(this.params.advbase, this.effectiveSkew()) / 1000;
  }

  /**
   * ucarp: master-down = advbase * deadratio + advskew/256 s (skew not multiplied, §3.2).
   * With the effective skew, like BSD's demotion: a demoted backup waits longer and does
   * not take over from a master that merely advertises slower than its own skew.
   */
  masterDownMs(): number {
    const p = this.params;
    return (p.advbase * p.deadratio * 1_000_000 + Math.floor((this.effectiveSkew() * 1_000_000) / 256)) / 1000;
  }

  step(input: CarpInput, now: number): CarpEffect[] {
    const fx: CarpEffect[] = [];
    switch (input.type) {
      case 'start':
        if (this.st === 'INIT' && !this.stopping) this.becomeBackup(now, 'startup', fx);
        break;
      case 'tick':
        this.handleTick(now, fx);
        break;
      case 'advert':
        this.handleAdvert(input.advert, input.src, input.srcText, now, fx);
        break;
      case 'link':
        this.handleLink(input.up, now, fx);
        break;
      case 'stepDown':
        this.handleStepDown(input.reason, now, fx);
        break;
      case 'shutdown':
        this.handleShutdown(now, fx, input.release ?? false);
        break;
      case 'reconfigure':
        this.handleReconfigure(input.params, fx);
        break;
      case 'sendResult':
        this.handleSendResult(input.ok, fx);
        break;
      case 'demote':
        this.handleDemote(input.demoted, input.reason, now, fx);
        break;
      case 'groupDemote':
        this.handleGroupDemote(input.demoted, input.reason, now, fx);
        break;
      case 'standby':
        this.handleStandby(input.on, input.reason, now, fx);
        break;
    }
    return fx;
  }

  // --- handlers ------------------------------------------------------------------------

  private handleTick(now: number, fx: CarpEffect[]): void {
    if (this.releasePending && this.releaseAt !== undefined && now >= this.releaseAt) {
      this.release(fx, 'no new master heard in time');
    }
    if (this.st === 'BACKUP' && this.masterDownAt !== undefined && now >= this.masterDownAt) {
      this.masterDown(now, 'master-down timeout', fx);
    } else if (this.st === 'MASTER' && this.nextAdvertAt !== undefined && now >= this.nextAdvertAt - 1) {
      // ucarp sends when the deadline has passed or is within 1 ms (§3.2).
      this.sendAdvert(now, fx);
      if (this.delayedArp > 0 && --this.delayedArp === 0) fx.push({ type: 'garp' });
    }
    if (this.st === 'BACKUP' && !this.stopping && this.yieldEchoes > 0 && this.yieldEchoAt !== undefined && now >= this.yieldEchoAt - 1) {
      this.yieldEchoes--;
      this.sendAdvert(now, fx, this.yieldTo);
      this.yieldEchoAt = now + this.advertIntervalMs();
    }
  }

  private handleAdvert(adv: CarpAdvert, src: Uint8Array, srcText: string, now: number, fx: CarpEffect[]): void {
    if (this.stopping) {
      // A stopping master only waits to hear its successor before releasing.
      if (this.releasePending) this.maybeReleaseOnSuccessor(adv, fx);
      return;
    }
    if (this.st === 'INIT' || !this.linkUp) return;
    this.received++;
    this.counter = counterValue(adv.counter);
    const local = intervalMicros(this.params.advbase, this.effectiveSkew());
    const remote = intervalMicros(adv.advbase, adv.advskew);
    const bowOut = adv.advbase === BOW_OUT && adv.advskew === BOW_OUT;

    if (this.st === 'MASTER') {
      const ours = ucarpTieKey(this.params.srcip);
      const theirs = ucarpTieKey(src);
      if (local > remote || (local === remote && theirs < ours)) {
        // ucarp sends one more advert "to be really sure" before yielding. We repeat it
        // YIELD_ECHOES times at our interval, unicast to the preferred master (the other
        // backups must not take these for a master's adverts): our takeover GARP moved the
        // clients to us, and only the master's answer (a GARP when it hears a non-preferred
        // master) brings them back. On a lossy LAN one advert is easily missed (30 % loss:
        // 9 % of usurpations left clients stranded until their ARP entry expired).
        this.sendAdvert(now, fx);
        this.becomeBackup(now, 'preferred master advertised', fx);
        this.yieldTo = srcText;
        this.yieldEchoes = YIELD_ECHOES;
        this.yieldEchoAt = now + this.advertIntervalMs();
        fx.push({ type: 'log', level: 'warning', message: 'Preferred master advertised: going back to BACKUP state' });
        this.masterAddr = srcText;
      } else if (local < remote || theirs > ours) {
        fx.push({ type: 'log', level: 'warning', message: 'Non-preferred master advertising: reasserting control of VIP with another gratuitous arp' });
        fx.push({ type: 'garp' });
        this.delayedArp = 2;
      }
      return;
    }

    // BACKUP
    this.masterAddr = bowOut ? undefined : srcText;
    if (this.releasePending && !bowOut) this.release(fx, `new master ${srcText} heard`);
    const held = this.holdUntil !== undefined && now < this.holdUntil;
    if (this.params.preempt && local < remote && !held && !this.demoted) {
      this.masterDown(now, 'preemption', fx);
      fx.push({ type: 'log', level: 'warning', message: 'Putting MASTER down - preemption' });
      return;
    }
    if (remote > this.masterDownMs() * 1000 && !held) {
      // Catches BSD's bow-out (advbase = advskew = 255): the master is leaving.
      this.masterDown(now, bowOut ? 'master bowed out' : 'master advertises slower than our dead time', fx);
      fx.push({ type: 'log', level: 'warning', message: 'Putting MASTER DOWN (going to time out)' });
      return;
    }
    this.armMasterDown(now);
  }

  private maybeReleaseOnSuccessor(adv: CarpAdvert, fx: CarpEffect[]): void {
    if (adv.advbase === BOW_OUT && adv.advskew === BOW_OUT) return;
    this.release(fx, 'successor heard');
  }

  private handleLink(up: boolean, now: number, fx: CarpEffect[]): void {
    if (this.params.ignoreIfState || up === this.linkUp) return;
    this.linkUp = up;
    if (!up) {
      fx.push({ type: 'log', level: 'warning', message: 'Interface lost its carrier: going to BACKUP until it returns' });
      if (this.st === 'MASTER') this.becomeBackup(now, 'link down', fx);
      if (this.releasePending) this.release(fx, 'link down');
      this.masterDownAt = undefined;
      this.nextAdvertAt = undefined;
      this.masterAddr = undefined;
      this.yieldEchoes = 0;
    } else if (this.st !== 'INIT') {
      fx.push({ type: 'log', level: 'info', message: 'Interface carrier is back: starting the master-down timer' });
      this.armMasterDown(now);
    }
  }

  private handleStepDown(reason: string, now: number, fx: CarpEffect[]): void {
    fx.push({ type: 'log', level: 'debug', message: 'Caught signal (USR2) considering going down' });
    this.holdUntil = now + STEP_DOWN_HOLD_MS;
    if (this.st !== 'MASTER') {
      if (this.st === 'BACKUP') this.masterDownAt = Math.max(this.masterDownAt ?? now, this.holdUntil + this.masterDownMs());
      return;
    }
    this.sendBowOut(fx);
    this.becomeBackup(now, reason, fx, { deferRelease: true });
    this.masterDownAt = this.holdUntil + this.masterDownMs();
  }

  private handleShutdown(now: number, fx: CarpEffect[], release: boolean): void {
    if (this.stopping) return;
    this.stopping = true;
    const wasMaster = this.st === 'MASTER';
    this.masterDownAt = undefined;
    this.nextAdvertAt = undefined;
    if (!wasMaster || !(this.params.shutdownHooks || release)) {
      fx.push({ type: 'stopped' });
      return;
    }
    // Bow out so a backup takes over now, and hold the addresses until it is heard.
    this.sendBowOut(fx);
    this.transition('BACKUP', 'shutdown', now, fx);
    this.releasePending = true;
    this.releaseAt = now + Math.min(this.masterDownMs(), 1000);
  }

  private handleReconfigure(params: CarpParams, fx: CarpEffect[]): void {
    if (params.vhid !== this.p.vhid) throw new Error(`CARP: reconfigure cannot change vhid ${this.p.vhid} -> ${params.vhid}`);
    const skew = params.advbase !== this.p.advbase || params.advskew !== this.p.advskew;
    this.p = params;
    if (skew) fx.push({ type: 'log', level: 'info', message: `Now advertising advbase ${params.advbase} advskew ${this.effectiveSkew()}` });
  }

  private handleSendResult(ok: boolean, fx: CarpEffect[]): void {
    const flip = this.sendHealth.record(ok);
    if (flip === 'recovered') fx.push({ type: 'log', level: 'info', message: 'Advert sends succeed again: advertising our own skew' });
    if (flip === 'failing') fx.push({ type: 'log', level: 'warning', message: `write() has failed ${SEND_ERROR_THRESHOLD} times: advertising skew ${SEND_ERROR_SKEW}` });
  }

  private handleDemote(demoted: boolean, reason: string, now: number, fx: CarpEffect[]): void {
    if (demoted === this.demoted) return;
    this.demoted = demoted;
    this.yieldEchoes = 0;
    fx.push({ type: 'log', level: 'warning', message: demoted ? `Demoted: ${reason}` : `Demotion lifted: ${reason}` });
    if (demoted && this.st === 'MASTER') {
      this.sendBowOut(fx);
      this.becomeBackup(now, `demoted: ${reason}`, fx, { deferRelease: true });
    }
  }

  private handleGroupDemote(demoted: boolean, reason: string, now: number, fx: CarpEffect[]): void {
    if (demoted === (this.groupDemoted !== undefined)) return;
    this.groupDemoted = demoted ? reason : undefined;
    fx.push({ type: 'log', level: demoted ? 'warning' : 'info', message: demoted ? `Group demotion (${reason}): advertising skew ${this.effectiveSkew()}` : `Group demotion lifted (${reason}): advertising skew ${this.effectiveSkew()}` });
    // A master tells the peer at once instead of at its next advert: the peer preempts sooner.
    if (this.st === 'MASTER' && !this.stopping) this.sendAdvert(now, fx);
  }

  private handleStandby(on: boolean, reason: string, now: number, fx: CarpEffect[]): void {
    if (on === this.standby) return;
    this.standby = on;
    fx.push({ type: 'log', level: 'warning', message: on ? `Standby: ${reason}` : `Standby lifted: ${reason}` });
    if (on && this.st === 'MASTER') {
      this.sendBowOut(fx);
      this.becomeBackup(now, `standby: ${reason}`, fx, { deferRelease: true });
    }
  }

  // --- transitions (one choke point) --------------------------------------------------

  private masterDown(now: number, reason: string, fx: CarpEffect[]): void {
    this.yieldEchoes = 0;
    if (this.st !== 'BACKUP' || this.stopping) return;
    if (this.standby) {
      // Keep watching, never take over: the master is gone but this node must not serve.
      if (this.masterAddr !== undefined) fx.push({ type: 'log', level: 'warning', message: 'Master is gone but this node is in standby: not taking over' });
      this.masterAddr = undefined;
      this.armMasterDown(now);
      return;
    }
    this.transition('MASTER', reason, now, fx);
    this.masterAddr = undefined;
    this.masterDownAt = undefined;
    this.releasePending = false;
    // Order: announce first (stops other backups), then take the addresses, then tell clients.
    this.sendAdvert(now, fx);
    if (this.params.manageAddresses) fx.push({ type: 'addAddresses' });
    fx.push({ type: 'garp' });
    fx.push({ type: 'hook', which: 'up' });
    this.delayedArp = 2;
  }

  private becomeBackup(now: number, reason: string, fx: CarpEffect[], opts: { deferRelease?: boolean } = {}): void {
    const from = this.st;
    this.transition('BACKUP', reason, now, fx);
    this.nextAdvertAt = undefined;
    this.delayedArp = 0;
    if (from === 'MASTER' && opts.deferRelease) {
      this.releasePending = true;
      this.releaseAt = now + Math.max(this.masterDownMs(), 50);
    } else if (from === 'MASTER' || !(from === 'INIT' && this.params.neutral)) {
      // ucarp runs the down script on every -> BACKUP except INIT -> BACKUP with --neutral.
      if (from === 'MASTER' && this.params.manageAddresses) fx.push({ type: 'removeAddresses' });
      fx.push({ type: 'hook', which: 'down' });
    }
    if (this.linkUp) this.armMasterDown(now);
  }

  private release(fx: CarpEffect[], why: string): void {
    if (!this.releasePending) return;
    this.releasePending = false;
    this.releaseAt = undefined;
    fx.push({ type: 'log', level: 'info', message: `Releasing virtual addresses (${why})` });
    if (this.params.manageAddresses) fx.push({ type: 'removeAddresses' });
    fx.push({ type: 'hook', which: 'down' });
    if (this.stopping) fx.push({ type: 'stopped' });
  }

  private transition(to: CarpState, reason: string, now: number, fx: CarpEffect[]): void {
    const from = this.st;
    if (from === to) throw new Error(`CARP: no-op transition ${from} -> ${to}`);
    this.st = to;
    this.lastTransition = { from, to, reason, at: now };
    fx.push({ type: 'transition', from, to, reason });
  }

  // --- timers and sending -------------------------------------------------------------

  private armMasterDown(now: number): void {
    const base = now + this.masterDownMs();
    this.masterDownAt = this.holdUntil !== undefined && this.holdUntil > now ? Math.max(base, this.holdUntil + this.masterDownMs()) : base;
  }

  private effectiveSkew(): number {
    return this.sendHealth.isFailing || this.demoted || this.groupDemoted !== undefined ? Math.max(this.params.advskew, SEND_ERROR_SKEW) : this.params.advskew;
  }

  private nextCounter(): bigint {
    this.counter = this.counter === undefined ? BigInt.asUintN(64, this.params.random64()) : BigInt.asUintN(64, this.counter + 1n);
    return this.counter;
  }

  private sendAdvert(now: number, fx: CarpEffect[], to?: string): void {
    const p = this.params;
    const skew = this.effectiveSkew();
    const payload = encodeAdvert({ vhid: p.vhid, advbase: p.advbase, advskew: skew, counter: this.nextCounter() }, p.auth);
    fx.push(to === undefined ? { type: 'send', payload } : { type: 'send', payload, to });
    this.sent++;
    if (this.st === 'MASTER') {
      // advbase = advskew = 255 means "no further adverts" (BSD bow-out semantics).
      this.nextAdvertAt = p.advbase === BOW_OUT && skew === BOW_OUT ? undefined : now + intervalMicros(p.advbase, skew) / 1000;
    }
  }

  private sendBowOut(fx: CarpEffect[]): void {
    const p = this.params;
    fx.push({ type: 'send', payload: encodeAdvert({ vhid: p.vhid, advbase: BOW_OUT, advskew: BOW_OUT, counter: this.nextCounter() }, p.auth) });
    this.sent++;
  }
}
