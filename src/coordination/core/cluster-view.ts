/**
 * The cluster view (docs/etcd.md, "Cluster view"): every daemon publishes its status document
 * under `<prefix>/nodes/<node>` with a lease, and a `<prefix>/seen/<node>` record without one;
 * `carpool status --cluster` merges what it reads into one view, like crm_mon: each node with
 * its instances, resources and failures, the nodes that stopped publishing (gone), and for each
 * instance the nodes where it is MASTER (none or two are flagged). Pure: entries and `now` in,
 * data out. A document from a newer or older carpool is read for the fields this one knows;
 * unknown fields are ignored.
 */
import type { DaemonStatus, InstanceStatus } from '../../control/status.js';

/** Format of the published document; a reader accepts any, reading what it knows. */
export const CLUSTER_DOC_FORMAT = 1;
/** Largest published document (bytes of JSON): etcd's default request limit is 1.5 MiB. */
export const CLUSTER_DOC_MAX_BYTES = 64 * 1024;

/** What a daemon puts under `<prefix>/nodes/<node>`. */
export interface NodeDocument {
  readonly format: number;
  readonly node: string;
  /** ISO time of publication (the publisher's wall clock). */
  readonly publishedAt: string;
  /** Sections left out to stay under the size bound, e.g. `balancers`. */
  readonly truncated?: readonly string[];
  readonly status: DaemonStatus;
}

/** What a daemon puts under `<prefix>/seen/<node>` (no lease: it outlives the daemon). */
export interface SeenRecord {
  readonly node: string;
  readonly lastSeen: string;
  /** The daemon stopped cleanly (SIGTERM) rather than vanishing. */
  readonly stopped?: boolean;
}

/** One key as read from etcd. */
export interface StoredEntry {
  readonly key: string;
  readonly value: string;
  /** etcd's mod revision: of two documents naming the same node, the later write wins. */
  readonly modRevision: number;
}

export type NodeState = 'online' | 'stale' | 'gone' | 'invalid';

export interface ClusterNode {
  readonly name: string;
  readonly state: NodeState;
  /** ISO time of the last document (online, stale) or of the last seen record (gone); null = unknown. */
  readonly lastSeen: string | null;
  /** Seconds between `lastSeen` and the viewer's clock (wall clocks: skew between hosts shows here). */
  readonly agoSeconds: number | null;
  readonly stopped?: boolean;
  readonly status?: DaemonStatus;
  readonly truncated?: readonly string[];
  /** Why the node is invalid or stale. */
  readonly problem?: string;
}

export interface InstanceView {
  readonly name: string;
  readonly protocol: string;
  readonly addresses: readonly string[];
  /** State of the instance on each node that runs it (online and stale nodes). */
  readonly nodes: readonly { readonly node: string; readonly state: string; readonly holdsAddresses: boolean }[];
  /** Nodes where it is MASTER. */
  readonly masters: readonly string[];
  /** ok: one master; none: no node is master; split: MASTER on two or more nodes. */
  readonly verdict: 'ok' | 'none' | 'split';
}

export interface ClusterView {
  readonly prefix: string;
  /** The viewer's time (ISO). */
  readonly at: string;
  readonly nodes: readonly ClusterNode[];
  readonly instances: readonly InstanceView[];
  /** Things the reader found odd: duplicate documents, keys it could not read. */
  readonly problems: readonly string[];
}

/** Keys whose values change all the time: left out when deciding whether a document changed. */
const VOLATILE = new Set(['uptimeSeconds', 'agoSeconds', 'leaseLeftMs', 'seenMs', 'agoMs', 'leftMs', 'promisedMs', 'questionsSent', 'answered', 'counters', 'stats', 'rates', 'active', 'inactive', 'last', 'drops', 'publishedAt', 'published']);

/**
 * The document without its ever-changing counters and ages: the publisher writes at once when
 * this differs from the last written one, and otherwise every ttl/3.
 */
export function fingerprint(status: DaemonStatus): string {
  return JSON.stringify(status, (k, v: unknown) => (VOLATILE.has(k) ? undefined : v));
}

/** Sections dropped, in this order, while the document is over the bound. */
const DROPPABLE = ['balancers', 'sharing', 'carpGroups', 'syncGroups', 'interfaces', 'resources'] as const;

/**
 * The document to publish, at most `maxBytes` of JSON: the big sections go first (listed in
 * `truncated`), then instances' drop counters, then instances from the end.
 */
