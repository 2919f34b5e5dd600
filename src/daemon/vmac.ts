/**
 * keepalived's `use_vmac`: a macvlan interface carrying the RFC virtual MAC
 * (00-00-5E-00-01-VRID for IPv4, 00-00-5E-00-02-VRID for IPv6) on top of the instance's
 * interface. The virtual addresses live on it and adverts leave from it, so a takeover
 * needs no ARP cache change at all. Created once at start (not on the takeover path), so
 * `ip` is used; removed again at exit.
 */
import { writeFileSync } from 'node:fs';
import { run } from '../lib/exec.js';
import type { Logger } from './logger.js';

export function vmacAddress(family: 4 | 6, vrid: number): string {
  return `00:00:5e:00:0${family === 4 ? 1 : 2}:${vrid.toString(16).padStart(2, '0')}`;
}

function sysctl(path: string, value: string, log: Logger): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    log.warning(`cannot set ${path} = ${value}: ${(err as Error).message}`);
  }
}

/**
 * Create (or adopt) the macvlan and set the ARP sysctls so that clients only ever learn
 * the virtual MAC for the VIP: the parent answers ARP only for its own addresses
 * (arp_ignore=1) and, when it asks itself (replies to clients leave through the parent,
 * whose route comes first), names its own address as sender, not the VIP (arp_announce=2).
 */
export async function createVmac(name: string, parent: string, family: 4 | 6, vrid: number, log: Logger): Promise<void> {
  const mac = vmacAddress(family, vrid);
  const exists = await run(['ip', 'link', 'show', 'dev', name], { allowFail: true });
  if (exists.code !== 0) {
    await run(['ip', 'link', 'add', 'link', parent, 'name', name, 'address', mac, 'type', 'macvlan', 'mode', 'private']);
  } else {
    await run(['ip', 'link', 'set', 'dev', name, 'address', mac]);
  }
  if (family === 4) {
    sysctl(`/proc/sys/net/ipv4/conf/${parent}/arp_ignore`, '1', log);
    sysctl(`/proc/sys/net/ipv4/conf/${parent}/arp_announce`, '2', log);
    sysctl(`/proc/sys/net/ipv4/conf/${name}/arp_ignore`, '1', log);
    sysctl(`/proc/sys/net/ipv4/conf/${name}/accept_local`, '1', log);
    sysctl(`/proc/sys/net/ipv4/conf/${name}/rp_filter`, '0', log);
  }
  await run(['ip', 'link', 'set', 'dev', name, 'up']);
  log.info(`created virtual MAC interface ${name} (${mac}) on ${parent}`);
}

export async function removeVmac(name: string): Promise<void> {
  await run(['ip', 'link', 'del', 'dev', name], { allowFail: true });
}
