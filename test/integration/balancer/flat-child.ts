/**
 * Child of flat-update.test.ts, run inside the test's network namespace: applies the planes
 * read from stdin (a JSON array) one after the other with the real NftApplier (real `nft`,
 * real netlink), then prints its status as JSON. With `--whole` it applies only the last
 * plane, whole (the reference).
 */
import { readFileSync } from 'node:fs';
import { Logger } from '../../../src/daemon/logger.js';
import type { Plane } from '../../../src/balancer/core/nft.js';
import { NftApplier } from '../../../src/balancer/shell/nft-applier.js';

const planes = JSON.parse(readFileSync(0, 'utf8')) as Plane[];
const errors: string[] = [];
const log = new Logger({ ident: 'flat-child', facility: 'none', debug: false, console: false, onLine: (level, text) => { if (level === 'error') errors.push(text); } });
const applier = new NftApplier(log);
const texts: string[] = [];
for (const p of process.argv.includes('--whole') ? planes.slice(-1) : planes) {
  await applier.apply(p);
  texts.push(applier.status().lastTransaction ?? '');
}
process.stdout.write(JSON.stringify({ status: { ...applier.status(), lastTransaction: undefined }, errors, texts }));
