/**
 * The nftables data plane as text, pure: the desired plane (services with their slot tables
 * and servers) → the objects carpool owns (`table ip carpool`, `table ip6 carpool`,
 * `table netdev carpool`; nothing else is ever named) → one `nft -f` transaction, either the
 * whole thing (start: replaces a stale table atomically) or the difference from the plane in
 * force (`diffPlane`): only the chains, maps and map elements that changed, so one server
 * changing costs the same with 1 or 1,000 services. Layout and reasons: docs/balancer.md.
 *
 * NAT (ip/ip6 tables): a `nat` prerouting chain dispatches on `daddr . l4proto . dport`
 * (vmap) or the fwmark to one chain per service, which DNATs through a map slot →
 * server address . port, the slot from `numgen inc` or `jhash` (fixed seed, so every director
 * computes the same). Conntrack pins the flow: only a connection's first packet is scheduled.
 * Every connection gets `ct mark` = carpool's tag | service id (`CT_MARK`): conntrack
 * attributes it to its service (the server is the reply source). Persistence: a timed map
 * client & mask → server, filled after the DNAT by a filter chain (the ct mark says which
 * service's map).
 *
 * DR/TUN (netdev table, ingress hook of the VIP's interface, before conntrack): the chain
 * keeps its own flow map (client address . port → server id, timed, refreshed per packet),
 * schedules new flows through the slot map, then `fwd ip to SERVER device DEV` (DR: the
 * kernel resolves the server's MAC; the IP packet is unchanged) or `fwd to DEVICE` (TUN: the
 * server's ipip device, which the shell creates).
 */
import type { Family, Method, Persistence, Protocol, ServiceMatch } from './model.js';
import type { SlotTable } from './schedulers.js';
import type { KeyField, NlOp } from './nfnl.js';
import { encodeBatch, encodeKey, keyLayout, NfnlError } from './nfnl.js';
import type { GenSet, Rule, Source } from './rules.js';
import { genSetDecl, genSetElements, genSetSpec, ruleExprs, ruleText, sourceText } from './rules.js';

/** A real server in the plane: `id` stable while it exists (flow maps hold it; ≥ 1). */
export interface PlaneServer {
  readonly id: number;
  readonly key: string;
  readonly address: string;
  readonly port?: number;
  /** TUN: the ipip device towards this server (the shell creates it). */
  readonly tunnelDevice?: string;
}

/** One virtual service as the plane holds it. `id` stable while it exists (names, ct mark; ≥ 1). */
export interface PlaneService {
  readonly id: number;
  readonly family: Family;
  readonly match: ServiceMatch;
  readonly protocol: Protocol;
  readonly method: Method;
  /** Servers present: in the slot table, or drained (weight 0: flows stay, no new ones). */
  readonly servers: readonly PlaneServer[];
  /** Slots name servers by key (schedulers.ts). */
  readonly table: SlotTable;
  readonly persistence?: Persistence;
  /** DR/TUN: where the VIP's packets come in. */
  readonly ingressDevice?: string;
  /** DR: where the servers are (default ingressDevice). */
  readonly egressDevice?: string;
  /** DR/TUN flow map idle timeout, ms (default: IPVS's 900 s TCP / 300 s UDP). */
  readonly flowTimeoutMs?: number;
  /**
   * NAT on VIP and port: a counter of new connections per server present, as element counters
   * of the set `conns_<protocol>` (key `counterElement`), which the shell reads for the status
   * (packets and bytes come from conntrack accounting, not from a per-packet rule:
   * shell/ct-accounting.ts). Not named counter objects: nft 1.0.6 fetches every named object of every table before it adds
   * a rule, which made a one-server change cost more with every service (docs/balancer.md).
   */
  readonly counters?: boolean;
  /**
   * lblc/lblcr (NAT): a timed map destination address → server, consulted before the slot
   * table and filled after the DNAT; `servers` are the keys it may hold (available and not
   * overloaded): when one of them leaves, the map is flushed.
   */
  readonly locality?: { readonly timeoutMs: number; readonly servers: readonly string[] };
  /**
   * The generation of the service's stateless objects (its chain and slot/id/server maps are
   * named `vs<id>g<generation>…`; 0 or absent: `vs<id>…`). A flat update (`flatUpdate`) adds
   * the next generation whole and repoints the dispatch element; stateful maps (flows,
   * persistence, locality) keep their names across generations.
   */
  readonly generation?: number;
}

/** The name of a service's chain, and the prefix of its stateless maps, in its generation. */
export function generationName(s: Pick<PlaneService, 'id' | 'generation'>): string {
  return s.generation ? `vs${s.id}g${s.generation}` : `vs${s.id}`;
}

/**
 * The `ct mark` carpool gives every connection it schedules through a NAT service (set in the
 * service chain, on the connection's first packet): bits 31..24 are carpool's tag 0xca, bits
 * 23..0 the service's plane id (one per entry of a group). The real server needs no bits: it is
 * the source of the connection's reply tuple. The shell attributes conntrack entries with it
 * (`conntrack -L --mark 0xca000000/0xff000000`), the `remember` map dispatches on it.
 */
export const CT_MARK = { tag: 0xca000000, mask: 0xff000000, maxId: 0xffffff } as const;

/** The ct mark of the connections of NAT service `serviceId` (`CT_MARK`), as nft writes it. */
export function ctMark(serviceId: number): string {
  if (!Number.isInteger(serviceId) || serviceId < 1 || serviceId > CT_MARK.maxId) throw new PlaneError('BAD_SERVICE', `service id ${serviceId}: expected 1..${CT_MARK.maxId} (the ct mark holds 24 bits of it)`);
  return `0x${((CT_MARK.tag | serviceId) >>> 0).toString(16)}`;
}

/** The names of the counters of one server of a service with `counters` (packets/bytes, connections): the shell's keys for them. */
export function counterNames(serviceId: number, serverId: number): { conns: string } {
  return { conns: `vs${serviceId}_rs${serverId}_conns` };
}

/**
 * Where the counter of one server of a counted NAT service is: the table family, the set of
 * new connections and the element key, VIP . port . server . port.
 */
export function counterElement(s: PlaneService, r: PlaneServer): { family: 'ip' | 'ip6'; conns: string; key: string } | undefined {
  if (s.method !== 'nat' || s.match.kind !== 'addr') return undefined;
  const vport = s.match.port;
  return {
    family: s.family === 'ipv4' ? 'ip' : 'ip6', conns: `conns_${s.protocol}`,
    key: `${s.match.vip} . ${vport} . ${r.address} . ${r.port ?? vport}`,
  };
}

