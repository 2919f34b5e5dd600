/**
 * The VRRP election (RFC 3768 §6, RFC 5798 §6) as keepalived runs it (keepalived notes §2),
 * as a pure state machine beside the CARP one: every input (a validated advert, a timer
 * tick, a tracking verdict, an operator command, a sync-group decision) goes through
 * `step(input, now)`, which returns effects for the shell to carry out. Time is a
 * monotonic millisecond number handed in; there is no randomness. Same state + same
 * input => same effects.
 *
 * Where carpool deliberately differs from keepalived (peers see only RFC behaviour):
 * - a master that hears a lower-priority advert re-announces itself with gratuitous
 *   ARP/NA (`garp.lowerPrioRepeat`, carpool default 1). Without it, clients that followed
 *   a briefly usurping backup stay on the wrong host (measured: 33 % probe loss under 30 %
 *   advert loss at 10 ms adverts). Debian's keepalived 2.2.7 sends garp_master_repeat (5)
 *   GARPs then, plus a second set after garp_master_delay (testdata/keepalived-v2-partition.pcap);
 * - planned step-down and shutdown keep the addresses until the successor is heard
 *   ("make before break", as the CARP machine does), so a planned switchover loses no
 *   client packets; a priority-0 advert is repeated every interval until then;
 * - after a planned step-down the node does not preempt back while the successor lives.
 */
import { formatIP } from '../protocol/inet.js';
import {
  encodeAdvert, passwordAuthData, VRRP_PRIO_OWNER, VRRP_PRIO_STOP, type VrrpAdvert,
} from '../protocol/vrrp/packet.js';
import { compareAddresses, SendHealth, SEND_ERROR_THRESHOLD, YIELD_ECHOES, type TransitionRecord } from './common.js';
import {
  advertAuthType, clampPriority, normaliseInterval, SHUTDOWN_RELEASE_MAX_MS,
  type GarpKind, type VrrpEffect, type VrrpInput, type VrrpParams, type VrrpState, type VrrpStatus,
} from './vrrp-model.js';

export class VrrpMachine {
  private st: VrrpState = 'INIT';
  private readonly ownInterval: number;
  private readonly owner: boolean;
  private effPrio: number;
  /** v3: the master's advertised interval (RFC 5798 §6.4.2); ours while master. */
  private masterInterval: number;
  /** BACKUP: when the master is declared dead. Undefined while waiting for the sync group. */
  private masterDownAt: number | undefined;
  /** MASTER: next periodic advert. */
  private nextAdvertAt: number | undefined;
  /** MASTER: second GARP burst (`garp.masterDelayMs`). */
  private garpDelayAt: number | undefined;
  /** MASTER: periodic GARP refresh (`garp.masterRefreshMs`). */
  private garpRefreshAt: number | undefined;
  /** MASTER: second re-announce burst after a lower-priority advert (`garp.lowerPrioDelayMs`). */
  private lowerGarpAt: number | undefined;
  /**
   * MASTER: quick repeat of the re-announce, one advert interval after a lower-priority
   * advert. A usurper sends its advert *before* its takeover GARPs, so our immediate answer
   * can land first and be overwritten (seen at 30 % advert loss, 10 ms adverts: 58 % of
   * the client's probes lost). ucarp does the same with its delayed ARP.
   */
  private reassertAt: number | undefined;
  /**
   * BACKUP: adverts still to send after yielding to a higher priority (at our interval).
   * Our takeover GARPs moved the clients to us; the master re-announces only if it hears
   * us, and on a lossy LAN one advert is easily missed.
   */
  private yieldEchoes = 0;
  private yieldEchoAt: number | undefined;
  private yieldTo: Uint8Array | undefined;
  /** Preemption of a lower master is allowed from this time on (`preempt_delay`). */
  private preemptAllowedAt: number | undefined;
  private ownFault = false;
  private groupFault = false;
  private want = false;
  private standby = false;
  private yielded = false;
  /**
   * Addresses are held after leaving MASTER by a planned step-down or shutdown; they go
   * when another master is heard or at `releaseAt`, whichever comes first. Meanwhile a
   * priority-0 advert is repeated at `zeroAdvertAt`.
   */
  private releasePending = false;
  private releaseAt: number | undefined;
  private zeroAdvertAt: number | undefined;
  private stopping = false;
  private ownerClashLogged = false;
  private masterAddr: string | undefined;
  private masterPrio: number | undefined;
  /**
   * The master-down deadline set by a priority-0 advert (the master resigned): the takeover
   * it leads to is a planned hand-over, not a timeout — fencing tells the two apart.
   */
  private resignedDownAt: number | undefined;
  private lastTransition: TransitionRecord<VrrpState> | undefined;
  private sent = 0;
  private received = 0;
  private readonly sendHealth = new SendHealth();

