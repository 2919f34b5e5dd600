/**
 * A group whose stop failed at daemon exit (issue 11, defect 2): the machine says `stopped` with
 * the member still active, a cleanup retries the stop and says `stopped` again; the manager
 * names the instances that must not be handed over and holds them until the cleanup worked or
 * the operator forces it.
 */
import { describe, expect, it } from 'vitest';
import { GroupSim, member } from './group-sim.js';
import type { Resource, ResourcesConfig } from '../../src/config/model.js';
import { AgentRunner, defaultAgentHost, type AgentCall, type AgentResult } from '../../src/resources/shell/agents.js';
import { ResourceManager } from '../../src/resources/shell/manager.js';

describe('group machine: shutdown with a stop that fails', () => {
  it('says stopped with the member still active; cleanup retries the stop and says stopped again', () => {
    const sim = new GroupSim({ id: 'g', instance: 'vip', members: [member('ip'), member('app')] });
    sim.input({ type: 'instance', state: 'MASTER' });
    sim.settle();
    expect(sim.runningSet()).toEqual(['ip', 'app']);
    sim.agent('app').stopRc.push(1);
    sim.input({ type: 'shutdown' });
    sim.settle();
    expect(sim.stopped).toBe(true);
    expect(sim.m.active).toBe(true);
    expect(sim.actions().slice(-1)).toEqual(['stop app']); // ip stays up: it comes before app
    const logs = sim.effects.flatMap(({ e }) => (e.type === 'log' ? [e.message] : []));
    expect(logs).toContain('g: could not stop ip, app (blocked): instance vip is not handed over; `carpool resource cleanup g` retries the stop');

    sim.stopped = false;
    sim.input({ type: 'cleanup' });
    sim.settle();
    expect(sim.actions().slice(-2)).toEqual(['stop app', 'stop ip']);
    expect(sim.runningSet()).toEqual([]);
    expect(sim.m.active).toBe(false);
    expect(sim.stopped).toBe(true);
    // Nothing is started again on the way out, and standby is never touched.
    expect(sim.actions().filter((a) => a.startsWith('start'))).toHaveLength(2);
    expect(sim.effects.some(({ e }) => e.type === 'standby')).toBe(false);
  });
});

class FakeRunner extends AgentRunner {
  readonly running = new Set<string>();
  stuck = new Set<string>();
  /** Monitors of these say 5 (not installed: a hard error, the group must leave). */
  broken = new Set<string>();
  constructor() { super({ ...defaultAgentHost(), node: 'n1' }); }
  override run(r: Resource, call: AgentCall): Promise<AgentResult> {
    let rc = 0;
    if (call.action === 'start') this.running.add(r.id);
    else if (call.action === 'stop') { if (this.stuck.has(r.id)) rc = 1; else this.running.delete(r.id); }
    else if (call.intervalMs > 0 && this.broken.has(r.id)) rc = 5;
    else rc = this.running.has(r.id) ? 0 : 7;
    return Promise.resolve({ outcome: { kind: 'exited', rc }, exitReason: '', output: '', stdout: '', execMs: 1 });
  }
}

function res(id: string): Resource {
  return {
    id, agent: { class: 'ocf', provider: 'heartbeat', type: 'Dummy' }, params: {}, env: {},
    start: { timeoutMs: 1000, onFail: 'restart' }, stop: { timeoutMs: 1000, onFail: 'block' }, migrationThreshold: 0, failureTimeoutMs: 0,
  };
}

const config: ResourcesConfig = {
  resources: ['a', 'b'].map(res),
  groups: [{ id: 'ga', instance: 'one', members: ['a'] }, { id: 'gb', instance: 'two', members: ['b'] }],
};

const settle = () => new Promise((r) => setTimeout(r, 30));

function setup(): { rm: ResourceManager; runner: FakeRunner; logs: string[] } {
  const runner = new FakeRunner();
  const logs: string[] = [];
  const rm = new ResourceManager({
    config, runner, now: () => performance.now(), log: { log: (level, text) => logs.push(`${level} ${text}`) }, setStandby: () => undefined,
  });
  return { rm, runner, logs };
}

