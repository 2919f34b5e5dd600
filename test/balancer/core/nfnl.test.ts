/**
 * The nf_tables netlink codec against byte layouts read from `nft --debug=mnl` (nft 1.0.6,
 * `add element ip carpool services { 10.200.0.0 . tcp . 80 : jump vs1g9 }`) and the uapi
 * headers; the namespace test (test/integration/balancer/flat-update.test.ts) has the kernel
 * accept and apply them.
 */
import { describe, expect, it } from 'vitest';
import { batchResult, encodeBatch, encodeKey, keyLayout, NfnlError, type NlOp } from '../../../src/balancer/core/nfnl.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const le = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

describe('nfnl codec', () => {
  it('key layouts from nft declarations', () => {
    expect(keyLayout('typeof ip daddr . meta l4proto . th dport : verdict;')).toEqual(['ipv4', 'proto', 'port']);
    expect(keyLayout('typeof ip6 daddr . meta l4proto . th dport : verdict;')).toEqual(['ipv6', 'proto', 'port']);
    expect(keyLayout('typeof meta mark : verdict;')).toEqual(['mark']);
    expect(keyLayout('type ipv6_addr . inet_service . ipv6_addr . inet_service; counter;')).toEqual(['ipv6', 'port', 'ipv6', 'port']);
    expect(() => keyLayout('typeof numgen inc mod 2 : meta mark; flags interval;')).toThrow(NfnlError);
    expect(() => keyLayout('flags interval;')).toThrow(/no key type/);
  });

  it('keys in register layout: network order, each field of a concatenation padded to 4 bytes', () => {
    // As nft sent it: 0a c8 00 00 | 06 00 00 00 | 00 50 00 00.
    expect(hex(encodeKey(['ipv4', 'proto', 'port'], '10.200.0.0 . tcp . 80'))).toBe('0ac80000' + '06000000' + '00500000');
    expect(hex(encodeKey(['ipv4', 'port', 'ipv4', 'port'], '10.0.0.1 . 443 . 192.168.1.2 . 8080'))).toBe('0a000001' + '01bb0000' + 'c0a80102' + '1f900000');
    expect(hex(encodeKey(['ipv6'], 'fd00::1'))).toBe('fd000000000000000000000000000001');
    expect(hex(encodeKey(['ipv6'], '::ffff:10.0.0.1'))).toBe('00000000000000000000ffff0a000001');
    expect(hex(encodeKey(['ipv6', 'proto'], '2001:db8:0:0:1:0:0:1 . udp'))).toBe('20010db8000000000001000000000001' + '11000000');
    // A mark is a host-order u32 (meta mark / ct mark registers).
    expect(hex(encodeKey(['mark'], '258'))).toBe(le ? '02010000' : '00000102');
    for (const [layout, text] of [[['ipv4'], '10.0.0.256'], [['ipv6'], 'fd00::1::2'], [['port'], '65536'], [['proto'], 'nope'], [['ipv4', 'port'], '10.0.0.1']] as const) {
      expect(() => encodeKey(layout, text), text).toThrow(NfnlError);
    }
  });

  it('a batch: BEGIN, the operations with NLM_F_ACK, END; the element message as nft builds it', () => {
    const key = encodeKey(['ipv4', 'proto', 'port'], '10.200.0.0 . tcp . 80');
    const ops: NlOp[] = [
      { op: 'delElem', family: 'ip', table: 'carpool', set: 'services', key },
      { op: 'addElem', family: 'ip', table: 'carpool', set: 'services', key, verdict: { code: 'jump', chain: 'vs1g9' } },
      { op: 'delChain', family: 'ip', table: 'carpool', chain: 'vs1' },
      { op: 'delSet', family: 'ip', table: 'carpool', set: 'vs1_slots' },
      { op: 'flushSet', family: 'ip6', table: 'carpool', set: 'vs2_persist' },
    ];
    const b = encodeBatch(ops, 7);
    expect(b.seqs).toEqual([8, 9, 10, 11, 12]);
    // Split the buffer into messages: [length, type, flags, seq, nfgenmsg, attributes].
    const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength);
    const msgs: { type: number; flags: number; seq: number; gen: string; body: string }[] = [];
    for (let off = 0; off < b.bytes.length;) {
      const len = dv.getUint32(off, le);
      msgs.push({ type: dv.getUint16(off + 4, le), flags: dv.getUint16(off + 6, le), seq: dv.getUint32(off + 8, le), gen: hex(b.bytes.slice(off + 16, off + 20)), body: hex(b.bytes.slice(off + 20, off + len)) });
      off += len;
    }
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.gen])).toEqual([
      [0x10, 1, 7, '0000000a'], // NFNL_MSG_BATCH_BEGIN, res_id NFNL_SUBSYS_NFTABLES (big endian)
      [0x0a0e, 5, 8, '02000000'], // DELSETELEM, REQUEST|ACK, NFPROTO_IPV4
      [0x0a0c, 5, 9, '02000000'], // NEWSETELEM
      [0x0a05, 5, 10, '02000000'], // DELCHAIN
      [0x0a0b, 5, 11, '02000000'], // DELSET
      [0x0a0e, 5, 12, '0a000000'], // DELSETELEM without elements = flush; NFPROTO_IPV6
      [0x11, 1, 13, '0000000a'], // NFNL_MSG_BATCH_END
    ]);
    const a = (len: number, type: number, data: string) => Buffer.from([len & 255, len >> 8, type & 255, type >> 8]).toString('hex') + data + '00'.repeat((4 - (len % 4)) % 4);
    const table = a(12, 1, Buffer.from('carpool\0').toString('hex'));
    const set = a(13, 2, Buffer.from('services\0').toString('hex'));
    const keyAttr = a(20, 0x8001, a(16, 1, '0ac80000060000000050' + '0000'));
    const verdict = a(28, 0x8002, a(24, 0x8002, a(8, 1, 'fffffffd') + a(10, 2, Buffer.from('vs1g9\0').toString('hex'))));
    // Attributes of nft's own message, less NFTA_SET_ELEM_LIST_SET_ID (the set exists: named, not by transaction id).
    expect(msgs[2]!.body).toBe(table + set + a(56, 0x8003, a(52, 0x8001, keyAttr + verdict)));
    expect(msgs[1]!.body).toBe(table + set + a(28, 0x8003, a(24, 0x8001, keyAttr)));
    expect(msgs[3]!.body).toBe(table + a(8, 3, Buffer.from('vs1\0').toString('hex')));
    expect(msgs[5]!.body).toBe(table + a(16, 2, Buffer.from('vs2_persist\0').toString('hex')));
  });

  it('names the kernel would refuse are refused before anything is sent', () => {
    expect(() => encodeBatch([{ op: 'delChain', family: 'ip', table: 'carpool', chain: 'x'.repeat(256) }], 1)).toThrow(NfnlError);
    expect(() => encodeBatch([{ op: 'delChain', family: 'ip', table: 'carpool', chain: '' }], 1)).toThrow(NfnlError);
  });

  it('the kernel answers: ok only when every operation was acknowledged with 0', () => {
    const b = encodeBatch([{ op: 'delChain', family: 'ip', table: 'carpool', chain: 'a' }, { op: 'delChain', family: 'ip', table: 'carpool', chain: 'b' }], 100);
    expect(batchResult(b, [{ seq: 101, error: 0 }, { seq: 102, error: 0 }])).toEqual({ ok: true });
    expect(batchResult(b, [{ seq: 101, error: 0 }, { seq: 102, error: -16 }])).toEqual({ ok: false, errors: [{ index: 1, errno: 16 }] });
    // Fewer answers than operations (timed out): not ok.
    expect(batchResult(b, [{ seq: 101, error: 0 }])).toEqual({ ok: false, errors: [{ index: undefined, errno: 110 }] });
    // An error for the batch frame itself.
    expect(batchResult(b, [{ seq: 100, error: -22 }])).toEqual({ ok: false, errors: [{ index: undefined, errno: 22 }] });
  });
});
