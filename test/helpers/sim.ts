/**
 * The world the election simulators (test/election/carp-sim.ts, vrrp-sim.ts) share: a virtual
 * clock with an ordered event queue, one re-armable timer per instance (as the daemon shell
 * keeps one setTimeout per instance at the machine's next deadline), a lossy LAN (a latency
 * and a loss function) and a transcript with time stamps. Deterministic: randomness comes
 * from a seeded generator.
 */

/** Small deterministic PRNG (mulberry32): numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimEvent { readonly t: number; readonly seq: number; readonly run: () => void }

/** What the LAN needs to know about a node. */
export interface SimHost {
  readonly spec: { readonly name: string };
  /** False once killed: sends and receives nothing. */
  alive: boolean;
  /** False while its cable is pulled. */
  linkUp: boolean;
}

/**
 * Virtual time and the LAN between nodes of type `N`. Events at the same time run in the
 * order they were scheduled.
 */
export class LanSim<N extends SimHost> {
  readonly nodes: N[] = [];
  /** Virtual milliseconds. */
  now = 0;
  readonly transcript: string[] = [];
  /** One-way delay of every packet on the LAN. */
  latencyMs = 0.2;
  /** Return true to drop a packet from `from` to `to` (called once per receiver and packet). */
  loss: (from: N, to: N, payload: Uint8Array) => boolean = () => false;
  readonly rand: () => number;
  private readonly queue: SimEvent[] = [];
  private seq = 0;
  private readonly timers = new Map<unknown, number>();

  constructor(seed: number) {
    this.rand = prng(seed);
  }

  /** Run `run` at virtual time `t` (after everything already scheduled for `t`). */
  schedule(t: number, run: () => void): void {
    const ev = { t, seq: this.seq++, run };
    let lo = 0, hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid]!;
      if (q.t < t || (q.t === t && q.seq < ev.seq)) lo = mid + 1; else hi = mid;
    }
    this.queue.splice(lo, 0, ev);
  }

  /** Deliver something over the LAN: after `latencyMs`. */
  transmit(deliver: () => void): void {
    this.schedule(this.now + this.latencyMs, deliver);
  }

  /**
   * The one timer of `owner`: armed at `deadline` (undefined = none wanted); re-arming at the
   * same deadline keeps the timer, another deadline replaces it. `fire` runs when it expires.
   */
  rearm(owner: unknown, deadline: number | undefined, fire: () => void): void {
    if (deadline === undefined) return;
    if (this.timers.get(owner) === deadline) return;
    this.timers.set(owner, deadline);
    this.schedule(Math.max(deadline, this.now), () => {
      if (this.timers.get(owner) !== deadline) return;
      this.timers.delete(owner);
      fire();
    });
  }

  /** Run every event up to and including `t`, then set the clock to `t`. */
  runUntil(t: number): void {
    while (this.queue.length && this.queue[0]!.t <= t) {
      const ev = this.queue.shift()!;
      this.now = Math.max(this.now, ev.t);
      ev.run();
    }
    this.now = t;
  }

  node(name: string): N {
    const n = this.nodes.find((x) => x.spec.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** SIGKILL: the node stops sending and receiving; its addresses stay. */
  kill(node: N): void {
    node.alive = false;
    this.log(`${node.spec.name}: killed`);
  }

  /** Pull or plug the node's cable. */
  setLink(node: N, up: boolean): void {
    node.linkUp = up;
    this.log(`${node.spec.name}: link ${up ? 'up' : 'down'}`);
  }

  /** A transcript line stamped with the virtual time (ms, one decimal). */
  log(line: string): void {
    this.transcript.push(`${this.now.toFixed(1).padStart(9)} ${line}`);
  }
}
