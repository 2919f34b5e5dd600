/**
 * Child of nfnl.test.ts, run inside the test's network namespace (which has `table ip t`):
 * sends nfnetlink batches through the addon's nfnlSend the way the balancer does, in the
 * cases the kept socket must survive, and prints what came back as JSON.
 */
import { encodeBatch, type NlOp } from '../../../src/balancer/core/nfnl.js';
import { native } from '../../../src/net/native.js';

const n = native();
const chains = (...names: string[]): NlOp[] => names.map((chain) => ({ op: 'newChain', family: 'ip', table: 't', chain }));
const send = async (ops: NlOp[], seq: number, expect = ops.length) => {
  const b = encodeBatch(ops, seq);
  const r = await n.nfnlSend(b.bytes, expect, 2000);
  return { want: b.seqs, got: r.replies.map((x) => x.seq), errors: r.replies.map((x) => x.error), sent: r.sent, recv: r.recv };
};

// Two batches at once: one takes the kept socket, the other gets its own.
const [a, b] = await Promise.all([send(chains('a1', 'a2'), 100), send(chains('b1'), 200)]);
// A batch whose answers are not all collected (expect 1 of 3) leaves two in the kept socket;
// the next batch must get its own answers, not those.
const c = await send(chains('c1', 'c2', 'c3'), 300, 1);
const d = await send(chains('d1'), 400);
// Many in a row on the kept socket.
const many = [];
for (let i = 0; i < 50; i++) many.push(await send(chains(`m${i}`), 1000 + 10 * i));
process.stdout.write(JSON.stringify({ a, b, c, d, many }));
