/**
 * Heartbeat's own files (`/etc/ha.d/ha.cf`, `authkeys`, `haresources`) → one carpool.yaml for
 * one node (`carpool import-heartbeat DIR`). Pure: the CLI reads the files and says which
 * addresses are this node's.
 *
 * The mapping (docs/resources.md, "Importing Heartbeat's own files"):
 * - Each `haresources` line is a resource group with its own failover instance (v1 lines move
 *   independently); its first word, the preferred node, gets priority 150, the others 100, and
 *   `auto_failback on` (Heartbeat's default `legacy` counts as on) is preemption.
 * - `ucast` → a VRRP v3 instance with unicast peers (the ucast addresses not this node's), on the
 *   ucast device; `keepalive` → `advert_int`, `deadtime` → `down_timer_adverts` (deadtime /
 *   keepalive adverts missed); VRRP has no keyed authentication, so `authkeys` is reported.
 *   `mcast`/`bcast` only → a CARP instance: its HMAC-SHA1 password is the `sha1`/`md5` key
 *   (the same meaning: a keyed digest); `keepalive` → `advbase` (whole seconds), `deadtime` →
 *   `deadratio`. `crc` is no authentication at all and is reported either way.
 * - `IPaddr`/`IPaddr2` resources become the instance's addresses (the instance owns the address,
 *   added before the group starts), their device tracked when it is not the heartbeat link; the
 *   other v1 names map as Heartbeat's ResourceManager finds them: a script of
 *   /etc/ha.d/resource.d (OCF wrappers: `Filesystem::dev::dir::fstype` → ocf:heartbeat:Filesystem
 *   with the positional arguments as parameters), else /etc/init.d (`lsb:NAME`).
 * - `crm on`: the resources live in the CIB (`--cib FILE`, imported as `carpool import-cib`
 *   does; a location preference for one node makes it the preferred node); without it
 *   `haresources` is used, with a warning (Heartbeat would ignore it).
 * Everything else is reported, one line per directive.
 */
import { importCib, type ImportMessage } from './cib.js';
import { parseDurationMs } from './core/duration.js';
import { classify, clip, rightCommand } from '../config/input-guard.js';

export interface HeartbeatFiles {
  /** Where the files come from (for messages and the header). */
  readonly dir: string;
  readonly haCf: string;
  readonly authkeys?: string;
  readonly haresources?: string;
  /** The CIB of a `crm on` cluster (/var/lib/heartbeat/crm/cib.xml). */
  readonly cib?: string;
  readonly cibName?: string;
}

export interface HeartbeatOptions {
  /** This node's name as ha.cf's `node` lines spell it (`uname -n`). */
  readonly node: string;
  /** This node's addresses: they are not its own unicast peers, and the first one found is the source. */
  readonly ownAddresses: readonly string[];
  /** `crm on` with a CIB: the virtual address the instance holds (CIDR, on the heartbeat link unless `dev` is given). */
  readonly address?: string;
}

export interface HeartbeatResult {
  readonly yaml: string;
  readonly messages: readonly ImportMessage[];
  /** Messages about something not carried (`--strict`). */
  readonly lost: number;
}

/** v1 resource names Heartbeat ships as OCF wrappers in /etc/ha.d/resource.d, with their positional parameters. */
const V1_OCF: Readonly<Record<string, readonly string[]>> = {
  Filesystem: ['device', 'directory', 'fstype', 'options'],
  MailTo: ['email', 'subject'],
  Delay: ['startdelay', 'stopdelay'],
  IPsrcaddr: ['ipaddress'],
  SendArp: ['ip', 'nic'],
  LVM: ['volgrpname'],
  Xinetd: ['service'],
  apache: ['configfile'],
  AudibleAlarm: ['nodelist'],
  portblock: ['protocol', 'portno', 'action'],
  WinPopup: ['hostfile'],
  Raid1: ['raidconf', 'raiddev'],
  db2: ['instance'],
  ServeRAID: ['serveraid', 'mergegroup'],
  LinuxSCSI: ['scsi'],
  ICP: ['driveid', 'device'],
};
/**
 * Parameters a v1 wrapper implies: Delay's monitor sleeps `mondelay`, documented as defaulting
 * to `startdelay` but 30 s in the agent — past the monitor's timeout; v1 never monitored.
 */