describe('ResourceManager: holding instances of blocked groups at exit', () => {
  it('names only the instances whose group could not be stopped, holds them until a cleanup stops it', async () => {
    const { rm, runner, logs } = setup();
    rm.start();
    rm.instanceChanged('one', 'MASTER');
    rm.instanceChanged('two', 'MASTER');
    await settle();
    expect([...runner.running].sort()).toEqual(['a', 'b']);
    runner.stuck.add('a');
    await rm.shutdown();
    expect(rm.blockedInstances()).toEqual(['one']);
    let released = false;
    const hold = rm.holdWhileBlocked().then(() => { released = true; });
    await settle();
    expect(released).toBe(false);
    expect(logs.some((l) => l.startsWith('error resources: keeping instance one here'))).toBe(true);
    // A cleanup whose stop fails again keeps holding.
    rm.command('cleanup', 'ga');
    await settle();
    expect(released).toBe(false);
    runner.stuck.delete('a');
    rm.command('cleanup', 'ga');
    await hold;
    expect(runner.running.size).toBe(0);
    expect(rm.blockedInstances()).toEqual([]);
    expect(logs.at(-1)).toBe('notice resources: group ga stopped after cleanup; handing instance one over');
  });

  it('a force ends the hold at once and says so at error level; without a hold it does nothing', async () => {
    const { rm, runner, logs } = setup();
    expect(rm.forceRelease('SIGTERM')).toBe(false);
    rm.start();
    rm.instanceChanged('one', 'MASTER');
    await settle();
    runner.stuck.add('a');
    await rm.shutdown();
    const hold = rm.holdWhileBlocked();
    expect(rm.forceRelease('SIGTERM')).toBe(true);
    await hold;
    expect(runner.running.has('a')).toBe(true);
    expect(logs.at(-1)).toMatch(/^error resources: FORCED stop \(SIGTERM\): handing instance one over although group ga could not be stopped — the service may now run on two nodes/);
  });

  it('while the daemon runs: a group that must leave does not hand the instance over while another group on it is blocked', async () => {
    const monitored = (id: string, onFail: 'block' | 'restart'): Resource => ({ ...res(id), monitor: { intervalMs: 10, timeoutMs: 1000, onFail } });
    const runner = new FakeRunner();
    const logs: string[] = [];
    const standby: string[] = [];
    const rm = new ResourceManager({
      config: { resources: [monitored('a', 'block'), monitored('b', 'restart')], groups: [{ id: 'ga', instance: 'vip', members: ['a'] }, { id: 'gb', instance: 'vip', members: ['b'] }] },
      runner, now: () => performance.now(), log: { log: (level, text) => logs.push(`${level} ${text}`) },
      setStandby: (instance, on) => standby.push(`${instance} ${on ? 'on' : 'off'}`),
    });
    rm.start();
    rm.instanceChanged('vip', 'MASTER');
    await settle();
    // a dies and its monitor (on-fail=block) leaves it blocked: it may still run here.
    runner.running.delete('a');
    await settle();
    expect(rm.status().groups[0]!.state).toBe('Blocked');
    // b fails hard: gb must leave this node; it stops, but the instance must stay (ga would run twice).
    runner.broken.add('b');
    await settle();
    expect(rm.status().groups[1]).toMatchObject({ state: 'Stopped', eligible: false });
    expect(standby).toEqual([]);
    expect(logs.some((l) => l.startsWith('error resources: not handing instance vip over (group gb cannot run here'))).toBe(true);
    // Cleanup of ga: probed (stopped), no longer blocked: now the instance goes.
    rm.command('cleanup', 'ga');
    await settle();
    expect(standby).toEqual(['vip on']);
    await rm.shutdown();
  });

  it('returns at once when every group stopped', async () => {
    const { rm } = setup();
    rm.start();
    rm.instanceChanged('one', 'MASTER');
    await settle();
    await rm.shutdown();
    expect(rm.blockedInstances()).toEqual([]);
    await rm.holdWhileBlocked();
  });
});
