/**
 * The `sharing:` section of carpool.yaml: addresses served by every node at once, each node
 * taking the connections of its buckets (issue 15; docs/sharing.md). Each bucket is a CARP
 * election of its own with vhid `vhid_base + bucket`.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { parseCidr } from '../../protocol/inet.js';
import { checkLayout } from '../../sharing/core/layout.js';
import { ADDRESS_HASHES, GATEWAY_HASHES, sharedMac, type SharedAddress, type SharingHash, type SharingMode } from '../../sharing/core/model.js';
import { Checker, Reader, type Entry } from './checker.js';
import { readList } from './vrrp.js';

const KEYS = ['name', 'address', 'interface', 'inside', 'outside', 'nodes', 'buckets', 'hash', 'mode', 'vhid_base', 'password', 'advbase'] as const;
const MODES: readonly SharingMode[] = ['multicast', 'unicast', 'stealth'];
const SIDE = '{ address: 10.1.0.254/24, interface: eth0 } (an IPv4 address with prefix, and the interface of that LAN)';

/** One side of a gateway (`inside:` / `outside:`): an IPv4 address with prefix and an interface. */
function readSide(c: Checker, r: Reader, key: 'inside' | 'outside', where: string): { address: string; prefix: number; interface: string; node: Node } | undefined {
  const at = r.keyNode(key) ?? null;
  const e = c.entries(r.node(key), `${where} ${key}`, at);
  if (!e) return undefined;
  c.unknownKeys(e, ['address', 'interface'], `${where} ${key}`);
  const sr = new Reader(c, `${where} ${key}`, e);
  if (!sr.has('address') || !sr.has('interface')) {
    c.error(r.node(key) ?? at, 'MISSING_KEY', `${where}: ${key} needs address and interface`, SIDE);
    return undefined;
  }
  const a = sr.string('address', 'an IPv4 address with prefix');
  const i = sr.string('interface', 'an interface name');
  const cidr = a ? parseCidr(a.value) : undefined;
  if (a && !cidr) c.error(a.node, 'INVALID_ADDRESS', `${where}: ${key} address '${a.value}' is not an IP address`, SIDE);
  if (a && cidr && cidr.family !== 4) {
    c.error(a.node, 'INVALID_ADDRESS', `${where}: ${key} address '${a.value}': a gateway's sides are IPv4 for now`, 'an IPv4 address with prefix (an IPv6 gateway is not supported yet; an IPv6 shared address without inside/outside is)');
    return undefined;
  }
  return a && cidr && i ? { address: cidr.address, prefix: cidr.prefix, interface: i.value, node: a.node } : undefined;
}
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,30}$/;

