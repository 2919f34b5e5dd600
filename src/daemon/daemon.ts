/**
 * The daemon: builds ports and instance runners from a validated configuration, watches
 * links, answers the control socket, and handles signals the way ucarp does:
 * SIGUSR1 logs a status line, SIGUSR2 steps down, SIGTERM/INT/QUIT/HUP stop (running down
 * hooks and releasing addresses when `shutdownHooks`/`-z` is set).
 */
import { basename } from 'node:path';
import type { CarpoolConfig, CarpInstance } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { interfaceInfo, listAddresses, LinkMonitor, type LinkEvent } from '../net/link.js';
import { SyslogSocket } from '../net/syslog-socket.js';
import { CARP_TOS } from '../protocol/carp/packet.js';
import { AddressManager } from './addresses.js';
import { CarpRunner } from './carp-runner.js';
import { ControlServer, type ControlRequest } from './control.js';
import { HookQueue } from './hooks.js';
import { Logger, type SyslogSink } from './logger.js';
import { Port } from './port.js';
import type { DaemonStatus } from './status.js';
import { ResourceManager, type ResourceCommand } from '../resources/shell/manager.js';

export interface DaemonOptions {
  readonly config: CarpoolConfig;
  readonly mode: 'run' | 'ucarp';
  /** Print log lines on the console (false when daemonized). */
  readonly console: boolean;
  /** Path of the syslog socket; undefined = /dev/log (env CARPOOL_SYSLOG_SOCKET overrides). */
  readonly syslogPath?: string;
}

/** Alias interfaces (`eth0:carp0`) live on their parent device. */
export function deviceOf(ifname: string): string {
  const colon = ifname.indexOf(':');
  return colon > 0 ? ifname.slice(0, colon) : ifname;
}

const now = (): number => performance.now();

