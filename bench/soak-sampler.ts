/**
 * The soak's sampler: runs inside one host namespace (`ip netns exec <ns> node --import tsx
 * bench/soak-sampler.ts INTERVAL_MS SERVICE_FILE VIP...`). Every INTERVAL_MS it lists the
 * namespace's addresses over netlink (the addon, no fork) and checks whether SERVICE_FILE
 * exists (the test agent's "running" mark). It prints one JSON line per change
 * `{"t":…,"held":["a.b.c.d/nn",…],"svc":bool}` and a heartbeat `{"t":…,"hb":samples,"maxGap":ms}`
 * every second; `t` is epoch ms from the monotonic clock (comparable with bench/proc.ts now()).
 */
import { existsSync } from 'node:fs';
import { listAddresses } from '../src/net/link.js';

const [intervalArg, file, ...vips] = process.argv.slice(2);
if (!intervalArg || !file || vips.length === 0) {
  process.stderr.write('usage: soak-sampler.ts INTERVAL_MS SERVICE_FILE VIP...\n');
  process.exit(2);
}
const interval = Number(intervalArg);
const now = (): number => performance.timeOrigin + performance.now();
const out = (o: object): void => { process.stdout.write(`${JSON.stringify(o)}\n`); };

let last = '';
let lastT = now();
let beatAt = lastT;
let samples = 0;
let maxGap = 0;

function sample(): void {
  const t = now();
  maxGap = Math.max(maxGap, t - lastT);
  lastT = t;
  samples++;
  const held = listAddresses().filter((a) => vips.includes(a.address)).map((a) => `${a.address}/${a.prefix}`).sort();
  const svc = existsSync(file!);
  const key = JSON.stringify([held, svc]);
  if (key !== last) {
    last = key;
    out({ t, held, svc });
  }
  if (t - beatAt >= 1000) {
    out({ t, hb: samples, maxGap: Math.round(maxGap * 10) / 10 });
    beatAt = t;
    samples = 0;
    maxGap = 0;
  }
}

setInterval(sample, interval);
sample();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(0));
