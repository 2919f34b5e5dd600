/**
 * The client: runs inside the client namespace (`ip netns exec <ns> node --import tsx
 * bench/probe-child.ts TARGET IFNAME INTERVAL_MS`), probes TARGET with ICMP echo every
 * INTERVAL_MS and, on SIGINT/SIGTERM, prints one JSON line with every probe: its send time
 * (epoch ms, comparable with the parent's clock) and its round-trip time or null.
 */
import { Prober } from '../src/lab/probe.js';

const [target, ifname, interval] = process.argv.slice(2);
if (!target || !ifname) {
  process.stderr.write('usage: probe-child.ts TARGET IFNAME [INTERVAL_MS]\n');
  process.exit(2);
}
const prober = new Prober({ target, ifname, intervalMs: Number(interval ?? 10) });
prober.start();
process.stdout.write('{"event":"ready"}\n');

const finish = (): void => {
  const records = prober.stop();
  const origin = performance.timeOrigin;
  const r = records.map((p) => [Math.round((origin + p.sentAt) * 1000) / 1000, p.rttMs === undefined ? null : Math.round(p.rttMs * 1000) / 1000]);
  process.stdout.write(JSON.stringify({ event: 'records', intervalMs: Number(interval ?? 10), r }) + '\n', () => process.exit(0));
};
process.on('SIGINT', finish);
process.on('SIGTERM', finish);