export function nodeDocument(node: string, status: DaemonStatus, publishedAt: string, maxBytes = CLUSTER_DOC_MAX_BYTES): { doc: NodeDocument; text: string } {
  const truncated: string[] = [];
  let st: DaemonStatus = status;
  const make = (): { doc: NodeDocument; text: string } => {
    const doc: NodeDocument = { format: CLUSTER_DOC_FORMAT, node, publishedAt, ...(truncated.length ? { truncated: [...truncated] } : {}), status: st };
    return { doc, text: JSON.stringify(doc) };
  };
  let out = make();
  const size = (t: string) => Buffer.byteLength(t, 'utf8');
  for (const section of DROPPABLE) {
    if (size(out.text) <= maxBytes) return out;
    if (st[section] === undefined) continue;
    const rest: Record<string, unknown> = { ...st };
    delete rest[section];
    st = (section === 'interfaces' ? { ...rest, interfaces: [] } : rest) as DaemonStatus;
    truncated.push(section);
    out = make();
  }
  if (size(out.text) > maxBytes) {
    st = { ...st, instances: st.instances.map((i) => ({ ...i, counters: { ...i.counters, drops: {} } })) };
    truncated.push('drops');
    out = make();
  }
  let n = st.instances.length;
  while (size(out.text) > maxBytes && n > 0) {
    n = Math.floor(n * 0.9);
    st = { ...st, instances: status.instances.slice(0, n).map((i) => ({ ...i, counters: { ...i.counters, drops: {} } })) };
    if (!truncated.includes('instances')) truncated.push('instances');
    out = make();
  }
  return out;
}

const str = (v: unknown): v is string => typeof v === 'string';
const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An instance as far as the view needs it; null when the entry is not an instance at all. */
function readInstance(v: unknown): InstanceStatus | null {
  if (!obj(v) || !str(v.name) || !str(v.state)) return null;
  const addresses = Array.isArray(v.addresses) ? v.addresses.filter(str) : [];
  const counters = obj(v.counters) ? v.counters : {};
  return {
    ...(v as unknown as InstanceStatus),
    protocol: (str(v.protocol) ? v.protocol : '?') as InstanceStatus['protocol'],
    interface: str(v.interface) ? v.interface : '?',
    vhid: typeof v.vhid === 'number' ? v.vhid : 0,
    master: str(v.master) ? v.master : null,
    source: str(v.source) ? v.source : '',
    addresses,
    holdsAddresses: v.holdsAddresses === true,
    linkUp: v.linkUp !== false,
    priority: obj(v.priority) ? (v.priority as InstanceStatus['priority']) : {},
    lastTransition: obj(v.lastTransition) && str(v.lastTransition.from) && str(v.lastTransition.to) ? (v.lastTransition as unknown as InstanceStatus['lastTransition']) : null,
    transitions: typeof v.transitions === 'number' ? v.transitions : 0,
    becameMasterAt: str(v.becameMasterAt) ? v.becameMasterAt : null,
    counters: {
      advertsSent: typeof counters.advertsSent === 'number' ? counters.advertsSent : 0,
      advertsReceived: typeof counters.advertsReceived === 'number' ? counters.advertsReceived : 0,
      sendErrors: typeof counters.sendErrors === 'number' ? counters.sendErrors : 0,
      drops: obj(counters.drops) ? (counters.drops as Record<string, number>) : {},
    },
  };
}

/**
 * A published document, read leniently: what this version knows is checked and defaulted,
 * anything else is kept as is (renderers look only at what they know). Throws a short reason.
 */
export function parseNodeDocument(text: string): NodeDocument {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (!obj(v)) throw new Error('not a JSON object');
  if (!str(v.node) || v.node === '') throw new Error("no 'node' name");
  if (!obj(v.status)) throw new Error("no 'status' object");
  const s = v.status;
  if (s.instances !== undefined && !Array.isArray(s.instances)) throw new Error("'status.instances' is not a list");
  const instances = ((s.instances as unknown[] | undefined) ?? []).map(readInstance).filter((i): i is InstanceStatus => i !== null);
  const status: DaemonStatus = {
    ...s,
    version: str(s.version) ? s.version : '?',
    pid: typeof s.pid === 'number' ? s.pid : 0,
    mode: s.mode === 'ucarp' ? 'ucarp' : 'run',
    config: str(s.config) ? s.config : '?',
    startedAt: str(s.startedAt) ? s.startedAt : '',
    uptimeSeconds: typeof s.uptimeSeconds === 'number' ? s.uptimeSeconds : 0,
    instances,
    interfaces: Array.isArray(s.interfaces) ? (s.interfaces as DaemonStatus['interfaces']) : [],
  };
  return {
    format: typeof v.format === 'number' ? v.format : 0,
    node: v.node,
    publishedAt: str(v.publishedAt) ? v.publishedAt : '',
    ...(Array.isArray(v.truncated) ? { truncated: v.truncated.filter(str) } : {}),
    status,
  };
}

export function parseSeenRecord(text: string): SeenRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (!obj(v) || !str(v.node) || !str(v.lastSeen)) throw new Error("not a seen record (node, lastSeen)");
  return { node: v.node, lastSeen: v.lastSeen, ...(v.stopped === true ? { stopped: true } : {}) };
}

/** Is this instance one of the bucket elections (`<shared>/b<k>`) of load sharing? Summarised per node, not per VIP. */
function isBucket(st: DaemonStatus, name: string): boolean {
  const sharing = Array.isArray(st.sharing) ? (st.sharing as unknown[]) : [];
  return sharing.some((x) => obj(x) && str(x.name) && name.startsWith(`${x.name}/b`) && /^\d+$/.test(name.slice(x.name.length + 2)));
}