export interface Plane {
  readonly services: readonly PlaneService[];
}

export class PlaneError extends Error {
  override readonly name = 'PlaneError';
  constructor(readonly code: 'BAD_SERVICE' | 'MIXED_PORTS' | 'NO_DEVICE' | 'DUPLICATE' | 'UNKNOWN_SERVER' | 'BAD_NAME', message: string, readonly hint?: string) {
    super(message);
  }
}

/** jhash seed: fixed, so every director maps a flow to the same slot (nft picks a random one if unset). */
export const HASH_SEED = 0x63617270; // "carp"
export const TABLE = 'carpool';
/** Flow maps of DR/TUN hold at most this many flows per service. */
export const FLOW_MAP_SIZE = 1_048_576;

// ---------------------------------------------------------------- object model of the ruleset

type TableFamily = 'ip' | 'ip6' | 'netdev';

interface NftMap {
  readonly kind: 'map' | 'set';
  /** Everything between the braces except the elements (`typeof ...; flags ...;`). */
  readonly decl: string;
  /** Element key text → value text ('' in a set). */
  readonly elements: ReadonlyMap<string, string>;
  /**
   * A dynamic map whose entries name servers (NAT persistence: client → address . port):
   * the servers present. When one of them leaves, the diff flushes the map, so no client
   * stays stuck to a server that is gone (IPVS expires such templates too).
   */
  readonly servers?: readonly string[];
  /** A generation's map or set: the structure `decl` was rendered from (rules.ts), which a flat update sends by netlink. */
  readonly gen?: GenSet;
}
interface NftChain {
  /** Base chain line (`type nat hook prerouting priority dstnat; policy accept;`) or ''. */
  readonly hook: string;
  readonly rules: readonly string[];
  /** The structured rules `rules` were rendered from (rules.ts), when the chain is built from them. */
  readonly ir?: readonly Rule[];
}
interface NftTable {
  /** Named counter objects. */
  readonly counters: ReadonlySet<string>;
  readonly maps: ReadonlyMap<string, NftMap>;
  readonly chains: ReadonlyMap<string, NftChain>;
}
/** carpool's tables, by family. Built by `planObjects`, printed by `renderPlane` and `diffPlane`. */
export type NftObjects = ReadonlyMap<TableFamily, NftTable>;

const seconds = (ms: number): string => `${Math.max(1, Math.ceil(ms / 1000))}s`;
const NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function quoteDevice(dev: string | undefined, what: string): string {
  if (dev === undefined) throw new PlaneError('NO_DEVICE', `${what}: no device`, 'set the interface the VIP arrives on (DR/TUN need it)');
  if (!NAME.test(dev)) throw new PlaneError('BAD_NAME', `${what}: "${dev}" is not an interface name`);
  return `"${dev}"`;
}

/** `ip saddr & 255.255.255.0` for a prefix length, `ip saddr` for a full one. */
function maskedSource(family: Family, prefix: number): Source {
  const bits = family === 'ipv4' ? 32 : 128;
  const src = family === 'ipv4' ? 'ip saddr' : 'ip6 saddr';
  if (prefix >= bits) return { k: 'field', field: src };
  if (prefix < 0 || !Number.isInteger(prefix)) throw new PlaneError('BAD_SERVICE', `persistence granularity /${prefix}: expected 0..${bits}`);
  if (family === 'ipv4') {
    const m = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const mask = [24, 16, 8, 0].map((s) => (m >>> s) & 255);
    return { k: 'masked', field: src, maskText: mask.join('.'), mask };
  }
  const groups: number[] = [];
  for (let g = 0; g < 8; g++) {
    const have = Math.max(0, Math.min(16, prefix - g * 16));
    groups.push(have === 0 ? 0 : (0xffff << (16 - have)) & 0xffff);
  }
  return { k: 'masked', field: src, maskText: groups.map((g) => g.toString(16)).join(':'), mask: groups.flatMap((g) => [g >> 8, g & 255]) };
}

