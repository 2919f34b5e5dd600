/**
 * The shell around one `protocol: etcd` instance (issue 16, docs/etcd.md): feeds the pure
 * LeaseElection with etcd's answers (each request's send time recorded, each bounded by the
 * client's request timeout), with the key's watch events as `holder` inputs, and with ticks of
 * one timer re-armed from `nextDeadline()` (ShellBase); carries out the effects: requests to
 * etcd, and on a transition the addresses, gratuitous ARP and hooks, as a CARP master does.
 */
import type { EtcdInstance, Instance, VirtualAddress } from '../../config/model.js';
import type { InstanceStatus } from '../../control/status.js';
import { InputQueue, ShellBase, type OwnedAddress, type ShellAddresses, type ShellHooks, type ShellPort } from '../../daemon/instance-shell.js';
import type { Logger } from '../../daemon/logger.js';
import { assertNever } from '../../lib/assert-never.js';
import { gratuitousArp } from '../../protocol/arp.js';
import { EtcdErrorExplainer } from '../core/etcd-errors.js';
import { configFingerprint } from '../core/holder-value.js';
import { LeaseElection, type LeaseEffect, type LeaseInput } from '../core/lease.js';
import { ConfigGuardClient } from './config-guard.js';
import type { EtcdClient } from './etcd-client.js';
import { FailsafePeers } from './failsafe-peers.js';

export interface EtcdShellDeps {
  /** The instance's interface: GARP goes out here, the addresses go on it. */
  readonly port: Pick<ShellPort, 'device' | 'ifindex' | 'mac' | 'running' | 'sendFrame'>;
  readonly log: Logger;
  readonly hooks: ShellHooks;
  readonly addresses: ShellAddresses;
  readonly client: EtcdClient;
  /** This node's name under the key (the instance's `node`, else the host name). */
  readonly node: string;
  /** Monotonic clock in ms. */
  readonly now: () => number;
  readonly onTransition?: (name: string, from: string, to: string, reason: string, peer: string | undefined) => void;
  /** Policy failsafe: the shared key (the key file's first line); required when the instance has `failsafe`. */
  readonly failsafeKey?: Uint8Array;
  /** Wall clock in ms (the failsafe messages' time window); default Date.now. */
  readonly wallNow?: () => number;
  /** The client is the daemon's pool: its lease is shared, and its failures are logged once by the pool. */
  readonly sharedLease?: boolean;
}

export class EtcdShell extends ShellBase {
  readonly protocol = 'etcd';
  readonly name: string;
  readonly id = 0;
  readonly machine: LeaseElection;
  private readonly queue: InputQueue<LeaseInput>;
  private lastTransition: { from: string; to: string; reason: string } | undefined;
  private fencingToken: number | undefined;
  private stopped: (() => void) | undefined;
  private done = false;
  private readonly peers: FailsafePeers | undefined;
  /** A failed request's message as the endpoint concerned and what to check (docs/etcd.md, bad input). */
  private readonly explainer: EtcdErrorExplainer;
  /** etcd as this instance sees it: our name under the key with our configuration's fingerprint. */
  private readonly client: EtcdClient;

  constructor(private readonly cfg: EtcdInstance, private readonly deps: EtcdShellDeps) {
    super([], deps.log, deps.now);
    this.name = cfg.name;
    const e = cfg.etcd;
    this.explainer = new EtcdErrorExplainer(e.endpoints);
    this.client = new ConfigGuardClient(deps.client, {
      fingerprint: configFingerprint(cfg.addresses), ttlMs: e.ttlMs, now: deps.now,
      onConflict: (text) => this.log.logLimited('error', this.prefix(text), `${this.name}:conflict`),
    });
    this.machine = new LeaseElection({
      node: deps.node, ttlMs: e.ttlMs, renewMs: e.renewMs, requestTimeoutMs: e.requestTimeoutMs, marginMs: e.marginMs, pollMs: e.pollMs,
      ...(cfg.preference ? { preference: cfg.preference } : {}),
      ...(e.unreachable ? { unreachable: e.unreachable } : {}),
      ...(deps.sharedLease ? { sharedLease: true } : {}),
    });
    if (e.unreachable === 'failsafe' && e.failsafe) {
      if (!deps.failsafeKey) throw new Error(`${cfg.name}: the failsafe policy needs its key (key_file ${e.failsafe.keyFile})`);
      this.peers = new FailsafePeers({
        instance: cfg.name, node: deps.node, settings: e.failsafe, key: deps.failsafeKey, ttlMs: e.ttlMs, marginMs: e.marginMs,
        now: deps.now, wallNow: deps.wallNow ?? Date.now,
        self: () => {
          const s = this.machine.status(this.deps.now());
          return { holding: s.role === 'MASTER', etcdReachable: s.etcdReachable, holder: s.holder };
        },
        onDecision: (until) => { if (!this.done) this.queue.push({ type: 'failsafe', until }); },
        onPromise: (until) => { if (!this.done) this.queue.push({ type: 'promised', until }); },
        log: (level, text) => this.log.logLimited(level, this.prefix(text), `${this.name}:failsafe:${text.split(':')[0] ?? ''}`),
      });
    }
    this.queue = new InputQueue((inp) => {
      for (const fx of this.machine.step(inp, this.deps.now())) this.apply(fx);
    }, () => this.rearm());
  }