  constructor(private p: VrrpParams) {
    const params = p;
    this.ownInterval = normaliseInterval(params.version, params.advertIntervalMs);
    this.masterInterval = this.ownInterval;
    this.owner = params.priority >= VRRP_PRIO_OWNER;
    this.effPrio = clampPriority(params.priority, params.priority);
  }

  get params(): VrrpParams {
    return this.p;
  }

  get state(): VrrpState {
    return this.st;
  }

  /** The one timer the shell arms: the earliest pending deadline, or undefined. */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (d === undefined || t < d)) d = t;
    };
    consider(this.masterDownAt);
    consider(this.nextAdvertAt);
    consider(this.garpDelayAt);
    consider(this.garpRefreshAt);
    consider(this.lowerGarpAt);
    consider(this.reassertAt);
    if (this.yieldEchoes > 0 && this.st === 'BACKUP' && !this.stopping) consider(this.yieldEchoAt);
    if (this.releasePending) {
      consider(this.releaseAt);
      consider(this.zeroAdvertAt);
    }
    return d;
  }

  status(): VrrpStatus {
    return {
      name: this.params.name,
      state: this.st,
      master: this.st === 'MASTER' ? 'self' : this.masterAddr,
      masterPriority: this.st === 'MASTER' ? this.effPrio : this.masterPrio,
      basePriority: this.params.priority,
      effectivePriority: this.effPrio,
      advertIntervalMs: this.ownInterval,
      masterAdverIntervalMs: this.masterInterval,
      masterDownMs: this.masterDownMs(),
      fault: { own: this.ownFault, group: this.groupFault },
      wantMaster: this.want,
      standby: this.standby,
      yielded: this.yielded,
      releasePending: this.releasePending,
      preemptDelayUntil: this.preemptAllowedAt,
      lastTransition: this.lastTransition,
      advertsSent: this.sent,
      advertsReceived: this.received,
      sendErrors: this.sendHealth.consecutiveErrors,
    };
  }

  /** Skew_Time: v2 (256 − Priority)/256 s (RFC 3768 §6.1); v3 scaled by Master_Adver_Interval (RFC 5798 §6.1). */
  skewMs(): number {
    const p = this.owner ? VRRP_PRIO_OWNER : this.effPrio;
    return this.params.version === 2 ? ((256 - p) * 1000) / 256 : ((256 - p) * this.masterInterval) / 256;
  }

  /** Master_Down_Interval = downTimerAdverts × Master_Adver_Interval + Skew_Time. */
  masterDownMs(): number {
    return Math.max(1, this.params.downTimerAdverts) * this.masterInterval + this.skewMs();
  }

  step(input: VrrpInput, now: number): VrrpEffect[] {
    const fx: VrrpEffect[] = [];
    switch (input.type) {
      case 'start': this.handleStart(now, fx); break;
      case 'tick': this.handleTick(now, fx); break;
      case 'advert': this.handleAdvert(input.advert, input.src, now, fx); break;
      case 'priority': this.handlePriority(input.priority, input.reason, now, fx); break;
      case 'fault': this.setFault('own', input.fault, input.reason, now, fx); break;
      case 'groupFault': this.setFault('group', input.fault, input.reason, now, fx); break;
      case 'stepDown': this.handleStepDown(input.reason, now, fx); break;
      case 'standby': this.handleStandby(input.on, input.reason, now, fx); break;
      case 'shutdown': this.handleShutdown(now, fx); break;
      case 'reconfigure': this.handleReconfigure(input.params); break;
      case 'sendResult': this.handleSendResult(input.ok, fx); break;
      case 'groupBackup': this.handleGroupBackup(input.reason, now, fx); break;
      case 'groupMaster': this.handleGroupMaster(input.reason, now, fx); break;
      case 'groupReannounce':
        if (this.st === 'MASTER' && !this.stopping) this.garp(this.params.garp.lowerPrioRepeat, 'sync-group', fx);
        break;
    }
    return fx;
  }

  // --- handlers ------------------------------------------------------------------------

  private get faulted(): boolean {
    return this.ownFault || this.groupFault;
  }

  private handleStart(now: number, fx: VrrpEffect[]): void {
    if (this.st !== 'INIT' || this.stopping) return;
    if (this.faulted) {
      this.transition('FAULT', 'startup: fault', now, fx);
      fx.push({ type: 'notify', which: 'fault', priority: this.effPrio });
      return;
    }
    this.startElection(now, 'startup', fx);
  }

  /** Startup and leaving FAULT (RFC 5798 §6.4.1): an owner configured MASTER takes over at once, others wait master-down. */
  private startElection(now: number, why: string, fx: VrrpEffect[]): void {
    this.masterInterval = this.ownInterval;
    this.preemptAllowedAt = this.params.preemptDelayMs > 0 ? now + this.params.preemptDelayMs : undefined;
    const ownerFirst = this.owner && this.params.initialState === 'MASTER';
    if (ownerFirst && !this.params.syncGroup && !this.standby) {
      this.becomeMaster(now, `${why}: address owner`, fx);
      return;
    }
    this.transition('BACKUP', why, now, fx);
    fx.push({ type: 'notify', which: 'backup', priority: this.effPrio });
    this.masterAddr = undefined;
    this.masterPrio = undefined;
    this.masterDownAt = now + this.masterDownMs();
    if (ownerFirst) this.masterDown(now, `${why}: address owner`, fx);
  }

  private handleTick(now: number, fx: VrrpEffect[]): void {
    if (this.st === 'BACKUP' && this.masterDownAt !== undefined && now >= this.masterDownAt && !this.stopping) {
      const resigned = this.masterDownAt === this.resignedDownAt;
      this.resignedDownAt = undefined;
      this.masterDown(now, resigned ? 'master resigned (priority 0)' : 'master-down timeout', fx);
    }
    if (this.releasePending) {
      if (this.releaseAt !== undefined && now >= this.releaseAt) {
        this.release(now, fx, 'no new master heard in time');
      } else if (this.zeroAdvertAt !== undefined && now >= this.zeroAdvertAt) {
        this.sendAdvert(now, fx, VRRP_PRIO_STOP);
        this.zeroAdvertAt = now + this.ownInterval;
      }
    }
    if (this.st === 'BACKUP' && !this.stopping && this.yieldEchoes > 0 && this.yieldEchoAt !== undefined && now >= this.yieldEchoAt) {
      this.yieldEchoes--;
      this.sendAdvert(now, fx, this.effPrio, this.yieldTo);
      this.yieldEchoAt = now + this.ownInterval;
    }
    if (this.st !== 'MASTER' || this.stopping) return;
    if (this.nextAdvertAt !== undefined && now >= this.nextAdvertAt) this.sendAdvert(now, fx);
    const g = this.params.garp;
    if (this.garpDelayAt !== undefined && now >= this.garpDelayAt) {
      this.garpDelayAt = undefined;
      this.garp(g.masterRepeat, 'master-delay', fx);
    }
    if (this.garpRefreshAt !== undefined && now >= this.garpRefreshAt) {
      this.garpRefreshAt = now + g.masterRefreshMs;
      this.garp(g.masterRefreshRepeat, 'refresh', fx);
    }
    if (this.lowerGarpAt !== undefined && now >= this.lowerGarpAt) {
      this.lowerGarpAt = undefined;
      this.garp(g.lowerPrioRepeat, 'lower-prio-delay', fx);
    }
    if (this.reassertAt !== undefined && now >= this.reassertAt) {
      this.reassertAt = undefined;
      this.garp(g.lowerPrioRepeat, 'reassert', fx);
    }
  }

  private handleAdvert(adv: VrrpAdvert, src: Uint8Array, now: number, fx: VrrpEffect[]): void {
    // Not ours, or our own advert looped back (the shell disables multicast loop anyway).
    if (adv.vrid !== this.params.vrid || compareAddresses(src, this.params.srcip) === 0) return;
    const srcText = formatIP(src);
    if (this.stopping) {
      // A stopping master only waits to hear its successor before releasing.
      if (this.releasePending && adv.priority !== VRRP_PRIO_STOP) this.release(now, fx, `successor ${srcText} heard`);
      return;
    }
    if (this.st === 'INIT' || this.st === 'FAULT') return;
    this.received++;
    if (this.st === 'BACKUP') this.backupAdvert(adv, src, srcText, now, fx);
    else this.masterAdvert(adv, src, srcText, now, fx);
  }

  /** RFC 5798 §6.4.2 with keepalived's preempt_delay and nopreempt (notes §2). */
  private backupAdvert(adv: VrrpAdvert, _src: Uint8Array, srcText: string, now: number, fx: VrrpEffect[]): void {
    if (adv.priority === VRRP_PRIO_STOP) {
      fx.push({ type: 'log', level: 'info', message: `Backup received priority 0 advertisement from ${srcText}` });
      this.masterAddr = undefined;
      this.masterPrio = undefined;
      if (!this.want) this.masterDownAt = this.resignedDownAt = now + this.skewMs();
      return;
    }
    if (this.releasePending) this.release(now, fx, `new master ${srcText} heard`);
    const lower = adv.priority < this.effPrio;
    let accept = !lower || !this.mayPreempt();
    if (!accept && this.params.preemptDelayMs > 0) {
      this.preemptAllowedAt ??= now + this.params.preemptDelayMs;
      if (now < this.preemptAllowedAt) accept = true;
    }
    if (!accept) {
      if (this.masterAddr === srcText) {
        fx.push({ type: 'log', level: 'info', message: `Received lower priority advert ${adv.priority} from ${srcText}, ours ${this.effPrio}: preempting` });
      }
      this.masterAddr = undefined;
      return;
    }
    if (!lower) this.preemptAllowedAt = undefined;
    if (this.params.version === 3 && adv.intervalMs > 0) this.masterInterval = adv.intervalMs;
    this.masterAddr = srcText;
    this.masterPrio = adv.priority;
    this.masterDownAt = now + this.masterDownMs();
    this.setWant(false, fx);
  }

  /**
   * RFC 5798 §6.4.3 plus keepalived's higher_prio_send_advert / lower_prio_no_advert /
   * garp_lower_prio_repeat + garp_lower_prio_delay (a burst at once, a second set after the
   * delay; sync-group members re-announce too, via the coordinator).
   */
  private masterAdvert(adv: VrrpAdvert, src: Uint8Array, srcText: string, now: number, fx: VrrpEffect[]): void {
    if (adv.priority === VRRP_PRIO_STOP) {
      // Another master is resigning: assert ourselves at once so backups do not take over.
      fx.push({ type: 'log', level: 'info', message: `Master received priority 0 message from ${srcText}` });
      this.sendAdvert(now, fx);
      return;
    }
    const cmp = compareAddresses(src, this.params.srcip);
    if (adv.priority === VRRP_PRIO_OWNER && this.effPrio === VRRP_PRIO_OWNER && !this.ownerClashLogged) {
      this.ownerClashLogged = true;
      fx.push({ type: 'log', level: 'error', message: `CONFIGURATION ERROR: ${srcText} and this node are both address owner (priority 255); the lower address yields` });
    }
    if (adv.priority > this.effPrio || (adv.priority === this.effPrio && cmp > 0)) {
      fx.push({ type: 'log', level: 'info', message: `Master received advert from ${srcText} with higher priority ${adv.priority}, ours ${this.effPrio}` });
      if (this.params.higherPrioSendAdvert) this.sendAdvert(now, fx);
      this.leaveMaster('BACKUP', `higher priority advert from ${srcText}`, now, fx, { priorityZero: false, defer: false });
      // Unicast to the new master only: other backups must not take echoes for its adverts.
      if (this.params.unicastPeers.length === 0) {
        this.yieldTo = src;
        this.yieldEchoes = YIELD_ECHOES;
        this.yieldEchoAt = now + this.ownInterval;
      }
      if (this.params.version === 3 && adv.intervalMs > 0) this.masterInterval = adv.intervalMs;
      this.masterAddr = srcText;
      this.masterPrio = adv.priority;
      this.masterDownAt = now + this.masterDownMs();
      return;
    }
    fx.push({ type: 'log', level: 'info', message: `Received advert from ${srcText} with lower priority ${adv.priority}, ours ${this.effPrio}, forcing new election` });
    if (!this.params.lowerPrioNoAdvert) this.sendAdvert(now, fx);
    const g = this.params.garp;
    if (g.lowerPrioRepeat > 0) {
      this.garp(g.lowerPrioRepeat, 'lower-prio', fx);
      if (g.lowerPrioDelayMs > 0) this.lowerGarpAt ??= now + g.lowerPrioDelayMs;
      this.reassertAt ??= now + this.ownInterval;
    }
  }

  private handleReconfigure(params: VrrpParams): void {
    const p = this.p;
    if (params.vrid !== p.vrid || params.version !== p.version || params.family !== p.family
      || normaliseInterval(params.version, params.advertIntervalMs) !== this.ownInterval || (params.priority >= VRRP_PRIO_OWNER) !== this.owner) {
      throw new Error(`VRRP ${p.name}: reconfigure cannot change the VRID, version, family, interval or owner status`);
    }
    this.p = params;
  }

  private handlePriority(priority: number, reason: string, now: number, fx: VrrpEffect[]): void {
    const p = clampPriority(this.params.priority, priority);
    if (p === this.effPrio) return;
    // An echo with a changed priority could outrank the master we yielded to: stop echoing.
    this.yieldEchoes = 0;
    fx.push({ type: 'log', level: 'info', message: `Changing effective priority from ${this.effPrio} to ${p} (${reason})` });
    this.effPrio = p;
    // Tell the backups at once, so a now-higher backup can preempt without waiting an interval.
    if (this.st === 'MASTER' && !this.stopping && !this.releasePending) this.sendAdvert(now, fx);
  }

  private setFault(which: 'own' | 'group', fault: boolean, reason: string, now: number, fx: VrrpEffect[]): void {
    const was = this.faulted;
    if (which === 'own') {
      if (this.ownFault === fault) return;
      this.ownFault = fault;
      if (this.params.syncGroup) fx.push({ type: 'syncFault', fault, reason });
    } else {
      if (this.groupFault === fault) return;
      this.groupFault = fault;
    }
    if (was === this.faulted || this.stopping || this.st === 'INIT') return;
    if (this.faulted) this.enterFault(`fault: ${reason}`, now, fx);
    else this.leaveFault(`fault cleared: ${reason}`, now, fx);
  }

  private enterFault(reason: string, now: number, fx: VrrpEffect[]): void {
    this.setWant(false, fx);
    if (this.st === 'MASTER') {
      this.leaveMaster('FAULT', reason, now, fx, { priorityZero: true, defer: false });
    } else if (this.st === 'BACKUP') {
      if (this.releasePending) this.dropAddresses(fx, 'entering FAULT');
      this.transition('FAULT', reason, now, fx);
      fx.push({ type: 'notify', which: 'fault', priority: this.effPrio });
    }
    this.masterDownAt = undefined;
    this.masterAddr = undefined;
    this.masterPrio = undefined;
  }

  private leaveFault(reason: string, now: number, fx: VrrpEffect[]): void {
    if (this.st !== 'FAULT') return;
    this.startElection(now, reason, fx);
  }

  private handleStepDown(reason: string, now: number, fx: VrrpEffect[]): void {
    if (this.stopping) return;
    if (this.st === 'BACKUP') {
      this.yielded = true;
      this.setWant(false, fx);
      this.masterDownAt ??= now + this.masterDownMs();
      fx.push({ type: 'log', level: 'info', message: `Step-down requested while BACKUP: not preempting the current master (${reason})` });
      return;
    }
    if (this.st !== 'MASTER') return;
    this.yielded = true;
    this.leaveMaster('BACKUP', `step down: ${reason}`, now, fx, { priorityZero: true, defer: true });
    this.masterDownAt = now + this.masterDownMs();
  }

  private handleStandby(on: boolean, reason: string, now: number, fx: VrrpEffect[]): void {
    if (on === this.standby) return;
    this.standby = on;
    fx.push({ type: 'log', level: 'warning', message: on ? `Standby: ${reason}` : `Standby lifted: ${reason}` });
    if (this.stopping) return;
    if (on) {
      this.setWant(false, fx);
      if (this.st === 'MASTER') {
        this.leaveMaster('BACKUP', `standby: ${reason}`, now, fx, { priorityZero: true, defer: true });
        this.masterDownAt = now + this.masterDownMs();
      }
    } else if (this.st === 'BACKUP' && this.masterDownAt === undefined) {
      this.masterDownAt = now + this.masterDownMs();
    }
  }

  private handleShutdown(now: number, fx: VrrpEffect[]): void {
    if (this.stopping) return;
    this.stopping = true;
    this.masterDownAt = undefined;
    this.nextAdvertAt = undefined;
    this.garpDelayAt = this.garpRefreshAt = this.lowerGarpAt = this.reassertAt = undefined;
    this.setWant(false, fx);
    const limit = now + Math.min(this.masterDownMs(), SHUTDOWN_RELEASE_MAX_MS);
    if (this.st === 'MASTER') {
      // keepalived: priority-0 advert so a backup takes over after Skew; we also keep the
      // addresses until it is heard (or the limit), then stop.
      this.sendAdvert(now, fx, VRRP_PRIO_STOP);
      this.releasePending = true;
      this.releaseAt = limit;
      this.zeroAdvertAt = now + this.ownInterval;
      return;
    }
    if (this.releasePending) {
      this.releaseAt = Math.min(this.releaseAt ?? limit, limit);
      return;
    }
    this.finishStop(now, fx);
  }

  private handleSendResult(ok: boolean, fx: VrrpEffect[]): void {
    const flip = this.sendHealth.record(ok);
    if (flip === 'recovered') fx.push({ type: 'log', level: 'info', message: 'Advert sends succeed again' });
    if (flip === 'failing') fx.push({ type: 'log', level: 'warning', message: `Sending adverts failed ${SEND_ERROR_THRESHOLD} times in a row: peers may take over` });
  }

  private handleGroupBackup(reason: string, now: number, fx: VrrpEffect[]): void {
    if (this.stopping || this.st !== 'MASTER') return;
    this.leaveMaster('BACKUP', `sync group: ${reason}`, now, fx, { priorityZero: true, defer: true });
    this.masterDownAt = now + this.masterDownMs();
  }

  private handleGroupMaster(reason: string, now: number, fx: VrrpEffect[]): void {
    if (!this.want || this.st !== 'BACKUP' || this.stopping || this.faulted || this.standby) return;
    this.want = false;
    this.becomeMaster(now, `sync group: ${reason}`, fx);
  }

  // --- transitions (one choke point) --------------------------------------------------

  private mayPreempt(): boolean {
    return (this.params.preempt || this.owner) && !this.yielded && !this.standby;
  }

  private setWant(want: boolean, fx: VrrpEffect[]): void {
    if (this.want === want) return;
    this.want = want;
    if (this.params.syncGroup) fx.push({ type: 'syncWant', want });
  }

  /** The master is gone (timer) or must be preempted: take over, or ask the sync group first. */
  private masterDown(now: number, reason: string, fx: VrrpEffect[]): void {
    if (this.st !== 'BACKUP' || this.stopping || this.faulted) return;
    this.masterAddr = undefined;
    this.masterPrio = undefined;
    if (this.standby) {
      fx.push({ type: 'log', level: 'warning', message: 'Master is gone but this instance is in standby: not taking over' });
      this.masterDownAt = now + this.masterDownMs();
      return;
    }
    if (this.params.syncGroup) {
      this.masterDownAt = undefined;
      if (!this.want) fx.push({ type: 'log', level: 'info', message: `${reason}: waiting for the sync group to go MASTER together` });
      this.setWant(true, fx);
      return;
    }
    this.becomeMaster(now, reason, fx);
  }

  /** RFC 5798 §6.4.1/6.4.2: advert first, then addresses and routes, then the GARP burst (keepalived order). */
  private becomeMaster(now: number, reason: string, fx: VrrpEffect[]): void {
    if (this.st === 'MASTER' || this.faulted || this.stopping) return;
    this.transition('MASTER', reason, now, fx);
    this.masterInterval = this.ownInterval;
    this.masterDownAt = undefined;
    this.masterAddr = undefined;
    this.masterPrio = undefined;
    this.preemptAllowedAt = undefined;
    this.yielded = false;
    this.want = false;
    this.releasePending = false;
    this.releaseAt = this.zeroAdvertAt = undefined;
    this.sendAdvert(now, fx);
    fx.push({ type: 'addAddresses' });
    if (this.params.routes) fx.push({ type: 'addRoutes' });
    const g = this.params.garp;
    this.garp(g.masterRepeat, 'master', fx);
    this.garpDelayAt = g.masterDelayMs > 0 && g.masterRepeat > 0 ? now + g.masterDelayMs : undefined;
    this.garpRefreshAt = g.masterRefreshMs > 0 && g.masterRefreshRepeat > 0 ? now + g.masterRefreshMs : undefined;
    this.lowerGarpAt = this.reassertAt = undefined;
    this.yieldEchoes = 0;
    fx.push({ type: 'notify', which: 'master', priority: this.effPrio });
  }

  /**
   * Leave MASTER for BACKUP or FAULT. `priorityZero` releases the VRID (RFC 5798 §6.4.3
   * Shutdown event) so a backup takes over after Skew; `defer` keeps the addresses until
   * the successor is heard (make before break).
   */
  private leaveMaster(to: 'BACKUP' | 'FAULT', reason: string, now: number, fx: VrrpEffect[], opts: { priorityZero: boolean; defer: boolean }): void {
    if (opts.priorityZero) this.sendAdvert(now, fx, VRRP_PRIO_STOP);
    this.transition(to, reason, now, fx);
    this.nextAdvertAt = undefined;
    this.garpDelayAt = this.garpRefreshAt = this.lowerGarpAt = this.reassertAt = undefined;
    this.masterInterval = this.ownInterval;
    if (opts.defer && to === 'BACKUP') {
      this.releasePending = true;
      this.releaseAt = now + this.masterDownMs();
      this.zeroAdvertAt = now + this.ownInterval;
      return;
    }
    this.dropAddresses(fx);
    fx.push({ type: 'notify', which: to === 'FAULT' ? 'fault' : 'backup', priority: this.effPrio });
  }

  private dropAddresses(fx: VrrpEffect[], why?: string): void {
    if (why) fx.push({ type: 'log', level: 'info', message: `Releasing virtual addresses (${why})` });
    this.releasePending = false;
    this.releaseAt = this.zeroAdvertAt = undefined;
    // keepalived's order (vrrp_restore_interface): rules and routes go before the addresses.
    if (this.params.routes) fx.push({ type: 'removeRoutes' });
    fx.push({ type: 'removeAddresses' });
  }

  /** End of make-before-break: the successor was heard or the wait is over. */
  private release(now: number, fx: VrrpEffect[], why: string): void {
    if (!this.releasePending) return;
    this.dropAddresses(fx, why);
    if (this.stopping) this.finishStop(now, fx);
    else fx.push({ type: 'notify', which: this.st === 'FAULT' ? 'fault' : 'backup', priority: this.effPrio });
  }

  private finishStop(now: number, fx: VrrpEffect[]): void {
    if (this.st !== 'INIT') this.transition('INIT', 'shutdown', now, fx);
    fx.push({ type: 'notify', which: 'stop', priority: this.effPrio });
    fx.push({ type: 'stopped' });
  }

  private transition(to: VrrpState, reason: string, now: number, fx: VrrpEffect[]): void {
    const from = this.st;
    if (from === to) throw new Error(`VRRP ${this.params.name}: no-op transition ${from} -> ${to}`);
    this.st = to;
    this.lastTransition = { from, to, reason, at: now };
    fx.push({ type: 'transition', from, to, reason });
  }

  // --- timers and sending -------------------------------------------------------------

  private garp(count: number, kind: GarpKind, fx: VrrpEffect[]): void {
    if (count > 0) fx.push({ type: 'garp', count, kind });
  }

  /** One advert per destination (the group, or each unicast peer), checksum per destination. */
  private sendAdvert(now: number, fx: VrrpEffect[], priority = this.effPrio, to?: Uint8Array): void {
    const p = this.params;
    const dsts = to ? [to] : p.unicastPeers.length > 0 ? p.unicastPeers : [p.mcastGroup];
    const fields = {
      version: p.version, vrid: p.vrid, priority, intervalMs: this.ownInterval, addresses: p.addresses,
      authType: advertAuthType(p),
      // AH: the 8 authentication bytes are zero; the password keys the AH's ICV instead.
      authData: p.version === 2 && p.authData && !p.authAh ? passwordAuthData(p.authData) : undefined,
    };
    for (const dst of dsts) {
      const payload = encodeAdvert(fields, { family: p.family, src: p.srcip, dst, v3ChecksumAsV2: p.v3ChecksumAsV2 });
      fx.push({ type: 'send', dst, dstText: formatIP(dst), payload, priority });
    }
    this.sent++;
    if (this.st === 'MASTER' && priority !== VRRP_PRIO_STOP) this.nextAdvertAt = now + this.ownInterval;
  }
}
