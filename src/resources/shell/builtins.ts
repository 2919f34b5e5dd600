/**
 * Built-in agents that need no external script:
 * - `builtin:address` — a virtual address added over rtnetlink (src/net/link.ts) with
 *   gratuitous ARPs; monitor = the address is on the interface.
 * - `builtin:http` / `builtin:tcp` — a check: start waits until it passes (within the start
 *   timeout), monitor runs it, stop forgets it.
 * - `builtin:command` — `start`/`stop`/`monitor` command lines run with /bin/sh -c in their
 *   own process group (monitor: 0 = running, anything else = not running).
 * They answer in OCF codes like any agent, so the machine cannot tell them apart.
 */
import { connect } from 'node:net';
import type { Resource } from '../../config/model.js';
import { OCF } from '../core/ocf.js';
import { parseCidr, parseIPv4, inSubnet } from '../../protocol/inet.js';
import type { AgentCall, AgentHost, AgentResult } from './agent-types.js';
import { spawnAgent } from './spawn.js';

/** Checks and commands without a monitor remember "started" here (lost on restart: the probe then says stopped). */
const active = new Set<string>();

const ok = (execMs = 0): AgentResult => ({ outcome: { kind: 'exited', rc: OCF.SUCCESS }, exitReason: '', output: '', stdout: '', execMs });
const rc = (code: number, reason: string, execMs = 0): AgentResult => ({ outcome: { kind: 'exited', rc: code }, exitReason: reason, output: '', stdout: '', execMs });
const timeout = (reason: string, execMs: number): AgentResult => ({ outcome: { kind: 'timeout' }, exitReason: reason, output: '', stdout: '', execMs });

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

export async function runBuiltin(r: Resource, call: AgentCall, host: AgentHost, signal?: AbortSignal): Promise<AgentResult> {
  if (call.action === 'meta-data' || call.action === 'validate-all') return ok();
  if (r.agent.class !== 'builtin') throw new Error('not a builtin');
  switch (r.agent.type) {
    case 'address': return addressAction(r, call.action);
    case 'http':
    case 'tcp': return checkAction(r, call, signal);
    case 'command': return commandAction(r, call, host, signal);
  }
}

// --- address -------------------------------------------------------------------------------

async function addressAction(r: Resource, action: AgentCall['action']): Promise<AgentResult> {
  const started = performance.now();
  const { addAddress, deleteAddress, interfaceInfo, listAddresses } = await import('../../net/link.js');
  const cidr = parseCidr(r.params.address ?? '', 32);
  if (!cidr || cidr.family !== 4) return rc(OCF.ERR_CONFIGURED, `address '${r.params.address}' is not an IPv4 address/prefix`);
  let dev = r.params.dev;
  if (!dev) {
    // As IPaddr2's findif: the interface that has an address in the same subnet.
    const vip = parseIPv4(cidr.address)!;
    const own = listAddresses(0).find((a) => a.family === 4 && a.address !== cidr.address && a.label && inSubnet(vip, parseIPv4(a.address)!, a.prefix));
    dev = own?.label?.split(':')[0];
    if (!dev) return rc(OCF.ERR_CONFIGURED, `no interface has an address in the subnet of ${cidr.address}/${cidr.prefix}; set params.dev`);
  }
  const info = interfaceInfo(dev);
  if (!info) return rc(OCF.ERR_INSTALLED, `interface ${dev} does not exist`);
  const spec = { ifindex: info.index, address: cidr.address, prefix: cidr.prefix };
  const present = () => listAddresses(info.index).some((a) => a.address === cidr.address);
  const ms = () => Math.round(performance.now() - started);
  try {
    switch (action) {
      case 'start': {
        if (!info.running) return rc(OCF.ERR_INSTALLED, `interface ${dev} has no carrier`, ms());
        addAddress({ ...spec, ...(r.params.label ? { label: r.params.label } : {}), broadcast: '+' });
        await sendGarps(dev, info.mac, cidr.address, Number(r.params.garp ?? 3));
        return ok(ms());
      }
      case 'stop':
        deleteAddress(spec);
        return ok(ms());
      default:
        return present() ? ok(ms()) : rc(OCF.NOT_RUNNING, `${cidr.address} is not on ${dev}`, ms());
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    return rc(e.code === 'NET_EPERM' ? OCF.ERR_PERM : OCF.ERR_GENERIC, e.message, ms());
  }
}

async function sendGarps(dev: string, macText: string, address: string, count: number): Promise<void> {
  const { FrameSocket } = await import('../../net/frame-socket.js');
  const { gratuitousArp, parseMac } = await import('../../protocol/arp.js');
  let sock: ReturnType<typeof FrameSocket.open> | undefined;
  try {
    sock = FrameSocket.open(dev);
    const frame = gratuitousArp(parseMac(macText), address);
    for (let i = 0; i < count; i++) {
      sock.send(frame);
      if (i + 1 < count) await sleep(200);
    }
  } catch {
    // GARP is best effort (IPaddr2 does not fail a start for it either).
  } finally {
    sock?.close();
  }
}

// --- http / tcp checks -----------------------------------------------------------------------

async function checkOnce(r: Resource, timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
  const limit = AbortSignal.timeout(Math.max(1, timeoutMs));
  const sig = signal ? AbortSignal.any([signal, limit]) : limit;
  if (r.agent.type === 'http') {
    const url = r.params.url!;
    try {
      const res = await fetch(url, { method: r.params.method ?? 'GET', signal: sig, redirect: 'manual' });
      const body = await res.text();
      const [lo, hi] = statusRange(r.params.status ?? '200-399');
      if (res.status < lo || res.status > hi) return `${url}: HTTP ${res.status} (expected ${r.params.status ?? '200-399'})`;
      if (r.params.contains && !body.includes(r.params.contains)) return `${url}: the answer does not contain '${r.params.contains}'`;
      return undefined;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return `${url}: ${e.name === 'TimeoutError' ? 'no answer in time' : e.cause?.code ?? e.cause?.message ?? e.message}`;
    }
  }
  const host = r.params.host!;
  const port = Number(r.params.port);
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (why: string | undefined) => { s.destroy(); sig.removeEventListener('abort', onAbort); resolve(why); };
    const onAbort = () => done(`${host}:${port}: no connection in time`);
    sig.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => done(undefined));
    s.once('error', (err: NodeJS.ErrnoException) => done(`${host}:${port}: ${err.code ?? err.message}`));
  });
}