function readShared(c: Checker, item: Node, where: string): SharedAddress | undefined {
  const entries = c.entries(item, where, item);
  if (!entries) return undefined;
  c.unknownKeys(entries, KEYS, where);
  const r = new Reader(c, where, entries);
  const errors = c.errors.length;
  const need = (k: string, expected: string) => { if (!r.has(k)) c.error(item, 'MISSING_KEY', `${where}: missing '${k}'`, expected); };
  need('name', 'a name (letters, digits, _)');
  // A gateway (load-shared routing) has an inside and an outside side instead of one address.
  const gateway = r.has('inside') || r.has('outside');
  if (gateway) {
    for (const k of ['inside', 'outside'] as const) if (!r.has(k)) c.error(item, 'MISSING_KEY', `${where}: '${r.has('inside') ? 'inside' : 'outside'}' without '${k}'`, `a gateway has both sides: inside: ${SIDE} and outside: the same for the other LAN`);
    for (const k of ['address', 'interface'] as const) {
      if (r.has(k)) c.error(r.keyNode(k) ?? item, 'INVALID_VALUE', `${where}: '${k}' with inside/outside`, `either address + interface (an address served by the nodes) or inside + outside (a gateway routing through the nodes; its addresses and interfaces are in those)`);
    }
  } else {
    need('address', 'the shared IPv4 or IPv6 address with its prefix, e.g. 10.0.0.50/24 or fd00::50/64 (or inside: and outside: for a gateway)');
    need('interface', 'the interface every node receives the address on');
  }
  need('nodes', 'the ordered list of nodes: [{ name: n1, address: 10.0.0.1 }, ...], the same on every node');
  need('vhid_base', 'the vhid of bucket 0 (bucket b uses vhid_base + b)');
  need('password', 'the password of the bucket elections');
  const name = r.has('name') ? r.string('name', 'a name (letters, digits, _)') : undefined;
  if (name && !NAME.test(name.value)) c.error(name.node, 'INVALID_VALUE', `${where}: name '${name.value}' is not usable in nftables names`, 'letters, digits and _, starting with a letter, at most 31');
  const inside = gateway && r.has('inside') ? readSide(c, r, 'inside', where) : undefined;
  const outside = gateway && r.has('outside') ? readSide(c, r, 'outside', where) : undefined;
  if (inside && outside && inside.interface.split(':')[0] === outside.interface.split(':')[0]) {
    c.error(outside.node, 'INVALID_VALUE', `${where}: inside and outside are both on ${inside.interface.split(':')[0]}`, 'two interfaces, one per LAN (the gateway routes between them)');
  }
  if (inside && outside && inside.address === outside.address) c.error(outside.node, 'INVALID_VALUE', `${where}: inside and outside have the same address ${inside.address}`, 'one gateway address per LAN');
  const addrText = !gateway && r.has('address') ? r.string('address', 'an IPv4 or IPv6 address with prefix') : undefined;
  const cidr = addrText ? parseCidr(addrText.value) : undefined;
  if (addrText && !cidr) {
    c.error(addrText.node, 'INVALID_ADDRESS', `${where}: address '${addrText.value}' is not an IP address`, 'an IPv4 or IPv6 address with prefix, e.g. 10.0.0.50/24 or fd00::50/64');
  }
  const iface = !gateway && r.has('interface') ? r.string('interface', 'an interface name') : undefined;
  const buckets = r.has('buckets') ? r.integer('buckets', 1, 255) : { value: 64, node: item };
  const hashes = gateway ? GATEWAY_HASHES : ADDRESS_HASHES;
  const hash = r.has('hash') ? r.string('hash', hashes.join(', ')) : { value: gateway ? 'symmetric' : 'sourceip', node: item };
  if (hash && !hashes.includes(hash.value as SharingHash)) {
    const why = GATEWAY_HASHES.includes(hash.value as SharingHash)
      ? ' is for a gateway (inside: and outside:), whose traffic is routed through the nodes; traffic to an address served by the nodes is hashed on its original direction'
      : ADDRESS_HASHES.includes(hash.value as SharingHash)
        ? " on a gateway: a reply comes from the outside host, so the source it hashes is another address — the two directions of a flow would fall into different buckets, on different nodes"
        : '';
    c.error(hash.node, 'INVALID_VALUE', `${where}: hash '${hash.value}'${why}`, `one of ${hashes.join(', ')}`);
  }
  const mode = r.has('mode') ? r.string('mode', MODES.join(', ')) : { value: 'multicast', node: item };
  if (mode && !MODES.includes(mode.value as SharingMode)) {
    c.error(mode.node, 'INVALID_VALUE', `${where}: mode '${mode.value}'`, `one of ${MODES.join(', ')} (how the switch floods the shared MAC; see docs/sharing.md)`);
  }
  const vhidBase = r.has('vhid_base') ? r.integer('vhid_base', 1, 255) : undefined;
  const password = r.has('password') ? r.string('password', 'a password') : undefined;
  const advbase = r.has('advbase') ? r.integer('advbase', 1, 255) : { value: 1, node: item };
  const nodes: { name: string; address: string }[] = [];
  const nodesEntry = entries.get('nodes');
  if (nodesEntry) {
    for (const n of readList(c, nodesEntry, 'nodes', (cc, it, w) => {
      const e = cc.entries(it, w, it);
      if (!e) return undefined;
      cc.unknownKeys(e, ['name', 'address'], w);
      const nr = new Reader(cc, w, e);
      const nn = nr.string('name', 'the node name');
      const na = nr.ipv4('address', "the node's own address on the interface");
      if (!nn || !na) {
        if (!e.has('name') || !e.has('address')) cc.error(it, 'MISSING_KEY', `${w}: needs name and address`, '{ name: n1, address: 10.0.0.1 }');
        return undefined;
      }
      return { name: nn.value, address: na.value };
    })) nodes.push(n);
  }
  if (buckets && nodesEntry) {
    for (const issue of checkLayout(nodes.map((n) => n.name), buckets.value)) {
      c.error(issue.code === 'TOO_FEW_BUCKETS' ? buckets.node : nodesEntry.value, 'SHARING_LAYOUT', `${where}: ${issue.message}`, 'one entry per node, the same list on every node; more buckets than nodes');
    }
    if (new Set(nodes.map((n) => n.address)).size !== nodes.length) c.error(nodesEntry.value, 'SHARING_LAYOUT', `${where}: two nodes have the same address`, 'one address per node');
  }
  if (vhidBase && buckets && vhidBase.value + buckets.value - 1 > 255) {
    c.error(vhidBase.node, 'SHARING_LAYOUT', `${where}: vhids ${vhidBase.value}..${vhidBase.value + buckets.value - 1} do not fit (at most 255)`, `vhid_base ≤ ${256 - buckets.value}, or fewer buckets`);
  }
  const first = gateway ? (inside ? { address: inside.address, family: 4 as const, prefix: inside.prefix, interface: inside.interface } : undefined)
    : cidr && iface ? { address: cidr.address, family: cidr.family, prefix: cidr.prefix, interface: iface.value } : undefined;
  if (c.errors.length > errors || !name || !first || (gateway && !outside) || !buckets || !hash || !mode || !vhidBase || !password || !advbase) return undefined;
  return {
    name: name.value, ...first, nodes,
    buckets: buckets.value, hash: hash.value as SharingHash, mode: mode.value as SharingMode, mac: sharedMac(mode.value as SharingMode, first.address),
    vhidBase: vhidBase.value, password: password.value, advbase: advbase.value,
    ...(outside ? { outside: { address: outside.address, prefix: outside.prefix, interface: outside.interface, mac: sharedMac(mode.value as SharingMode, outside.address) } } : {}),
  };
}

