/**
 * The kernel's word on when a ruleset change is in force: runs inside a namespace (`ip netns exec
 * <ns> node --import tsx bench/nft-commits-child.ts`), listens to the nf_tables netlink group
 * (NFNLGRP_NFTABLES) and prints one JSON line per committed transaction when its NFT_MSG_NEWGEN
 * arrives (the last message the kernel sends for a commit): the receive time (epoch ms, comparable
 * with the parent's clock and with carpool's console timestamps), the new generation id, the pid
 * and name of the committing process, and how many change events came before it.
 *
 * Unlike `nft monitor`, nothing here keeps a copy of the ruleset, so a big ruleset does not slow
 * the report down.
 */
import { native } from '../src/net/native.js';

const NFNLGRP_NFTABLES_MASK = 1 << (7 - 1);
const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_NEWGEN = 15;
const NFTA_GEN_ID = 1;
const NFTA_GEN_PROC_PID = 2;
const NFTA_GEN_PROC_NAME = 3;
const NLMSG_HDR = 16;
const NFGENMSG = 4;

let events = 0;
const fd = native().ctEventsOpen(NFNLGRP_NFTABLES_MASK, (bytes) => {
  const t = performance.timeOrigin + performance.now();
  if (!bytes) {
    process.stdout.write(`${JSON.stringify({ event: 'overrun', t })}\n`);
    return;
  }
  for (let off = 0; off + NLMSG_HDR <= bytes.length;) {
    const len = bytes.readUInt32LE(off);
    const type = bytes.readUInt16LE(off + 4);
    if (len < NLMSG_HDR || off + len > bytes.length) break;
    if (type >> 8 === NFNL_SUBSYS_NFTABLES) {
      if ((type & 0xff) === NFT_MSG_NEWGEN) {
        const rec: Record<string, number | string> = { event: 'commit', t: Math.round(t * 1000) / 1000, events };
        for (let a = off + NLMSG_HDR + NFGENMSG; a + 4 <= off + len;) {
          const alen = bytes.readUInt16LE(a);
          const atype = bytes.readUInt16LE(a + 2) & 0x3fff;
          if (alen < 4) break;
          if (atype === NFTA_GEN_ID) rec.gen = bytes.readUInt32BE(a + 4);
          else if (atype === NFTA_GEN_PROC_PID) rec.pid = bytes.readUInt32BE(a + 4);
          else if (atype === NFTA_GEN_PROC_NAME) rec.name = bytes.toString('utf8', a + 4, a + alen).replace(/\0.*$/s, '');
          a += (alen + 3) & ~3;
        }
        process.stdout.write(`${JSON.stringify(rec)}\n`);
        events = 0;
      } else {
        events++;
      }
    }
    off += (len + 3) & ~3;
  }
}, { rcvbuf: 8 << 20 });
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
const stop = (): void => {
  native().ctEventsClose(fd);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