const V1_IMPLIED: Readonly<Record<string, (given: ReadonlyMap<string, string>) => [string, string][]>> = {
  Delay: (given) => [['mondelay', given.get('startdelay') ?? '0']],
};
/** Heartbeat v1 scripts with no OCF agent to map to. */
const V1_UNMAPPED: Readonly<Record<string, string>> = {
  drbddisk: 'DRBD is master/slave in OCF (ocf:linbit:drbd), which carpool does not run; use builtin:command with `drbdadm primary RES` / `drbdadm secondary RES`',
  hto_mapfuncs: 'a helper library, not a resource',
  OCF: 'OCF:: wrappers take an instance name whose parameters live elsewhere; write the OCF agent with its params',
};

/** ha.cf directives that are about Heartbeat's own transport or logging: nothing to carry. */
const HA_CF_NOTES: Readonly<Record<string, string>> = {
  udpport: 'VRRP and CARP are IP protocol 112: no UDP port',
  use_logd: 'carpool logs to syslog itself', logfile: 'carpool logs to syslog itself', debugfile: 'carpool logs to syslog itself',
  logfacility: 'set logging.facility if it matters', warntime: 'carpool has no early-warning time', debug: 'logging.debug: true',
  apiauth: 'Heartbeat API permissions', respawn: 'Heartbeat helper processes', compression: 'Heartbeat message compression',
  compression_threshold: 'Heartbeat message compression', traditional_compression: 'Heartbeat message compression', coredumps: 'core dumps',
  uuidfrom: 'node identity', conn_logd_time: 'logging daemon', autojoin: 'cluster membership', hopfudge: 'Heartbeat ring routing',
};

/** `table[key]` for the table's own keys only (a word such as `constructor` is no entry). */
function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

interface Directive { readonly key: string; readonly args: readonly string[]; readonly line: number }

/** Longer than any line of ha.cf, authkeys or haresources (a 10 MB token is refused, not echoed). */
const MAX_LINE = 4096;

/**
 * A file that is not one of Heartbeat's (binary data, a CIB, keepalived.conf, carpool YAML) or has a
 * line longer than MAX_LINE: the error, with the command that reads it where there is one.
 */
export function screenHeartbeatFile(path: string, text: string): string | undefined {
  const kind = classify(text);
  if (kind === 'binary') return `${path}: the file holds binary data, not text`;
  if (kind === 'cib' || kind === 'xml') {
    return `${path}: this is XML${kind === 'cib' ? ' (a CIB)' : ''}, not one of Heartbeat's line files: ${kind === 'cib' ? `carpool import-cib ${path}, or --cib ${path} with crm on` : 'expected ha.cf, authkeys or haresources'}`;
  }
  if (kind === 'keepalived') return `${path}: this is keepalived.conf, not Heartbeat's: ${rightCommand(kind, path)!} reads it`;
  let start = 0;
  for (let line = 1; start <= text.length; line++) {
    const end = text.indexOf('\n', start) === -1 ? text.length : text.indexOf('\n', start);
    if (end - start > MAX_LINE) return `${path}:${line}: a line of ${end - start} characters (at most ${MAX_LINE}): '${clip(text.slice(start, end), 60)}'`;
    start = end + 1;
  }
  return undefined;
}

