/**
 * Re-record test/config/ucarp/golden.json from the real ucarp (root, ucarp 1.5.2 installed):
 *   npx tsx test/config/ucarp/record-golden.ts
 */
import { writeFileSync } from 'node:fs';
import { recordUcarp } from './oracle.js';

const observations = recordUcarp();
const file = new URL('./golden.json', import.meta.url);
writeFileSync(file, `${JSON.stringify(observations, null, 1)}\n`);
console.log(`recorded ${observations.length} ucarp runs into ${file.pathname}`);
