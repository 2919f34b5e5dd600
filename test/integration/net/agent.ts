/**
 * Drives fixtures/agent.ts inside a network namespace: a Node process cannot enter a
 * namespace itself, so the code under test runs in a child started with `ip netns exec`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { run, inNs } from '../../../src/lib/exec.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AGENT = fileURLToPath(new URL('./fixtures/agent.ts', import.meta.url));

export interface AgentEvent {
  readonly event: string;
  readonly handle?: number;
  readonly [key: string]: unknown;
}

export class AgentError extends Error {
  constructor(readonly code: string | undefined, message: string, readonly hint?: string) {
    super(message);
  }
}

/** Bytes as the agent protocol carries them. */
export const hex = (b: Uint8Array | string): { hex: string } =>
  ({ hex: typeof b === 'string' ? b : Buffer.from(b).toString('hex') });

export class NsAgent {
  readonly events: AgentEvent[] = [];
  stderr = '';
  #child: ChildProcess;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #waiters: (() => void)[] = [];
  #exited: Promise<number | null>;

  private constructor(readonly ns: string, child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Start the agent in `ns` and wait until it has loaded the addon. */
  static async start(ns: string): Promise<NsAgent> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', AGENT], {
      cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'],
    });
    const agent = new NsAgent(ns, child);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent in ${ns} did not start: ${agent.stderr}`)), 20_000);
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`agent in ${ns} exited with ${code}: ${agent.stderr}`)); });
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg.ready) { clearTimeout(timer); resolve(); return; }
        if (typeof msg.id === 'number') {
          const p = agent.#pending.get(msg.id);
          agent.#pending.delete(msg.id);
          if (msg.ok) p?.resolve(msg.result);
          else {
            const e = msg.error as { code?: string; message: string; hint?: string };
            p?.reject(new AgentError(e.code, e.message, e.hint));
          }
          return;
        }
        agent.events.push(msg as AgentEvent);
        for (const w of agent.#waiters.splice(0)) w();
      });
    });
    await ready;
    return agent;
  }

  call<T = unknown>(op: string, ...args: unknown[]): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Events matching `pred`, waiting until there are at least `count` (or the timeout). */
  async waitEvents(pred: (e: AgentEvent) => boolean, count = 1, timeoutMs = 5000): Promise<AgentEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.filter(pred);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${count} event(s) in ${this.ns}; have ${JSON.stringify(this.events.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Ask the agent to exit; kill it by PID if it does not. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.stdin!.write(`${JSON.stringify({ id: 0, op: 'exit', args: [] })}\n`);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 3000).unref());
    if ((await Promise.race([this.#exited, timeout])) === 'timeout' && this.#child.pid) {
      process.kill(this.#child.pid, 'SIGKILL');
      await this.#exited;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait until no IPv6 address on `ifname` in `ns` is tentative (DAD finished). */
export async function waitDad(ns: string, ifname: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await run(inNs(ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', ifname]));
    if (res.stdout.includes('inet6') && !res.stdout.includes('tentative')) return;
    if (Date.now() > deadline) throw new Error(`IPv6 DAD did not finish on ${ns}/${ifname}: ${res.stdout}`);
    await sleep(100);
  }
}

/** The link-local address of `ifname` in `ns`. */
export async function linkLocal(ns: string, ifname: string): Promise<string> {
  const res = await run(inNs(ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', ifname, 'scope', 'link']));
  const m = /inet6 (fe80:[0-9a-f:]+)\//.exec(res.stdout);
  if (!m) throw new Error(`no link-local address on ${ns}/${ifname}`);
  return m[1]!;
}

export const isRoot = process.getuid?.() === 0;
