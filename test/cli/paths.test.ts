/**
 * The default run directory is per network namespace (issue 13): the host's keeps /run/carpool,
 * another one gets /run/carpool/ns-<name or inode>. currentNetns reads a /proc and a /run/netns;
 * here they are directories of files whose inodes play the namespaces.
 */
import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentNetns, runDirFor } from '../../src/cli/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'carpool-paths-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake /proc whose PID 1 is in namespace file `init` and this process in `self` (the same file when shared). */
function fakeProc(name: string, shared: boolean): { proc: string; netns: string; self: string } {
  const proc = join(dir, name, 'proc');
  const netns = join(dir, name, 'netns');
  mkdirSync(join(proc, 'self/ns'), { recursive: true });
  mkdirSync(join(proc, '1/ns'), { recursive: true });
  mkdirSync(netns, { recursive: true });
  const self = join(proc, 'self/ns/net');
  writeFileSync(self, '');
  if (shared) linkSync(self, join(proc, '1/ns/net'));
  else writeFileSync(join(proc, '1/ns/net'), '');
  return { proc, netns, self };
}

describe('runDirFor', () => {
  it('keeps the base directory in the host namespace', () => {
    expect(runDirFor({ root: true, inode: 4026531840 })).toBe('/run/carpool');
  });
  it('uses the ip-netns name, else the inode, in another namespace', () => {
    expect(runDirFor({ root: false, inode: 4026532300, name: 'blue' })).toBe('/run/carpool/ns-blue');
    expect(runDirFor({ root: false, inode: 4026532300 })).toBe('/run/carpool/ns-4026532300');
    expect(runDirFor({ root: false, inode: 7 }, '/tmp/x')).toBe('/tmp/x/ns-7');
  });
});

describe('currentNetns', () => {
  it('the namespace of PID 1 is the host namespace', () => {
    const f = fakeProc('host', true);
    expect(currentNetns(f.proc, f.netns)).toEqual({ root: true, inode: statSync(f.self).ino });
  });
  it('another namespace is named as `ip netns identify` names it (a bind mount of it in /run/netns)', () => {
    const f = fakeProc('named', false);
    writeFileSync(join(f.netns, 'other'), '');
    linkSync(f.self, join(f.netns, 'mine'));
    expect(currentNetns(f.proc, f.netns)).toEqual({ root: false, inode: statSync(f.self).ino, name: 'mine' });
  });
  it('an unnamed namespace (unshare -n, a container) is known by its inode', () => {
    const f = fakeProc('unnamed', false);
    rmSync(f.netns, { recursive: true });
    expect(currentNetns(f.proc, f.netns)).toEqual({ root: false, inode: statSync(f.self).ino });
  });
  it('without a readable PID 1 a named namespace is not the host\'s, an unnamed one is; without /proc: the host\'s', () => {
    const f = fakeProc('nopid1', false);
    rmSync(join(f.proc, '1'), { recursive: true });
    expect(currentNetns(f.proc, f.netns)).toEqual({ root: true, inode: statSync(f.self).ino });
    linkSync(f.self, join(f.netns, 'lab-h1'));
    expect(currentNetns(f.proc, f.netns)).toEqual({ root: false, inode: statSync(f.self).ino, name: 'lab-h1' });
    expect(currentNetns(join(dir, 'none'), f.netns)).toEqual({ root: true, inode: 0 });
  });
});