/** Runs of equal values → interval elements `a-b : v` (single slots as `a : v`); holes left out. */
function slotElements(slots: readonly (string | undefined)[], value: (key: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  let start = 0;
  for (let i = 1; i <= slots.length; i++) {
    if (i < slots.length && slots[i] === slots[start]) continue;
    const k = slots[start];
    if (k !== undefined) out.set(i - 1 === start ? `${start}` : `${start}-${i - 1}`, value(k));
    start = i;
  }
  return out;
}

function slotSource(s: PlaneService): Source {
  const n = s.table.slots.length;
  if (s.table.mode === 'numgen') return { k: 'numgen', mod: n };
  const ip = s.family === 'ipv4' ? 'ip' : 'ip6';
  const fields = s.table.key === 'daddr' ? [`${ip} daddr` as const] : s.table.key === 'saddr+port' ? [`${ip} saddr` as const, 'th sport' as const] : [`${ip} saddr` as const];
  return { k: 'jhash', fields, mod: n, seed: HASH_SEED };
}

function serverByKey(s: PlaneService): Map<string, PlaneServer> {
  const m = new Map<string, PlaneServer>();
  for (const r of s.servers) {
    if (!Number.isInteger(r.id) || r.id < 1) throw new PlaneError('BAD_SERVICE', `service ${s.id}: server ${r.key} has id ${r.id}: expected an integer ≥ 1`);
    if (m.has(r.key)) throw new PlaneError('DUPLICATE', `service ${s.id}: real server ${r.key} twice`);
    m.set(r.key, r);
  }
  for (const k of s.table.slots) if (k !== undefined && !m.has(k)) throw new PlaneError('UNKNOWN_SERVER', `service ${s.id}: slot table names ${k}, not a server of the service`);
  return m;
}

/** What the NAT services add to the shared objects of their table (dispatch maps, counter maps by key|protocol). */
interface NatDispatch {
  readonly services: Map<string, string>;
  readonly fwmarks: Map<string, string>;
  readonly remember: Map<string, string>;
  readonly conns: Map<string, string>;
}

/** The objects of one NAT service in its ip/ip6 table. */
function natService(s: PlaneService, maps: Map<string, NftMap>, chains: Map<string, NftChain>, dispatch: NatDispatch): void {
  const ip = s.family === 'ipv4' ? 'ip' : 'ip6';
  const byKey = serverByKey(s);
  const withPort = s.servers.filter((r) => r.port !== undefined).length;
  if (withPort !== 0 && withPort !== s.servers.length) throw new PlaneError('MIXED_PORTS', `service ${s.id}: some real servers have a port and some do not`, 'give every real server a port, or none (port unchanged)');
  const ports = s.servers.length > 0 && withPort === s.servers.length;
  const target = (r: PlaneServer) => (ports ? `${r.address} . ${r.port}` : r.address);
  const slotMap: GenSet = { k: 'slots', family: ip, ...(ports ? { portProtocol: s.protocol } : {}) };
  // Stateful maps and the remember chain keep `vs<id>`; the chain and the slot map carry the generation.
  const name = `vs${s.id}`;
  const gen = generationName(s);
  // A fwmark service whose servers keep the client's port forwards every protocol with the mark
  // (as IPVS); rewriting a port needs a transport protocol match first.
  const l4: Rule = s.match.kind === 'fwmark' && !ports ? [] : [{ k: 'l4proto', protocol: s.protocol }];
  ctMark(s.id);
  // Every connection carries its service (CT_MARK): conntrack counts, persistence and lblc bookkeeping.
  const rules: Rule[] = [[{ k: 'ctMarkSet', value: (CT_MARK.tag | s.id) >>> 0 }]];
  const n = s.table.slots.length;
  if (s.persistence) {
    const from = maskedSource(s.family, s.persistence.prefixLength);
    const src = sourceText(from);
    // nft 1.0.6 aborts on an `ip6 daddr . port` concatenation as the data of a dynamic update:
    // for IPv6 the persistence map holds the address and the one port of the service is a constant.
    const onePort = s.family === 'ipv6' && ports;
    const portSet = new Set(s.servers.map((r) => r.port));
    if (onePort && portSet.size > 1) throw new PlaneError('MIXED_PORTS', `service ${s.id}: IPv6 NAT with persistence needs one port for all real servers (nft cannot remember address and port together)`, 'give the real servers the same port');
    const persistData = ports && !onePort ? `${ip} daddr . ${s.protocol} dport` : `${ip} daddr`;
    const viaPersist: Rule = [{ k: 'dnat', family: ip, ports: ports && !onePort, from, map: `${name}_persist`, ...(onePort ? { constPort: [...portSet][0]! } : {}) }];
    maps.set(`${name}_persist`, {
      kind: 'map', decl: `typeof ${ip} saddr : ${persistData}; size ${FLOW_MAP_SIZE}; flags dynamic, timeout; timeout ${seconds(s.persistence.timeoutMs)};`,
      elements: new Map(), servers: s.servers.map((r) => r.key),
    });
    rules.push([...l4, ...viaPersist]);
    chains.set(`${name}_remember`, { hook: '', rules: [`update @${name}_persist { ${src} timeout ${seconds(s.persistence.timeoutMs)} : ${persistData} }`] });
    dispatch.remember.set(ctMark(s.id), `jump ${name}_remember`);
  }
  if (s.locality) {
    // The original destination (the address a client asked for: the VIP, or any address with
    // a fwmark) → its server, as ip_vs_lblc's table; a miss falls through to the slot table.
    const persistData = `${ip} daddr`;
    if (s.family === 'ipv6' && ports && new Set(s.servers.map((r) => r.port)).size > 1) throw new PlaneError('MIXED_PORTS', `service ${s.id}: IPv6 NAT with lblc/lblcr needs one port for all real servers`, 'give the real servers the same port');
    const data = ports && s.family === 'ipv4' ? `${ip} daddr . ${s.protocol} dport` : persistData;
    const constPort = ports && s.family === 'ipv6' ? s.servers[0]!.port : undefined;
    maps.set(`${name}_locality`, {
      kind: 'map', decl: `typeof ${ip} saddr : ${data}; size ${FLOW_MAP_SIZE}; flags dynamic, timeout; timeout ${seconds(s.locality.timeoutMs)};`,
      elements: new Map(), servers: s.locality.servers,
    });
    rules.push([...l4, { k: 'dnat', family: ip, ports: ports && constPort === undefined, from: { k: 'field', field: `${ip} daddr` }, map: `${name}_locality`, ...(constPort !== undefined ? { constPort } : {}) }]);
    const remember = chains.get(`${name}_remember`);
    const update = `update @${name}_locality { ct original ${ip} daddr timeout ${seconds(s.locality.timeoutMs)} : ${data} }`;
    chains.set(`${name}_remember`, { hook: '', rules: [...(remember?.rules ?? []), update] });
    dispatch.remember.set(ctMark(s.id), `jump ${name}_remember`);
  }
  maps.set(`${gen}_slots`, {
    kind: 'map', decl: genSetDecl(slotMap), gen: slotMap,
    elements: slotElements(s.table.slots, (k) => target(byKey.get(k)!)),
  });
  if (n > 0) rules.push([...l4, { k: 'dnat', family: ip, ports, from: slotSource(s), map: `${gen}_slots` }]);
  rules.push([{ k: 'drop' }]);
  chains.set(gen, { hook: '', rules: rules.map(ruleText), ir: rules });
  if (s.match.kind === 'addr') dispatch.services.set(`${s.match.vip} . ${s.protocol} . ${s.match.port}`, `jump ${gen}`);
  else dispatch.fwmarks.set(`${s.match.mark}`, `jump ${gen}`);
  if (s.counters && s.match.kind === 'addr') {
    // Counted once per connection (chain `first`), keyed on the connection's tuples: VIP . port
    // (original destination) . server . port (reply source).
    for (const r of s.servers) {
      const key = counterElement(s, r)!.key;
      dispatch.conns.set(`${key}|${s.protocol}`, '');
    }
  }
}

/** The objects of one DR/TUN service in the netdev table. */
function directService(s: PlaneService, maps: Map<string, NftMap>, chains: Map<string, NftChain>, ingress: Map<string, IngressDispatch>): void {
  const ip = s.family === 'ipv4' ? 'ip' : 'ip6';
  const byKey = serverByKey(s);
  // Flow and persistence maps keep `vs<id>`; the chain and the slot/id/server maps carry the generation.
  const name = `vs${s.id}`;
  const gen = generationName(s);
  quoteDevice(s.ingressDevice, `service ${s.id}`);
  const vport = s.match.kind === 'addr' ? s.match.port : undefined;
  for (const r of s.servers) {
    if (s.match.kind === 'fwmark' && r.port !== undefined) throw new PlaneError('BAD_SERVICE', `service ${s.id}: real server ${r.key} has a port, but a ${s.method.toUpperCase()} fwmark service forwards the packets unchanged`, 'drop the port');
    if (r.port !== undefined && r.port !== vport) throw new PlaneError('BAD_SERVICE', `service ${s.id}: real server ${r.key} has port ${r.port}, but ${s.method.toUpperCase()} cannot change the port (${vport})`, 'drop the port or use NAT');
  }
  const flowTimeout = s.flowTimeoutMs ?? (s.protocol === 'udp' ? 300_000 : 900_000);
  // Port first: nft 1.0.6 aborts (netlink_linearize.c assertion) on `ip6 saddr . th sport` in a dynamic update.
  const flowKey: Source = { k: 'concat', fields: ['th sport', `${ip} saddr`] };
  const flowKeyText = sourceText(flowKey);
  maps.set(`${name}_flows`, { kind: 'map', decl: `typeof ${flowKeyText} : meta mark; size ${FLOW_MAP_SIZE}; flags dynamic, timeout; timeout ${seconds(flowTimeout)};`, elements: new Map() });
  const slotsSet: GenSet = { k: 'markSlots' };
  maps.set(`${gen}_slots`, { kind: 'map', decl: genSetDecl(slotsSet), gen: slotsSet, elements: slotElements(s.table.slots, (k) => `${byKey.get(k)!.id}`) });
  // Ids of the servers present (drained ones too): a flow or persistent client whose server
  // has gone is scheduled again instead of being dropped.
  const idSet: GenSet = { k: 'marks' };
  maps.set(`${gen}_ids`, { kind: 'set', decl: genSetDecl(idSet), gen: idSet, elements: new Map(s.servers.map((r) => [`${r.id}`, ''])) });
  const gone: Rule = [{ k: 'markCmp', neq: true, value: 0 }, { k: 'markNotIn', set: `${gen}_ids` }, { k: 'markSet', value: 0 }];
  const rules: Rule[] = [[{ k: 'markSet', value: 0 }], [{ k: 'markSetMap', from: flowKey, map: `${name}_flows` }], gone];
  let src: Source | undefined;
  if (s.persistence) {
    src = maskedSource(s.family, s.persistence.prefixLength);
    maps.set(`${name}_persist`, { kind: 'map', decl: `typeof ${ip} saddr : meta mark; size ${FLOW_MAP_SIZE}; flags dynamic, timeout; timeout ${seconds(s.persistence.timeoutMs)};`, elements: new Map() });
    rules.push([{ k: 'markCmp', neq: false, value: 0 }, { k: 'markSetMap', from: src, map: `${name}_persist` }], gone);
  }
  if (s.table.slots.length > 0) rules.push([{ k: 'markCmp', neq: false, value: 0 }, { k: 'markSetMap', from: slotSource(s), map: `${gen}_slots` }]);
  rules.push([{ k: 'markCmp', neq: true, value: 0 }, { k: 'update', set: `${name}_flows`, key: flowKey }]);
  if (src) rules.push([{ k: 'markCmp', neq: true, value: 0 }, { k: 'update', set: `${name}_persist`, key: src }]);
  if (s.method === 'dr') {
    const device = s.egressDevice ?? s.ingressDevice;
    quoteDevice(device, `service ${s.id}`);
    const to: GenSet = { k: 'markTo', to: ip };
    maps.set(`${gen}_servers`, { kind: 'map', decl: genSetDecl(to), gen: to, elements: new Map(s.servers.map((r) => [`${r.id}`, r.address])) });
    rules.push([{ k: 'fwdAddr', family: ip, map: `${gen}_servers`, device: device! }]);
  } else {
    const to: GenSet = { k: 'markTo', to: 'oif' };
    maps.set(`${gen}_servers`, { kind: 'map', decl: genSetDecl(to), gen: to, elements: new Map(s.servers.map((r) => [`${r.id}`, quoteDevice(r.tunnelDevice, `service ${s.id}, real server ${r.key} (TUN)`)])) });
    rules.push([{ k: 'fwdDev', map: `${gen}_servers` }]);
  }
  rules.push([{ k: 'drop' }]);
  chains.set(gen, { hook: '', rules: rules.map(ruleText), ir: rules });
  const dev = s.ingressDevice!;
  let disp = ingress.get(dev);
  if (!disp) ingress.set(dev, (disp = { v4: new Map(), v6: new Map(), m4: new Map(), m6: new Map() }));
  if (s.match.kind === 'addr') (s.family === 'ipv4' ? disp.v4 : disp.v6).set(`${s.match.vip} . ${s.protocol} . ${s.match.port}`, `jump ${gen}`);
  else (s.family === 'ipv4' ? disp.m4 : disp.m6).set(`${s.match.mark}`, `jump ${gen}`);
}

/**
 * One ingress device's dispatch: VIP . protocol . port per family, and fwmarks per family.
 * A fwmark must be set before carpool's chain sees the packet: by a netdev ingress chain of
 * the host's own on the same device with a priority below 0 (the IP stack's marks come later).
 */
interface IngressDispatch {
  readonly v4: Map<string, string>;
  readonly v6: Map<string, string>;
  readonly m4: Map<string, string>;
  readonly m6: Map<string, string>;
}

/** The desired plane as nftables objects. Throws PlaneError for a service the plane cannot hold. */
export function planObjects(plane: Plane): NftObjects {
  const ids = new Set<number>();
  const out = new Map<TableFamily, NftTable>();
  const nat = (fam: 'ip' | 'ip6') => {
    const maps = new Map<string, NftMap>();
    const chains = new Map<string, NftChain>();
    const counters = new Set<string>();
    const dispatch: NatDispatch = { services: new Map(), fwmarks: new Map(), remember: new Map(), conns: new Map() };
    const family: Family = fam === 'ip' ? 'ipv4' : 'ipv6';
    const svcs = plane.services.filter((s) => s.method === 'nat' && s.family === family);
    if (svcs.length === 0) return;
    for (const s of svcs) natService(s, maps, chains, dispatch);
    // The nat chain sees only a connection's first packet (conntrack does the rest); an empty
    // dispatch map costs a lookup per new connection, so it is left out.
    const pre: string[] = [];
    maps.set('services', { kind: 'map', decl: `typeof ${fam} daddr . meta l4proto . th dport : verdict;`, elements: dispatch.services });
    if (dispatch.services.size > 0) pre.push(`${fam} daddr . meta l4proto . th dport vmap @services`);
    if (dispatch.fwmarks.size > 0) {
      maps.set('fwmarks', { kind: 'map', decl: 'typeof meta mark : verdict;', elements: dispatch.fwmarks });
      pre.push('meta mark vmap @fwmarks');
    }
    chains.set('prerouting', { hook: 'type nat hook prerouting priority dstnat; policy accept;', rules: pre });
    // No chain sees every packet: per-server packets and bytes come from conntrack accounting.
    // What a connection needs once (its count, persistence/lblc bookkeeping) goes in a nat chain
    // at postrouting: the NAT core consults it only for a connection's first packet (its source
    // manip not yet set up; a retransmitted SYN finds it set), after the DNAT, with the reply
    // tuple already naming the server. Priority srcnat - 1: before any SNAT chain at srcnat,
    // whose SNAT still happens (a nat chain that accepts without a mapping ends nothing).
    const first: string[] = [];
    const addr = fam === 'ip' ? 'ipv4_addr' : 'ipv6_addr';
    const protocols = [...new Set([...dispatch.conns.keys()].map((k) => k.split('|')[1]!))].sort();
    const byProtocol = (m: Map<string, string>, p: string) => new Map([...m].filter(([k]) => k.endsWith(`|${p}`)).map(([k, v]) => [k.slice(0, k.lastIndexOf('|')), v]));
    // nft concatenates `ct original proto-dst` only with a protocol in context: one map and rule per protocol.
    const tuple = `ct original ${fam} daddr . ct original proto-dst . ct reply ${fam} saddr . ct reply proto-src`;
    for (const p of protocols) {
      // A lookup that matches counts the connection in the element's counter.
      maps.set(`conns_${p}`, { kind: 'set', decl: `type ${addr} . inet_service . ${addr} . inet_service; counter;`, elements: byProtocol(dispatch.conns, p) });
      first.push(`meta l4proto ${p} ct status dnat ${tuple} @conns_${p}`);
    }
    if (dispatch.remember.size > 0) {
      maps.set('remember', { kind: 'map', decl: 'typeof ct mark : verdict;', elements: dispatch.remember });
      first.push('ct status dnat ct mark vmap @remember');
    }
    if (first.length > 0) chains.set('first', { hook: 'type nat hook postrouting priority srcnat - 1; policy accept;', rules: first });
    out.set(fam, { counters, maps, chains });
  };
  const matches = new Map<string, number>();
  for (const s of plane.services) {
    if (!Number.isInteger(s.id) || s.id < 1) throw new PlaneError('BAD_SERVICE', `service id ${s.id}: expected an integer ≥ 1`);
    if (ids.has(s.id)) throw new PlaneError('DUPLICATE', `service id ${s.id} twice`);
    ids.add(s.id);
    // One service per VIP . protocol . port (or fwmark), whatever the method: a DR service
    // would take the packets of a NAT one on ingress before NAT ever saw them.
    const m = s.match.kind === 'addr' ? `${s.family} ${s.match.vip} ${s.protocol} ${s.match.port}` : `fwmark ${s.family} ${s.match.mark}`;
    const other = matches.get(m);
    if (other !== undefined) throw new PlaneError('DUPLICATE', `services ${other} and ${s.id} both match ${m}`, 'give each virtual_server its own address, protocol and port');
    matches.set(m, s.id);
  }
  nat('ip');
  nat('ip6');
  const direct = plane.services.filter((s) => s.method !== 'nat');
  if (direct.length > 0) {
    const maps = new Map<string, NftMap>();
    const chains = new Map<string, NftChain>();
    const ingress = new Map<string, IngressDispatch>();
    for (const s of direct) directService(s, maps, chains, ingress);
    for (const [dev, d] of ingress) {
      const tag = dev.replace(/[^A-Za-z0-9_]/g, '_');
      maps.set(`in_${tag}_v4`, { kind: 'map', decl: 'typeof ip daddr . meta l4proto . th dport : verdict;', elements: d.v4 });
      maps.set(`in_${tag}_v6`, { kind: 'map', decl: 'typeof ip6 daddr . meta l4proto . th dport : verdict;', elements: d.v6 });
      chains.set(`in_${tag}`, {
        hook: `type filter hook ingress device ${quoteDevice(dev, 'ingress')} priority 0; policy accept;`,
        // Only frames addressed to this host: a switch floods unknown unicast (a director's MAC
        // after its link went down, a real server's before it is learnt) to every port, and
        // the other director must not forward such a copy too (IPVS sees only what the IP
        // stack accepts).
        rules: [`meta pkttype host ip daddr . meta l4proto . th dport vmap @in_${tag}_v4`, `meta pkttype host ip6 daddr . meta l4proto . th dport vmap @in_${tag}_v6`,
          ...(d.m4.size > 0 ? [`meta pkttype host meta protocol ip meta mark vmap @in_${tag}_m4`] : []),
          ...(d.m6.size > 0 ? [`meta pkttype host meta protocol ip6 meta mark vmap @in_${tag}_m6`] : [])],
      });
      if (d.m4.size > 0) maps.set(`in_${tag}_m4`, { kind: 'map', decl: 'typeof meta mark : verdict;', elements: d.m4 });
      if (d.m6.size > 0) maps.set(`in_${tag}_m6`, { kind: 'map', decl: 'typeof meta mark : verdict;', elements: d.m6 });
    }
    out.set('netdev', { counters: new Set(), maps, chains });
  }
  return out;
}

// ---------------------------------------------------------------- printing

const elementsText = (els: ReadonlyMap<string, string>): string => [...els].map(([k, v]) => (v === '' ? k : `${k} : ${v}`)).join(', ');

function tableBody(t: NftTable): string[] {
  const lines: string[] = [];
  for (const name of t.counters) lines.push(`  counter ${name} { }`);
  for (const [name, m] of t.maps) {
    lines.push(`  ${m.kind} ${name} { ${m.decl}${m.elements.size ? ` elements = { ${elementsText(m.elements)} }` : ''} }`);
  }
  for (const [name, c] of t.chains) {
    lines.push(`  chain ${name} {`);
    if (c.hook) lines.push(`    ${c.hook}`);
    for (const r of c.rules) lines.push(`    ${r}`);
    lines.push('  }');
  }
  return lines;
}

/**
 * The whole plane as one transaction: each carpool table is created if missing, deleted and
 * defined again (start-up, or recovery from a failed diff: a stale table goes atomically).
 * Families without services lose their carpool table. `inForce` lists the families that may
 * hold a table now (default all three); deleting a table that is not there fails the batch.
 */
export function renderPlane(plane: Plane, inForce: readonly TableFamily[] = ['ip', 'ip6', 'netdev']): string {
  const objs = planObjects(plane);
  const lines: string[] = [];
  for (const fam of ['ip', 'ip6', 'netdev'] as const) {
    const t = objs.get(fam);
    if (inForce.includes(fam) || t) {
      lines.push(`add table ${fam} ${TABLE}`, `delete table ${fam} ${TABLE}`);
    }
    if (t) lines.push(`table ${fam} ${TABLE} {`, ...tableBody(t), '}');
  }
  return lines.join('\n') + '\n';
}

/** Size of a transaction: commands (lines) and map elements it adds or deletes. */
export interface TransactionSize {
  readonly commands: number;
  readonly elements: number;
  readonly bytes: number;
}

/**
 * The smallest transaction from the plane in force to the desired one: tables appear or go
 * whole; within a table, chains whose rules changed are flushed and refilled, maps whose
 * declaration changed are replaced, and otherwise only the changed elements are deleted and
 * added; a NAT persistence map is flushed when one of its servers leaves. Empty text when
 * nothing changed. Order inside the batch: flush changed chains,
 * delete elements (also the dispatch elements jumping to chains that go), delete chains,
 * delete maps, add maps, add chains, add elements, add rules.
 */
export function diffPlane(current: Plane, desired: Plane): { text: string; size: TransactionSize } {
  const a = planObjects(current);
  const b = planObjects(desired);
  const phases: string[][] = [[], [], [], [], [], [], [], []];
  const [flush, delEl, delChain, delMap, addMap, addChain, addEl, addRule] = phases as [string[], string[], string[], string[], string[], string[], string[], string[]];
  let elements = 0;
  for (const fam of ['ip', 'ip6', 'netdev'] as const) {
    const ta = a.get(fam);
    const tb = b.get(fam);
    const T = `${fam} ${TABLE}`;
    if (!ta && !tb) continue;
    if (ta && !tb) {
      delMap.push(`delete table ${T}`);
      continue;
    }
    if (!ta && tb) {
      addMap.push(`table ${T} {`, ...tableBody(tb), '}');
      for (const m of tb.maps.values()) elements += m.elements.size;
      continue;
    }
    const A = ta!;
    const B = tb!;
    const replacedMaps = new Set<string>();
    for (const [name, m] of A.maps) {
      const n = B.maps.get(name);
      if (!n || n.decl !== m.decl || n.kind !== m.kind) {
        replacedMaps.add(name);
        // Its jumps hold chains that may go in this batch: emptied before the chains are deleted.
        if (m.decl.includes(': verdict') && m.elements.size > 0) delEl.push(`flush map ${T} ${name}`);
        delMap.push(`delete ${m.kind} ${T} ${name}`);
      }
    }
    // Counters: added before the maps that name them, deleted after the elements and maps that did.
    for (const name of B.counters) if (!A.counters.has(name)) addMap.push(`add counter ${T} ${name}`);
    for (const [name, m] of B.maps) {
      const o = A.maps.get(name);
      if (!o || replacedMaps.has(name)) {
        // A verdict map's elements jump to chains that may be added in this batch: they go in after the chains.
        const later = m.decl.includes(': verdict') && m.elements.size > 0;
        addMap.push(`add ${m.kind} ${T} ${name} { ${m.decl}${m.elements.size && !later ? ` elements = { ${elementsText(m.elements)} }` : ''} }`);
        if (later) addEl.push(`add element ${T} ${name} { ${elementsText(m.elements)} }`);
        elements += m.elements.size;
        continue;
      }
      const gone: string[] = [];
      const added: string[] = [];
      for (const [k, v] of o.elements) if (m.elements.get(k) !== v) gone.push(k);
      for (const [k, v] of m.elements) if (o.elements.get(k) !== v) added.push(v === '' ? k : `${k} : ${v}`);
      if (gone.length) delEl.push(`delete element ${T} ${name} { ${gone.join(', ')} }`);
      if (added.length) addEl.push(`add element ${T} ${name} { ${added.join(', ')} }`);
      elements += gone.length + added.length;
      if (o.servers && m.servers && o.servers.some((k) => !m.servers!.includes(k))) addEl.push(`flush map ${T} ${name}`);
    }
    for (const name of A.counters) if (!B.counters.has(name)) delMap.push(`delete counter ${T} ${name}`);
    const mentions = (c: NftChain, map: string) => c.rules.some((r) => r.includes(`@${map} `) || r.endsWith(`@${map}`));
    for (const [name, c] of A.chains) {
      const n = B.chains.get(name);
      const refsReplaced = [...replacedMaps].some((m) => mentions(c, m));
      if (!n || n.hook !== c.hook) {
        flush.push(`flush chain ${T} ${name}`);
        delChain.push(`delete chain ${T} ${name}`);
      } else if (refsReplaced || n.rules.join('\n') !== c.rules.join('\n')) {
        flush.push(`flush chain ${T} ${name}`);
        addRule.push(...n.rules.map((r) => `add rule ${T} ${name} ${r}`));
      }
    }
    for (const [name, c] of B.chains) {
      const o = A.chains.get(name);
      if (o && o.hook === c.hook) continue;
      addChain.push(c.hook ? `add chain ${T} ${name} { ${c.hook} }` : `add chain ${T} ${name}`);
      addRule.push(...c.rules.map((r) => `add rule ${T} ${name} ${r}`));
    }
  }
  const lines = phases.flat();
  const text = lines.length ? lines.join('\n') + '\n' : '';
  return { text, size: { commands: lines.length, elements, bytes: text.length } };
}

/**
 * What a service's shared objects depend on: everything but its servers and slot table. Two
 * versions of a service with the same shape differ only in objects named after the service
 * (`vs<id>*` chains, maps, counters); the dispatch maps, base chains and tables stay as they are.
 */
export function serviceShape(s: PlaneService): string {
  const { servers: _servers, table: _table, generation: _generation, ...shape } = s;
  return JSON.stringify(shape);
}

/**
 * `diffPlane(current, desired)` at the cost of the services that changed: the same text, when
 * both planes list the same service ids in the same order and every service that changed kept
 * its shape (`serviceShape`: only servers or slot table differ) — then only those services are
 * planned and compared. A service given as the same object in both planes is unchanged (the
 * shell reuses the objects of services it did not re-plan). Anything else (a service added,
 * removed, moved or reshaped) falls back to the whole `diffPlane`. `fast` says which path ran.
 */
export function diffChanged(current: Plane, desired: Plane): { text: string; size: TransactionSize; fast: boolean } {
  const a = current.services;
  const b = desired.services;
  if (a.length !== b.length) return { ...diffPlane(current, desired), fast: false };
  const from: PlaneService[] = [];
  const to: PlaneService[] = [];
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (x.id !== y.id || serviceShape(x) !== serviceShape(y)) return { ...diffPlane(current, desired), fast: false };
    from.push(x);
    to.push(y);
  }
  const d = diffPlane({ services: from }, { services: to });
  // Shared objects (base chains, dispatch and counter maps) may depend on the other services
  // too: the fast text may only touch them element by element; anything else on them → whole diff.
  const own = /^(?:add|delete|flush) (?:chain|map|set|counter|rule) (?:ip|ip6|netdev) carpool vs\d+(?:g\d+)?(?:_|\s|$)/;
  const elements = /^(?:add|delete) element (?:ip|ip6|netdev) carpool \S+ \{/;
  if (d.text.split('\n').some((l) => l !== '' && !own.test(l) && !elements.test(l))) return { ...diffPlane(current, desired), fast: false };
  return { ...d, fast: true };
}

/** The plane with each service at its generation (`generations`: service id → generation; missing = 0). */
export function withGenerations(plane: Plane, generations: ReadonlyMap<number, number>): Plane {
  if (generations.size === 0) return plane;
  return { services: plane.services.map((s) => (generations.get(s.id) ? { ...s, generation: generations.get(s.id)! } : s)) };
}

/** At most this many netlink operations in a flat update (the kernel's answers must fit the socket buffer). */
export const MAX_FLAT_OPS = 1000;
/**
 * At most this many bytes of new generations by netlink in one flat update (the batch must fit
 * the socket's default send buffer, 208 KiB); the generations past it go by `nft -f`.
 */
export const MAX_FLAT_GEN_BYTES = 128 * 1024;

/** What a generation renames: the service chain and its slot, id and server maps. */
const GENERATION_SUFFIXES = ['', '_slots', '_ids', '_servers'];

/** A one-server-sized update that needs neither nft's cache nor a change to an existing chain or map declaration. */
export interface FlatUpdate {
  /**
   * `nft -f` text: the new generations that do not go by netlink (DR/TUN without interface
   * indexes, past MAX_FLAT_GEN_BYTES; docs/balancer.md), added whole (nft fetches no elements
   * or rules for them). Empty when every new generation goes in the netlink batch.
   */
  readonly nft: string;
  /**
   * One netlink batch: the new generations' maps with their elements, chains and rules, then
   * dispatch elements repointed, shared elements changed, old generation deleted.
   */
  readonly ops: readonly NlOp[];
  /** Services whose new generation is in `ops` (the others' is in `nft`). */
  readonly netlinkGenerations: number;
  /** The same operations in nft syntax (status, logs, tests). */
  readonly text: string;
  /** The generations after the update. */
  readonly generations: ReadonlyMap<number, number>;
}

/**
 * From the plane in force (`current` at `generations`) to `desired` without any nft command
 * that makes nft 1.0.6 fetch its cache of elements, rules or objects — so it costs the same
 * with 10 and with 1,000 services: each service that changed (same id, place and shape as in
 * `current`; a service given as the same object is unchanged) gets its next generation of
 * chain and stateless maps, added whole at the head of one atomic netlink batch (`ops`; or by
 * `nft -f` first, `nft`, for what cannot go by netlink: DR/TUN without `ifindex`, the interface
 * index of a device), and the same batch repoints its dispatch element to the new chain, changes the elements of shared
 * sets (counters), flushes stateful maps whose servers left, and deletes the old generation.
 * Established connections keep their server: NAT ones by conntrack (only a first packet
 * reaches the chains), DR/TUN ones by the flow map, which keeps its name across generations.
 * Undefined when the change is not of that kind (a service added, removed or reshaped, a
 * shared chain or declaration changed): the caller uses `diffChanged` then.
 */
export function flatUpdate(current: Plane, desired: Plane, generations: ReadonlyMap<number, number>, ifindex?: (device: string) => number | undefined): FlatUpdate | undefined {
  const a = current.services;
  const b = desired.services;
  if (a.length !== b.length) return undefined;
  const adds: string[] = [];
  const addRules: string[] = [];
  const genOps: NlOp[] = [];
  const genText: string[] = [];
  let genBytes = 0;
  let setId = 0;
  let netlinkGenerations = 0;
  const delEls: NlOp[] = [];
  const addEls: NlOp[] = [];
  const flushes: NlOp[] = [];
  const dels: NlOp[] = [];
  const text: string[][] = [[], [], [], []];
  const next = new Map(generations);
  for (let i = 0; i < b.length; i++) {
    // The same object, or one planned again to the same content (the shell re-plans every
    // service after some events): nothing to do.
    if (a[i] === b[i] || JSON.stringify(a[i]) === JSON.stringify(b[i])) continue;
    const g = generations.get(a[i]!.id) ?? 0;
    const x: PlaneService = { ...a[i]!, generation: g };
    const y: PlaneService = { ...b[i]!, generation: g + 1 };
    if (x.id !== y.id || serviceShape(x) !== serviceShape(y)) return undefined;
    next.set(y.id, g + 1);
    let A: NftObjects;
    let B: NftObjects;
    try {
      A = planObjects({ services: [x] });
      B = planObjects({ services: [y] });
    } catch {
      return undefined;
    }
    const oldGen = generationName(x);
    const newGen = generationName(y);
    // The stateless objects of a generation; `vs<id>_flows`, `_persist`, `_locality`, `_remember` are not.
    const ofGen = (name: string, gen: string) => GENERATION_SUFFIXES.some((x) => name === `${gen}${x}`);
    for (const fam of ['ip', 'ip6', 'netdev'] as const) {
      const ta = A.get(fam);
      const tb = B.get(fam);
      if (!ta && !tb) continue;
      if (!ta || !tb || ta.counters.size || tb.counters.size) return undefined;
      const T = `${fam} ${TABLE}`;
      const genMaps = [...tb.maps].filter(([name]) => ofGen(name, newGen));
      const genChains = [...tb.chains].filter(([name]) => ofGen(name, newGen));
      if (genMaps.some(([, m]) => m.decl.includes(': verdict')) || genChains.some(([, c]) => c.hook)) return undefined;
      const nl = generationOps(fam, genMaps, genChains, setId, ifindex);
      if (nl && genBytes + nl.bytes <= MAX_FLAT_GEN_BYTES) {
        genOps.push(...nl.ops);
        genBytes += nl.bytes;
        setId = nl.lastSetId;
        netlinkGenerations++;
        for (const [name, m] of genMaps) genText.push(`add ${m.kind} ${T} ${name} { ${m.decl}${m.elements.size ? ` elements = { ${elementsText(m.elements)} }` : ''} }`);
        for (const [name] of genChains) genText.push(`add chain ${T} ${name}`);
        for (const [name, c] of genChains) genText.push(...c.rules.map((r) => `add rule ${T} ${name} ${r}`));
      } else {
        for (const [name, m] of genMaps) adds.push(`add ${m.kind} ${T} ${name} { ${m.decl}${m.elements.size ? ` elements = { ${elementsText(m.elements)} }` : ''} }`);
        for (const [name, c] of genChains) {
          adds.push(`add chain ${T} ${name}`);
          addRules.push(...c.rules.map((r) => `add rule ${T} ${name} ${r}`));
        }
      }
      for (const [name, c] of ta.chains) {
        if (ofGen(name, oldGen)) {
          dels.push({ op: 'delChain', family: fam, table: TABLE, chain: name });
          text[3]!.push(`delete chain ${T} ${name}`);
          continue;
        }
        const o = tb.chains.get(name);
        if (!o || o.hook !== c.hook || o.rules.join('\n') !== c.rules.join('\n')) return undefined;
      }
      for (const name of tb.chains.keys()) if (!ofGen(name, newGen) && !ta.chains.has(name)) return undefined;
      for (const [name, m] of ta.maps) {
        if (ofGen(name, oldGen)) continue;
        const n = tb.maps.get(name);
        if (!n || n.kind !== m.kind || n.decl !== m.decl) return undefined;
        let layout: KeyField[] | undefined;
        const key = (k: string) => encodeKey((layout ??= keyLayout(m.decl)), k);
        const verdict = (v: string) => {
          const j = /^(jump|goto) (\S+)$/.exec(v);
          if (!j) throw new NfnlError(`element data "${v}" is not a verdict`);
          return { code: j[1] as 'jump' | 'goto', chain: j[2]! };
        };
        try {
          for (const [k, v] of m.elements) {
            if (n.elements.get(k) === v) continue;
            delEls.push({ op: 'delElem', family: fam, table: TABLE, set: name, key: key(k) });
            text[0]!.push(`delete element ${T} ${name} { ${k} }`);
          }
          for (const [k, v] of n.elements) {
            if (m.elements.get(k) === v) continue;
            addEls.push({ op: 'addElem', family: fam, table: TABLE, set: name, key: key(k), ...(v === '' ? {} : { verdict: verdict(v) }) });
            text[1]!.push(`add element ${T} ${name} { ${v === '' ? k : `${k} : ${v}`} }`);
          }
        } catch (err) {
          if (err instanceof NfnlError) return undefined;
          throw err;
        }
        if (m.servers && n.servers && m.servers.some((k) => !n.servers!.includes(k))) {
          flushes.push({ op: 'flushSet', family: fam, table: TABLE, set: name });
          text[2]!.push(`flush ${m.kind} ${T} ${name}`);
        }
      }
      for (const name of tb.maps.keys()) if (!ofGen(name, newGen) && !ta.maps.has(name)) return undefined;
      // The old generation's maps go after its chain (its rules hold them).
      for (const [name, m] of ta.maps) {
        if (!ofGen(name, oldGen)) continue;
        dels.push({ op: 'delSet', family: fam, table: TABLE, set: name });
        text[3]!.push(`delete ${m.kind} ${T} ${name}`);
      }
    }
  }
  // Each operation is answered by the kernel before the batch returns: a batch of thousands is
  // not a small change anyway, and nft -f does it in one go.
  if (genOps.length + delEls.length + addEls.length + flushes.length + dels.length > MAX_FLAT_OPS) return undefined;
  const nftLines = [...adds, ...addRules];
  const ops = [...genOps, ...delEls, ...addEls, ...flushes, ...dels.filter((o) => o.op === 'delChain'), ...dels.filter((o) => o.op === 'delSet')];
  const textLines = [...genText, ...text[0]!, ...text[1]!, ...text[2]!, ...text[3]!.filter((l) => l.startsWith('delete chain')), ...text[3]!.filter((l) => !l.startsWith('delete chain'))];
  return { nft: nftLines.length ? nftLines.join('\n') + '\n' : '', ops, netlinkGenerations, text: textLines.length ? textLines.join('\n') + '\n' : '', generations: next };
}

/**
 * A service's new generation in one table as netlink operations (new maps and sets with their
 * elements, new chain, its rules; rules.ts), with the size they add to the batch; undefined when
 * some object is not one the codec encodes (no structure behind it, a device without an
 * interface index): that generation then goes by `nft -f`. Set ids continue from `setId`
 * (unique in the batch).
 */
function generationOps(fam: TableFamily, maps: readonly [string, NftMap][], chains: readonly [string, NftChain][], setId: number, ifindex?: (device: string) => number | undefined):
  { ops: NlOp[]; bytes: number; lastSetId: number } | undefined {
  const ops: NlOp[] = [];
  const ids = new Map<string, number>();
  try {
    for (const [name, m] of maps) {
      if (!m.gen) return undefined;
      const id = ++setId;
      ids.set(name, id);
      ops.push({ op: 'newSet', family: fam, table: TABLE, set: name, id, spec: genSetSpec(m.gen) });
      if (m.elements.size > 0) ops.push({ op: 'newElems', family: fam, table: TABLE, set: name, setId: id, elements: genSetElements(m.gen, m.elements, ifindex) });
    }
    for (const [name, c] of chains) {
      if (!c.ir) return undefined;
      ops.push({ op: 'newChain', family: fam, table: TABLE, chain: name });
    }
    for (const [name, c] of chains) for (const r of c.ir!) ops.push({ op: 'newRule', family: fam, table: TABLE, chain: name, exprs: ruleExprs(r, ids, fam === 'netdev', ifindex) });
    return { ops, bytes: encodeBatch(ops, 1).bytes.length, lastSetId: setId };
  } catch (err) {
    if (err instanceof NfnlError) return undefined;
    throw err;
  }
}

/**
 * Stable ids for keys: the ones in `previous` keep theirs, new keys get the lowest free id
 * ≥ 1. The shell keeps the map across updates (flow maps and ct marks hold ids).
 */
export function assignIds(previous: ReadonlyMap<string, number>, keys: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const k of keys) {
    const id = previous.get(k);
    if (id !== undefined && !used.has(id)) {
      out.set(k, id);
      used.add(id);
    }
  }
  let next = 1;
  for (const k of keys) {
    if (out.has(k)) continue;
    while (used.has(next)) next++;
    out.set(k, next);
    used.add(next);
  }
  return out;
}
