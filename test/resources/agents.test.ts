/**
 * The agent runner against real processes: scripted OCF agents in a temp RA directory (a
 * well-behaved one, one that hangs with a child, one that prints garbage), Debian's real
 * Dummy and IPaddr2 meta-data, an LSB script, and the systemd refusal on a non-systemd host.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentSpec, Resource } from '../../src/config/model.js';
import { AgentRunner, defaultAgentHost, type AgentHost } from '../../src/resources/shell/agents.js';
import { parseMetaData } from '../../src/resources/shell/meta-data.js';
import { judge } from '../../src/resources/core/ocf.js';
import { parseDurationMs, formatDuration } from '../../src/resources/core/duration.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-agents-'));
const raDir = join(dir, 'resource.d');
mkdirSync(join(raDir, 'test'), { recursive: true });
const host: AgentHost = { ...defaultAgentHost(), raPath: [raDir, '/usr/lib/ocf/resource.d'], systemd: false, pid1: 'init-of-test' };
const runner = new AgentRunner(host);

function agent(name: string, body: string): void {
  const p = join(raDir, 'test', name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
}

function resource(a: AgentSpec, params: Record<string, string> = {}, id = 'r1'): Resource {
  return {
    id, agent: a, params, env: {}, start: { timeoutMs: 5000, onFail: 'restart' }, stop: { timeoutMs: 5000, onFail: 'block' },
    migrationThreshold: 0, failureTimeoutMs: 0,
  };
}

agent('envdump', `env | grep -E '^OCF_' | sort > "$OCF_RESKEY_out"; echo "ocf-exit-reason:first" >&2; echo "ocf-exit-reason:the real reason" >&2; exit 0`);
agent('hang', `echo "starting up" >&2; sleep 30 & echo "child $!" >&2; sleep 30; exit 0`);
agent('garbage', `printf '\\001\\002\\377binary junk\\033[31m\\n' >&2; printf '<resource-agent><unclosed>'; exit 42`);
agent('daemonizer', `sleep 20 & echo "started $!" >&2; exit 0`);
agent('signalled', `kill -SEGV $$`);
agent('noexec', 'exit 0');
chmodSync(join(raDir, 'test', 'noexec'), 0o644);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('agent runner', () => {
  it('hands OCF its environment (ms units, instance, params) and reads the last exit reason', async () => {
    const out = join(dir, 'env.txt');
    const res = await runner.run(resource({ class: 'ocf', provider: 'test', type: 'envdump' }, { out, 'odd-name': 'x y' }, 'web'),
      { action: 'monitor', intervalMs: 10_000, timeoutMs: 20_000, checkLevel: 10 });
    expect(res.outcome).toEqual({ kind: 'exited', rc: 0 });
    expect(res.exitReason).toBe('the real reason');
    const env = readFileSync(out, 'utf8');
    for (const line of ['OCF_ROOT=/usr/lib/ocf', 'OCF_RESOURCE_INSTANCE=web', 'OCF_RESOURCE_TYPE=envdump', 'OCF_RESOURCE_PROVIDER=test',
      'OCF_RESKEY_CRM_meta_timeout=20000', 'OCF_RESKEY_CRM_meta_interval=10000', 'OCF_RESKEY_CRM_meta_name=monitor',
      'OCF_RESKEY_odd_name=x y', 'OCF_CHECK_LEVEL=10', 'OCF_RA_VERSION_MAJOR=1']) {
      expect(env).toContain(`${line}\n`);
    }
  });

  it('kills a hung agent with its whole process group at the timeout and keeps its stderr', async () => {
    const t0 = performance.now();
    const res = await runner.run(resource({ class: 'ocf', provider: 'test', type: 'hang' }), { action: 'start', intervalMs: 0, timeoutMs: 800 });
    const took = performance.now() - t0;
    expect(res.outcome).toEqual({ kind: 'timeout' });
    expect(res.output).toContain('starting up');
    expect(took).toBeGreaterThanOrEqual(790);
    expect(took).toBeLessThan(2000);
    expect(judge('start', res.outcome)).toMatchObject({ ok: false, severity: 'soft', text: "'Timed Out' (1)" });
    // The background child was in the agent's process group: gone too.
    const child = Number(/child (\d+)/.exec(res.output)?.[1]);
    expect(child).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 50));
    // Gone, or a zombie waiting for PID 1 to reap it (killed all the same).
    let state = 'gone';
    try { state = readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.slice(0, 1); } catch { /* gone */ }
    expect(['gone', 'Z']).toContain(state);
  });

  it('does not wait for a daemon that keeps the pipes open', async () => {
    const t0 = performance.now();
    const res = await runner.run(resource({ class: 'ocf', provider: 'test', type: 'daemonizer' }), { action: 'start', intervalMs: 0, timeoutMs: 10_000 });
    expect(res.outcome).toEqual({ kind: 'exited', rc: 0 });
    expect(performance.now() - t0).toBeLessThan(1500);
    const pid = Number(/started (\d+)/.exec(res.output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
  });

  it('turns garbage, unknown exit codes, signals and missing agents into failures, never exceptions', async () => {
    const g = await runner.run(resource({ class: 'ocf', provider: 'test', type: 'garbage' }), { action: 'monitor', intervalMs: 5000, timeoutMs: 5000 });
    expect(g.outcome).toEqual({ kind: 'exited', rc: 42 });
    expect(g.output).toBe('???binary junk?[31m');
    expect(judge('monitor', g.outcome)).toMatchObject({ ok: false, severity: 'soft', text: "'unknown exit code' (42)" });
    const md = await runner.metaData(resource({ class: 'ocf', provider: 'test', type: 'garbage' }));
    expect(md.ok).toBe(false);
    const s = await runner.run(resource({ class: 'ocf', provider: 'test', type: 'signalled' }), { action: 'start', intervalMs: 0, timeoutMs: 5000 });
    expect(s.outcome).toEqual({ kind: 'signal', signal: 'SIGSEGV' });
    const missing = await runner.run(resource({ class: 'ocf', provider: 'nobody', type: 'nothing' }), { action: 'start', intervalMs: 0, timeoutMs: 5000 });
    expect(missing.outcome).toEqual({ kind: 'exited', rc: 5 });
    expect(missing.exitReason).toMatch(/agent ocf:nobody:nothing not found/);
    expect(judge('start', missing.outcome)).toMatchObject({ ok: false, severity: 'hard' });
    const noexec = await runner.run(resource({ class: 'ocf', provider: 'test', type: 'noexec' }), { action: 'start', intervalMs: 0, timeoutMs: 5000 });
    expect(noexec.outcome).toEqual({ kind: 'exited', rc: 4 });
  });

  it('runs Debian\'s Dummy agent through start, monitor, stop (probe says 7 when stopped)', async () => {
    const state = join(dir, 'dummy.state');
    const r = resource({ class: 'ocf', provider: 'heartbeat', type: 'Dummy' }, { state });
    const call = (action: 'start' | 'stop' | 'monitor', intervalMs = 0) => runner.run(r, { action, intervalMs, timeoutMs: 20_000 });
    expect((await call('monitor')).outcome).toEqual({ kind: 'exited', rc: 7 });
    expect((await call('start')).outcome).toEqual({ kind: 'exited', rc: 0 });
    expect(existsSync(state)).toBe(true);
    expect((await call('monitor', 10_000)).outcome).toEqual({ kind: 'exited', rc: 0 });
    expect((await call('stop')).outcome).toEqual({ kind: 'exited', rc: 0 });
    expect((await call('monitor', 10_000)).outcome).toEqual({ kind: 'exited', rc: 7 });
  });

  it('parses real meta-data (IPaddr2: ip is required) despite log lines on stderr', async () => {
    const md = await runner.metaData(resource({ class: 'ocf', provider: 'heartbeat', type: 'IPaddr2' }));
    expect(md.ok).toBe(true);
    if (!md.ok) return;
    expect(md.meta.name).toBe('IPaddr2');
    expect(md.meta.parameters.find((p) => p.name === 'ip')).toMatchObject({ required: true, unique: true, type: 'string' });
    expect(md.meta.parameters.find((p) => p.name === 'cidr_netmask')?.required).toBe(false);
    expect(md.meta.actions.find((a) => a.name === 'start')?.timeoutMs).toBe(20_000);
    const nginx = await runner.metaData(resource({ class: 'ocf', provider: 'heartbeat', type: 'nginx' }));
    expect(nginx.ok && nginx.meta.actions.filter((a) => a.name === 'monitor').map((a) => a.depth)).toEqual([0, 10, 20, 30]);
    expect(parseMetaData('INFO: hello\n')).toEqual({ ok: false, reason: 'no XML in the output' });
    expect(parseMetaData('<resource-agent name="x"><parameters><parameter name="a"></parameters></resource-agent>'))
      .toMatchObject({ ok: false, reason: expect.stringMatching(/not well-formed XML/) });
  });

  it('maps an LSB script (status 3 = stopped) and refuses systemd where it is not PID 1', async () => {
    const script = join(dir, 'lsb-svc');
    const flag = join(dir, 'lsb.running');
    writeFileSync(script, `#!/bin/sh\ncase "$1" in start) touch ${flag};; stop) rm -f ${flag};; status) [ -e ${flag} ] && exit 0; exit 3;; *) exit 3;; esac\n`);
    chmodSync(script, 0o755);
    const r = resource({ class: 'lsb', type: script });
    expect((await runner.run(r, { action: 'monitor', intervalMs: 0, timeoutMs: 5000 })).outcome).toEqual({ kind: 'exited', rc: 7 });
    await runner.run(r, { action: 'start', intervalMs: 0, timeoutMs: 5000 });
    expect((await runner.run(r, { action: 'monitor', intervalMs: 0, timeoutMs: 5000 })).outcome).toEqual({ kind: 'exited', rc: 0 });
    const sd = await runner.run(resource({ class: 'systemd', type: 'nginx.service' }), { action: 'start', intervalMs: 0, timeoutMs: 5000 });
    expect(sd.outcome).toEqual({ kind: 'exited', rc: 5 });
    expect(sd.exitReason).toBe("systemd is not PID 1 on this host (PID 1 is 'init-of-test'): systemd:nginx.service cannot be managed here; use an OCF agent, an LSB script or builtin:command");
  });

  it('runs builtin commands and checks', async () => {
    const flag = join(dir, 'cmd.flag');
    const r = resource({ class: 'builtin', type: 'command' }, { start: `touch ${flag}`, stop: `rm -f ${flag}`, monitor: `test -e ${flag}` });
    const call = (action: 'start' | 'stop' | 'monitor') => runner.run(r, { action, intervalMs: 0, timeoutMs: 5000 });
    expect((await call('monitor')).outcome).toEqual({ kind: 'exited', rc: 7 });
    expect((await call('start')).outcome).toEqual({ kind: 'exited', rc: 0 });
    expect((await call('monitor')).outcome).toEqual({ kind: 'exited', rc: 0 });
    const bad = await runner.run(resource({ class: 'builtin', type: 'command' }, { start: 'echo nope >&2; exit 3' }), { action: 'start', intervalMs: 0, timeoutMs: 5000 });
    expect(bad).toMatchObject({ outcome: { kind: 'exited', rc: 1 }, exitReason: "'echo nope >&2; exit 3' exited with 3", output: 'nope' });
    const tcp = resource({ class: 'builtin', type: 'tcp' }, { host: '127.0.0.1', port: '1' }, 'tcp1');
    const t = await runner.run(tcp, { action: 'start', intervalMs: 0, timeoutMs: 700 });
    expect(t.outcome).toEqual({ kind: 'timeout' });
    expect(t.exitReason).toBe('127.0.0.1:1: ECONNREFUSED');
  });

  it('reads Pacemaker durations', () => {
    expect(parseDurationMs('20')).toBe(20_000);
    expect(parseDurationMs('5s')).toBe(5000);
    expect(parseDurationMs('1500ms')).toBe(1500);
    expect(parseDurationMs('2min')).toBe(120_000);
    expect(parseDurationMs('PT1M30S')).toBe(90_000);
    expect(parseDurationMs('soon')).toBeUndefined();
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(1500)).toBe('1500ms');
  });
});
