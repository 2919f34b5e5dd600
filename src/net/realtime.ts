/**
 * Scheduling and memory locking for the daemon's JS thread (keepalived `vrrp_rt_priority`,
 * `vrrp_no_swap`): an advert must not wait behind a CPU hog. Best effort: the result says
 * what happened, the caller decides what to log. And the network namespace (`net_namespace`).
 */
import { errnoName } from './errors.js';
import { native } from './native.js';
import { CarpoolError } from '../lib/errors.js';

export type TuneResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly reason?: string };

function result(rc: number): TuneResult {
  return rc === 0 ? { ok: true } : { ok: false, error: errnoName(rc) };
}

/**
 * SCHED_RR at `priority` (1..99) for the calling thread only (libuv's pool and V8's helper
 * threads keep their policy); 0 returns to SCHED_OTHER. EPERM without CAP_SYS_NICE.
 */
export function setRealtimePriority(priority: number): TuneResult {
  return result(native().setRealtime(priority));
}

/**
 * Why `lockMemory` refuses: mlockall() marks every mapping VM_LOCKED, Linux then answers
 * madvise(MADV_DONTNEED) on them with EINVAL, and V8 (Node 20) treats a failed discard of
 * freed code/heap pages as fatal ("Check failed: 0 == ret", SIGTRAP). Observed both at exit
 * and at run time under code churn plus GC. Keep the daemon out of swap with the service
 * manager instead (systemd `MemorySwapMax=0`) or run without swap.
 */
export const MEMORY_LOCK_UNSAFE =
  'mlockall() crashes Node/V8 (MADV_DONTNEED on locked pages fails); use systemd MemorySwapMax=0 instead';

/** keepalived `vrrp_no_swap`: not done under Node, see MEMORY_LOCK_UNSAFE. Never calls mlockall(). */
export function lockMemory(): TuneResult {
  return { ok: false, error: 'ENOTSUP', reason: MEMORY_LOCK_UNSAFE };
}

/**
 * keepalived `net_namespace NAME`: the JS thread (which opens every socket and spawns every
 * hook) joins the named network namespace, /run/netns/NAME. Call before any socket is opened.
 * Throws with what to do when the namespace does not exist or the call is refused.
 */
export function enterNetNamespace(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new CarpoolError('NETNS', `net_namespace '${name}' is not a namespace name`, 'a name as `ip netns add` takes');
  const path = `/run/netns/${name}`;
  const rc = native().setNetns(path);
  if (rc === 0) return;
  const e = errnoName(rc);
  throw new CarpoolError('NETNS', `cannot enter network namespace ${name} (${path}): ${e}`,
    e === 'ENOENT' ? `create it first: ip netns add ${name}` : e === 'EPERM' ? 'run as root (CAP_SYS_ADMIN)' : 'check the namespace with ip netns list');
}
