/**
 * The status document in Prometheus' text exposition format, version 0.0.4 (what `GET /metrics`
 * answers): `# HELP` and `# TYPE` once per family, then one sample per line. Metric names are
 * `carpool_*`; per-instance series carry `instance`, `protocol`, `interface` and `vhid` (the VRID
 * for VRRP). Pure: the same document gives the same text. Times are seconds since the epoch, as
 * Prometheus' own `process_start_time_seconds`.
 *
 * `instance` is the carpool instance's name. Prometheus gives every scraped series an `instance`
 * label of its own (the target); it keeps ours with `honor_labels: true` in the scrape job, and
 * renames it `exported_instance` otherwise (docs/config.md says so).
 */
import type { BalancersStatus, DaemonStatus, InstanceStatus } from '../control/status.js';
import type { ResourcesStatus } from '../resources/core/status.js';
import type { SharingStatus } from '../sharing/core/model.js';
import { servedCounts, sharingOf } from './sharing-text.js';

/** The states each protocol's machine can be in: one 0/1 series each, so absent is never ambiguous. */
const STATES: Readonly<Record<InstanceStatus['protocol'], readonly string[]>> = {
  carp: ['INIT', 'BACKUP', 'MASTER'],
  vrrp: ['INIT', 'BACKUP', 'MASTER', 'FAULT'],
  etcd: ['INIT', 'BACKUP', 'MASTER'],
};

const MEMBER_STATES = ['Unknown', 'Probing', 'Stopped', 'Starting', 'Started', 'Stopping', 'FAILED'] as const;

type Labels = Readonly<Record<string, string | number>>;

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Go's float formatting as Prometheus reads it: integers plainly, NaN and infinities by name. */
function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** ISO time → seconds since the epoch (milliseconds kept as decimals), NaN when unparsable. */
function epochSeconds(iso: string): number {
  // eslint-disable-next-line no-restricted-globals -- parsing a timestamp string reads no clock
  return Date.parse(iso) / 1000;
}

/** Samples grouped by family, in first-seen order; HELP and TYPE once before each family's samples. */
class Families {
  private readonly families = new Map<string, { help: string; type: 'gauge' | 'counter'; samples: string[] }>();

  add(name: string, type: 'gauge' | 'counter', help: string, labels: Labels, value: number): void {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, samples: [] };
      this.families.set(name, f);
    }
    f.samples.push(`${name}${labelText(labels)} ${num(value)}`);
  }

  text(): string {
    const lines = [...this.families].flatMap(([name, f]) => [`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`, ...f.samples]);
    return `${lines.join('\n')}\n`;
  }
}

function instanceLabels(i: InstanceStatus): Labels {
  return { instance: i.name, protocol: i.protocol, interface: i.interface, vhid: i.vhid };
}

