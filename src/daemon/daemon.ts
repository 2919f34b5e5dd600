/**
 * The daemon: builds ports and instance runners from a validated configuration, watches
 * links, answers the control socket, and handles signals the way ucarp does:
 * SIGUSR1 logs a status line, SIGUSR2 steps down, SIGTERM/INT/QUIT/HUP stop (running down
 * hooks and releasing addresses when `shutdownHooks`/`-z` is set). In run mode SIGHUP and
 * `carpool reload` apply a changed configuration file live (reload.ts).
 */
import { basename } from 'node:path';
import { hostname } from 'node:os';
import type { CarpoolConfig, CarpInstance, EtcdInstance, Instance, ResourcesConfig, VirtualAddress, VrrpInstance } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import { VERSION } from '../lib/version.js';
import { interfaceInfo, listAddresses, LinkMonitor, type InterfaceInfo, type LinkEvent } from '../net/link.js';
import { setRealtimePriority } from '../net/realtime.js';
import { SyslogSocket } from '../net/syslog-socket.js';
import { CARP_TOS } from '../protocol/carp/packet.js';
import { VRRP_TOS } from '../protocol/vrrp/packet.js';
import { AddressManager } from './addresses.js';
import { CarpShell } from './carp-shell.js';
import { CarpGroupShell } from './carp-groups.js';
import type { HeldAddress, SharingShell } from '../sharing/shell/sharing.js';
import type { ControlRequest } from '../control/protocol.js';
import { ControlServer } from './control.js';
import { HookQueues } from './hooks.js';
import type { HttpServer } from './http.js';
import type { ClusterPublisher } from '../coordination/shell/cluster-publisher.js';
import type { EtcdPool } from '../coordination/shell/etcd-pool.js';
import type { InstanceShell } from './instance-shell.js';
import { Logger, type SyslogSink } from './logger.js';
import { Port } from './port.js';
import { ensurePrivateDir } from './private-dir.js';
import { statusText, stderrIsJournal, type ServiceNotifier } from './systemd.js';
import type { DaemonStatus } from '../control/status.js';
import { createVmac, removeVmac } from './vmac.js';
import { StaticRouting } from './routing.js';
import type { NotifyFifoWriter } from './notify-fifo.js';
import type { VrrpCoordinator } from './vrrp-shell.js';
import type { ResourceManager, ResourceCommand } from '../resources/shell/manager.js';
import type { Balancer } from '../balancer/shell/balancer.js';
import type { ReloadHost, ReloadResult } from './reload.js';
import { deviceOf, instanceCollisions } from '../election/id-collisions.js';

export interface DaemonOptions {
  readonly config: CarpoolConfig;
  readonly mode: 'run' | 'ucarp';
  /** Print log lines on the console (false when daemonized). */
  readonly console: boolean;
  /** Path of the syslog socket; undefined = /dev/log (env CARPOOL_SYSLOG_SOCKET overrides). */
  readonly syslogPath?: string;
  /**
   * run mode: read and validate the configuration file again (SIGHUP, `carpool reload`);
   * throws `ConfigError` (file:line) or `CarpoolError`. Warnings go to `onWarning`.
   */
  readonly loadConfig?: (onWarning: (text: string) => void) => CarpoolConfig | Promise<CarpoolConfig>;
  /** The service manager (systemd): told of state changes (`STATUS=`), reloads and the stop. */
  readonly notifier?: ServiceNotifier;
  /**
   * Started by systemd (`underSystemd`): log to the journal's native socket (this path, env
   * CARPOOL_JOURNAL_SOCKET overrides), else to stderr with `<N>` prefixes; never twice.
   */
  readonly journalSocket?: string;
}

/** An instance with its interface and advert source resolved, ready to build. */
type Prepared =
  | { readonly kind: 'carp'; readonly inst: CarpInstance; readonly dev: string; readonly info: InterfaceInfo; readonly src: string }
  | { readonly kind: 'vrrp'; readonly inst: VrrpInstance; readonly dev: string; readonly info: InterfaceInfo; readonly src: string };

/** Where a shell is plugged in: its receiving port, a VRRP virtual-MAC send port and interface. */
interface Plug {
  readonly rx: Port;
  tx?: Port;
  vmac?: string;
}

