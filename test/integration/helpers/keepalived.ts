/** The real keepalived (Debian) as a peer in a lab namespace: VRRP only, console logging. */
import type { LabHost } from '../../../src/lab/netns.js';
import { Proc, inNs, type ProcSet } from './procs.js';
import type { Workdir } from './carp.js';

export function startKeepalived(procs: ProcSet, wd: Workdir, host: LabHost, conf: string, tag = host.name): Proc {
  const file = wd.write(`ka-${tag}.conf`, conf);
  return procs.add(new Proc(`keepalived-${tag}`, inNs(host.ns, [
    'keepalived', '--dont-fork', '--log-console', '--log-detail', '--vrrp',
    '-f', file, '-p', wd.path(`ka-${tag}.pid`), '-r', wd.path(`ka-${tag}.vrrp.pid`),
  ])));
}

/** Lines in which keepalived complains about a peer's packets. */
export const KEEPALIVED_COMPLAINTS = /checksum|bad|invalid|auth|ttl|bogus|mismatch|error/i;

/** keepalived's current state of `instance` from its log, e.g. 'MASTER'. */
export function keepalivedState(p: Proc, instance: string): string | undefined {
  const re = new RegExp(`\\(${instance}\\) Entering (\\w+) STATE`);
  return [...p.lines].reverse().map((l) => re.exec(l)?.[1]).find(Boolean);
}

/** carpool's current state of `instance` from its log. */
export function carpoolVrrpState(p: Proc, instance: string): string | undefined {
  const re = new RegExp(`\\(${instance}\\) Entering (\\w+) STATE`);
  return [...p.lines].reverse().map((l) => re.exec(l)?.[1]).find(Boolean);
}
