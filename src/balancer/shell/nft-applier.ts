/**
 * Puts the core's nftables plane into force: desired plane → the whole plane by one `nft -f`
 * at first and after a failure (it replaces a stale carpool table atomically); otherwise a
 * change of servers (`flatUpdate`): one atomic netlink batch (native `nfnlSend`, bytes from
 * core/nfnl.ts and core/rules.ts) that adds the changed services' next generation (maps with
 * their elements, chain, rules; DR/TUN with the kernel's interface indexes of their devices),
 * repoints their dispatch elements and deletes the old generation — no `nft` process, so the
 * cost does not grow with the number of services (a generation the codec cannot send, e.g. a
 * device without an index, is added by `nft -f` first, which fetches no elements); any other change
 * (a service added, removed, reshaped) is the core's minimal diff by `nft -f` (`diffChanged`).
 * On success the desired plane is recorded as in force. Each step is atomic: when one fails
 * the previous ruleset stays in force (a new generation added but not yet pointed to is
 * unused), the error is logged and the latest desired plane is tried again later, whole.
 * Only carpool's own tables are ever named (core/nft.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Plane } from '../core/nft.js';
import { diffChanged, flatUpdate, renderPlane, withGenerations } from '../core/nft.js';
import { batchResult, encodeBatch } from '../core/nfnl.js';
import { native } from '../../net/native.js';
import { interfaceInfo } from '../../net/link.js';
import { run } from '../../lib/exec.js';
import { CarpoolError } from '../../lib/errors.js';
import type { Logger } from '../../daemon/logger.js';

/** A failed transaction is retried this long after (with the whole plane). */
export const NFT_RETRY_MS = 5_000;
/** One `nft` run must end within this. */
const NFT_TIMEOUT_MS = 10_000;

/** Runs `nft -f -` with a transaction; rejects with nft's message. Replaceable in unit tests. */
export type NftRunner = (args: readonly string[], input?: string) => Promise<{ code: number; stdout: string; stderr: string }>;

export function nftRunner(cmd = 'nft'): NftRunner {
  return (args, input) => run([cmd, ...args], { allowFail: true, timeoutMs: NFT_TIMEOUT_MS, ...(input !== undefined ? { input } : {}) });
}

/** Sends one nfnetlink batch, returns the kernel's answers (native `nfnlSend`). Replaceable in unit tests. */
export type NfnlSender = (bytes: Uint8Array, expect: number, timeoutMs: number) => NfnlResult | Promise<NfnlResult>;
/** The kernel's answers to one batch: send and receive errors as -errno (0 = none), the acks and errors by sequence number. */
export interface NfnlResult { readonly sent: number; readonly recv?: number; readonly replies: readonly { seq: number; error: number }[] }
/** The kernel answers a batch within sendmsg(); this bounds the wait on a loaded machine. */
const NFNL_TIMEOUT_MS = 2_000;

export function nfnlSender(): NfnlSender {
  return (bytes, expect, timeoutMs) => native().nfnlSend(bytes, expect, timeoutMs);
}

/** The interface index of a device (DR `fwd … device`, TUN tunnel devices), undefined when there is none. Replaceable in unit tests. */
export type IfindexLookup = (device: string) => number | undefined;

export function ifindexLookup(): IfindexLookup {
  return (device) => {
    try {
      return interfaceInfo(device)?.index;
    } catch {
      return undefined;
    }
  };
}

export interface ApplierStatus {
  /**
   * A ruleset of this daemon is in the kernel (false before the first success and after the
   * clean stop). A failed transaction leaves the one before it in force: both `nft -f` and the
   * netlink batch are atomic.
   */
  readonly inForce: boolean;
  /** The latest change is not in force: its transaction failed, and it is retried (whole) every few seconds. */
  readonly pending: boolean;
  readonly applies: number;
  /** Of `applies`, those done as flat updates (new generation + netlink batch). */
  readonly flatUpdates: number;
  /** New service generations the flat updates added by netlink (the others by `nft -f`: DR/TUN without interface indexes, past 128 KiB). */
  readonly netlinkGenerations: number;
  readonly failures: number;
  /** Wall-clock time of the last successful transaction. */
  readonly lastAppliedAt?: string;
  readonly lastError?: string;
  /** The text of the last transaction in force (whole plane or diff). */
  readonly lastTransaction?: string;
}