/** The addresses an instance adds, on their devices (for the stale clean-up at start). */
function managedAddresses(p: Prepared): { dev: string; vip: VirtualAddress }[] {
  if (p.kind === 'carp') return p.inst.manageAddresses ? p.inst.addresses.map((vip) => ({ dev: vip.dev ?? p.dev, vip })) : [];
  return [...p.inst.addresses, ...p.inst.excludedAddresses].map((vip) => ({ dev: vip.dev ?? p.inst.vmacInterface ?? p.dev, vip }));
}

export { deviceOf };

const now = (): number => performance.now();

export class Daemon {
  readonly log: Logger;
  private readonly ports = new Map<string, Port>();
  /** Every instance, CARP first, in configuration order (instances added by a reload last). */
  private readonly shells: InstanceShell[] = [];
  /** The VRRP instances' coordinator (sync groups, trackers); loaded only when VRRP is configured. */
  private vrrp: VrrpCoordinator | undefined;
  /** CARP group failover (BSD demotion), when the configuration has CARP groups. */
  private carpGroups: CarpGroupShell | undefined;
  /** Load sharing (issue 15), when the configuration has `sharing:`. */
  private sharing: SharingShell | undefined;
  /** Each shell's ports (and virtual-MAC interface), to detach, close and remove. */
  private readonly plugs = new Map<InstanceShell, Plug>();
  /** The configuration in force (replaced by a live reload). */
  private config: CarpoolConfig;
  /** The configuration a reload is applying (undefined outside a reload). */
  private incoming: CarpoolConfig | undefined;
  /** One hook queue per instance and per sync group. */
  private readonly hooks: HookQueues;
  private addresses: AddressManager | undefined;
  private control: ControlServer | undefined;
  /** The opt-in HTTP listener (`http:`): metrics, status, dashboard. */
  private http: HttpServer | undefined;
  /** `cluster:`: this node's status published to etcd (docs/etcd.md, "Cluster view"). */
  private cluster: ClusterPublisher | undefined;
  /** The etcd instances' connections: one per distinct settings, shared (loaded with the first). */
  private etcdPool: EtcdPool | undefined;
  private statusTextPending = false;
  private monitor: LinkMonitor | undefined;
  private syslog: SyslogSocket | undefined;
  /** The journal's native socket, under systemd. */
  private journal: SyslogSocket | undefined;
  /** Resource groups following the instances (undefined without `groups:` in the config). */
  private resources: ResourceManager | undefined;
  /** The load balancer (undefined without virtual servers in the config). */
  private balancer: Balancer | undefined;
  /** Static addresses, routes and rules (keepalived `static_*`): installed at start, removed on a clean stop. */
  private staticRouting: StaticRouting | undefined;
  /** keepalived's notify FIFO, when configured. */
  private notifyFifo: NotifyFifoWriter | undefined;
  private readonly startedAt = new Date();
  /** Monotonic start time: uptime must not follow wall-clock jumps. */
  private readonly startedMono = now();
  private stopping: Promise<void> | undefined;
  /** What the kernel runs the event loop at: 'normal' or 'SCHED_RR N'. */
  private scheduling = 'normal';
  private readonly signalHandlers: [NodeJS.Signals, () => void][] = [];
  /** Instances the resource groups hold in standby, with the reason (kept across a reload's restart). */
  private readonly standbyReasons = new Map<string, string>();
  /** The reload in progress (reloads run one after the other). */
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: DaemonOptions) {
    const cfg = opts.config;
    this.config = cfg;
    this.journal = opts.journalSocket !== undefined ? openJournal(opts.journalSocket) : undefined;
    // The journal takes every line: no syslog copy (it would reach the journal a second time).
    this.syslog = this.journal ? undefined : openSyslog(cfg.logging.facility, opts.syslogPath);
    const sink: SyslogSink | undefined = this.syslog ? { send: (b) => this.syslog?.send(b).ok ?? false } : undefined;
    const journal = this.journal;
    this.log = new Logger({
      ident: cfg.logging.ident, facility: cfg.logging.facility, debug: cfg.logging.debug, console: opts.console,
      ...(opts.console && (stderrIsJournal() || opts.journalSocket !== undefined) ? { journal: true } : {}),
      ...(journal ? { journalSink: { send: (b: Uint8Array) => journal.send(b).ok } } : {}),
      ...(sink ? { syslog: sink } : {}),
    });
    this.hooks = new HookQueues(this.log);
  }

  /** Open everything, clean stale addresses, start electing. Throws before touching the network on errors. */
  async start(): Promise<void> {
    const cfg = this.config;
    // 1. Resolve interfaces and sources first: nothing on the network changes if this fails.
    let buckets: Instance[] = [];
    if (cfg.sharing?.length) {
      // Loaded only when used. The bucket elections are CARP instances of their own.
      const { SharingShell } = await import('../sharing/shell/sharing.js');
      const am = () => this.addressManager();
      const vip = (x: HeldAddress): VirtualAddress[] => [{ family: x.family, address: x.address, prefix: x.prefix }];
      this.sharing = new SharingShell(cfg.sharing, {
        log: this.log,
        addAddress: (x) => { const i = interfaceInfo(deviceOf(x.interface)); if (i) am().add(deviceOf(x.interface), i.index, vip(x)); },
        removeAddress: (x) => { const i = interfaceInfo(deviceOf(x.interface)); if (i) am().remove(deviceOf(x.interface), i.index, vip(x)); },
        masterOf: (name) => this.shells.find((sh) => sh.name === name)?.status().master,
        macOf: (dev) => interfaceInfo(dev)?.mac,
      });
      buckets = this.sharing.instances((iface) => {
        const info = interfaceInfo(deviceOf(iface));
        return info ? listAddresses(info.index).map((a) => a.address) : [];
      });
      for (const x of cfg.sharing) {
        // A gateway's outside interface: nothing else would notice it missing (the elections run inside).
        if (x.outside && !interfaceInfo(deviceOf(x.outside.interface))) {
          throw new CarpoolError('IFACE_MISSING', `sharing ${x.name}: the outside interface ${x.outside.interface} does not exist`, 'configure the interface of the outside LAN, or correct outside.interface');
        }
      }
    }
    const all = [...cfg.instances, ...buckets];
    const ordered = [...all.filter((i) => i.kind === 'carp'), ...all.filter((i) => i.kind === 'vrrp')];
    const prepared = this.prepare(ordered, all);
    const etcd = (cfg.etcdInstances ?? []).map((inst) => ({ inst, ...this.resolve(inst.name, inst.interface) }));
    // 2. Sockets (may fail with EPERM: still nothing changed).
    for (const p of prepared) {
      this.openPort(p);
      if (p.kind === 'carp' && this.opts.mode === 'ucarp') this.log.info(`Local advertised ethernet address is [${p.info.mac}]`);
    }
    // 3. Private directories, then the control socket (refuses to start if another daemon owns it).
    ensurePrivateDir(cfg.stateDir, 'state directory');
    this.control = new ControlServer(cfg.controlSocket, (req) => this.handleControl(req), this.log);
    await this.control.listen();
    if (cfg.http) {
      // Loaded only when configured: the default daemon stays small and opens no TCP port.
      const { HttpServer } = await import('./http.js');
      this.http = new HttpServer(cfg.http, {
        status: () => this.status(), refresh: () => this.balancer?.refresh() ?? Promise.resolve(), log: this.log,
        // The dashboard shows the whole cluster (docs/etcd.md), read on the publisher's connection.
        ...(cfg.cluster ? { cluster: () => (this.cluster ? this.cluster.view() : Promise.reject(new Error('the cluster publisher is not started yet'))) } : {}),
      });
      await this.http.listen();
    }
    // 4. Stale addresses of a killed predecessor, then the instances.
    const managed = [...prepared.flatMap(managedAddresses), ...etcd.flatMap((e) => e.inst.addresses.map((vip) => ({ dev: vip.dev ?? e.dev, vip })))];
    if (managed.length) this.addressManager().cleanupStale(managed);
    if (cfg.resources && cfg.resources.groups.length > 0) this.resources = await this.resourceManager(cfg.resources);
    if (cfg.balancers && cfg.balancers.virtualServers.length > 0) {
      // Loaded only when used: a CARP/VRRP-only daemon never loads the balancer. Both
      // directors hold the rules; the VIP decides who gets the traffic (as keepalived).
      const { Balancer } = await import('../balancer/shell/balancer.js');
      this.balancer = new Balancer(cfg.balancers, { log: this.log, now, hooks: this.hooks.queue('(balancer)', cfg.hookTimeoutMs), instances: cfg.instances });
      await this.balancer.start();
    }
    if (cfg.notifyFifo) {
      const { NotifyFifoWriter } = await import('./notify-fifo.js');
      this.notifyFifo = new NotifyFifoWriter(cfg.notifyFifo, this.log);
      await this.notifyFifo.start();
    }
    if (cfg.static) {
      // Before the instances, as keepalived: virtual routes may go through static addresses.
      this.staticRouting = new StaticRouting(cfg.static, this.log);
      this.staticRouting.install();
    }
    await this.sharing?.start();
    if (cfg.carpGroups?.length) this.carpGroups = new CarpGroupShell(cfg.carpGroups, this.log, now);
    for (const p of prepared) this.shells.push(await this.build(p));
    for (const e of etcd) this.shells.push(await this.buildEtcd(e.inst, e.dev));
    this.monitor = LinkMonitor.open((ev) => this.onLinkEvent(ev), {},
      (why, ms) => this.log.logLimited('error', `Cannot process a link event: ${why}; re-reading the interfaces in ${ms} ms`, 'link:retry'));
    this.installSignals();
    if (cfg.realtimePriority !== undefined) this.scheduling = this.setRealtime(cfg.realtimePriority);
    this.resources?.start();
    for (const s of this.shells) s.start();
    if (cfg.cluster) await this.startCluster(cfg);
  }

  /**
   * Interfaces and advert sources of `instances` (of the configuration `all`), checked
   * before anything changes: a missing interface or source throws.
   */
  private prepare(instances: readonly Instance[], all: readonly Instance[]): Prepared[] {
    const prepared = instances.map((inst): Prepared => {
      const { dev, info } = this.resolve(inst.name, inst.interface);
      if (inst.kind === 'carp') {
        const src = inst.srcip ?? primaryAddress(dev, info.index, 4, inst.name, inst.addresses);
        if (inst.srcip && !listAddresses(info.index).some((a) => a.address === inst.srcip)) {
          this.log.warning(`${inst.name}: source address ${inst.srcip} is not configured on ${dev}; adverts may fail to send`);
        }
        return { kind: 'carp', inst, dev, info, src };
      }
      return { kind: 'vrrp', inst, dev, info, src: inst.srcip ?? primaryAddress(dev, info.index, inst.family, inst.name, inst.addresses) };
    });
    const clash = instanceCollisions(all)[0];
    if (clash) throw new CarpoolError('ID_COLLISION', clash.message, clash.hint);
    return prepared;
  }

  /** The receiving port of the instance, opened and joined to its group. */
  private openPort(p: Prepared): Port {
    if (p.kind === 'carp') {
      const port = this.port(p.dev, 4, CARP_TOS);
      // Joined also with --nomcast: the kernel accepts multicast-addressed IP only for joined groups.
      port.join(p.inst.mcast);
      return port;
    }
    const port = this.port(p.dev, p.inst.family, VRRP_TOS);
    if (p.inst.unicastPeers.length === 0) port.join(p.inst.mcastGroup);
    return port;
  }

  /** The address manager (state file of the addresses we add), created on first use. */
  private addressManager(): AddressManager {
    this.addresses ??= new AddressManager(this.config.stateDir, basename(this.config.controlSocket, '.sock'), this.log);
    return this.addresses;
  }

  /** Build the shell of a prepared instance and attach it to its port (not started). */
  private async build(p: Prepared): Promise<InstanceShell> {
    const rx = this.openPort(p);
    if (p.kind === 'carp') {
      if (!p.inst.upHook) this.log.warning(this.opts.mode === 'ucarp' ? 'Warning: no script called when going up' : `${p.inst.name}: no up hook`);
      if (!p.inst.downHook) this.log.warning(this.opts.mode === 'ucarp' ? 'Warning: no script called when going down' : `${p.inst.name}: no down hook`);
      const shell = new CarpShell(p.inst, p.src, {
        port: rx, log: this.log, hooks: this.hooks.queue(p.inst.name, p.inst.hookTimeoutMs ?? this.config.hookTimeoutMs, { instance: p.inst.name, vhid: p.inst.vhid }),
        addresses: p.inst.manageAddresses ? this.addressManager() : this.addresses, now,
        ucarpStyle: this.opts.mode === 'ucarp',
        onTransition: (name, from, to, reason, peer) => this.transitioned(name, from, to, reason, peer),
        onLink: (name, up) => this.carpGroups?.link(name, up),
        ...(this.sharing ? { onDrop: (name: string, reason: string, src: string) => this.sharing?.dropped(name, reason, src) } : {}),
      });
      if (this.carpGroups?.has(shell.name)) this.carpGroups.add(shell);
      rx.attach(shell);
      this.plugs.set(shell, { rx });
      return shell;
    }
    if (!this.vrrp) {
      // Loaded only when used: `carpool ucarp` never loads the VRRP code.
      const { VrrpCoordinator } = await import('./vrrp-shell.js');
      this.vrrp = new VrrpCoordinator(this.config, {
        log: this.log, addresses: this.addressManager(), now,
        // An instance's own timeout; a sync group's is the configuration's default. During a
        // reload the instances being added are in the incoming configuration.
        hooksFor: (owner) => {
          const cfg = this.incoming ?? this.config;
          const inst = cfg.instances.find((i) => i.name === owner && i.kind === 'vrrp');
          return this.hooks.queue(owner, inst?.hookTimeoutMs ?? cfg.hookTimeoutMs, inst?.kind === 'vrrp' ? { instance: owner, vhid: inst.vrid } : {});
        },
        linkRunning: (ifname) => !!interfaceInfo(ifname)?.running,
        ...(this.notifyFifo ? { notifyFifo: this.notifyFifo } : {}),
        onTransition: (name, from, to, reason, peer) => this.transitioned(name, from, to, reason, peer),
      });
    }
    let tx = rx;
    const plug: Plug = { rx };
    if (p.inst.vmacInterface) {
      await createVmac(p.inst.vmacInterface, p.dev, p.inst.family, p.inst.vrid, this.log);
      plug.vmac = p.inst.vmacInterface;
      tx = new Port(p.inst.vmacInterface, this.log, VRRP_TOS, p.inst.family, true);
      tx.open();
      plug.tx = tx;
    }
    const shell = this.vrrp.add(p.inst, p.src, { rx, tx });
    rx.attach(shell);
    this.plugs.set(shell, plug);
    return shell;
  }

  /** The cluster view's publisher; the etcd client (gRPC) is loaded only when `cluster:` is set. */
  private async startCluster(cfg: CarpoolConfig): Promise<void> {
    const c = cfg.cluster!;
    const [{ ClusterPublisher, ClusterEtcd }, { EtcdPool }] = await Promise.all([import('../coordination/shell/cluster-publisher.js'), import('../coordination/shell/etcd-pool.js')]);
    let store;
    try {
      // The instances' connection when they use the same settings: one per daemon.
      store = new ClusterEtcd(c.etcd, this.pool(EtcdPool).connection(c.etcd));
    } catch (err) {
      throw new CarpoolError('ETCD_SETTINGS', `cluster: ${(err as Error).message}`, 'check the tls and password_file settings of the cluster block');
    }
    this.cluster = new ClusterPublisher(c, { store, node: c.node ?? hostname(), status: () => this.status(), wallNow: () => new Date(), log: this.log });
    this.cluster.start();
  }

  /** The daemon's etcd connections, made on first use (the module is loaded by the caller). */
  private pool(ctor: typeof EtcdPool): EtcdPool {
    return (this.etcdPool ??= new ctor({ now, log: (level, text, key) => this.log.logLimited(level, text, key) }));
  }

  /** The shell of an etcd instance (issue 16); the etcd client (gRPC) is loaded only here. */
  private async buildEtcd(inst: EtcdInstance, dev: string): Promise<InstanceShell> {
    const [{ EtcdShell }, { EtcdPool }] = await Promise.all([import('../coordination/shell/etcd-shell.js'), import('../coordination/shell/etcd-pool.js')]);
    if (!inst.upHook) this.log.warning(`${inst.name}: no up hook`);
    // Its port sends gratuitous ARP; it receives nothing an etcd instance wants.
    const port = this.port(dev, 4, CARP_TOS);
    let client;
    let failsafeKey;
    try {
      client = this.pool(EtcdPool).client(inst.name, inst.etcd);
      if (inst.etcd.failsafe) failsafeKey = (await import('../coordination/shell/failsafe-peers.js')).readFailsafeKey(inst.etcd.failsafe);
    } catch (err) {
      throw new CarpoolError('ETCD_SETTINGS', `${inst.name}: ${(err as Error).message}`, 'check the tls and password_file settings of the instance');
    }
    const shell = new EtcdShell(inst, {
      port, log: this.log, hooks: this.hooks.queue(inst.name, inst.hookTimeoutMs ?? this.config.hookTimeoutMs),
      addresses: this.addressManager(), client, node: inst.node ?? hostname(), now, sharedLease: true,
      onTransition: (name, from, to, reason, peer) => this.transitioned(name, from, to, reason, peer),
      ...(failsafeKey ? { failsafeKey } : {}),
    });
    // Attached (it takes no packet) so that a reload keeps its port open.
    port.attach(shell);
    this.plugs.set(shell, { rx: port });
    return shell;
  }

  private async resourceManager(config: ResourcesConfig): Promise<ResourceManager> {
    // Loaded only when used: an idle CARP-only daemon stays small (see bench `idle`).
    const { ResourceManager } = await import('../resources/shell/manager.js');
    return new ResourceManager({
      config, log: this.log, now,
      setStandby: (instance, on, reason) => this.setStandby(instance, on, reason),
      stateFile: `${this.config.stateDir}/${basename(this.config.controlSocket, '.sock').replace(/[^\w.-]/g, '_')}.resources.json`,
    });
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
   * run mode: USR1 logs every instance's state, USR2 its counters, HUP reloads the
   * configuration file live (`reload`), TERM/INT/QUIT stop.
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
    else on('SIGHUP', () => { this.reload('SIGHUP').catch(() => undefined); });
  }

  /**
   * Live reload: read the file again and apply the difference (src/daemon/reload.ts). An
   * invalid file or a refused change leaves everything as it was; the error is logged and
   * thrown (the `carpool reload` client prints it). One reload at a time.
   */
  reload(reason: string): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      const load = this.opts.loadConfig;
      if (!load || this.opts.mode === 'ucarp') {
        throw new CarpoolError('RELOAD_UNSUPPORTED', 'a ucarp-mode daemon has no configuration file to reload', 'restart it with the new options');
      }
      if (this.stopping) throw new CarpoolError('RELOAD_STOPPING', 'the daemon is stopping');
      this.log.info(`Reloading ${this.config.source} (${reason})`);
      try {
        const next = await load((w) => this.log.warning(`reload: ${w}`));
        const { applyReload } = await import('./reload.js');
        this.incoming = next;
        this.opts.notifier?.reloading();
        const r = await applyReload(this.reloadHost(), next).finally(() => {
          this.incoming = undefined;
          this.opts.notifier?.ready(statusText(this.shells.map((s) => ({ name: s.name, state: s.status().state }))));
        });
        // Actions are instances' and, with the load balancer, virtual servers' changes.
        this.log.info(r.actions.length ? `Reload done: ${r.actions.length} change${r.actions.length === 1 ? '' : 's'}, ${r.unchanged.length} instance${r.unchanged.length === 1 ? '' : 's'} unchanged${r.failed.length ? `, ${r.failed.length} failed` : ''}`
          : `Reload done: nothing changed (${r.unchanged.length} instance${r.unchanged.length === 1 ? '' : 's'} unchanged)`);
        return r;
      } catch (err) {
        const text = err instanceof CarpoolError ? err.describe() : (err as Error).message;
        this.log.error(`Reload failed, the running configuration stays in force:\n${text}`);
        // The control protocol carries code and message: the hint goes into the message.
        throw new CarpoolError(err instanceof CarpoolError ? err.code : 'RELOAD_FAILED', `reload failed, nothing was changed:\n${text}`);
      }
    };
    const r = this.reloading.then(run, run);
    this.reloading = r.catch(() => undefined);
    return r;
  }

  private reloadHost(): ReloadHost {
    return {
      log: this.log,
      current: () => this.config,
      shells: () => this.shells,
      check: (instances, all) => this.prepare(instances, all),
      add: async (p) => {
        const shell = await this.build(p as Prepared);
        this.shells.push(shell);
        // A restarted instance stays in the standby its resource groups asked for.
        const standby = this.standbyReasons.get(shell.name);
        if (standby !== undefined) shell.standby(true, standby);
        shell.start();
        return shell;
      },
      unplug: async (shell) => {
        const plug = this.plugs.get(shell);
        this.plugs.delete(shell);
        const i = this.shells.indexOf(shell);
        if (i >= 0) this.shells.splice(i, 1);
        if (!plug) return;
        plug.rx.detach(shell);
        plug.tx?.close();
        if (plug.vmac) await removeVmac(plug.vmac);
      },
      reloadVrrp: (config) => this.vrrp?.reload(config),
      closeUnusedPorts: () => {
        for (const [key, port] of this.ports) {
          if (port.listenerCount > 0) continue;
          port.close();
          this.ports.delete(key);
          this.log.info(`Closed ${port.device}${port.family === 6 ? ' (IPv6)' : ''}: no instance uses it any more`);
        }
      },
      commit: (config) => { this.config = config; },
      blockedGroups: () => this.resources?.blockedGroups() ?? [],
      stopGroups: async (ids) => (this.resources && ids.length ? this.resources.removeGroups(ids) : []),
      startGroups: async (config, ids) => {
        const rc = config.resources ?? { resources: [], groups: [] };
        if (!this.resources) {
          if (rc.groups.length === 0) return;
          this.resources = await this.resourceManager(rc);
          this.resources.start();
          for (const s of this.shells) this.resources.instanceChanged(s.name, s.status().state);
          return;
        }
        this.resources.addGroups(rc, ids, (instance) => this.shells.find((s) => s.name === instance)?.status().state);
      },
      prepareBalancers: (config) => this.prepareBalancers(config),
    };
  }

  /**
   * The load-balancing part of a reload: validated now (throws, nothing changed), put in force
   * by the step returned. A balancer appears with the first virtual server and goes (its table
   * removed) with the last.
   */
  private async prepareBalancers(config: CarpoolConfig): Promise<() => Promise<{ actions: string[]; failed: string[] }>> {
    const vss = config.balancers?.virtualServers ?? [];
    const running = this.balancer;
    if (vss.length === 0) {
      if (!running) return () => Promise.resolve({ actions: [], failed: [] });
      return async () => {
        this.balancer = undefined;
        await running.stop();
        return { actions: ['balancer: stopped (no virtual servers left), nftables table removed'], failed: [] };
      };
    }
    if (running) {
      const prepared = await running.prepare(config.balancers!, config.instances);
      return async () => {
        try {
          return { actions: await running.commit(prepared), failed: [] };
        } catch (err) {
          return { actions: [], failed: [`balancer: ${err instanceof CarpoolError ? err.describe() : (err as Error).message}`] };
        }
      };
    }
    const { Balancer } = await import('../balancer/shell/balancer.js');
    const b = new Balancer(config.balancers!, { log: this.log, now, hooks: this.hooks.queue('(balancer)', config.hookTimeoutMs), instances: config.instances });
    return async () => {
      try {
        await b.start();
      } catch (err) {
        await b.stop();
        return { actions: [], failed: [`balancer: ${err instanceof CarpoolError ? err.describe() : (err as Error).message}`] };
      }
      this.balancer = b;
      return { actions: [`balancer: started (${vss.length} virtual server${vss.length === 1 ? '' : 's'})`], failed: [] };
    };
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
      // After the instances stopped: the last document shows them stopped, then the lease goes.
      await Promise.race([this.cluster?.stop(), delay(5000)]);
      this.staticRouting?.remove();
      this.notifyFifo?.stop();
      this.carpGroups?.stop();
      await this.sharing?.stop();
      await this.balancer?.stop();
      this.addresses?.flush();
      this.monitor?.close();
      await this.control?.close();
      await this.http?.close();
      for (const p of [...this.ports.values(), ...[...this.plugs.values()].flatMap((x) => (x.tx ? [x.tx] : []))]) p.close();
      for (const x of this.plugs.values()) if (x.vmac) await removeVmac(x.vmac);
      for (const [sig, fn] of this.signalHandlers) process.off(sig, fn);
      this.syslog?.close();
      this.journal?.close();
    })();
    return this.stopping;
  }

  status(): DaemonStatus {
    return {
      version: VERSION, pid: process.pid, mode: this.opts.mode, config: this.config.source,
      startedAt: this.startedAt.toISOString(), uptimeSeconds: (now() - this.startedMono) / 1000,
      scheduling: this.scheduling,
      instances: this.shells.map((s) => s.status()),
      interfaces: [...this.ports.values()].map((p) => ({ name: p.family === 4 ? p.device : `${p.device} (IPv6)`, up: p.running, drops: { ...p.drops } })),
      ...(this.vrrp && this.config.syncGroups.length ? { syncGroups: this.vrrp.syncGroupStatus() } : {}),
      ...(this.carpGroups ? { carpGroups: this.carpGroups.status() } : {}),
      ...(this.sharing ? { sharing: this.sharing.status() } : {}),
      ...(this.resources ? { resources: this.resources.status() } : {}),
      ...(this.balancer ? { balancers: this.balancer.status() } : {}),
      ...(this.cluster ? { cluster: this.cluster.status() } : {}),
    };
  }

  /** Every instance's state change: its resource groups follow, the dashboards see it. */
  private transitioned(name: string, from: string, to: string, reason: string, peer: string | undefined): void {
    // The reason and the master last heard decide fencing (resources/core/fencing.ts).
    this.resources?.instanceChanged(name, to, reason, peer);
    this.sharing?.transitioned(name, to);
    this.http?.transition(name, from, to, reason);
    this.cluster?.changed();
    // One STATUS= text per burst of transitions (1,000 etcd instances start together: building
    // it for each of them was quadratic), once every shell shows its new state.
    if (this.opts.notifier && !this.statusTextPending) {
      this.statusTextPending = true;
      setImmediate(() => {
        this.statusTextPending = false;
        this.opts.notifier?.status(statusText(this.shells.map((s) => ({ name: s.name, state: s.status().state }))));
      });
    }
  }

  /** A resource group asks that its instance must (not) be served here. */
  private setStandby(instance: string, on: boolean, reason: string): void {
    if (on) this.standbyReasons.set(instance, reason);
    else this.standbyReasons.delete(instance);
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
        // The balancer's counts and counters are read when asked for (docs/balancer.md).
        return this.balancer ? this.balancer.refresh().then(() => this.status()) : this.status();
      case 'reload':
        return this.reload('carpool reload');
      case 'demote': {
        // CARP: persistent until --clear; VRRP: a planned step-down (--clear is an error).
        const s = this.findShell(req.args?.instance);
        s.demote(req.args?.clear !== true);
        return s.status();
      }
      default:
        if (req.cmd.startsWith('resource.')) return this.resourceControl(req);
        if (req.cmd.startsWith('balancer.')) return this.balancerControl(req);
        throw new CarpoolError('CONTROL_UNKNOWN', `unknown command ${req.cmd}`);
    }
  }

  /** `balancer.list` and `balancer.weight|drain|enable|disable|add|remove` (carpool balancer ...). */
  private balancerControl(req: ControlRequest): unknown {
    const b = this.balancer;
    if (!b) throw new CarpoolError('NO_BALANCER', 'this daemon runs no load balancer', 'add virtual_server blocks (keepalived.conf) or balancers: (YAML) to its configuration, then carpool reload');
    if (req.cmd === 'balancer.list') return b.refresh().then(() => b.status());
    const op = req.cmd.slice('balancer.'.length);
    const a = req.args ?? {};
    const text = (k: string): string => {
      const v = a[k];
      if (typeof v !== 'string' || v === '') throw new CarpoolError('CONTROL_BAD_REQUEST', `${req.cmd} needs "${k}"`);
      return v;
    };
    const num = (k: string): number | undefined => {
      const v = a[k];
      if (v === undefined) return undefined;
      if (typeof v !== 'number') throw new CarpoolError('CONTROL_BAD_REQUEST', `${req.cmd}: "${k}" must be a number`);
      return v;
    };
    const service = text('service');
    const server = text('server');
    switch (op) {
      // weight null: back to the configured weight.
      case 'weight': return b.command({ op, service, server, weight: a.weight === null ? undefined : num('weight') ?? NaN });
      case 'drain': case 'enable': case 'disable': case 'remove': return b.command({ op, service, server });
      case 'add': {
        const check = a.check === undefined ? undefined : a.check === 'tcp' || a.check === 'none' ? a.check : undefined;
        if (a.check !== undefined && check === undefined) throw new CarpoolError('CONTROL_BAD_REQUEST', 'balancer.add: "check" is tcp or none');
        const weight = num('weight');
        return b.command({ op, service, server, ...(weight !== undefined ? { weight } : {}), ...(check ? { check } : {}) });
      }
      default:
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

/** The journal's socket, or undefined when it is missing (then stderr with `<N>` prefixes). */
function openJournal(path: string): SyslogSocket | undefined {
  try {
    return SyslogSocket.open(process.env.CARPOOL_JOURNAL_SOCKET ?? path);
  } catch {
    return undefined;
  }
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

