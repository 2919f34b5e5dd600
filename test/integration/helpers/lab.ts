/**
 * `useLab()`: the namespace LAN of an integration test file. Called inside a `describe`, it
 * builds the LAN in `beforeAll` (under a prefix unique to this test process: `<tag><pid % 10000>`)
 * and always removes it in `afterAll`, also when a test or a later `beforeAll` failed. The
 * file's own clean-up (stop the processes it started, by PID) goes in `beforeDestroy`: it runs
 * first, and the namespaces go even when it throws.
 */
import { afterAll, beforeAll } from 'vitest';
import { createLan, destroyLan, type LabHost, type Lan, type LanSpec } from '../../../src/lab/netns.js';

export interface LabOptions extends Omit<LanSpec, 'prefix'> {
  /** Stop what the tests started in the namespaces (agents, daemons, peers) before they go. */
  readonly beforeDestroy?: () => unknown;
}

/** The LAN, usable from the first test (or a `beforeAll` registered after `useLab`) on. */
export interface LabFixture extends Lan {
  /** Host `i`, 1-based (`h1` is `host(1)`). */
  host(i: number): LabHost;
}

/**
 * The LAN for the enclosing `describe`. `tag` (1-6 lowercase letters) names the test file in
 * the namespace names, e.g. `vf` gives `vf1234-h1`.
 */
export function useLab(tag: string, opts: LabOptions): LabFixture {
  if (!/^[a-z]{1,6}$/.test(tag)) throw new Error(`useLab: tag must be 1-6 lowercase letters: ${tag}`);
  const prefix = `${tag}${process.pid % 10000}`;
  const { beforeDestroy, ...spec } = opts;
  let lan: Lan | undefined;
  const current = (): Lan => {
    if (!lan) throw new Error(`useLab(${tag}): the LAN is not built (use it inside tests or a later beforeAll)`);
    return lan;
  };

  beforeAll(async () => {
    lan = await createLan({ ...spec, prefix });
  });
  afterAll(async () => {
    try {
      await beforeDestroy?.();
    } finally {
      await destroyLan(prefix);
      lan = undefined;
    }
  });

  return {
    prefix,
    get switchNs() { return current().switchNs; },
    get hosts() { return current().hosts; },
    get client() { return current().client; },
    get extra() { return current().extra; },
    get subnet() { return current().subnet; },
    host(i: number): LabHost {
      const h = current().hosts[i - 1];
      if (!h) throw new Error(`useLab(${tag}): no host h${i}`);
      return h;
    },
  };
}