function statusRange(text: string): [number, number] {
  const m = /^(\d{3})(?:-(\d{3}))?$/.exec(text.trim());
  if (!m) return [200, 399];
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

async function checkAction(r: Resource, call: AgentCall, signal?: AbortSignal): Promise<AgentResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  switch (call.action) {
    case 'stop':
      active.delete(r.id);
      return ok();
    case 'start': {
      // The service behind it may need a moment (the member before it just started): retry until the timeout.
      let why: string | undefined;
      for (;;) {
        const left = call.timeoutMs - ms();
        if (left <= 0) return timeout(why ?? 'check did not pass in time', ms());
        why = await checkOnce(r, Math.min(left, 5000), signal);
        if (why === undefined) {
          active.add(r.id);
          return ok(ms());
        }
        if (signal?.aborted) return rc(OCF.ERR_GENERIC, 'cancelled', ms());
        await sleep(Math.min(500, Math.max(0, call.timeoutMs - ms())), signal);
      }
    }
    default: {
      if (!active.has(r.id)) return rc(OCF.NOT_RUNNING, 'check not started', ms());
      const why = await checkOnce(r, call.timeoutMs, signal);
      return why === undefined ? ok(ms()) : rc(OCF.ERR_GENERIC, why, ms());
    }
  }
}

// --- command ---------------------------------------------------------------------------------

async function commandAction(r: Resource, call: AgentCall, host: AgentHost, signal?: AbortSignal): Promise<AgentResult> {
  const line = r.params[call.action === 'monitor' ? 'monitor' : call.action];
  if (!line) {
    if (call.action === 'monitor') return active.has(r.id) ? ok() : rc(OCF.NOT_RUNNING, 'not started');
    if (call.action === 'start') active.add(r.id); else active.delete(r.id);
    return ok();
  }
  const env: NodeJS.ProcessEnv = { ...process.env, ...r.env, CARPOOL_RESOURCE: r.id, CARPOOL_ACTION: call.action, CARPOOL_NODE: host.node };
  const s = await spawnAgent({ file: '/bin/sh', args: ['-c', line], env, timeoutMs: call.timeoutMs, ...(signal ? { signal } : {}) });
  let outcome = s.outcome;
  if (outcome.kind === 'exited') {
    if (call.action === 'monitor') outcome = { kind: 'exited', rc: outcome.rc === 0 ? OCF.SUCCESS : OCF.NOT_RUNNING };
    else outcome = { kind: 'exited', rc: outcome.rc === 0 ? OCF.SUCCESS : OCF.ERR_GENERIC };
    if (outcome.rc === OCF.SUCCESS && call.action !== 'monitor') {
      if (call.action === 'start') active.add(r.id); else active.delete(r.id);
    }
  }
  const reason = s.exitReason || (s.outcome.kind === 'exited' && s.outcome.rc !== 0 ? `'${line}' exited with ${s.outcome.rc}` : '');
  return { outcome, exitReason: reason, output: s.stderrTail, stdout: s.stdout, execMs: s.execMs };
}
