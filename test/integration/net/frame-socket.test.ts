/**
 * AF_PACKET frame sender: a gratuitous ARP built here, sent by h1 through FrameSocket,
 * captured by tcpdump on h2 and learned into h2's neighbour table.
 */
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { inNs, run } from '../../../src/lib/exec.js';
import { hex, isRoot, NsAgent, sleep } from './agent.js';
import { useLab } from '../helpers/lab.js';

const SUBNET = '10.204.0';
const VIP = `${SUBNET}.100`;

/** ucarp-style gratuitous ARP: request, sender = target = VIP, real MAC (notes §4.3). */
function garp(mac: string, ip: string): Buffer {
  const m = Buffer.from(mac.replace(/:/g, ''), 'hex');
  const a = Buffer.from(ip.split('.').map(Number));
  return Buffer.concat([Buffer.alloc(6, 0xff), m, Buffer.from('08060001080006040001', 'hex'), m, a, m, a]);
}

/** Start tcpdump in `ns`, resolve once it listens; the returned promise ends with its stdout. */
async function capture(ns: string, args: string[]): Promise<{ done: Promise<string>; pid: number }> {
  const child = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-l', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  const done = new Promise<string>((resolve) => child.on('exit', () => resolve(stdout)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), 10_000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('listening on')) { clearTimeout(timer); resolve(); }
    });
  });
  return { done, pid: child.pid! };
}

describe.skipIf(!isRoot)('FrameSocket (AF_PACKET)', () => {
  const lan = useLab('ntf', { hosts: 2, subnet: SUBNET, client: false, beforeDestroy: () => agent?.stop() });
  let agent: NsAgent;

  beforeAll(async () => {
    agent = await NsAgent.start(lan.hosts[0]!.ns);
  });

  it('sends a gratuitous ARP that the peer captures and learns', async () => {
    const h2 = lan.hosts[1]!.ns;
    await run(inNs(h2, ['sysctl', '-qw', 'net.ipv4.conf.eth0.arp_accept=1'])); // learn from gratuitous ARP
    const { mac } = await agent.call<{ mac: string }>('ifInfo', 'eth0');
    const frame = garp(mac, VIP);
    const tcpdump = await capture(h2, ['-i', 'eth0', '-c', '1', '-nn', '-e', '-xx', 'arp']);
    let out: string;
    try {
      const fs = await agent.call<number>('frameOpen', 'eth0');
      expect(await agent.call('frameSend', fs, hex(frame))).toEqual({ ok: true, bytes: 42 });
      out = await Promise.race([tcpdump.done, sleep(5000).then(() => 'timeout')]);
      await agent.call('frameClose', fs);
      await agent.call('frameClose', fs); // idempotent
      await expect(agent.call('frameSend', fs, hex(frame))).rejects.toMatchObject({ code: 'NET_EBADF' });
    } finally {
      try { process.kill(tcpdump.pid, 'SIGTERM'); } catch { /* already exited */ }
    }
    expect(out).toContain(`${mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42`);
    expect(out).toContain(`Request who-has ${VIP} (${mac}) tell ${VIP}`);
    const dumped = [...out.matchAll(/0x[0-9a-f]{4}:\s+((?:[0-9a-f]{4}\s?)+)/g)].map((m) => m[1]!.replace(/\s/g, '')).join('');
    expect(dumped).toBe(frame.toString('hex'));
    const neigh = (await run(inNs(h2, ['ip', 'neigh', 'show', VIP, 'dev', 'eth0']))).stdout;
    expect(neigh).toContain(`lladdr ${mac}`);
  });

  it('reports misuse and missing interfaces', async () => {
    await expect(agent.call('frameOpen', 'nosuch0')).rejects.toMatchObject({ code: 'NET_ENODEV' });
    const fs = await agent.call<number>('frameOpen', 'eth0:vip'); // alias: the device is eth0
    await expect(agent.call('frameSend', fs, hex('ffffffffffff'))).rejects.toMatchObject({ code: 'NET_EINVAL' });
    await agent.call('frameClose', fs);
  });
});
