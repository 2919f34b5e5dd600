import { readdirSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_STATE_DIR } from '../config/model.js';

/** The network namespace a process runs in, as far as the run directory cares. */
export interface NetnsIdentity {
  /** The host's own namespace (the one PID 1 runs in), or unknown (then treated as the host's). */
  readonly root: boolean;
  /** Inode of /proc/self/ns/net: always there, unique while the namespace lives. */
  readonly inode: number;
  /** Its `ip netns` name (a bind mount in /run/netns), when it has one. */
  readonly name?: string;
}

/**
 * The run directory of a namespace: the base itself for the host's namespace (what carpool has
 * always used), else `<base>/ns-<name>` for a namespace `ip netns` names, else `<base>/ns-<inode>`.
 * Namespaces share /run, so daemons in different namespaces must not share sockets or state.
 */
export function runDirFor(ns: NetnsIdentity, base: string = DEFAULT_STATE_DIR): string {
  if (ns.root) return base;
  return join(base, `ns-${ns.name ?? String(ns.inode)}`);
}

/**
 * Identify this process's network namespace (as `ip netns identify`, plus the inode). The host's
 * namespace is PID 1's; when PID 1's is unreadable (no ptrace access to it, e.g. in some sandboxes),
 * a namespace without an `ip netns` name counts as the host's.
 */
export function currentNetns(procDir = '/proc', netnsDir = '/run/netns'): NetnsIdentity {
  let self: Stats;
  try {
    self = statSync(join(procDir, 'self/ns/net'));
  } catch {
    return { root: true, inode: 0 }; // no /proc: nothing to tell namespaces apart by
  }
  let names: string[] = [];
  try { names = readdirSync(netnsDir).sort(); } catch { /* no named namespaces */ }
  const name = names.find((n) => {
    try {
      const st = statSync(join(netnsDir, n));
      return st.ino === self.ino && st.dev === self.dev;
    } catch {
      return false;
    }
  });
  let root = name === undefined;
  try {
    const init = statSync(join(procDir, '1/ns/net'));
    root = init.ino === self.ino && init.dev === self.dev;
  } catch {
    // PID 1's namespace is unreadable: decided by the name alone.
  }
  return { root, inode: self.ino, ...(name !== undefined ? { name } : {}) };
}

/**
 * Where daemons put their control sockets and state by default, and where `carpool status`,
 * `demote` and `resource` look for them: /run/carpool in the host's network namespace,
 * /run/carpool/ns-<name> in another one; $CARPOOL_RUN_DIR overrides (labs and tests).
 */
export const RUN_DIR: string = process.env.CARPOOL_RUN_DIR ?? runDirFor(currentNetns());
