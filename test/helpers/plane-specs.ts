/**
 * Random one-server changes of balancer plane services, shared by the flat-update tests (the
 * pure property test in test/balancer/core/flat.test.ts and the kernel check in
 * test/integration/balancer/flat-update.test.ts).
 */
import type { PlaneServer, PlaneService } from '../../src/balancer/core/nft.js';

/** A small deterministic PRNG (the sequence of changes is the same on every run). */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A service and every server it may have; `hash`: a 16-slot hash table, else numgen over the servers. */
export interface Spec {
  readonly base: Omit<PlaneService, 'servers' | 'table'>;
  readonly all: readonly PlaneServer[];
  readonly hash: boolean;
}

/** `n` servers with ids 1..n and keys `address:port`. */
export function servers(n: number, f: (i: number) => Omit<PlaneServer, 'id' | 'key'>): PlaneServer[] {
  return Array.from({ length: n }, (_, i) => {
    const s = f(i);
    return { id: i + 1, key: `${s.address}:${s.port ?? ''}`, ...s };
  });
}

/** The service with the servers marked present. */
export function service(sp: Spec, present: readonly boolean[]): PlaneService {
  const list = sp.all.filter((_, i) => present[i]);
  const keys = list.map((s) => s.key);
  const slots = sp.hash ? Array.from({ length: 16 }, (_, i) => keys[i % keys.length]) : keys;
  return { ...sp.base, servers: list, table: sp.hash ? { mode: 'hash', key: 'saddr', slots } : { mode: 'numgen', slots } };
}