  protected prefix(text: string): string {
    return `${this.name}: ${text}`;
  }

  protected nextDeadline(): number | undefined {
    return this.done ? undefined : this.machine.nextDeadline();
  }

  protected tick(): void {
    this.queue.push({ type: 'tick' });
  }

  /** No packets: etcd decides. */
  receive(): boolean {
    return false;
  }

  start(): void {
    void this.peers?.start();
    this.client.watch(
      (h) => { if (!this.done) this.queue.push({ type: 'holder', ...h }); },
      (error) => this.log.logLimited('warning', this.prefix(`etcd ${error}; reading the key every ${this.cfg.etcd.pollMs} ms meanwhile`), `${this.name}:watch`),
    );
    // A lease shared with the daemon's other instances of this ttl: every confirmation counts.
    this.deps.client.onLease?.((c) => { if (!this.done) this.queue.push({ type: 'keptAlive', ...c }); });
    this.queue.push({ type: 'start' });
  }

  /** The lease decides, not the link: a master without carrier keeps the key (as documented). */
  linkChanged(): void {}

  stepDown(reason: string): void {
    this.log.warning(this.prefix(`cannot step down (${reason}): use carpool demote, which hands the key over without loss`));
  }

  /** Persistent until `carpool demote --clear`: a master hands over make-before-break (docs/etcd.md); the node stops contending. */
  demote(on: boolean): void {
    this.queue.push({ type: 'demote', on });
  }

  standby(on: boolean, reason: string): void {
    if (on) this.log.warning(this.prefix(`standby is not supported for etcd instances (${reason})`));
  }

  reconfigure(_cfg: Instance): void {
    throw new Error(`${this.name}: an etcd instance cannot be reconfigured live`);
  }

  retire(): Promise<void> {
    return this.shutdown();
  }