function directives(text: string): Directive[] {
  return text.split('\n').flatMap((raw, i) => {
    const l = raw.replace(/#.*/, '').trim();
    if (!l) return [];
    const [key, ...args] = l.split(/\s+/);
    return [{ key: key!, args, line: i + 1 }];
  });
}

/** haresources lines: comments dropped, a trailing backslash continues the line; `line` is where it starts. */
function logicalLines(text: string): { words: string[]; line: number }[] {
  const out: { words: string[]; line: number }[] = [];
  let cur: { words: string[]; line: number } | undefined;
  text.split('\n').forEach((raw, i) => {
    let l = raw.replace(/#.*/, '').trim();
    const more = l.endsWith('\\');
    if (more) l = l.slice(0, -1);
    cur ??= { words: [], line: i + 1 };
    cur.words.push(...l.split(/\s+/).filter(Boolean));
    if (!more) {
      if (cur.words.length) out.push(cur);
      cur = undefined;
    }
  });
  if (cur?.words.length) out.push(cur);
  return out;
}

/** Heartbeat times: `100ms`, `2s`, `1` (seconds). */
function hbTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  return parseDurationMs(/^\d+(\.\d+)?$/.test(v) ? `${v}s` : v);
}

const yamlStr = (s: string) => (/^[A-Za-z0-9_./:@-]+$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s) && !/^[\d.]+$/.test(s) ? s : JSON.stringify(s));

interface HaResource { readonly id: string; readonly agent: string; readonly params: readonly (readonly [string, string])[] }

interface HaLine {
  readonly node: string;
  readonly addresses: { address: string; dev?: string; broadcast?: string }[];
  readonly resources: HaResource[];
}

/** One `haresources` line: `node-1 IPaddr::192.168.0.100/24/eth0 Filesystem::/dev/sda1::/data::ext3 apache`. */
function readHaresourcesLine(words: readonly string[], lineNo: number, where: string, used: Set<string>, msgs: ImportMessage[]): HaLine {
  const [node, ...specs] = words;
  const out: HaLine = { node: node!, addresses: [], resources: [] };
  for (const spec of specs) {
    // A bare address is short for IPaddr::address (Heartbeat's ResourceManager).
    const [name, ...args] = /^\d+\.\d+\.\d+\.\d+(\/|$)/.test(spec) ? ['IPaddr', spec] : spec.split('::');
    const what = `${where}:${lineNo}: ${spec}`;
    if (name === 'IPaddr' || name === 'IPaddr2') {
      // IPaddr::ip[/prefix[/dev[/broadcast]]]
      const [ip, prefix, dev, broadcast] = (args[0] ?? '').split('/');
      if (!ip || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
        msgs.push({ level: 'error', text: `${what}: not an IPv4 address; skipped` });
        continue;
      }
      out.addresses.push({ address: `${ip}/${prefix || '32'}`, ...(dev ? { dev } : {}), ...(broadcast ? { broadcast } : {}) });
      if (!prefix) msgs.push({ level: 'warning', text: `${what}: no prefix length: /32 used (Heartbeat's IPaddr derives it from the interface's route)` });
      msgs.push({ level: 'note', text: `${what}: the instance's address (added on MASTER before the group starts, with gratuitous ARP)` });
      continue;
    }
    const base = name!;
    let id = base.toLowerCase().replace(/[^a-z0-9_.-]/g, '-');
    for (let n = 2; used.has(id); n++) id = `${base.toLowerCase()}-${n}`;
    const unmapped = ownEntry(V1_UNMAPPED, base);
    if (unmapped) { msgs.push({ level: 'error', text: `${what}: ${unmapped}; not imported` }); continue; }
    const positional = ownEntry(V1_OCF, base);
    if (positional) {
      if (args.length > positional.length) {
        msgs.push({ level: 'error', text: `${what}: ${base} takes at most ${positional.length} arguments (${positional.join(', ')}); not imported` });
        continue;
      }
      used.add(id);
      const params = args.map((a, i): [string, string] => [positional[i]!, a]);
      params.push(...(ownEntry(V1_IMPLIED, base)?.(new Map(params)) ?? []));
      out.resources.push({ id, agent: `ocf:heartbeat:${base}`, params });
      msgs.push({ level: 'note', text: `${what}: /etc/ha.d/resource.d/${base} is Heartbeat's wrapper of ocf:heartbeat:${base}${args.length ? ` (${args.map((a, i) => `${positional[i]}=${a}`).join(', ')})` : ''}` });
      continue;
    }
    if (args.length) {
      msgs.push({ level: 'error', text: `${what}: a script with arguments that is not one of Heartbeat's OCF wrappers (${Object.keys(V1_OCF).join(', ')}): ` +
        'it takes positional arguments carpool cannot pass; not imported — use an OCF agent or builtin:command' });
      continue;
    }
    used.add(id);
    out.resources.push({ id, agent: `lsb:${base}`, params: [] });
    msgs.push({ level: 'note', text: `${what}: no Heartbeat wrapper of that name: /etc/init.d/${base} (lsb:${base}), as Heartbeat's ResourceManager looks it up` });
  }
  return out;
}

