/**
 * The ResourceManager shell with a scripted agent runner: standby is asked once per instance
 * (whatever number of groups want it), lifted when none does, moves survive a restart, commands
 * say clearly what is wrong, and shutdown waits for the reverse-order stops.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Resource, ResourcesConfig } from '../../src/config/model.js';
import { AgentRunner, defaultAgentHost, type AgentCall, type AgentResult } from '../../src/resources/shell/agents.js';
import { ResourceManager } from '../../src/resources/shell/manager.js';
import { formatResources } from '../../src/status/resources-text.js';
import { renderStatusHtml } from '../../src/status/html.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-rm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

class FakeRunner extends AgentRunner {
  readonly running = new Set<string>();
  readonly calls: string[] = [];
  failStart = new Set<string>();
  output = '';

  constructor() { super({ ...defaultAgentHost(), node: 'n1' }); }

  override run(r: Resource, call: AgentCall): Promise<AgentResult> {
    this.calls.push(`${call.action}${call.action === 'monitor' && call.intervalMs === 0 ? '(probe)' : ''} ${r.id}`);
    let rc = 0;
    if (call.action === 'start') {
      if (this.failStart.has(r.id)) rc = 1; else this.running.add(r.id);
    } else if (call.action === 'stop') this.running.delete(r.id);
    else if (call.action === 'monitor') rc = this.running.has(r.id) ? 0 : 7;
    return Promise.resolve({ outcome: { kind: 'exited', rc }, exitReason: rc === 1 ? 'cannot <start>' : '', output: this.output, stdout: '', execMs: 3 });
  }
}

function res(id: string): Resource {
  return {
    id, agent: { class: 'ocf', provider: 'heartbeat', type: 'Dummy' }, params: {}, env: {},
    start: { timeoutMs: 1000, onFail: 'restart' }, stop: { timeoutMs: 1000, onFail: 'block' }, migrationThreshold: 0, failureTimeoutMs: 0,
  };
}

const config: ResourcesConfig = {
  resources: ['a1', 'a2', 'b1'].map(res),
  groups: [{ id: 'ga', instance: 'vip', members: ['a1', 'a2'] }, { id: 'gb', instance: 'vip', members: ['b1'] }],
};

const settle = () => new Promise((r) => setTimeout(r, 30));

function manager(runner: FakeRunner, standby: string[], stateFile = join(dir, 'state.json')): ResourceManager {
  return new ResourceManager({
    config, runner, stateFile, now: () => performance.now(),
    log: { log: () => undefined },
    setStandby: (instance, on, reason) => standby.push(`${instance} ${on ? 'on' : 'off'}: ${reason}`),
  });
}

describe('ResourceManager', () => {
  it('runs groups on MASTER, asks standby once per instance, lifts it after cleanup', async () => {
    const runner = new FakeRunner();
    const standby: string[] = [];
    const rm = manager(runner, standby, join(dir, 's1.json'));
    rm.start();
    await settle();
    expect(runner.calls.sort()).toEqual(['monitor(probe) a1', 'monitor(probe) a2', 'monitor(probe) b1']);
    runner.failStart.add('a2');
    runner.output = 'x <script>alert(1)</script>';
    rm.instanceChanged('other', 'MASTER'); // not ours
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    expect(runner.running).toEqual(new Set(['b1']));
    expect(standby).toEqual(["vip on: group ga cannot run here: a2: start failed: 'error' (1): cannot <start>"]);
    // The instance hands over (standby): gb, on the same instance, stops too; its state is its own.
    rm.instanceChanged('vip', 'BACKUP');
    await settle();
    expect(runner.running).toEqual(new Set());
    const st = rm.status();
    expect(st.groups.map((g) => [g.id, g.state, g.eligible])).toEqual([['ga', 'Stopped', false], ['gb', 'Stopped', true]]);
    expect(st.failedActions).toMatchObject([{ key: 'a2_start_0', exitReason: 'cannot <start>' }]);
    // Text and HTML show it; the agent's output is escaped in the page.
    expect(formatResources(st).join('\n')).toContain("a2_start_0 on n1 'error' (1): status='complete', exitreason='cannot <start>'");
    const html = renderStatusHtml([{ version: 't', pid: 1, mode: 'run', config: 'c', startedAt: '', uptimeSeconds: 1, instances: [], interfaces: [], resources: st }], new Date());
    expect(html).toContain('x &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<script>');
    runner.failStart.clear();
    rm.command('cleanup', 'a2');
    await settle();
    expect(standby).toHaveLength(2);
    expect(standby[1]).toBe('vip off: group ga may run here again');
    await rm.shutdown();
  });

  it('keeps operator moves across restarts and explains bad commands', async () => {
    const file = join(dir, 's2.json');
    const runner = new FakeRunner();
    const standby: string[] = [];
    const rm = manager(runner, standby, file);
    rm.start();
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    expect([...runner.running].sort()).toEqual(['a1', 'a2', 'b1']);
    expect(() => rm.command('move', 'nosuch')).toThrow(expect.objectContaining({ code: 'NO_SUCH_RESOURCE' }));
    expect(() => rm.command('restart')).toThrow(expect.objectContaining({ code: 'RESOURCE_TARGET_NEEDED' }));
    rm.command('move', 'a1'); // a resource names its group
    await settle();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ moved: ['ga'] });
    expect(standby).toEqual(['vip on: group ga cannot run here: moved away by the operator']);
    rm.instanceChanged('vip', 'BACKUP');
    await settle();
    expect(() => rm.command('restart', 'b1')).toThrow(expect.objectContaining({ code: 'RESOURCE_NOT_RUNNING' }));
    await rm.shutdown();

    const again: string[] = [];
    const rm2 = manager(new FakeRunner(), again, file);
    rm2.start();
    await settle();
    expect(again).toEqual(['vip on: group ga cannot run here: moved away by the operator']);
    rm2.command('clear', 'ga');
    await settle();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ moved: [] });
    expect(again[1]).toBe('vip off: group ga may run here again');
    await rm2.shutdown();
  });

  it('shutdown stops every group in reverse order and resolves', async () => {
    const runner = new FakeRunner();
    const rm = manager(runner, [], join(dir, 's3.json'));
    rm.start();
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    runner.calls.length = 0;
    await rm.shutdown();
    expect(runner.calls.filter((c) => c.startsWith('stop'))).toEqual(expect.arrayContaining(['stop a2', 'stop a1', 'stop b1']));
    expect(runner.calls.indexOf('stop a2')).toBeLessThan(runner.calls.indexOf('stop a1'));
    expect(runner.running.size).toBe(0);
  });

  it('live reload: removeGroups stops a group and lifts its standby; addGroups begins a group on the current instance state', async () => {
    const runner = new FakeRunner();
    const standby: string[] = [];
    const rm = manager(runner, standby, join(dir, 's-reload.json'));
    rm.start();
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    expect(runner.running).toEqual(new Set(['a1', 'a2', 'b1']));
    runner.calls.length = 0;
    expect(await rm.removeGroups(['ga'])).toEqual([]);
    expect(runner.calls).toEqual(['stop a2', 'stop a1']); // reverse order
    expect(runner.running).toEqual(new Set(['b1']));
    expect(rm.status().groups.map((g) => g.id)).toEqual(['gb']);
    const next: ResourcesConfig = { resources: [res('b1'), res('c1')], groups: [config.groups[1]!, { id: 'gc', instance: 'vip', members: ['c1'] }] };
    rm.addGroups(next, ['gc'], (instance) => (instance === 'vip' ? 'MASTER' : undefined));
    await settle();
    expect(runner.running).toEqual(new Set(['b1', 'c1']));
    expect(rm.list().map((r) => `${r.group}/${r.id}`)).toEqual(['gb/b1', 'gc/c1']);
    expect(standby).toEqual([]);
    await rm.shutdown();
  });

  it('keeps the order between groups: starts after, stops before, and shutdown stops in reverse', async () => {
    const runner = new FakeRunner();
    const ordered: ResourcesConfig = {
      resources: ['a1', 'a2', 'b1', 'c1'].map(res),
      groups: [
        { id: 'gc', instance: 'vip', members: ['c1'], after: ['gb'] },
        { id: 'gb', instance: 'vip', members: ['b1'], after: ['ga'], with: 'ga' },
        { id: 'ga', instance: 'vip', members: ['a1', 'a2'] },
      ],
    };
    const rm = new ResourceManager({
      config: ordered, runner, stateFile: join(dir, 's-order.json'), now: () => performance.now(), log: { log: () => undefined }, setStandby: () => undefined,
    });
    rm.start();
    await settle();
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    const actions = () => runner.calls.filter((c) => !c.startsWith('monitor'));
    expect(actions()).toEqual(['start a1', 'start a2', 'start b1', 'start c1']);
    rm.instanceChanged('vip', 'BACKUP');
    await settle();
    expect(actions().slice(4)).toEqual(['stop c1', 'stop b1', 'stop a2', 'stop a1']);
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    await rm.shutdown();
    expect(actions().slice(8)).toEqual(['start a1', 'start a2', 'start b1', 'start c1', 'stop c1', 'stop b1', 'stop a2', 'stop a1']);
    expect(runner.running.size).toBe(0);
  });
});