  /** Bow out: addresses removed and down hook first, then the lease revoked (etcd deletes the key). */
  shutdown(): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => {
      this.stopped = () => {
        this.done = true;
        this.halt();
        this.peers?.close();
        this.client.close();
        resolve();
      };
      this.queue.push({ type: 'shutdown' });
    });
  }

  statusLine(): string {
    return `${this.name}: ${this.machine.state} on ${this.cfg.interface} (etcd key ${this.cfg.etcd.key}, holder ${this.machine.status(this.deps.now()).holder ?? 'nobody'})`;
  }

  status(): InstanceStatus {
    const s = this.machine.status(this.deps.now());
    return {
      name: this.name, protocol: 'etcd', interface: this.cfg.interface, vhid: 0, state: s.role,
      master: s.holder === this.deps.node ? 'self' : s.holder, source: this.deps.node,
      addresses: this.cfg.addresses.map((a) => `${a.address}/${a.prefix}`),
      holdsAddresses: this.holds, linkUp: this.deps.port.running,
      priority: { ttl: this.cfg.etcd.ttlMs / 1000 },
      etcd: {
        key: this.cfg.etcd.key, node: this.deps.node, holder: s.holder, revision: s.revision ?? null,
        leaseLeftMs: s.leaseLeftMs ?? null, failures: s.failures, lastError: s.lastError ?? null, demoted: s.demoted, handingOver: s.handingOver,
        ...(s.preference ? {
          preference: s.preference, handoverTo: s.handoverTo ?? null, badCandidacies: s.badCandidacies ?? 0,
          candidates: (s.candidates ?? []).map((c) => ({ node: c.node, priority: c.priority, preempt: c.preempt, preemptDelayMs: c.preemptDelayMs, demoted: c.demoted, seenMs: c.seenMs })),
        } : {}),
        unreachable: s.unreachable, ...(this.peers ? { failsafe: this.peers.status(s) } : {}),
      },
      lastTransition: this.transitionInfo(this.lastTransition),
      transitions: this.transitions,
      becameMasterAt: this.becameMasterAt,
      counters: { advertsSent: 0, advertsReceived: 0, sendErrors: 0, drops: {} },
    };
  }

  protected ownedAddresses(): OwnedAddress[] {
    return this.cfg.addresses.map((vip) => ({ vip, device: vip.dev ?? this.deps.port.device, ifindex: this.deps.port.ifindex }));
  }

  protected addAgain(device: string, ifindex: number, vips: readonly VirtualAddress[]): void {
    this.deps.addresses.add(device, ifindex, vips);
  }

  protected announce(vip: VirtualAddress): void {
    if (vip.family !== 4) return;
    const r = this.deps.port.sendFrame(gratuitousArp(this.deps.port.mac, vip.address));
    if (!r.ok) this.log.error(this.prefix(`Cannot send gratuitous ARP for ${vip.address}: ${r.error}`));
  }

  // --- effects ------------------------------------------------------------------------

  private apply(e: LeaseEffect): void {
    switch (e.type) {
      case 'request':
        this.send(e);
        break;
      case 'transition':
        this.transitioned(e.from, e.to, e.reason, e.fencingToken);
        break;
      case 'log':
        // etcd away: a failed request repeats every renew / poll; one line per kind and 10 s.
        if (e.level === 'warning') this.log.logLimited(e.level, this.prefix(e.message), `${this.name}:${e.message.split(':')[0] ?? ''}`);
        else this.log.log(e.level, this.prefix(e.message));
        break;
      case 'askPeers':
        this.peers?.ask();
        break;
      case 'stopped':
        this.stopped?.();
        break;
      default:
        assertNever(e);
    }
  }

  /** One request to etcd; its answer (or failure) comes back as an input, with the send time. */
  private send(e: Extract<LeaseEffect, { type: 'request' }>): void {
    const { client } = this;
    const { node } = this.deps;
    const sentAt = this.deps.now();
    const back = (inp: LeaseInput) => { if (!this.done) this.queue.push(inp); };
    const failed = (err: unknown) => back({ type: 'failed', request: e.request, error: this.explainer.explain(err instanceof Error ? err.message : String(err)) });
    switch (e.request) {
      case 'grant':
        // A shared lease may come with an earlier confirmation: its send time is what counts.
        client.grant(e.ttlMs).then((r) => back({ type: 'granted', lease: r.lease, ttlMs: r.ttlMs, sentAt: r.sentAt ?? sentAt }), failed);
        break;
      case 'keepAlive':
        client.keepAlive(e.lease).then((r) => back(typeof r === 'number'
          ? { type: 'keptAlive', ttlMs: r, sentAt, lease: e.lease }
          : { type: 'keptAlive', ttlMs: r.ttlMs, sentAt: r.sentAt, lease: e.lease }), failed);
        break;
      case 'txn':
        client.txn(e.lease, node).then((r) => back({ type: 'txn', ...r }), failed);
        break;
      case 'read':
        client.read().then((h) => back({ type: 'holder', ...h }), failed);
        break;
      case 'release':
        client.release(e.lease).then(() => back({ type: 'released' }), failed);
        break;
      case 'resign':
        client.resign(e.lease).then(() => back({ type: 'resigned' }), failed);
        break;
      case 'confirm':
        client.confirm(e.lease, node).then(() => back({ type: 'confirmed' }), failed);
        break;
      case 'publish':
        client.publishCandidate(e.lease, node, e.value).then(() => back({ type: 'published' }), failed);
        break;
      case 'candidates':
        client.candidates().then((list) => back({ type: 'candidates', list }), failed);
        break;
      case 'handOver':
        client.handOver(e.lease, e.target).then(() => back({ type: 'handedOver' }), failed);
        break;
      case 'takeOver':
        client.takeOver(e.lease, node, e.target).then((r) => back({ type: 'tookOver', ...r }), failed);
        break;
      default:
        assertNever(e);
    }
  }

  /** The one place a role change is carried out: addresses, GARP, hooks, log, status. */
  private transitioned(from: string, to: string, reason: string, fencingToken: number | undefined): void {
    this.lastTransition = { from, to, reason };
    this.noteTransition(to);
    this.log.log(to === 'MASTER' ? 'warning' : 'info', this.prefix(`Switching to state: ${to}`));
    this.log.info(this.prefix(`${from} -> ${to} (${reason})${fencingToken !== undefined ? `, fencing token ${fencingToken}` : ''}`));
    const { port, addresses } = this.deps;
    if (to === 'MASTER') {
      this.fencingToken = fencingToken;
      this.holds = true;
      addresses.add(port.device, port.ifindex, this.cfg.addresses);
      for (const a of this.cfg.addresses) this.announce(a);
      this.runHook('up');
    } else if (from === 'MASTER') {
      this.holds = false;
      addresses.remove(port.device, port.ifindex, this.cfg.addresses);
      this.runHook('down');
    }
    this.deps.onTransition?.(this.name, from, to, reason, undefined);
  }

  private runHook(which: 'up' | 'down'): void {
    const hook = which === 'up' ? this.cfg.upHook : this.cfg.downHook;
    if (!hook) return;
    const env = {
      CARPOOL_INSTANCE: this.name, CARPOOL_STATE: which === 'up' ? 'MASTER' : 'BACKUP', CARPOOL_INTERFACE: this.cfg.interface,
      CARPOOL_ADDRESSES: this.cfg.addresses.map((a) => `${a.address}/${a.prefix}`).join(' '),
      ...(this.fencingToken !== undefined ? { CARPOOL_FENCING_TOKEN: String(this.fencingToken) } : {}),
    };
    void this.deps.hooks.enqueue({ hook, args: [this.cfg.interface, this.cfg.addresses[0]?.address ?? ''], env, label: `${this.name} ${which}` });
  }
}
