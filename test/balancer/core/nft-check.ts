/**
 * Test helper: check generated rulesets against the real `nft` and kernel, inside a
 * throwaway network namespace (the host's own ruleset is never touched). `nft -c -f` runs
 * the whole batch through the kernel's validation and aborts it; `apply` really loads it,
 * in the namespace only. Needs root and nft; `nftUnavailable()` says why not (tests skip).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function nftUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: nft -c needs CAP_NET_ADMIN';
  if (!['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].some((p) => existsSync(p))) return 'nft not installed';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) not installed';
  return undefined;
}

export interface NsRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let seq = 0;

/** A namespace with veth devices of the given names (each with a peer `<name>p`), deleted afterwards. */
export function withNetns<T>(devices: readonly string[], fn: (ns: { run: (cmd: string, args: readonly string[], input?: string) => NsRun; nft: (text: string, check?: boolean) => NsRun }) => T): T {
  const name = `bc${process.pid % 10000}x${seq++}`;
  const sh = (cmd: string, args: readonly string[], input?: string): NsRun => {
    const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 20_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  };
  const add = sh('ip', ['netns', 'add', name]);
  if (add.code !== 0) throw new Error(`ip netns add ${name}: ${add.stderr}`);
  try {
    const run = (cmd: string, args: readonly string[], input?: string) => sh('ip', ['netns', 'exec', name, cmd, ...args], input);
    for (const d of devices) {
      const r = run('ip', ['link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`]);
      if (r.code !== 0) throw new Error(`veth ${d}: ${r.stderr}`);
      run('ip', ['link', 'set', d, 'up']);
    }
    const nft = (text: string, check = false) => run('nft', [...(check ? ['-c'] : []), '-f', '-'], text);
    return fn({ run, nft });
  } finally {
    sh('ip', ['netns', 'delete', name]);
  }
}

/**
 * `nft list ruleset` with the objects of each table in a canonical order: the listing follows
 * creation order, which differs between a diff and a fresh load of the same ruleset.
 */
export function canonicalListing(listing: string): string {
  const tables: string[] = [];
  let head = '';
  let blocks: string[] = [];
  let cur: string[] | undefined;
  for (const line of listing.split('\n')) {
    if (/^table /.test(line)) {
      head = line;
      blocks = [];
    } else if (line === '}') {
      tables.push([head, ...blocks.sort(), '}'].join('\n'));
    } else if (/^\t(map|set|chain|counter) /.test(line)) {
      cur = [line];
    } else if (line === '\t}' && cur) {
      cur.push(line);
      blocks.push(cur.join('\n'));
      cur = undefined;
    } else if (cur) {
      cur.push(line);
    }
  }
  return tables.sort().join('\n');
}
