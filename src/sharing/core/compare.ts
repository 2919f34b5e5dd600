/**
 * `carpool check n1.yaml n2.yaml n3.yaml`: the `sharing:` sections of several nodes' files
 * compared (issue 15). Pure.
 *
 * A node list, bucket count, hash, password or vhid range that differs between nodes cannot be
 * seen in one file: at run time the bucket elections of such nodes drop each other's adverts
 * (core/agreement.ts decides who keeps serving). Comparing the files before they are deployed
 * finds it first, with file:line on both sides. Every file is compared with the first one;
 * `interface` may differ (each node names its own NIC).
 */
import type { SharedAddress } from './model.js';

/** One node's configuration file: its shared addresses and the line of each key (and node item). */
export interface SharingFile {
  readonly file: string;
  readonly sharing: readonly SharedAddress[];
  /** Per shared address name: line of each key (`name`, `address`, `nodes`...) and `nodes.<i>` for node i. */
  readonly lines: ReadonlyMap<string, Readonly<Record<string, number>>>;
}

export interface SharingDifference {
  readonly file: string;
  readonly line: number;
  readonly message: string;
  readonly expected: string;
}

/** The keys that must be equal on every node, and how a value reads in a message. */
const FIELDS: readonly { key: string; value: (s: SharedAddress) => string; secret?: boolean }[] = [
  { key: 'address', value: (s) => `${s.address}/${s.prefix}` },
  { key: 'outside', value: (s) => (s.outside ? `${s.outside.address}/${s.outside.prefix}` : 'none') },
  { key: 'buckets', value: (s) => String(s.buckets) },
  { key: 'hash', value: (s) => s.hash },
  { key: 'mode', value: (s) => s.mode },
  { key: 'vhid_base', value: (s) => String(s.vhidBase) },
  { key: 'advbase', value: (s) => String(s.advbase) },
  { key: 'password', value: (s) => s.password, secret: true },
];

const nodeText = (n: { name: string; address: string } | undefined): string => (n ? `${n.name} (${n.address})` : 'absent');

/** Every difference between the files' sharing sections, the first file being the reference. */
export function compareSharing(files: readonly SharingFile[]): SharingDifference[] {
  const out: SharingDifference[] = [];
  const [ref, ...others] = files;
  if (!ref) return out;
  const at = (f: SharingFile, name: string, key: string): number => {
    const l = f.lines.get(name);
    // A gateway's (inside) address is under `inside:`.
    return l?.[key] ?? (key === 'address' ? l?.inside : undefined) ?? (key.startsWith('nodes.') ? l?.nodes : undefined) ?? l?.name ?? 1;
  };
  const where = (f: SharingFile, name: string, key: string): string => `${f.file}:${at(f, name, key)}`;
  for (const f of others) {
    for (const s of f.sharing) {
      if (!ref.sharing.some((r) => r.name === s.name)) {
        out.push({ file: f.file, line: at(f, s.name, 'name'), message: `sharing '${s.name}' is not in ${ref.file}`, expected: 'the same sharing sections on every node' });
      }
    }
    for (const r of ref.sharing) {
      const s = f.sharing.find((x) => x.name === r.name);
      if (!s) {
        out.push({ file: f.file, line: 1, message: `sharing '${r.name}' (${where(ref, r.name, 'name')}) is missing here`, expected: 'the same sharing sections on every node' });
        continue;
      }
      for (const fd of FIELDS) {
        const a = fd.value(r);
        const b = fd.value(s);
        if (a === b) continue;
        out.push({
          file: f.file, line: at(f, s.name, fd.key),
          message: fd.secret
            ? `sharing '${s.name}': ${fd.key} differs from ${where(ref, r.name, fd.key)} (the bucket elections would drop each other's adverts)`
            : `sharing '${s.name}': ${fd.key} ${b} here, ${a} in ${where(ref, r.name, fd.key)}`,
          expected: `the same ${fd.key} on every node`,
        });
      }
      const n = Math.max(r.nodes.length, s.nodes.length);
      for (let i = 0; i < n; i++) {
        const x = r.nodes[i];
        const y = s.nodes[i];
        if (x && y && x.name === y.name && x.address === y.address) continue;
        const line = y ? at(f, s.name, `nodes.${i}`) : at(f, s.name, 'nodes');
        const refLine = x ? where(ref, r.name, `nodes.${i}`) : where(ref, r.name, 'nodes');
        out.push({
          file: f.file, line,
          message: `sharing '${s.name}': node ${i + 1} of the list is ${nodeText(y)} here, ${nodeText(x)} in ${refLine}${s.nodes.length !== r.nodes.length ? ` (${s.nodes.length} nodes here, ${r.nodes.length} there)` : ''}`,
          expected: 'the same ordered node list (names and addresses) on every node',
        });
        break; // one report per list: after the first difference the rest is shifted anyway
      }
    }
  }
  return out;
}
