/** vrrp_track_process, the pure part: which processes count, and the quorum with its fork/terminate delays. */
import { describe, expect, it } from 'vitest';
import type { TrackProcess } from '../../src/config/model.js';
import { ProcessQuorum, TrackerBoard, instanceTrackUses, processMatches, processTracker } from '../../src/election/tracking.js';
import { parseKeepalivedConf } from '../../src/config/keepalived/parse.js';
import { emitCarpoolYaml } from '../../src/config/emit-yaml.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';
import type { VrrpInstance } from '../../src/config/model.js';

const P = (x: Partial<TrackProcess> = {}): TrackProcess => ({
  name: 'p', process: 'haproxy', paramMatch: 'exact', fullCommand: false, weight: 1, reverse: false, quorum: 1, forkDelayMs: 0, terminateDelayMs: 0, ...x,
});

describe('processMatches', () => {
  it('the name exactly, not as pgrep does (ssh is not sshd); cut to 15 bytes like comm', () => {
    expect(processMatches(P({ process: 'ssh' }), 'sshd', undefined)).toBe(false);
    expect(processMatches(P({ process: 'sshd' }), 'sshd', undefined)).toBe(true);
    expect(processMatches(P({ process: 'a-very-long-process-name' }), 'a-very-long-pro', undefined)).toBe(true);
  });
  it('parameters: exact, initial, partial; full_command compares argv[0]', () => {
    const argv = ['/usr/sbin/haproxy', '-f', '/etc/haproxy/haproxy.cfg'];
    expect(processMatches(P({ params: ['-f', '/etc/haproxy/haproxy.cfg'] }), 'haproxy', argv)).toBe(true);
    expect(processMatches(P({ params: ['-f'] }), 'haproxy', argv)).toBe(false);
    expect(processMatches(P({ params: ['-f'], paramMatch: 'partial' }), 'haproxy', argv)).toBe(true);
    expect(processMatches(P({ params: ['-f', '/etc/hap'], paramMatch: 'initial' }), 'haproxy', argv)).toBe(true);
    expect(processMatches(P({ params: [], paramMatch: 'exact' }), 'haproxy', argv)).toBe(false);
    expect(processMatches(P({ process: '/usr/sbin/haproxy', fullCommand: true }), 'haproxy', argv)).toBe(true);
    expect(processMatches(P({ process: 'haproxy', fullCommand: true }), 'haproxy', argv)).toBe(false);
  });
});

describe('ProcessQuorum', () => {
  it('reports the first count at once, then a change only after its delay has held', () => {
    const q = new ProcessQuorum(P({ quorum: 2, quorumMax: 3, forkDelayMs: 1000, terminateDelayMs: 500 }));
    expect(q.step(2, 0)).toBe(true);
    expect(q.step(1, 100)).toBeUndefined();
    expect(q.nextDeadline()).toBe(600);
    expect(q.step(2, 400)).toBeUndefined(); // back before the terminate delay: nothing happened
    expect(q.nextDeadline()).toBeUndefined();
    expect(q.step(4, 1000)).toBeUndefined(); // above quorum_max
    expect(q.step(4, 1500)).toBe(false);
    expect(q.step(3, 1600)).toBeUndefined();
    expect(q.step(3, 2599)).toBeUndefined();
    expect(q.step(3, 2600)).toBe(true);
  });
  it('feeds the board like a script: weight 0 is FAULT while failed', () => {
    const board = new TrackerBoard([processTracker(P())]);
    const uses = [{ kind: 'process' as const, name: 'p', weight: 0, reverse: false }];
    expect(board.evaluate(100, uses).fault).toBe(true); // no count yet
    board.observe('process', 'p', { kind: 'process', ok: true });
    expect(board.evaluate(100, uses)).toMatchObject({ fault: false, priority: 100 });
    board.observe('process', 'p', { kind: 'process', ok: false });
    expect(board.evaluate(100, [{ ...uses[0]!, weight: -30 }])).toMatchObject({ fault: false, priority: 70 });
  });
});

describe('keepalived.conf vrrp_track_process', () => {
  const conf = `vrrp_track_process chk_nginx {
  process "nginx" -g "daemon off;"
  param_match partial
  weight -20 reverse
  quorum 2
  quorum_max 4
  delay 0.5
  terminate_delay 2
}
vrrp_track_process chk_any {
  process haproxy
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 1
  priority 100
  virtual_ipaddress { 10.0.0.1 }
  track_process {
    chk_nginx
    chk_any weight 5
  }
}
`;
  it('reads the definition and the references, and convert carries them', () => {
    const r = parseKeepalivedConf(conf, { file: 'k.conf' });
    expect(r.config.trackProcesses).toEqual([
      { name: 'chk_nginx', process: 'nginx', params: ['-g', 'daemon off;'], paramMatch: 'partial', fullCommand: false, weight: -20, reverse: true,
        quorum: 2, quorumMax: 4, forkDelayMs: 500, terminateDelayMs: 2000 },
      { name: 'chk_any', process: 'haproxy', paramMatch: 'exact', fullCommand: false, weight: 1, reverse: false, quorum: 1, forkDelayMs: 0, terminateDelayMs: 0 },
    ]);
    const inst = r.config.instances[0] as VrrpInstance;
    expect(inst.trackProcesses).toEqual([{ name: 'chk_nginx', weight: -20, reverse: true }, { name: 'chk_any', weight: 5, reverse: false }]);
    expect(instanceTrackUses(inst).uses.filter((u) => u.kind === 'process')).toHaveLength(2);
    expect(parseCarpoolYaml(emitCarpoolYaml(r.config), { file: 'k.conf' }).config).toEqual(r.config);
  });
  it('an undefined process is an error with the names defined', () => {
    expect(() => parseKeepalivedConf(conf.replace('chk_any weight 5', 'chk_nope'), { file: 'k.conf' })).toThrow(/tracks process 'chk_nope', which is not defined/);
  });
});
