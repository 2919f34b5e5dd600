/**
 * The daemon: builds ports and instance runners from a validated configuration, watches
 * links, answers the control socket, and handles signals the way ucarp does:
 * SIGUSR1 logs a status line, SIGUSR2 steps down, SIGTERM/INT/QUIT/HUP stop (running down
 * hooks and releasing addresses when `shutdownHooks`/`-z` is set).
 */
import { basename } from 'node:path';
import type { CarpoolConfig, CarpInstance, VirtualAddress, VrrpInstance } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { interfaceInfo, listAddresses, LinkMonitor, type InterfaceInfo, type LinkEvent } from '../net/link.js';
import { setRealtimePriority } from '../net/realtime.js';
import { SyslogSocket } from '../net/syslog-socket.js';
import { CARP_TOS } from '../protocol/carp/packet.js';
import { VRRP_TOS } from '../protocol/vrrp/packet.js';
import { AddressManager } from './addresses.js';
import { CarpShell } from './carp-shell.js';
import type { ControlRequest } from '../control/protocol.js';
import { ControlServer } from './control.js';
import { HookQueues } from './hooks.js';
import type { HttpServer } from './http.js';
import type { InstanceShell } from './instance-shell.js';
import { Logger, type SyslogSink } from './logger.js';
import { Port } from './port.js';
import { ensurePrivateDir } from './private-dir.js';
import { statusText, stderrIsJournal, type ServiceNotifier } from './systemd.js';
import type { DaemonStatus } from '../control/status.js';
import { createVmac, removeVmac } from './vmac.js';
import type { VrrpCoordinator } from './vrrp-shell.js';
import type { ResourceManager, ResourceCommand } from '../resources/shell/manager.js';