function instanceMetrics(m: Families, i: InstanceStatus): void {
  const l = instanceLabels(i);
  const states = STATES[i.protocol].includes(i.state) ? STATES[i.protocol] : [...STATES[i.protocol], i.state];
  for (const s of states) {
    m.add('carpool_instance_state', 'gauge', 'Current state of the instance: 1 for the state it is in, 0 for the others.', { ...l, state: s }, s === i.state ? 1 : 0);
  }
  m.add('carpool_instance_holds_addresses', 'gauge', 'Whether this host holds the virtual addresses now (1) or not (0).', l, i.holdsAddresses ? 1 : 0);
  m.add('carpool_instance_link_up', 'gauge', 'Whether the instance\'s interface is usable (1) or not (0).', l, i.linkUp ? 1 : 0);
  m.add('carpool_instance_transitions_total', 'counter', 'State changes of the instance since the daemon started.', l, i.transitions);
  if (i.becameMasterAt) {
    m.add('carpool_instance_last_takeover_timestamp_seconds', 'gauge', 'When this host last became MASTER, seconds since the epoch.', l, epochSeconds(i.becameMasterAt));
  }
  if (i.lastTransition) {
    m.add('carpool_instance_last_transition_timestamp_seconds', 'gauge', 'When the instance last changed state, seconds since the epoch.', l, epochSeconds(i.lastTransition.at));
  }
  m.add('carpool_adverts_sent_total', 'counter', 'Advertisements sent.', l, i.counters.advertsSent);
  m.add('carpool_adverts_received_total', 'counter', 'Valid advertisements received.', l, i.counters.advertsReceived);
  m.add('carpool_advert_send_errors_total', 'counter', 'Advertisements the kernel refused to send.', l, i.counters.sendErrors);
  for (const [reason, n] of Object.entries(i.counters.drops)) {
    m.add('carpool_adverts_dropped_total', 'counter', 'Received packets dropped by the validation ladder, by reason.', { ...l, reason }, n);
  }
  const p = i.priority;
  if (i.protocol === 'carp') {
    if (typeof p.advbase === 'number') m.add('carpool_carp_advbase_seconds', 'gauge', 'CARP advertisement base interval (advbase), seconds.', l, p.advbase);
    if (typeof p.advskew === 'number') m.add('carpool_carp_advskew', 'gauge', 'CARP advskew as configured (1/256 s).', l, p.advskew);
    const eff = typeof p.advskewEffective === 'number' ? p.advskewEffective : p.advskew;
    if (typeof eff === 'number') m.add('carpool_carp_advskew_effective', 'gauge', 'CARP advskew in force (raised while demoted).', l, eff);
    m.add('carpool_carp_group_demoted', 'gauge', 'Whether the instance\'s CARP group demotes it now (a member lost its link): 1 or 0.', l, i.groupDemotion ? 1 : 0);
  } else {
    if (typeof p.base === 'number') m.add('carpool_vrrp_priority', 'gauge', 'VRRP priority as configured.', l, p.base);
    if (typeof p.effective === 'number') m.add('carpool_vrrp_priority_effective', 'gauge', 'VRRP priority in force (trackers applied).', l, p.effective);
  }
}

function resourceMetrics(m: Families, res: ResourcesStatus): void {
  for (const g of res.groups) {
    for (const r of g.members) {
      const l = { group: g.id, resource: r.id, instance: g.instance, agent: r.agent };
      for (const s of MEMBER_STATES) {
        m.add('carpool_resource_state', 'gauge', 'Current state of the resource on this node: 1 for its state, 0 for the others.', { ...l, state: s }, s === r.state ? 1 : 0);
      }
      m.add('carpool_resource_failcount', 'gauge', 'Failures counted against the resource on this node (1000000 = INFINITY).', l, r.failcount);
      m.add('carpool_resource_migration_threshold', 'gauge', 'Failures before the group leaves this node (0 = never).', l, r.migrationThreshold);
      m.add('carpool_resource_blocked', 'gauge', 'Whether the resource waits for a cleanup (on-fail=block or a failed stop).', l, r.blocked ? 1 : 0);
    }
  }
  for (const f of res.failedActions) {
    const l = { resource: f.resource, action: f.action, interval_ms: f.intervalMs, status: f.status };
    m.add('carpool_resource_failed_action_duration_seconds', 'gauge', 'How long the last failed operation of the resource ran, seconds.', l, f.execMs / 1000);
    m.add('carpool_resource_failed_action_timestamp_seconds', 'gauge', 'When the last failed operation of the resource failed, seconds since the epoch.', l, epochSeconds(f.at));
  }
}

