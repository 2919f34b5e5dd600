/**
 * Two carpool daemons in a namespace LAN, each with its own control socket, state directory
 * and resource files under one temp directory; their console logs kept with timestamps.
 * Everything started here is stopped by PID; the namespace LAN comes from useLab()
 * (test/integration/helpers/lab.ts), which removes it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lan, LabHost } from '../../../src/lab/netns.js';
import { inNs, run } from '../../../src/lib/exec.js';
import { controlRequest } from '../../../src/control/client.js';
import type { DaemonStatus } from '../../../src/control/status.js';
import type { ResourcesStatus } from '../../../src/resources/core/status.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CARPOOL = join(REPO_ROOT, 'bin/carpool');
export const isRoot = process.getuid?.() === 0;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface LogLine { readonly t: number; readonly text: string }

export class Node {
  proc: ChildProcess | undefined;
  readonly lines: LogLine[] = [];
  exited: Promise<number | null> | undefined;

  constructor(readonly host: LabHost, readonly dir: string, readonly t0: number) {
    mkdirSync(dir, { recursive: true });
  }

  get name(): string { return this.host.name; }
  get socket(): string { return join(this.dir, 'carpool.sock'); }
  get configFile(): string { return join(this.dir, 'carpool.yaml'); }

  start(env: NodeJS.ProcessEnv = {}): void {
    const child = spawn('ip', ['netns', 'exec', this.host.ns, process.execPath, CARPOOL, 'run', '-c', this.configFile], {
      cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env },
    });
    this.proc = child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    let buf = '';
    const take = (d: string) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) this.lines.push({ t: performance.now() - this.t0, text: p });
    };
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
  }

  /** SIGTERM and wait (the daemon stops its resources first); SIGKILL by PID if it hangs. */
  async stop(timeoutMs = 60_000): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    try { process.kill(p.pid!, 'SIGTERM'); } catch { return; }
    const done = await Promise.race([this.exited!.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done) {
      try { process.kill(p.pid!, 'SIGKILL'); } catch { /* gone */ }
      await this.exited;
    }
  }

  async status(): Promise<DaemonStatus> {
    return await controlRequest(this.socket, { cmd: 'status' }) as DaemonStatus;
  }

  async resources(): Promise<ResourcesStatus> {
    return (await this.status()).resources as ResourcesStatus;
  }

  async state(instance = 'web'): Promise<string> {
    try {
      return (await this.status()).instances.find((i) => i.name === instance)?.state ?? 'none';
    } catch {
      return 'unreachable';
    }
  }

  /** `carpool <args> -s <socket>` (the CLI as an operator runs it). */
  async cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return run([process.execPath, CARPOOL, ...args], { allowFail: true });
  }

  log(): string {
    return this.lines.map((l) => `${(l.t / 1000).toFixed(3).padStart(8)} ${l.text}`).join('\n');
  }

  /** First log line matching `re` (after index `from`), or undefined. */
  find(re: RegExp, from = 0): LogLine | undefined {
    return this.lines.slice(from).find((l) => re.test(l.text));
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const until = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) { last = err; }
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

export interface Cluster {
  readonly lan: Lan;
  readonly dir: string;
  readonly nodes: readonly Node[];
  readonly t0: number;
  readonly cleanup: () => Promise<void>;
}