/** The files of /etc/ha.d → carpool YAML for `opts.node`. */
export function importHeartbeat(files: HeartbeatFiles, opts: HeartbeatOptions): HeartbeatResult {
  const screened = [['ha.cf', files.haCf], ['authkeys', files.authkeys], ['haresources', files.haresources]]
    .map(([name, text]) => text === undefined ? undefined : screenHeartbeatFile(`${files.dir}/${name!}`, text))
    .filter((e) => e !== undefined);
  if (screened.length) return { yaml: '', messages: screened.map((text) => ({ level: 'error', text })), lost: screened.length };
  const msgs: ImportMessage[] = [];
  const at = (file: string, d: Directive) => `${files.dir}/${file}:${d.line}: ${d.key}`;
  // --- ha.cf --------------------------------------------------------------------------------
  const nodes: string[] = [];
  const ucast: { dev: string; ip: string }[] = [];
  const multi: { dev: string; kind: string }[] = [];
  let keepaliveMs = 2000;
  let deadtimeMs = 30_000;
  let crm = false;
  let autoFailback = true;
  for (const d of directives(files.haCf)) {
    const w = at('ha.cf', d);
    switch (d.key) {
      case 'node': nodes.push(...d.args); break;
      case 'ucast':
        if (d.args.length !== 2) msgs.push({ level: 'error', text: `${w}: expected 'ucast DEVICE ADDRESS'; skipped` });
        else ucast.push({ dev: d.args[0]!, ip: d.args[1]! });
        break;
      case 'mcast': case 'mcast6': case 'bcast':
        for (const dev of d.key === 'bcast' ? d.args : d.args.slice(0, 1)) multi.push({ dev, kind: d.key });
        if (d.key !== 'bcast') msgs.push({ level: 'note', text: `${w}: group ${d.args[1] ?? '?'} port ${d.args[2] ?? '?'}: carpool advertises to 224.0.0.18, protocol 112` });
        break;
      case 'keepalive': case 'deadtime': {
        const ms = hbTime(d.args[0]);
        if (ms === undefined || ms <= 0) { msgs.push({ level: 'error', text: `${w}: '${d.args[0] ?? ''}' is not a time; default kept` }); break; }
        if (d.key === 'keepalive') keepaliveMs = ms; else deadtimeMs = ms;
        break;
      }
      case 'initdead':
        msgs.push({ level: 'warning', text: `${w} ${d.args[0] ?? ''}: not carried — a carpool node starts as backup and takes over after the dead time without a longer first wait` });
        break;
      case 'crm': crm = /^(on|yes|true|respawn|1)$/i.test(d.args[0] ?? ''); break;
      case 'auto_failback':
        autoFailback = !/^(off|no|false|0)$/i.test(d.args[0] ?? '');
        if (/^legacy$/i.test(d.args[0] ?? '')) msgs.push({ level: 'note', text: `${w} legacy: carried as on (preempt)` });
        break;
      case 'ping': case 'ping_group': case 'deadping':
        msgs.push({ level: 'warning', text: `${w} ${d.args.join(' ')}: ping nodes (ipfail) are not carried; track the path with a vrrp_script such as "ping -c1 -W1 ${d.args[d.args.length - 1] ?? 'GATEWAY'}"` });
        break;
      case 'serial': case 'baud': case 'watchdog': case 'stonith': case 'stonith_host': case 'realtime': case 'max_rexmit_delay': case 'msgfmt':
        msgs.push({ level: 'warning', text: `${w} ${d.args.join(' ')}: not carried (no carpool equivalent)` });
        break;
      default: {
        const why = ownEntry(HA_CF_NOTES, d.key);
        msgs.push(why ? { level: 'note', text: `${w}: ${why}` } : { level: 'warning', text: `${w}: unknown directive; not carried` });
      }
    }
  }
  if (!nodes.includes(opts.node)) {
    msgs.push({ level: 'warning', text: `this node '${opts.node}' is not among ha.cf's nodes (${nodes.join(', ') || 'none'}): it gets the lower priority; give --node NAME as \`uname -n\` says on that node` });
  }
  // --- authkeys ------------------------------------------------------------------------------
  let key: { method: string; secret: string } | undefined;
  if (files.authkeys === undefined) msgs.push({ level: 'warning', text: `${files.dir}/authkeys: missing; no authentication` });
  else {
    const ds = directives(files.authkeys);
    const auth = ds.find((d) => d.key === 'auth')?.args[0];
    const k = ds.find((d) => d.key === auth);
    if (!auth || !k) msgs.push({ level: 'error', text: `${files.dir}/authkeys: no 'auth N' with a key line 'N METHOD [KEY]'; no authentication` });
    else key = { method: k.args[0] ?? '', secret: k.args.slice(1).join(' ') };
  }
  // --- the instance ---------------------------------------------------------------------------
  const own = new Set(opts.ownAddresses);
  const useVrrp = ucast.length > 0;
  const link = ucast[0]?.dev ?? multi[0]?.dev;
  if (!link) msgs.push({ level: 'error', text: `${files.dir}/ha.cf: no ucast, mcast or bcast line: no heartbeat link to put the instance on` });
  const peers = ucast.filter((u) => !own.has(u.ip)).map((u) => u.ip);
  const source = ucast.find((u) => own.has(u.ip))?.ip;
  if (useVrrp && !source) {
    msgs.push({ level: 'warning', text: `none of the ucast addresses (${ucast.map((u) => u.ip).join(', ')}) is this node's: all are unicast peers and the source is the interface's primary address; run the import on the node, or give --source` });
  }
  if (ucast.some((u) => u.dev !== link)) msgs.push({ level: 'warning', text: `ucast on several devices (${[...new Set(ucast.map((u) => u.dev))].join(', ')}): the instance uses ${link}; Heartbeat's redundant links are not carried` });
  if (multi.length && useVrrp) msgs.push({ level: 'warning', text: `${multi.map((m) => `${m.kind} ${m.dev}`).join(', ')} besides ucast: a second heartbeat path is not carried (the instance uses unicast on ${link})` });
  else if (multi.length > 1) msgs.push({ level: 'warning', text: `several heartbeat paths (${multi.map((m) => `${m.kind} ${m.dev}`).join(', ')}): the instance uses ${link}` });
  const ratio = Math.max(1, Math.round(deadtimeMs / keepaliveMs));
  let timing: string[];
  let auth: string[] = [];
  if (useVrrp) {
    const advert = Math.min(40_950, Math.max(10, Math.round(keepaliveMs / 10) * 10));
    if (advert !== keepaliveMs) msgs.push({ level: 'warning', text: `keepalive ${keepaliveMs} ms: VRRP v3 adverts go every ${advert} ms (10 ms steps, at most 40.95 s)` });
    if (ratio > 100) msgs.push({ level: 'warning', text: `deadtime / keepalive = ${ratio}: at most 100 adverts may be missed; 100 used` });
    timing = [`advert_int: ${advert / 1000}`, `down_timer_adverts: ${Math.min(100, ratio)}     # deadtime ${deadtimeMs / 1000} s / keepalive ${keepaliveMs / 1000} s`];
    if (key && key.method !== 'crc') {
      msgs.push({ level: 'warning', text: `authkeys: the ${key.method} key is not carried — VRRP has no keyed authentication (v3 none, v2's auth_pass is plain text): ` +
        `keep the ucast link (${link ?? '?'}) private, or use mcast/bcast in ha.cf to get a CARP instance with HMAC-SHA1` });
    }
  } else {
    const advbase = Math.max(1, Math.round(keepaliveMs / 1000));
    if (advbase * 1000 !== keepaliveMs) msgs.push({ level: 'warning', text: `keepalive ${keepaliveMs} ms: CARP advertises in whole seconds: advbase ${advbase}` });
    const deadratio = Math.min(255, Math.max(1, Math.round(deadtimeMs / (advbase * 1000))));
    timing = [`advbase: ${advbase}`, `deadratio: ${deadratio}     # deadtime ${deadtimeMs / 1000} s`];
    if (key && key.method !== 'crc') {
      let secret = key.secret;
      if (Buffer.byteLength(secret) > 19) {
        secret = Buffer.from(secret).subarray(0, 19).toString();
        msgs.push({ level: 'warning', text: `authkeys: the ${key.method} key is longer than CARP's 19 bytes: its first 19 bytes are the password (the same on every node)` });
      }
      if (key.method !== 'sha1') msgs.push({ level: 'note', text: `authkeys: the ${key.method} key is CARP's HMAC-SHA1 password (a keyed digest all the same)` });
      auth = [`password: ${yamlStr(secret)}`];
    } else {
      auth = ['password: CHANGE-ME      # authkeys had no key: CARP needs one, the same on every node'];
    }
  }
  if (key?.method === 'crc') msgs.push({ level: 'warning', text: 'authkeys: crc is a checksum, not authentication: the heartbeat was unauthenticated, and so is the imported instance' + (useVrrp ? '' : ' until a password is set') });
  else if (key && !['sha1', 'md5'].includes(key.method)) msgs.push({ level: 'error', text: `authkeys: unknown method '${key.method}'` });

  // --- resources ------------------------------------------------------------------------------
  const lines: HaLine[] = [];
  let cibYaml: string | undefined;
  if (crm && files.cib !== undefined) {
    if (files.haresources !== undefined) msgs.push({ level: 'note', text: `crm on: ${files.dir}/haresources is ignored, as Heartbeat does; the resources come from the CIB` });
    if (!opts.address) msgs.push({ level: 'error', text: 'crm on: give the virtual address the groups follow with --address CIDR (the CIB\'s IPaddr resources stay resources)' });
    const r = importCib(files.cib, { instance: 'heartbeat1', source: files.cibName ?? 'cib.xml' });
    msgs.push(...r.messages);
    cibYaml = r.yaml.split('\n').filter((l) => !l.startsWith('# The groups follow')).join('\n');
    // The CIB's location preference is the preferred node of the instance, as a haresources line's first word.
    if (r.preferredNode) msgs.push({ level: 'note', text: `the CIB prefers ${r.preferredNode} (rsc_location): it gets the instance's higher priority` });
    lines.push({ node: r.preferredNode ?? '', addresses: opts.address ? [{ address: opts.address }] : [], resources: [] });
  } else {
    if (crm) {
      msgs.push({ level: 'warning', text: `crm on: Heartbeat reads the resources from the CIB (/var/lib/heartbeat/crm/cib.xml) and ignores haresources; ` +
        `${files.haresources !== undefined ? 'haresources imported instead' : 'nothing to import'} — give --cib FILE to import the CIB` });
    }
    const used = new Set<string>();
    for (const d of logicalLines(files.haresources ?? '')) lines.push(readHaresourcesLine(d.words, d.line, `${files.dir}/haresources`, used, msgs));
    if (!lines.length) msgs.push({ level: 'error', text: 'no resource groups: neither haresources lines nor a CIB (--cib)' });
  }
  // --- YAML -----------------------------------------------------------------------------------
  const out: string[] = ['instances:'];
  const resourceLines: string[] = [];
  const groupLines: string[] = [];
  lines.forEach((l, i) => {
    const name = `heartbeat${i + 1}`;
    const preferred = l.node === opts.node;
    const trackDevs = [...new Set(l.addresses.map((a) => a.dev).filter((d): d is string => d !== undefined && d !== link))];
    if (!l.addresses.length && !cibYaml) msgs.push({ level: 'error', text: `haresources line ${i + 1} (${l.node}): no IPaddr: the instance has no address to hold; add one` });
    const addr = l.addresses.map((a) => (a.dev && a.dev !== link) || a.broadcast
      ? `{ address: ${a.address}${a.dev && a.dev !== link ? `, dev: ${a.dev}` : ''}${a.broadcast ? `, broadcast: ${a.broadcast}` : ''} }` : a.address);
    const prio = l.node === '' ? 100 : preferred ? 150 : 100;
    if (useVrrp) {
      out.push(`  - name: ${name}`, '    protocol: vrrp', '    version: 3', `    interface: ${link ?? 'eth0'}`, `    virtual_router_id: ${i + 1}`,
        `    priority: ${prio}${l.node ? `     # ${preferred ? 'this node is' : `${l.node} is`} the preferred node${cibYaml ? ' (rsc_location)' : ' of the haresources line'}` : ''}`,
        `    preempt: ${autoFailback}     # auto_failback`, ...timing.map((t) => `    ${t}`),
        `    unicast_peers: [${peers.join(', ')}]`, ...(source ? [`    source: ${source}`] : []));
      if (trackDevs.length) out.push(`    track_interfaces: [${trackDevs.join(', ')}]     # the address's device: a cut link hands it over`);
    } else {
      out.push(`  - name: ${name}`, `    interface: ${link ?? 'eth0'}`, `    vhid: ${i + 1}`, `    advskew: ${prio === 150 ? 0 : 100}`,
        `    preempt: ${autoFailback}`, ...timing.map((t) => `    ${t}`), ...auth.map((a) => `    ${a}`));
      if (trackDevs.length) msgs.push({ level: 'warning', text: `${name}: addresses on ${trackDevs.join(', ')}: CARP tracks only its own interface (${link ?? '?'}); a cut of ${trackDevs.join(', ')} does not hand over` });
    }
    out.push(`    addresses: [${addr.join(', ')}]`);
    if (l.resources.length) {
      for (const r of l.resources) {
        resourceLines.push(`  - id: ${r.id}`, `    agent: ${r.agent}`);
        if (r.params.length) resourceLines.push(`    params: { ${r.params.map(([k, v]) => `${k}: ${yamlStr(v)}`).join(', ')} }`);
        resourceLines.push('    op: { monitor: { interval: 10s } }     # Heartbeat v1 never monitored; carpool does');
      }
      groupLines.push(`  - id: group${i + 1}`, `    instance: ${name}`, `    resources: [${l.resources.map((r) => r.id).join(', ')}]`);
    }
  });
  if (cibYaml) out.push(cibYaml.trimEnd());
  else if (groupLines.length) out.push('resources:', ...resourceLines, 'groups:', ...groupLines);
  const head = [
    `# carpool configuration imported by \`carpool import-heartbeat ${files.dir}\` for node ${opts.node}.`,
    `# The same import on ${nodes.filter((n) => n !== opts.node).join(', ') || 'the other node'} (--node) gives its file: only the priority and the source differ.`,
    ...msgs.filter((x) => x.level !== 'note').map((m) => `# ${m.level.toUpperCase()}: ${m.text}`),
  ];
  return { yaml: [...head, ...out].join('\n') + '\n', messages: msgs, lost: msgs.filter((m) => m.level !== 'note').length };
}
