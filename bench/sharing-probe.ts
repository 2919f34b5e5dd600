/**
 * The load sharing bench's client prober (run inside the client namespace by bench/sharing.ts):
 * every INTERVAL ms a new TCP connection to VIP:80 from the next of the client's source
 * addresses and a kernel-chosen port (so successive probes land in different buckets), one
 * HTTP/1.0 request, the answering node read from the body. A probe not answered within
 * TIMEOUT ms is aborted (before the kernel's 1 s SYN retransmission) and counted as failed.
 *   node --import tsx bench/sharing-probe.ts VIP INTERVAL_MS TIMEOUT_MS SRC_PREFIX FIRST HOWMANY
 * Prints {"ready":true}, then on SIGINT {"records":[[sentAt, node | null], ...]}.
 */
import net from 'node:net';

const [vip, interval, timeout, prefix, first, howmany] = process.argv.slice(2) as [string, string, string, string, string, string];
const now = (): number => performance.timeOrigin + performance.now();
const records: [number, string | null][] = [];
let i = 0;

function probe(): void {
  const sent = now();
  const rec: [number, string | null] = [sent, null];
  records.push(rec);
  const s = net.connect({ host: vip, port: 80, localAddress: `${prefix}.${Number(first) + (i++ % Number(howmany))}` });
  let data = '';
  const timer = setTimeout(() => s.destroy(), Number(timeout));
  s.on('connect', () => s.write('GET /probe HTTP/1.0\r\n\r\n'));
  s.on('data', (d: Buffer) => { data += d.toString(); });
  s.on('error', () => { /* counted as failed */ });
  s.on('end', () => { rec[1] = data.split('\r\n\r\n')[1]?.trim() || null; });
  s.on('close', () => clearTimeout(timer));
}

const tick = setInterval(probe, Number(interval));
process.on('SIGINT', () => {
  clearInterval(tick);
  // Let the last probes finish or time out.
  setTimeout(() => { console.log(JSON.stringify({ records })); process.exit(0); }, Number(timeout) + 50);
});
console.log(JSON.stringify({ ready: true }));
