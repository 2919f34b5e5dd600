/**
 * The addon's nfnlSend against the kernel (native/nfnl.c): the NETLINK_NETFILTER socket is kept
 * from one batch to the next (closing one costs an RCU grace period on the event loop after a
 * batch that deleted something), so what a kept socket could get wrong is checked here: two
 * batches at once, answers left over from a batch that stopped collecting early, many batches
 * in a row — each batch gets exactly its own answers.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { nftUnavailable, withNetns } from '../../balancer/core/nft-check.js';

const CHILD = fileURLToPath(new URL('./nfnl-child.ts', import.meta.url));
const why = nftUnavailable();

interface Sent { want: number[]; got: number[]; errors: number[]; sent: number; recv: number }

describe.skipIf(why !== undefined)(`nfnlSend in a namespace${why ? ` (skipped: ${why})` : ''}`, () => {
  it('each batch gets its own answers: two at once, after a batch left answers behind, fifty in a row', () => {
    withNetns([], (ns) => {
      expect(ns.nft('add table ip t').code).toBe(0);
      const r = ns.run(process.execPath, ['--import', 'tsx', CHILD]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as { a: Sent; b: Sent; c: Sent; d: Sent; many: Sent[] };
      for (const x of [out.a, out.b, out.d, ...out.many]) {
        expect(x.sent).toBe(0);
        expect(x.got).toEqual(x.want);
        expect(x.errors.every((e) => e === 0)).toBe(true);
      }
      expect(out.c.got).toEqual(out.c.want.slice(0, 1));
      const listed = ns.run('nft', ['list', 'chains', 'ip']).stdout;
      for (const name of ['a1', 'a2', 'b1', 'c1', 'c2', 'c3', 'd1', 'm0', 'm49']) expect(listed).toContain(`chain ${name} {`);
    });
  });
});