export interface ClusterInput {
  readonly prefix: string;
  /** Entries under `<prefix>/nodes/`. */
  readonly nodes: readonly StoredEntry[];
  /** Entries under `<prefix>/seen/`. */
  readonly seen: readonly StoredEntry[];
  /** The viewer's wall clock, ms since the epoch. */
  readonly now: number;
  /** A document older than this (publisher's clock vs the viewer's) is shown as stale. */
  readonly staleAfterMs: number;
}

/** Merge what was read into the view: one entry per node name, sorted by name. */
export function clusterView(input: ClusterInput): ClusterView {
  const problems: string[] = [];
  const nodesDir = `${input.prefix}/nodes/`;
  const seenDir = `${input.prefix}/seen/`;
  const age = (iso: string): number | null => {
    // eslint-disable-next-line no-restricted-globals -- parsing a timestamp string reads no clock
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : Math.max(0, Math.round((input.now - t) / 1000));
  };
  const docs = new Map<string, { doc: NodeDocument; rev: number }>();
  const invalid = new Map<string, string>();
  for (const e of input.nodes) {
    const keyName = e.key.startsWith(nodesDir) ? e.key.slice(nodesDir.length) : e.key;
    let doc: NodeDocument;
    try {
      doc = parseNodeDocument(e.value);
    } catch (err) {
      invalid.set(keyName, `${e.key}: ${(err as Error).message}`);
      problems.push(`${e.key}: unreadable document (${(err as Error).message})`);
      continue;
    }
    if (doc.node !== keyName) problems.push(`${e.key} holds the document of node '${doc.node}' (two daemons with one node name, or a copied key?)`);
    const had = docs.get(doc.node);
    if (had) {
      problems.push(`two documents for node '${doc.node}': the later write (revision ${Math.max(had.rev, e.modRevision)}) is shown`);
      if (had.rev > e.modRevision) continue;
    }
    docs.set(doc.node, { doc, rev: e.modRevision });
  }
  const seen = new Map<string, SeenRecord>();
  for (const e of input.seen) {
    try {
      const r = parseSeenRecord(e.value);
      const keyName = e.key.startsWith(seenDir) ? e.key.slice(seenDir.length) : r.node;
      const prev = seen.get(keyName);
      // eslint-disable-next-line no-restricted-globals -- parsing timestamp strings reads no clock
      if (!prev || Date.parse(r.lastSeen) > Date.parse(prev.lastSeen)) seen.set(keyName, r);
    } catch (err) {
      problems.push(`${e.key}: unreadable seen record (${(err as Error).message})`);
    }
  }

  const nodes: ClusterNode[] = [];
  for (const [name, { doc }] of docs) {
    const ago = age(doc.publishedAt);
    const stale = ago === null || ago * 1000 > input.staleAfterMs;
    nodes.push({
      name, state: stale ? 'stale' : 'online', lastSeen: doc.publishedAt || null, agoSeconds: ago, status: doc.status,
      ...(doc.truncated?.length ? { truncated: doc.truncated } : {}),
      ...(stale ? { problem: ago === null ? 'the document has no publication time' : `last published ${ago}s ago (publisher stuck, or its clock is off)` } : {}),
    });
  }
  for (const [name, why] of invalid) if (!docs.has(name)) nodes.push({ name, state: 'invalid', lastSeen: seen.get(name)?.lastSeen ?? null, agoSeconds: null, problem: why });
  for (const [name, r] of seen) {
    if (docs.has(name) || invalid.has(name)) continue;
    nodes.push({ name, state: 'gone', lastSeen: r.lastSeen, agoSeconds: age(r.lastSeen), ...(r.stopped ? { stopped: true } : {}) });
  }
  nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const byName = new Map<string, { protocol: string; addresses: Set<string>; nodes: { node: string; state: string; holdsAddresses: boolean }[] }>();
  for (const n of nodes) {
    if (!n.status || (n.state !== 'online' && n.state !== 'stale')) continue;
    const names = new Set<string>();
    for (const i of n.status.instances) {
      if (isBucket(n.status, i.name)) continue;
      if (names.has(i.name)) {
        problems.push(`node '${n.name}' lists instance '${i.name}' twice: the first is shown`);
        continue;
      }
      names.add(i.name);
      let v = byName.get(i.name);
      if (!v) byName.set(i.name, v = { protocol: i.protocol, addresses: new Set(), nodes: [] });
      else if (v.protocol !== i.protocol) problems.push(`instance '${i.name}' is ${v.protocol} on one node and ${i.protocol} on '${n.name}'`);
      for (const a of i.addresses) v.addresses.add(a);
      v.nodes.push({ node: n.name, state: i.state, holdsAddresses: i.holdsAddresses });
    }
  }
  const instances: InstanceView[] = [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, v]) => {
    const masters = v.nodes.filter((x) => x.state === 'MASTER').map((x) => x.node);
    return { name, protocol: v.protocol, addresses: [...v.addresses], nodes: v.nodes, masters, verdict: masters.length === 1 ? 'ok' : masters.length === 0 ? 'none' : 'split' };
  });
  // eslint-disable-next-line no-restricted-globals -- formatting the given time reads no clock
  return { prefix: input.prefix, at: new Date(input.now).toISOString(), nodes, instances, problems };
}