/** Per real server of each virtual server (labels `vs`, `rs`): health, weight, connections, totals since start. */
function balancerMetrics(m: Families, b: BalancersStatus): void {
  m.add('carpool_balancer_plane_in_force', 'gauge', 'Whether the load balancer\'s nftables ruleset is in force (1) or not (0).', {}, b.plane.inForce ? 1 : 0);
  m.add('carpool_balancer_plane_pending', 'gauge', 'Whether the latest change of the load balancer waits for a retry after a failed transaction (1) or is in force (0).', {}, b.plane.pending ? 1 : 0);
  if (b.accounting) {
    m.add('carpool_balancer_accounting_on', 'gauge', 'Whether conntrack accounting gives the per-server packet/byte totals (1) or not (0).', {}, b.accounting.on ? 1 : 0);
    m.add('carpool_balancer_accounting_lost_events_total', 'counter', 'Conntrack destroy events lost (socket overruns): the packet/byte totals miss those flows (stats incomplete).', {}, b.accounting.lostEvents);
  }
  for (const s of b.services) {
    for (const r of s.servers) {
      const l = { vs: s.name, rs: r.key };
      m.add('carpool_balancer_real_server_up', 'gauge', 'Whether the real server\'s checkers find it up (1) or not (0).', l, r.health === 'up' ? 1 : 0);
      m.add('carpool_balancer_real_server_weight', 'gauge', 'Weight of the real server in the plane now (0 = no new connections, -1 = not in the plane).', l, r.weight ?? -1);
      if (r.active !== undefined) m.add('carpool_balancer_active_connections', 'gauge', 'Connections to the real server in conntrack now, TCP ESTABLISHED (UDP: all) (IPVS ActiveConn).', l, r.active);
      if (r.inactive !== undefined) m.add('carpool_balancer_inactive_connections', 'gauge', 'Connections to the real server in conntrack now in other TCP states (IPVS InActConn).', l, r.inactive);
      if (r.stats) {
        m.add('carpool_balancer_connections_total', 'counter', 'New connections scheduled to the real server since the daemon started.', l, r.stats.connections);
        m.add('carpool_balancer_packets_total', 'counter', 'Packets of the real server\'s connections, both directions, since the daemon started.', l, r.stats.packets);
        m.add('carpool_balancer_bytes_total', 'counter', 'Bytes of the real server\'s connections, both directions, since the daemon started.', l, r.stats.bytes);
      }
    }
  }
}

/**
 * Per shared address (label `sharing`): buckets in all and served here, buckets per node as
 * this node sees the elections (one series per node of the list, not one per bucket: who
 * serves bucket k is `carpool_instance_state{instance="<name>/b<k>",state="MASTER"}` of the
 * node that holds it), whether it serves, nft updates and failures, mismatching nodes.
 */
function sharingMetrics(m: Families, x: SharingStatus): void {
  const l = { sharing: x.name, address: x.address };
  m.add('carpool_sharing_buckets', 'gauge', 'Buckets of the shared address.', l, x.buckets);
  m.add('carpool_sharing_buckets_local', 'gauge', 'Buckets this node accepts now (in its nftables set).', l, x.local.length);
  for (const [node, k] of servedCounts(x)) {
    m.add('carpool_sharing_buckets_served', 'gauge', 'Buckets each node serves as this node sees the bucket elections (node "?" = no master heard).', { ...l, node }, k);
  }
  m.add('carpool_sharing_serving', 'gauge', 'Whether this node serves its buckets (1) or withdrew from all of them because of a layout mismatch (0).', l, x.serving === false ? 0 : 1);
  m.add('carpool_sharing_layout_mismatch_nodes', 'gauge', 'Nodes of the list heard lately whose node list or bucket count differs from this node\'s.', l, (x.mismatches ?? []).length);
  m.add('carpool_sharing_nft_updates_total', 'counter', 'Bucket set updates nft applied.', l, x.applies);
  m.add('carpool_sharing_nft_failures_total', 'counter', 'Bucket set updates nft refused.', l, x.failures);
  if (x.ndSkipped !== undefined) m.add('carpool_sharing_nd_unrewritten_total', 'counter', 'IPv6: neighbour discovery packets for the address that left with the node\'s own MAC instead of the shared one.', l, x.ndSkipped);
}

/** The whole exposition for one daemon. */
export function renderMetrics(st: DaemonStatus): string {
  const m = new Families();
  m.add('carpool_info', 'gauge', 'Always 1; the daemon\'s version and mode as labels.', { version: st.version, mode: st.mode }, 1);
  m.add('carpool_start_time_seconds', 'gauge', 'When the daemon started, seconds since the epoch.', {}, epochSeconds(st.startedAt));
  for (const i of st.instances) instanceMetrics(m, i);
  for (const f of st.interfaces) {
    for (const [reason, n] of Object.entries(f.drops)) {
      m.add('carpool_interface_dropped_total', 'counter', 'Packets no instance could take (unknown vhid, ...), by interface and reason.', { interface: f.name, reason }, n);
    }
  }
  const res = st.resources as ResourcesStatus | undefined;
  if (res) resourceMetrics(m, res);
  const lb = st.balancers as BalancersStatus | undefined;
  if (lb) balancerMetrics(m, lb);
  for (const x of sharingOf(st)) sharingMetrics(m, x);
  return m.text();
}

/** The content type Prometheus expects for format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