export interface DaemonOptions {
  readonly config: CarpoolConfig;
  readonly mode: 'run' | 'ucarp';
  /** Print log lines on the console (false when daemonized). */
  readonly console: boolean;
  /** Path of the syslog socket; undefined = /dev/log (env CARPOOL_SYSLOG_SOCKET overrides). */
  readonly syslogPath?: string;
  /** run mode, SIGHUP: re-validate the configuration file and report. */
  readonly onReloadRequest?: () => void;
  /** The service manager (systemd): told of state changes (`STATUS=`) and of the stop. */
  readonly notifier?: ServiceNotifier;
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
  /** Every instance, CARP first, in configuration order. */
  private readonly shells: InstanceShell[] = [];
  /** The VRRP instances' coordinator (sync groups, trackers); loaded only when VRRP is configured. */
  private vrrp: VrrpCoordinator | undefined;
  /** Send-only ports of virtual-MAC interfaces, and the interfaces to remove at exit. */
  private readonly txPorts: Port[] = [];
  private readonly vmacs: string[] = [];
  /** One hook queue per instance and per sync group. */
  private readonly hooks: HookQueues;
  private addresses: AddressManager | undefined;
  private control: ControlServer | undefined;
  /** The opt-in HTTP listener (`http:`): metrics, status, dashboard. */
  private http: HttpServer | undefined;
  private monitor: LinkMonitor | undefined;
  private syslog: SyslogSocket | undefined;
  /** Resource groups following the instances (undefined without `groups:` in the config). */
  private resources: ResourceManager | undefined;
  private readonly startedAt = new Date();
  /** Monotonic start time: uptime must not follow wall-clock jumps. */
  private readonly startedMono = now();
  private stopping: Promise<void> | undefined;
  /** What the kernel runs the event loop at: 'normal' or 'SCHED_RR N'. */
  private scheduling = 'normal';
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];

  constructor(private readonly opts: DaemonOptions) {
    const cfg = opts.config;
    this.syslog = openSyslog(cfg.logging.facility, opts.syslogPath);
    const sink: SyslogSink | undefined = this.syslog ? { send: (b) => this.syslog?.send(b).ok ?? false } : undefined;
    this.log = new Logger({
      ident: cfg.logging.ident, facility: cfg.logging.facility, debug: cfg.logging.debug, console: opts.console,
      ...(opts.console && stderrIsJournal() ? { journal: true } : {}),
      ...(sink ? { syslog: sink } : {}),
    });
    this.hooks = new HookQueues(this.log);
  }

  /** Open everything, clean stale addresses, start electing. Throws before touching the network on errors. */
  async start(): Promise<void> {
    const cfg = this.opts.config;
    // 1. Resolve interfaces and sources first: nothing on the network changes if this fails.
    const carp = cfg.instances.filter((i): i is CarpInstance => i.kind === 'carp').map((inst) => {
      const { dev, info } = this.resolve(inst.name, inst.interface);
      const src = inst.srcip ?? primaryAddress(dev, info.index, 4, inst.name, inst.addresses);
      if (inst.srcip && !listAddresses(info.index).some((a) => a.address === inst.srcip)) {
        this.log.warning(`${inst.name}: source address ${inst.srcip} is not configured on ${dev}; adverts may fail to send`);
      }
      return { inst, dev, info, src };
    });
    const vrrp = cfg.instances.filter((i): i is VrrpInstance => i.kind === 'vrrp').map((inst) => {
      const { dev, info } = this.resolve(inst.name, inst.interface);
      return { inst, dev, info, src: inst.srcip ?? primaryAddress(dev, info.index, inst.family, inst.name, inst.addresses) };
    });
    checkIdCollisions(carp.map((p) => ({ name: p.inst.name, dev: p.dev, id: p.inst.vhid, v: 2 })),
      vrrp.map((p) => ({ name: p.inst.name, dev: p.dev, id: p.inst.vrid, v: p.inst.version })));
    // 2. Sockets (may fail with EPERM: still nothing changed).
    for (const p of carp) {
      const port = this.port(p.dev, 4, CARP_TOS);
      if (this.opts.mode === 'ucarp') this.log.info(`Local advertised ethernet address is [${p.info.mac}]`);
      // Joined also with --nomcast: the kernel accepts multicast-addressed IP only for joined groups.
      port.join(p.inst.mcast);
    }
    for (const p of vrrp) {
      const port = this.port(p.dev, p.inst.family, VRRP_TOS);
      if (p.inst.unicastPeers.length === 0) port.join(p.inst.mcastGroup);
    }
    // 3. Private directories, then the control socket (refuses to start if another daemon owns it).
    ensurePrivateDir(cfg.stateDir, 'state directory');
    this.control = new ControlServer(cfg.controlSocket, (req) => this.handleControl(req), this.log);
    await this.control.listen();
    if (cfg.http) {
      // Loaded only when configured: the default daemon stays small and opens no TCP port.
      const { HttpServer } = await import('./http.js');
      this.http = new HttpServer(cfg.http, { status: () => this.status(), log: this.log });
      await this.http.listen();
    }
    // 4. Stale addresses of a killed predecessor, then the instances.
    const managed = [
      ...carp.filter((p) => p.inst.manageAddresses).flatMap((p) => p.inst.addresses.map((vip) => ({ dev: vip.dev ?? p.dev, vip }))),
      ...vrrp.flatMap((p) => [...p.inst.addresses, ...p.inst.excludedAddresses].map((vip) => ({ dev: vip.dev ?? p.inst.vmacInterface ?? p.dev, vip }))),
    ];
    if (managed.length) {
      this.addresses = new AddressManager(cfg.stateDir, basename(cfg.controlSocket, '.sock'), this.log);
      this.addresses.cleanupStale(managed);
    }
    if (cfg.resources && cfg.resources.groups.length > 0) {
      // Loaded only when used: an idle CARP-only daemon stays small (see bench `idle`).
      const { ResourceManager } = await import('../resources/shell/manager.js');
      this.resources = new ResourceManager({
        config: cfg.resources, log: this.log, now,
        setStandby: (instance, on, reason) => this.setStandby(instance, on, reason),
        stateFile: `${cfg.stateDir}/${basename(cfg.controlSocket, '.sock').replace(/[^\w.-]/g, '_')}.resources.json`,
      });
    }
    for (const p of carp) {
      if (!p.inst.upHook) this.log.warning(this.opts.mode === 'ucarp' ? 'Warning: no script called when going up' : `${p.inst.name}: no up hook`);
      if (!p.inst.downHook) this.log.warning(this.opts.mode === 'ucarp' ? 'Warning: no script called when going down' : `${p.inst.name}: no down hook`);
      const port = this.port(p.dev, 4, CARP_TOS);
      const shell = new CarpShell(p.inst, p.src, {
        port, log: this.log, hooks: this.hooks.queue(p.inst.name, p.inst.hookTimeoutMs ?? cfg.hookTimeoutMs), addresses: this.addresses, now,
        ucarpStyle: this.opts.mode === 'ucarp',
        onTransition: (name, from, to, reason, peer) => this.transitioned(name, from, to, reason, peer),
      });
      port.attach(shell);
      this.shells.push(shell);
    }
    if (vrrp.length) {
      // Loaded only when used: `carpool ucarp` never loads the VRRP code.
      const { VrrpCoordinator } = await import('./vrrp-shell.js');
      this.vrrp = new VrrpCoordinator(cfg, {
        log: this.log, addresses: this.addresses!, now,
        // An instance's own timeout; a sync group's is the configuration's default.
        hooksFor: (owner) => this.hooks.queue(owner, vrrp.find((p) => p.inst.name === owner)?.inst.hookTimeoutMs ?? cfg.hookTimeoutMs),
        linkRunning: (ifname) => !!interfaceInfo(ifname)?.running,
        onTransition: (name, from, to, reason, peer) => this.transitioned(name, from, to, reason, peer),
      });
      for (const p of vrrp) {
        const rx = this.port(p.dev, p.inst.family, VRRP_TOS);
        let tx = rx;
        if (p.inst.vmacInterface) {
          await createVmac(p.inst.vmacInterface, p.dev, p.inst.family, p.inst.vrid, this.log);
          this.vmacs.push(p.inst.vmacInterface);
          tx = new Port(p.inst.vmacInterface, this.log, VRRP_TOS, p.inst.family, true);
          tx.open();
          this.txPorts.push(tx);
        }
        const shell = this.vrrp.add(p.inst, p.src, { rx, tx });
        rx.attach(shell);
        this.shells.push(shell);
      }
    }
    this.monitor = LinkMonitor.open((ev) => this.onLinkEvent(ev), {},
      (why, ms) => this.log.logLimited('error', `Cannot process a link event: ${why}; re-reading the interfaces in ${ms} ms`, 'link:retry'));
    this.installSignals();
    if (cfg.realtimePriority !== undefined) this.scheduling = this.setRealtime(cfg.realtimePriority);
    this.resources?.start();
    for (const s of this.shells) s.start();
  }

  /** SCHED_RR for the event loop; spawned scripts and agents stay at normal priority (reset on fork). */
  private setRealtime(priority: number): string {
    const r = setRealtimePriority(priority);
    if (r.ok) {
      this.log.info(`Running at realtime priority ${priority} (SCHED_RR); scripts and agents run at normal priority`);
      return `SCHED_RR ${priority}`;
    }
    this.log.warning(`realtime_priority ${priority}: ${r.error}${r.error === 'EPERM' ? ' (needs root or CAP_SYS_NICE)' : ''}; running at normal priority`);
    return 'normal';
  }

  /** The receiving port of (device, family), opened on first use. */
  private port(dev: string, family: 4 | 6, tos: number): Port {
    const key = `${dev}|${family}`;
    let port = this.ports.get(key);
    if (!port) {
      port = new Port(dev, this.log, tos, family);
      port.open();
      this.ports.set(key, port);
    }
    return port;
  }

  private resolve(name: string, ifname: string): { dev: string; info: InterfaceInfo } {
    const dev = deviceOf(ifname);
    const info = interfaceInfo(dev);
    if (!info) {
      throw new CarpoolError('IFACE_MISSING', `${name}: Unable to find MAC address of [${ifname}]: no such interface`,
        'check the interface name with `ip link`');
    }
    return { dev, info };
  }

  private onLinkEvent(ev: LinkEvent): void {
    if (ev.type === 'overrun') {
      // Missed events: re-read every port's state.
      for (const port of this.ports.values()) {
        this.refreshPort(port);
        for (const s of this.shells) s.linkChanged(port.device, port.running);
      }
      return;
    }
    if (ev.type === 'addr') {
      // Someone removed a virtual address we hold: the shell puts it back and announces it.
      if (ev.deleted) for (const s of this.shells) s.reassert(ev.ifindex, ev.address);
      return;
    }
    let name = ev.name;
    for (const port of this.ports.values()) {
      if (ev.name === port.device || ev.ifindex === port.ifindex) {
        this.refreshPort(port, ev.deleted);
        name ??= port.device;
      }
    }
    if (name) for (const s of this.shells) s.linkChanged(name, !ev.deleted && ev.running);
  }

  /** Re-open the port's sockets when its interface came back; note whether it runs. */
  private refreshPort(port: Port, deleted = false): void {
    const info = deleted ? undefined : interfaceInfo(port.device);
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
    port.running = !!info?.running;
  }

  /**
   * ucarp mode: ucarp's signals (USR1 status line, USR2 step down, TERM/INT/QUIT/HUP stop).
   * run mode: USR1 logs every instance's state, USR2 its counters, HUP re-checks the
   * configuration file (live reload is not supported: it says so instead of stopping, so
   * a logrotate-style HUP never takes the VIP down), TERM/INT/QUIT stop.
   */
  private installSignals(): void {
    const on = (sig: NodeJS.Signals, fn: () => void) => {
      process.on(sig, fn);
      this.signalHandlers.push([sig, fn]);
    };
    const ucarp = this.opts.mode === 'ucarp';
    on('SIGUSR1', () => {
      for (const s of this.shells) this.log.info(s.statusLine());
    });
    on('SIGUSR2', () => {
      if (ucarp) {
        for (const s of this.shells) s.stepDown('SIGUSR2');
        return;
      }
      for (const i of this.status().instances) {
        const drops = Object.entries(i.counters.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
        this.log.info(`${i.name}: adverts sent ${i.counters.advertsSent}, received ${i.counters.advertsReceived}, send errors ${i.counters.sendErrors}, dropped ${drops}`);
      }
    });
    const stop = (sig: NodeJS.Signals) => () => { void this.stop(sig).then(() => process.exit(0)); };
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as NodeJS.Signals[]) on(sig, stop(sig));
    if (ucarp) on('SIGHUP', stop('SIGHUP'));
    else on('SIGHUP', () => this.opts.onReloadRequest?.());
  }

  /**
   * Stop: instances with shutdown hooks bow out, wait for a successor (bounded), release
   * and run their down hooks; then the sockets close. Idempotent.
   */
  stop(reason: string): Promise<void> {
    if (this.stopping) {
      // A second signal while a blocked group holds its instance forces the hand-over.
      if (!this.resources?.forceRelease(reason)) this.log.info(`Already stopping (${reason})`);
      return this.stopping;
    }
    this.opts.notifier?.stopping();
    this.stopping = (async () => {
      this.log.info(`Stopping (${reason})`);
      // Resources stop first, in reverse order, while this node still advertises (Pacemaker
      // stops a leaving node's resources before they start elsewhere).
      await this.resources?.shutdown();
      // An instance whose group could not be stopped is not handed over (the service would run
      // on two nodes) until a cleanup stops it or a second signal forces it (issue 11). VRRP
      // instances stop together (one coordinator, sync groups): if one is held, all wait.
      const blocked = new Set(this.resources?.blockedInstances() ?? []);
      const vrrpHeld = this.shells.some((s) => s.protocol === 'vrrp' && blocked.has(s.name));
      const held = (s: InstanceShell): boolean => blocked.has(s.name) || (vrrpHeld && s.protocol === 'vrrp');
      // Instances with shutdown hooks bow out and wait for a successor; the others just stop.
      await Promise.all(this.shells.filter((s) => !held(s)).map((s) => s.shutdown()));
      if (blocked.size > 0) {
        await this.resources!.holdWhileBlocked();
        await Promise.all(this.shells.filter(held).map((s) => s.shutdown()));
      }
      // Down hooks (every instance's queue) must finish before exit (ucarp runs them synchronously); bounded.
      const drained = await Promise.race([this.hooks.drain().then(() => true), delay(30_000).then(() => false)]);
      if (!drained) {
        this.log.error('Hooks still running after 30 s at exit: killing them');
        this.hooks.killAll();
      }
      for (const s of this.shells) s.halt();
      this.addresses?.flush();
      this.monitor?.close();
      await this.control?.close();
      await this.http?.close();
      for (const p of [...this.ports.values(), ...this.txPorts]) p.close();
      for (const v of this.vmacs) await removeVmac(v);
      for (const [sig, fn] of this.signalHandlers) process.off(sig, fn);
      this.syslog?.close();
    })();
    return this.stopping;
  }

  status(): DaemonStatus {
    return {
      version: VERSION, pid: process.pid, mode: this.opts.mode, config: this.opts.config.source,
      startedAt: this.startedAt.toISOString(), uptimeSeconds: (now() - this.startedMono) / 1000,
      scheduling: this.scheduling,
      instances: this.shells.map((s) => s.status()),
      interfaces: [...this.ports.values()].map((p) => ({ name: p.family === 4 ? p.device : `${p.device} (IPv6)`, up: p.running, drops: { ...p.drops } })),
      ...(this.vrrp && this.opts.config.syncGroups.length ? { syncGroups: this.vrrp.syncGroupStatus() } : {}),
      ...(this.resources ? { resources: this.resources.status() } : {}),
    };
  }

  /** Every instance's state change: its resource groups follow, the dashboards see it. */
  private transitioned(name: string, from: string, to: string, reason: string, peer: string | undefined): void {
    // The reason and the master last heard decide fencing (resources/core/fencing.ts).
    this.resources?.instanceChanged(name, to, reason, peer);
    this.http?.transition(name, from, to, reason);
    this.opts.notifier?.status(statusText(this.shells.map((s) => ({ name: s.name, state: s.name === name ? to : s.status().state }))));
  }

  /** A resource group asks that its instance must (not) be served here. */
  private setStandby(instance: string, on: boolean, reason: string): void {
    this.findShell(instance).standby(on, reason);
  }

  /** The instance named `name`; with one instance only, the name may be left out. */
  private findShell(name: unknown): InstanceShell {
    const s = this.shells.find((x) => x.name === name) ?? (this.shells.length === 1 && name === undefined ? this.shells[0] : undefined);
    if (!s) {
      throw new CarpoolError('NO_SUCH_INSTANCE', name === undefined ? 'name the instance to demote' : `no instance named ${JSON.stringify(name)}`,
        `known: ${this.shells.map((x) => x.name).join(', ')}`);
    }
    return s;
  }

  private handleControl(req: ControlRequest): unknown {
    switch (req.cmd) {
      case 'status':
        return this.status();
      case 'demote': {
        // CARP: persistent until --clear; VRRP: a planned step-down (--clear is an error).
        const s = this.findShell(req.args?.instance);
        s.demote(req.args?.clear !== true);
        return s.status();
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

/**
 * The interface's own address to send adverts from: the first IPv4 address (scope global)
 * that is not a virtual address, or for IPv6 the link-local address (RFC 5798 §5.1.2.1).
 */
function primaryAddress(dev: string, ifindex: number, family: 4 | 6, name: string, vips: readonly VirtualAddress[]): string {
  const own = new Set(vips.map((a) => a.address));
  const a = listAddresses(ifindex).find((x) => x.family === family && !own.has(x.address) && x.scope === (family === 4 ? 0 : 253));
  if (!a) {
    throw new CarpoolError('NO_SOURCE', `${name}: ${dev} has no ${family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send adverts from`,
      `configure an address on ${dev} or set the source address for the instance`);
  }
  return a.address;
}

/** The same id on one interface for CARP and VRRPv2 (identical first byte) cannot be told apart. */
function checkIdCollisions(carp: readonly { name: string; dev: string; id: number; v: number }[], vrrp: readonly { name: string; dev: string; id: number; v: number }[]): void {
  for (const c of carp) {
    const clash = vrrp.find((v) => v.dev === c.dev && v.id === c.id && v.v === 2);
    if (clash) {
      throw new CarpoolError('ID_COLLISION', `${c.name} (CARP vhid ${c.id}) and ${clash.name} (VRRPv2 VRID ${c.id}) share ${c.dev}: their packets look alike`,
        'give one of them another vhid/virtual_router_id');
    }
  }
}