export class Daemon {
  readonly log: Logger;
  private readonly ports = new Map<string, Port>();
  private readonly runners: CarpRunner[] = [];
  private readonly hooks: HookQueue;
  private addresses: AddressManager | undefined;
  private control: ControlServer | undefined;
  private monitor: LinkMonitor | undefined;
  private syslog: SyslogSocket | undefined;
  /** Resource groups following the instances (undefined without `groups:` in the config). */
  private resources: ResourceManager | undefined;
  private readonly startedAt = new Date();
  private stopping: Promise<void> | undefined;
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];

  constructor(private readonly opts: DaemonOptions) {
    const cfg = opts.config;
    this.syslog = openSyslog(cfg.logging.facility, opts.syslogPath);
    const sink: SyslogSink | undefined = this.syslog ? { send: (b) => this.syslog?.send(b).ok ?? false } : undefined;
    this.log = new Logger({
      ident: cfg.logging.ident, facility: cfg.logging.facility, debug: cfg.logging.debug, console: opts.console,
      ...(sink ? { syslog: sink } : {}),
    });
    this.hooks = new HookQueue(this.log);
  }

  get instances(): readonly CarpRunner[] {
    return this.runners;
  }

  /** Open everything, clean stale addresses, start electing. Throws before touching the network on errors. */
  async start(): Promise<void> {
    const cfg = this.opts.config;
    // 1. Resolve interfaces and sources first: nothing on the network changes if this fails.
    const carp = cfg.instances.filter((i): i is CarpInstance => i.kind === 'carp');
    const plans = carp.map((inst) => {
      const dev = deviceOf(inst.interface);
      const info = interfaceInfo(dev);
      if (!info) {
        throw new CarpoolError('IFACE_MISSING', `${inst.name}: Unable to find MAC address of [${inst.interface}]: no such interface`,
          'check the interface name with `ip link`');
      }
      return { inst, dev, info, src: inst.srcip ?? primaryAddress(dev, info.index, inst) };
    });
    for (const p of plans) {
      if (p.inst.srcip && !listAddresses(p.info.index).some((a) => a.address === p.inst.srcip)) {
        this.log.warning(`${p.inst.name}: source address ${p.inst.srcip} is not configured on ${p.dev}; adverts may fail to send`);
      }
    }
    // 2. Sockets (may fail with EPERM: still nothing changed).
    for (const p of plans) {
      let port = this.ports.get(p.dev);
      if (!port) {
        port = new Port(p.dev, this.log, CARP_TOS);
        port.open();
        this.ports.set(p.dev, port);
        if (this.opts.mode === 'ucarp') this.log.info(`Local advertised ethernet address is [${p.info.mac}]`);
      }
      // Joined also with --nomcast: the kernel accepts multicast-addressed IP only for joined groups.
      port.join(p.inst.mcast);
    }
    // 3. Control socket (refuses to start if another daemon owns it).
    this.control = new ControlServer(cfg.controlSocket, (req) => this.handleControl(req));
    await this.control.listen();
    // 4. Stale addresses of a killed predecessor, then runners.
    const managed = plans.filter((p) => p.inst.manageAddresses);
    if (managed.length) {
      this.addresses = new AddressManager(cfg.stateDir, basename(cfg.controlSocket, '.sock'), this.log);
      this.addresses.cleanupStale(managed.flatMap((p) => p.inst.addresses.map((vip) => ({ dev: vip.dev ?? p.dev, vip }))));
    }
    if (cfg.resources && cfg.resources.groups.length > 0) {
      this.resources = new ResourceManager({
        config: cfg.resources, log: this.log, now,
        setStandby: (instance, on, reason) => this.findRunner(instance).input({ type: 'standby', on, reason }),
        stateFile: `${cfg.stateDir}/${basename(cfg.controlSocket, '.sock').replace(/[^\w.-]/g, '_')}.resources.json`,
      });
    }
    for (const p of plans) {
      if (!p.inst.upHook) this.log.warning(this.opts.mode === 'ucarp' ? 'Warning: no script called when going up' : `${p.inst.name}: no up hook`);
      if (!p.inst.downHook) this.log.warning(this.opts.mode === 'ucarp' ? 'Warning: no script called when going down' : `${p.inst.name}: no down hook`);
      const runner = new CarpRunner(p.inst, p.src, {
        port: this.ports.get(p.dev)!, log: this.log, hooks: this.hooks, addresses: this.addresses, now,
        ucarpStyle: this.opts.mode === 'ucarp',
        onTransition: (r, _from, to) => this.resources?.instanceChanged(r.cfg.name, to),
      });
      this.ports.get(p.dev)!.attach(runner);
      this.runners.push(runner);
    }
    this.monitor = LinkMonitor.open((ev) => this.onLinkEvent(ev));
    this.installSignals();
    this.resources?.start();
    for (const r of this.runners) r.start(this.ports.get(deviceOf(r.cfg.interface))!.running);
  }

  private onLinkEvent(ev: LinkEvent): void {
    if (ev.type === 'overrun') {
      // Missed events: re-read every port's state.
      for (const port of this.ports.values()) this.refreshPort(port);
      return;
    }
    if (ev.type === 'addr') {
      if (!ev.deleted) return;
      // Someone removed a virtual address we hold: put it back (the master must answer).
      for (const r of this.runners) {
        const port = this.ports.get(deviceOf(r.cfg.interface))!;
        if (r.holdsAddresses && ev.ifindex === port.ifindex && r.cfg.addresses.some((a) => a.address === ev.address)) {
          this.log.warning(`${r.cfg.name}: virtual address ${ev.address} was removed behind our back; adding it again`);
          this.addresses?.add(port.device, port.ifindex, r.cfg.addresses.filter((a) => a.address === ev.address));
        }
      }
      return;
    }
    for (const port of this.ports.values()) {
      if (ev.name === port.device || ev.ifindex === port.ifindex) this.refreshPort(port, ev.deleted);
    }
  }

  private refreshPort(port: Port, deleted = false): void {
    const info = deleted ? undefined : interfaceInfo(port.device);
    const running = !!info?.running;
    if (!info) {
      if (port.isOpen) {
        this.log.error(`Interface ${port.device} disappeared: going to BACKUP and waiting for it to return`);
        port.close();
      }
    } else if (!port.isOpen || info.index !== port.ifindex) {
      this.log.warning(`Interface ${port.device} is back (index ${info.index}): reopening sockets`);
      try {
        port.reopen();
      } catch (err) {
        this.log.error(`Cannot reopen ${port.device}: ${(err as Error).message}`);
        return;
      }
    }
    if (running === port.running && info) return;
    port.running = running;
    for (const r of this.runners) {
      if (deviceOf(r.cfg.interface) === port.device) r.input({ type: 'link', up: running });
    }
  }

  private installSignals(): void {
    const on = (sig: NodeJS.Signals, fn: () => void) => {
      process.on(sig, fn);
      this.signalHandlers.push([sig, fn]);
    };
    on('SIGUSR1', () => {
      for (const r of this.runners) {
        const st = r.machine.state === 'BACKUP' ? 'BACKUP' : 'MASTER';
        this.log.info(this.opts.mode === 'ucarp' ? `${st} on ${r.cfg.interface} id ${r.cfg.vhid}` : `${r.cfg.name}: ${r.machine.state} on ${r.cfg.interface} id ${r.cfg.vhid}`);
      }
    });
    on('SIGUSR2', () => {
      for (const r of this.runners) r.input({ type: 'stepDown', reason: 'SIGUSR2' });
    });
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP'] as NodeJS.Signals[]) {
      on(sig, () => { void this.stop(sig).then(() => process.exit(0)); });
    }
  }

  /**
   * Stop: instances with shutdown hooks bow out, wait for a successor (bounded), release
   * and run their down hooks; then the sockets close. Idempotent.
   */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info(`Stopping (${reason})`);
      // Resources stop first, in reverse order, while this node still advertises (Pacemaker
      // stops a leaving node's resources before they start elsewhere).
      await this.resources?.shutdown();
      const graceful = this.runners.filter((r) => r.cfg.shutdownHooks);
      for (const r of this.runners) if (!r.cfg.shutdownHooks) r.halt();
      await Promise.all(graceful.map((r) => r.shutdown()));
      // Down hooks must finish before exit (ucarp runs them synchronously); bounded.
      const drained = await Promise.race([this.hooks.drain().then(() => true), delay(30_000).then(() => false)]);
      if (!drained) {
        this.log.error('Hooks still running after 30 s at exit: killing them');
        this.hooks.killAll();
      }
      for (const r of this.runners) r.halt();
      this.addresses?.flush();
      this.monitor?.close();
      await this.control?.close();
      for (const p of this.ports.values()) p.close();
      for (const [sig, fn] of this.signalHandlers) process.off(sig, fn);
      this.syslog?.close();
    })();
    return this.stopping;
  }

  status(): DaemonStatus {
    return {
      version: VERSION, pid: process.pid, mode: this.opts.mode, config: this.opts.config.source,
      startedAt: this.startedAt.toISOString(), uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      instances: this.runners.map((r) => r.status()),
      interfaces: [...this.ports.values()].map((p) => ({ name: p.device, up: p.running, drops: { ...p.drops } })),
      ...(this.resources ? { resources: this.resources.status() } : {}),
    };
  }

  private findRunner(name: unknown): CarpRunner {
    const r = this.runners.find((x) => x.cfg.name === name) ?? (this.runners.length === 1 && name === undefined ? this.runners[0] : undefined);
    if (!r) {
      throw new CarpoolError('NO_SUCH_INSTANCE', `no instance named ${String(name)}`, `known: ${this.runners.map((x) => x.cfg.name).join(', ')}`);
    }
    return r;
  }

  private handleControl(req: ControlRequest): unknown {
    switch (req.cmd) {
      case 'status':
        return this.status();
      case 'demote': {
        const r = this.findRunner(req.args?.instance);
        r.input({ type: 'stepDown', reason: 'operator demote' });
        return r.status();
      }
      default:
        if (req.cmd.startsWith('resource.')) return this.resourceControl(req);
        throw new CarpoolError('CONTROL_UNKNOWN', `unknown command ${req.cmd}`);
    }
  }

  /** `resource.list|status|move|clear|cleanup|restart` (carpool resource ...). */
  private resourceControl(req: ControlRequest): unknown {
    const rm = this.resources;
    if (!rm) throw new CarpoolError('NO_RESOURCES', 'this daemon manages no resources', 'add resources: and groups: to its configuration');
    const target = typeof req.args?.target === 'string' ? req.args.target : undefined;
    switch (req.cmd) {
      case 'resource.list': return rm.list();
      case 'resource.status': return rm.status();
      case 'resource.move': case 'resource.clear': case 'resource.cleanup': case 'resource.restart':
        return rm.command(req.cmd.slice('resource.'.length) as ResourceCommand, target);
      default:
        throw new CarpoolError('CONTROL_UNKNOWN', `unknown command ${req.cmd}`);
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function openSyslog(facility: string, path?: string): SyslogSocket | undefined {
  if (facility === 'none') return undefined;
  try {
    return SyslogSocket.open(process.env.CARPOOL_SYSLOG_SOCKET ?? path ?? '/dev/log');
  } catch {
    return undefined; // no syslog daemon: console only (ucarp behaves the same)
  }
}

/** The interface's first IPv4 address that is not one of the instance's virtual addresses. */
function primaryAddress(dev: string, ifindex: number, inst: CarpInstance): string {
  const vips = new Set(inst.addresses.map((a) => a.address));
  const a = listAddresses(ifindex).find((x) => x.family === 4 && !vips.has(x.address) && x.scope === 0);
  if (!a) {
    throw new CarpoolError('NO_SOURCE', `${inst.name}: ${dev} has no IPv4 address to send adverts from`,
      `configure an address on ${dev} or set 'source' for the instance`);
  }
  return a.address;
}
