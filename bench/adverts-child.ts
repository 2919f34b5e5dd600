/**
 * Advert timestamps, seen from the client namespace: every IP protocol 112 packet
 * (CARP or VRRP) received on IFNAME, printed as `<epoch ms> <source>` lines in batches.
 * Run with `ip netns exec <ns> node --import tsx bench/adverts-child.ts IFNAME`.
 */
import { RawSocket } from '../src/net/raw-socket.js';

const ifname = process.argv[2];
if (!ifname) {
  process.stderr.write('usage: adverts-child.ts IFNAME\n');
  process.exit(2);
}
const sock = RawSocket.open({ family: 4, protocol: 112, ifname });
sock.join('224.0.0.18');
let batch: string[] = [];
sock.onPacket((p) => {
  batch.push(`${(performance.timeOrigin + performance.now()).toFixed(3)} ${p.src}`);
});
const flush = (): void => {
  if (batch.length > 0) process.stdout.write(batch.join('\n') + '\n');
  batch = [];
};
const timer = setInterval(flush, 200);
process.stdout.write('ready\n');
const finish = (): void => {
  clearInterval(timer);
  flush();
  sock.close();
  process.stdout.write('', () => process.exit(0));
};
process.on('SIGINT', finish);
process.on('SIGTERM', finish);
