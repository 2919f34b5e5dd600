/**
 * The fixtures we claim are valid keepalived.conf are accepted by the real keepalived's config test
 * (`keepalived -t`, which does not touch the network). keepalived checks that the interfaces exist, so
 * each run gets a private network namespace (`unshare -n`) with veth interfaces eth0 and eth1.
 * Skipped where keepalived, root or unshare is missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DATA = fileURLToPath(new URL('../../../testdata/keepalived/', import.meta.url));

function available(): boolean {
  try {
    execFileSync('keepalived', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0 && spawnSync('unshare', ['-n', 'true']).status === 0;
  } catch {
    return false;
  }
}

/** keepalived -t in a fresh namespace: exit status and its messages. */
function keepalivedTest(file: string, configId = 'lb1'): { status: number | null; output: string } {
  const script = 'ip link add eth0 type veth peer name p0 && ip link add eth1 type veth peer name p1 && '
    + 'exec keepalived -t -f "$0" -i "$1" -l -D -n';
  const r = spawnSync('unshare', ['-n', 'sh', '-c', script, file, configId], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!available())('the real keepalived accepts the fixtures (keepalived -t)', () => {
  it.each(['vars.conf', 'include/keepalived.conf'])('%s: no message at all', (f) => {
    expect(keepalivedTest(`${DATA}${f}`)).toEqual({ status: 0, output: '' });
  });

  // keepalived warns (exit 5) exactly where carpool warns too; no unknown keyword, no error.
  it.each<[string, RegExp[]]>([
    ['full.conf', [/cannot track route .* with no interface/, /preempt_delay is incompatible with nopreempt/, /Ignoring track_interface eth0 since own interface/,
      /due to SYNC group/, /configured on VRRP instance and sync group/]],
    ['seed-002/director1.conf', [/Truncating auth_pass to 8 characters/]],
    ['seed-002/director2.conf', [/Truncating auth_pass to 8 characters/]],
  ])('%s: only the expected warnings', (f, expected) => {
    const { status, output } = keepalivedTest(`${DATA}${f}`);
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    expect(status).toBe(5);
    for (const l of lines) expect(expected.some((re) => re.test(l)), l).toBe(true);
    expect(output).not.toMatch(/Unknown keyword|error/i);
  });
});