/** Two nodes on `lan` (from useLab: two hosts and a client). `cleanup` stops what they started. */
export function makeCluster(lan: Lan): Cluster {
  const prefix = lan.prefix;
  const dir = mkdtempSync(join(tmpdir(), `carpool-${prefix}-`));
  const t0 = performance.now();
  const nodes = lan.hosts.map((h) => new Node(h, join(dir, h.name), t0));
  const cleanup = async () => {
    for (const n of nodes) await n.stop(30_000).catch(() => undefined);
    // Services the agents started (nginx) are stopped by the daemons; anything left is killed by its PID file.
    for (const n of nodes) {
      for (const pidFile of ['nginx.pid']) {
        const p = join(n.dir, pidFile);
        if (!existsSync(p)) continue;
        const pid = Number(readFileSync(p, 'utf8').trim());
        if (pid > 1) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { lan, dir, nodes, t0, cleanup };
}

/** nginx with every path under `dir`, answering `name` on address:port. */
export function writeNginxConfig(dir: string, name: string, address: string, port: number): string {
  const file = join(dir, 'nginx.conf');
  for (const d of ['body', 'proxy', 'fcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(file, `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 64; }
http {
  access_log ${dir}/nginx-access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen ${address}:${port}; location / { return 200 "${name}\\n"; } }
}
`);
  return file;
}

/** GET from the client namespace; the body, or undefined when nothing answers. */
export async function curl(lan: Lan, url: string): Promise<string | undefined> {
  const r = await run(inNs(lan.client!.ns, ['curl', '-s', '--max-time', '1', url]), { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export async function addresses(host: LabHost): Promise<string[]> {
  const r = await run(inNs(host.ns, ['ip', '-o', '-4', 'addr', 'show', 'dev', host.ifname]), { allowFail: true });
  return [...r.stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]!);
}

/**
 * The head every resource test's carpool.yaml shares: the node's own control socket and state
 * directory, no syslog, one CARP instance `web` on eth0 (advbase 1) holding `address`.
 */
export function instanceYaml(n: Node, o: { vhid: number; address: string; advskew?: number }): string {
  const d = n.dir;
  return `control_socket: ${d}/carpool.sock
state_dir: ${d}/state
logging: { facility: none }
instances:
  - name: web
    interface: eth0
    vhid: ${o.vhid}
    password: s3cret
    advbase: 1
${o.advskew !== undefined ? `    advskew: ${o.advskew}\n` : ''}    addresses: [${o.address}]
`;
}

/** A parameter in a test agent's meta-data. */
export interface TestAgentParam {
  readonly name: string;
  readonly shortdesc: string;
  readonly type?: 'string' | 'boolean';
  readonly required?: boolean;
  readonly default?: string;
}

/**
 * An OCF-style shell agent for the tests: `meta-data` prints its XML (start, stop, monitor
 * every 10 s, meta-data); `actions` are the other `case` branches (each ending in `;;`), then
 * validate-all succeeds and anything else exits 3 (unimplemented).
 */
export function testAgent(o: { name: string; comment: string; shortdesc: string; params: readonly TestAgentParam[]; actions: string }): string {
  const params = o.params.map((p) => `<parameter name="${p.name}"${p.required ? ' required="1"' : ''}><shortdesc lang="en">${p.shortdesc}</shortdesc>` +
    `<content type="${p.type ?? 'string'}"${p.default !== undefined ? ` default="${p.default}"` : ''}/></parameter>\n`).join('');
  return `#!/bin/sh
# ${o.comment}
case "$1" in
meta-data)
  cat <<'EOF'
<?xml version="1.0"?>
<resource-agent name="${o.name}" version="1.0">
<version>1.1</version>
<shortdesc lang="en">${o.shortdesc}</shortdesc>
<parameters>
${params}</parameters>
<actions><action name="start" timeout="20s"/><action name="stop" timeout="20s"/><action name="monitor" timeout="20s" interval="10s"/><action name="meta-data" timeout="5s"/></actions>
</resource-agent>
EOF
  exit 0;;
${o.actions}validate-all) exit 0;;
*) exit 3;;
esac
`;
}

/** Install a test OCF agent `ocf:carpooltest:NAME`; returns the environment that lets the daemons find it. */
export function installTestAgent(c: Cluster, name: string, script: string): NodeJS.ProcessEnv {
  const ra = join(c.dir, 'resource.d', 'carpooltest');
  mkdirSync(ra, { recursive: true });
  writeFileSync(join(ra, name), script, { mode: 0o755 });
  return { CARPOOL_OCF_RA_PATH: `${join(c.dir, 'resource.d')}:/usr/lib/ocf/resource.d` };
}