/** Read `sharing:`; checks names are unique and bucket vhid ranges do not overlap on one interface. */
export function readSharingSection(c: Checker, entry: Entry | undefined, carp: readonly { name: string; interface: string; vhid: number }[]): SharedAddress[] {
  const list = readList(c, entry, 'sharing', readShared);
  const used: { iface: string; from: number; to: number; what: string }[] = carp.map((i) => ({ iface: i.interface, from: i.vhid, to: i.vhid, what: `instance '${i.name}'` }));
  for (const s of list) {
    const from = s.vhidBase;
    const to = s.vhidBase + s.buckets - 1;
    const clash = used.find((u) => u.iface === s.interface && u.from <= to && from <= u.to);
    if (clash) {
      c.error(entry?.keyNode ?? 0, 'SHARING_LAYOUT', `sharing '${s.name}': its bucket vhids ${from}..${to} on ${s.interface} overlap ${clash.what} (${clash.from}..${clash.to})`, 'a vhid range of its own on each interface');
    }
    if (list.filter((x) => x.name === s.name).length > 1 && list.indexOf(s) > 0 && list.findIndex((x) => x.name === s.name) !== list.indexOf(s)) {
      c.error(entry?.keyNode ?? 0, 'DUPLICATE_NAME', `sharing '${s.name}' is defined twice`, 'a unique name');
    }
    used.push({ iface: s.interface, from, to, what: `sharing '${s.name}'` });
  }
  return list;
}

/**
 * Where each shared address's keys are in a carpool.yaml text (1-based lines), for `carpool
 * check` comparing several nodes' files: per name, the line of each key and `nodes.<i>` of
 * node i. Reads the text only (the file was validated before); what it cannot find is left out.
 */
export function sharingLines(text: string): Map<string, Record<string, number>> {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false, merge: true, version: '1.2' });
  const line = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  const out = new Map<string, Record<string, number>>();
  const list = doc.get('sharing', true) as Node | undefined;
  if (!isSeq(list)) return out;
  for (const item of list.items) {
    if (!isMap(item)) continue;
    const lines: Record<string, number> = {};
    let name: string | undefined;
    for (const pair of item.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const l = line(pair.key);
      if (l) lines[key] = l;
      if (key === 'name' && isScalar(pair.value)) name = String(pair.value.value);
      if (key === 'nodes' && isSeq(pair.value)) {
        pair.value.items.forEach((n, i) => { const ln = line(n as Node); if (ln) lines[`nodes.${i}`] = ln; });
      }
    }
    if (name !== undefined) out.set(name, lines);
  }
  return out;
}