export class NftApplier {
  private inForce: Plane | undefined;
  /** A transaction of ours succeeded and the table was not removed since (what the kernel holds, unlike `inForce`, which a failure forgets). */
  private applied = false;
  /** Generations of the services' chains in force (service id → generation; core/nft.ts `flatUpdate`). */
  private generations: ReadonlyMap<number, number> = new Map();
  private seq = 1;
  private flats = 0;
  private nlGenerations = 0;
  private desired: Plane | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A transaction was tried (so carpool's tables may exist and must go on stop). */
  private touched = false;
  private applies = 0;
  private failures = 0;
  private lastAppliedAt: string | undefined;
  private lastError: string | undefined;
  private lastTransaction: string | undefined;

  private readonly nft: NftRunner;
  private readonly nfnl: NfnlSender | undefined;
  private readonly ifindex: IfindexLookup | undefined;
  /**
   * `nft`: the runner of `nft` (default the real one); `nfnl`: the netlink sender of flat
   * updates — by default the real one with the real `nft` only (a test that fakes `nft` gets no
   * netlink unless it passes a sender too); without one, every update goes by `nft -f`.
   * `ifindex`: interface indexes for DR/TUN generations by netlink (default: the kernel's, with
   * the real sender); without it DR/TUN generations are added by `nft -f`.
   */
  constructor(private readonly log: Logger, nft?: NftRunner, nfnl?: NfnlSender, ifindex?: IfindexLookup) {
    this.nft = nft ?? nftRunner();
    this.nfnl = nfnl ?? (nft ? undefined : nfnlSender());
    this.ifindex = ifindex ?? (nft || nfnl ? undefined : ifindexLookup());
  }

  /**
   * At start: is `nft` there, and does the kernel accept this plane (`nft -c`)? Throws
   * NFT_MISSING / NFT_UNSUPPORTED saying what to do. Warns when IPv4 forwarding is off and a
   * NAT service needs it.
   */
  async check(plane: Plane): Promise<void> {
    let version;
    try {
      version = await this.nft(['--version']);
    } catch (err) {
      throw new CarpoolError('NFT_MISSING', `the load balancer needs nftables: ${(err as Error).message}`, 'install nftables (apt install nftables) or run with --vrrp-only');
    }
    if (version.code !== 0) throw new CarpoolError('NFT_MISSING', `nft --version failed: ${version.stderr.trim()}`, 'install nftables (apt install nftables)');
    const r = await this.nft(['-c', '-f', '-'], renderPlane(plane));
    if (r.code !== 0) {
      const nat = plane.services.some((s) => s.method === 'nat');
      const direct = plane.services.some((s) => s.method !== 'nat');
      const needs = [
        ...(nat ? ['NAT: nf_nat, nft_numgen, nft_hash, nft_ct'] : []),
        ...(direct ? ['DR/TUN: netdev ingress hooks (CONFIG_NETFILTER_INGRESS), nft_fwd_netdev, nft_numgen, nft_hash, and the interfaces named in the ruleset'] : []),
      ];
      throw new CarpoolError('NFT_UNSUPPORTED', `this kernel or nft cannot run the load balancer's ruleset: ${firstLines(r.stderr)}`,
        `the balancer needs ${needs.join('; ')}; check the kernel modules and interfaces, or run with --vrrp-only`);
    }
    const fwd = '/proc/sys/net/ipv4/ip_forward';
    // DR and TUN forward in the netdev ingress hook, before (and without) IP forwarding.
    if (plane.services.some((s) => s.family === 'ipv4' && s.method === 'nat') && existsSync(fwd) && readFileSync(fwd, 'utf8').trim() === '0') {
      this.log.warning('Load balancer: net.ipv4.ip_forward is 0, NAT traffic will not be forwarded (sysctl -w net.ipv4.ip_forward=1)');
    }
  }

  /** Ask for this plane; transactions run one at a time, the latest wish wins. Never rejects. */
  apply(desired: Plane): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.desired = desired;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      const desired = this.desired;
      if (!desired || this.stopped) return;
      // The shell hands unchanged services over as the same objects: only the changed ones are compared.
      const flat = this.inForce && this.nfnl ? flatUpdate(this.inForce, desired, this.generations, this.ifindex) : undefined;
      const text = flat ? `${flat.nft}${flat.text}` : this.inForce ? diffChanged(withGenerations(this.inForce, this.generations), desired).text : renderPlane(desired);
      if (text === '') continue;
      this.touched = true;
      const r = flat ? await this.applyFlat(flat.nft, flat.ops) : await this.nft(['-f', '-'], text).catch((err: unknown) => ({ code: -1, stdout: '', stderr: (err as Error).message }));
      if (this.stopped) return;
      if (r.code === 0) {
        this.inForce = desired;
        this.generations = flat ? flat.generations : new Map();
        if (flat) {
          this.flats++;
          this.nlGenerations += flat.netlinkGenerations;
        }
        this.applies++;
        this.applied = true;
        this.lastAppliedAt = new Date().toISOString();
        this.lastTransaction = text;
        if (this.lastError) this.log.info('Load balancer: nftables ruleset in force again');
        this.lastError = undefined;
      } else {
        this.failures++;
        this.lastError = firstLines(r.stderr) || `nft exited with ${r.code}`;
        this.log.logLimited('error', `Load balancer: ${flat ? 'the flat update' : 'nft -f'} failed, the previous ruleset stays in force (retry in ${NFT_RETRY_MS / 1000} s): ${this.lastError}`, flat ? 'balancer:nft:flat' : 'balancer:nft:whole');
        // Whatever is in the kernel now, the next try replaces carpool's tables whole.
        this.inForce = undefined;
        this.scheduleRetry();
        return;
      }
    } while (this.again);
  }

  /** The new generation by `nft -f`, then the netlink batch; the result in nft's terms (code 0 = in force). */
  private async applyFlat(nftText: string, ops: Parameters<typeof encodeBatch>[0]): Promise<{ code: number; stderr: string }> {
    if (nftText !== '') {
      const r = await this.nft(['-f', '-'], nftText).catch((err: unknown) => ({ code: -1, stdout: '', stderr: (err as Error).message }));
      if (r.code !== 0) return r;
    }
    if (ops.length === 0) return { code: 0, stderr: '' };
    const batch = encodeBatch(ops, this.seq);
    this.seq = (this.seq + ops.length + 2) % 0x7fffffff || 1;
    let res;
    try {
      // On a worker thread (native): the kernel's commit does not hold the event loop.
      res = await this.nfnl!(batch.bytes, ops.length, NFNL_TIMEOUT_MS);
    } catch (err) {
      return { code: -1, stderr: `netlink: ${(err as Error).message}` };
    }
    if (res.sent !== 0) return { code: -1, stderr: `netlink: send failed: ${errnoText(-res.sent)}` };
    const v = batchResult(batch, res.replies);
    if (v.ok) return { code: 0, stderr: '' };
    const lost = res.replies.length < ops.length ? ` (${res.replies.length} of ${ops.length} answers${res.recv ? `; receive: ${errnoText(-res.recv)}` : ''})` : '';
    return {
      code: -1,
      stderr: `netlink batch refused: ${v.errors.map((e) => `${e.index === undefined ? 'batch' : describeOp(ops[e.index]!)}: ${errnoText(e.errno)}`).slice(0, 3).join('; ')}${lost}`,
    };
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.desired) void this.apply(this.desired);
    }, NFT_RETRY_MS);
    this.retryTimer.unref();
  }

  /** Clean stop: remove carpool's tables (and only those), in one transaction; nothing when nothing was applied. */
  async remove(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
    // Never applied (start failed at the check): nothing of ours is there, nft may be missing.
    if (!this.touched) return;
    const r = await this.nft(['-f', '-'], renderPlane({ services: [] })).catch((err: unknown) => ({ code: -1, stdout: '', stderr: (err as Error).message }));
    if (r.code !== 0) this.log.error(`Load balancer: cannot remove the carpool nftables tables: ${firstLines(r.stderr)} (nft delete table ip carpool)`);
    else this.log.info('Load balancer: nftables table carpool removed');
    if (r.code === 0) this.applied = false;
    this.inForce = undefined;
  }

  status(): ApplierStatus {
    return {
      inForce: this.applied, pending: this.lastError !== undefined, applies: this.applies, flatUpdates: this.flats, netlinkGenerations: this.nlGenerations, failures: this.failures,
      ...(this.lastAppliedAt ? { lastAppliedAt: this.lastAppliedAt } : {}),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.lastTransaction ? { lastTransaction: this.lastTransaction } : {}),
    };
  }
}

function describeOp(op: Parameters<typeof encodeBatch>[0][number]): string {
  if (op.op === 'delChain') return `delete chain ${op.family} ${op.table} ${op.chain}`;
  if (op.op === 'newChain') return `add chain ${op.family} ${op.table} ${op.chain}`;
  if (op.op === 'newRule') return `add rule ${op.family} ${op.table} ${op.chain} (${op.exprs.map((e) => e.name).join(' ')})`;
  const verb = { addElem: 'add element', delElem: 'delete element', flushSet: 'flush set', delSet: 'delete set', newSet: 'add set', newElems: 'add elements to' }[op.op];
  return `${verb} ${op.family} ${op.table} ${op.set}`;
}

const ERRNO_NAMES: Readonly<Record<number, string>> = { 105: 'ENOBUFS', 1: 'EPERM', 2: 'ENOENT', 12: 'ENOMEM', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 110: 'ETIMEDOUT (no answer to every message)' };
function errnoText(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

function firstLines(s: string): string {
  return s.trim().split('\n').slice(0, 4).join(' | ');
}
