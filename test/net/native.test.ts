/**
 * The addon loader and the parts of the binding that need neither root nor a namespace:
 * argument checking, fd ownership, interface facts of `lo`, errno naming.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CarpoolError } from '../../src/lib/errors.js';
import { loadNative, native, nativeAddonPath } from '../../src/net/native.js';
import { errnoName, NetError, sendResult } from '../../src/net/errors.js';
import { interfaceInfo, listAddresses, LinkMonitor } from '../../src/net/link.js';
import { lockMemory } from '../../src/net/realtime.js';
import { SyslogSocket } from '../../src/net/syslog-socket.js';

describe('native addon loader', () => {
  it('finds the addon next to the package root', () => {
    expect(nativeAddonPath()).toMatch(/\/build\/Release\/carpool_net\.node$/);
    expect(typeof native().rawOpen).toBe('function');
  });

  it('fails with NATIVE_MISSING and a hint when the addon is not built', () => {
    const missing = (): unknown => loadNative('/nonexistent/carpool_net.node');
    expect(missing).toThrow(CarpoolError);
    try {
      missing();
    } catch (err) {
      expect(err).toMatchObject({ code: 'NATIVE_MISSING' });
      expect((err as CarpoolError).hint).toMatch(/npm ci/);
      expect((err as CarpoolError).describe()).toMatch(/cannot load the carpool native addon[\s\S]*hint: run `npm ci`/);
    }
  });

  it('exports exactly the documented functions', () => {
    expect(Object.keys(native()).sort()).toEqual([
      'addrAdd', 'addrDel', 'addrList', 'ctEventsClose', 'ctEventsOpen', 'ifInfo', 'linkMonitorClose', 'linkMonitorOpen', 'mlockAll', 'munlockAll', 'nfnlSend',
      'packetClose', 'packetOpen', 'packetSend', 'rawBind', 'rawClose', 'rawJoin', 'rawLeave', 'rawOpen',
      'rawSend', 'rawSetChecksumOffset', 'rawStart', 'rawStop', 'routeAdd', 'routeDel', 'ruleAdd', 'ruleDel', 'setNetns', 'setRealtime',
      'unixDgramClose', 'unixDgramOpen', 'unixDgramSend',
    ]);
  });
});

describe('binding argument and fd checks', () => {
  const n = native();
  it('rejects fds it did not open, of either kind', () => {
    expect(() => n.rawSend(0, 4, '224.0.0.18', new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EBADF' }) as unknown);
    expect(() => n.unixDgramSend(1, new Uint8Array(1))).toThrow(/not an open carpool socket/);
    expect(n.rawClose(2)).toBe(false); // stderr stays open
    expect(n.packetClose(123456)).toBe(false);
    const mon = n.linkMonitorOpen(() => undefined);
    expect(() => n.rawClose(mon)).toThrow(expect.objectContaining({ code: 'EBADF' }) as unknown);
    expect(n.linkMonitorClose(mon)).toBe(true);
    expect(n.linkMonitorClose(mon)).toBe(false);
  });

  it('ctEventsOpen: groups and callback checked; its fd is its own kind', () => {
    expect(() => n.ctEventsOpen(0, () => undefined)).toThrow(TypeError);
    expect(() => n.ctEventsOpen(4, 'x' as unknown as () => void)).toThrow(TypeError);
    expect(() => n.ctEventsOpen(4, () => undefined, { rcvbuf: 1 })).toThrow(TypeError);
    expect(n.ctEventsClose(123456)).toBe(false);
    const mon = n.linkMonitorOpen(() => undefined);
    expect(() => n.ctEventsClose(mon)).toThrow(expect.objectContaining({ code: 'EBADF' }) as unknown);
    expect(n.linkMonitorClose(mon)).toBe(true);
  });

  it('nfnlSend: bytes must be a Uint8Array, expect and timeout bounded; a malformed batch gets the kernel\'s error, not a crash', async () => {
    expect(() => n.nfnlSend('x' as unknown as Uint8Array, 1, 10)).toThrow(TypeError);
    expect(() => n.nfnlSend(new Uint8Array(4), -1, 10)).toThrow(TypeError);
    expect(() => n.nfnlSend(new Uint8Array(4), 1, 600_000)).toThrow(TypeError);
    // Nothing that asks for an answer: nothing sent back, and no wait.
    const r = await n.nfnlSend(new Uint8Array(0), 0, 10);
    expect(r.replies).toEqual([]);
  });

  it('rejects malformed arguments with TypeError code EINVAL', () => {
    const bad = (f: () => unknown): void => {
      expect(f).toThrow(TypeError);
      try { f(); } catch (e) { expect((e as { code?: string }).code).toBe('EINVAL'); }
    };
    bad(() => (n.rawOpen as (...a: unknown[]) => number)(5, 112, 'lo'));
    bad(() => n.rawOpen(4, 112.5, 'lo'));
    bad(() => n.rawOpen(4, NaN, 'lo'));
    bad(() => n.rawOpen(4, Infinity, 'lo'));
    bad(() => n.rawOpen(4, 112, 'lo', { tos: 256 }));
    bad(() => (n.ifInfo as (...a: unknown[]) => unknown)());
    bad(() => (n.ifInfo as (...a: unknown[]) => unknown)(42));
    bad(() => n.addrAdd(1, 4, '10.0.0.1', 33));
    bad(() => n.addrAdd(1, 6, '10.0.0.1', 64));
    bad(() => n.addrAdd(1, 6, 'fd00::1', 64, { label: 'lo:x' }));
    bad(() => n.routeAdd({ family: 4, dst: '0.0.0.0', prefix: 0, gateway: 'fd00::1' }));
    bad(() => (n.routeAdd as (...a: unknown[]) => number)({ family: 4, prefix: 0 }));
    bad(() => n.routeAdd({ family: 4, dst: '10.0.0.0', prefix: 8, nexthops: [] }));
    bad(() => n.routeAdd({ family: 4, dst: '10.0.0.0', prefix: 8, nexthops: [{ weight: 2 }] }));
    bad(() => n.routeAdd({ family: 4, dst: '10.0.0.0', prefix: 8, nexthops: [{ gateway: '10.0.0.1', weight: 257 }] }));
    bad(() => n.ruleAdd({ family: 4, from: { address: '10.0.0.0', prefix: 8 } }));
    bad(() => n.ruleAdd({ family: 4, from: { address: 'fd00::', prefix: 8 }, table: 1 }));
    bad(() => n.ruleDel({ family: 6, to: { address: 'fd00::', prefix: 129 } }));
    bad(() => (n.linkMonitorOpen as (...a: unknown[]) => number)('not a function'));
    bad(() => n.setRealtime(100));
    bad(() => n.unixDgramOpen(''));
    bad(() => n.unixDgramOpen('x'.repeat(200)));
  });

  it('reads interface facts without privileges', () => {
    expect(interfaceInfo('lo')).toMatchObject({ name: 'lo', index: 1, up: true, mtu: expect.any(Number) as unknown });
    expect(interfaceInfo('lo:alias')?.name).toBe('lo');
    expect(interfaceInfo('definitely-not')).toBeUndefined();
    expect(interfaceInfo('')).toBeUndefined();
    expect(listAddresses(1).some((a) => a.address === '127.0.0.1' && a.prefix === 8 && a.label === 'lo')).toBe(true);
  });

  it('opens and closes a link monitor without privileges', () => {
    const mon = LinkMonitor.open(() => undefined);
    expect(mon.closed).toBe(false);
    mon.close();
    mon.close();
    expect(mon.closed).toBe(true);
  });

  it('reports a missing syslog socket as NetError with a hint', () => {
    expect(() => SyslogSocket.open('/nonexistent/log')).toThrow(NetError);
    try { SyslogSocket.open('/nonexistent/log'); } catch (e) {
      expect(e).toMatchObject({ code: 'NET_ENOENT', errno: 'ENOENT', op: 'unixDgramOpen' });
      expect((e as NetError).hint).toMatch(/syslog/);
    }
  });
});

describe('errno helpers', () => {
  it('names errno values', () => {
    expect(errnoName(-105)).toBe('ENOBUFS');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(-95)).toBe('EOPNOTSUPP');
    expect(errnoName(-9999)).toBe('E9999');
    expect(sendResult(42)).toEqual({ ok: true, bytes: 42 });
    expect(sendResult(-11)).toEqual({ ok: false, error: 'EAGAIN' });
  });

  it('refuses mlockall under Node (V8 aborts on locked pages)', () => {
    expect(lockMemory()).toMatchObject({ ok: false, error: 'ENOTSUP' });
  });
});

describe('without privileges', () => {
  it('says what is missing: NET_EPERM with a CAP_NET_RAW/CAP_NET_ADMIN hint', () => {
    const fixture = fileURLToPath(new URL('./fixtures/unprivileged.ts', import.meta.url));
    const nodeArgv = [process.execPath, '--import', 'tsx', fixture];
    // As root, drop the capabilities for the child; otherwise we are unprivileged already.
    const drop = ['--bounding-set=-net_raw,-net_admin', '--inh-caps=-net_raw,-net_admin'];
    const [cmd, ...args] = process.getuid?.() === 0 ? ['setpriv', ...drop, ...nodeArgv] : nodeArgv;
    const out = JSON.parse(execFileSync(cmd!, args, { cwd: fileURLToPath(new URL('../../', import.meta.url)), encoding: 'utf8' })) as Record<string, { code?: string; hint?: string; result?: string }>;
    for (const name of ['raw', 'frame', 'addr']) {
      expect(out[name], name).toMatchObject({ code: 'NET_EPERM', hint: 'needs root or CAP_NET_RAW/CAP_NET_ADMIN' });
    }
  });
});
