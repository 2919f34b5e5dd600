/**
 * Adds and removes virtual addresses over rtnetlink (no `ip` fork on the takeover path)
 * and records exactly what this daemon added (address, prefix, device, label) in a small
 * state file, so that a restart after SIGKILL removes what the dead daemon left behind
 * before it elects again.
 *
 * The state file is a hint, not an authority: only configured virtual addresses are ever
 * deleted at start, and only when the kernel shows them on that device with the recorded
 * (or configured) prefix. An entry naming anything else is logged and left alone: the
 * file may have been written by someone else. The state directory must be private
 * (src/daemon/private-dir.ts).
 */
import { lstatSync, readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { VirtualAddress } from '../config/model.js';
import { addAddress, deleteAddress, interfaceInfo, listAddresses } from '../net/link.js';
import type { Logger } from './logger.js';
import { ensurePrivateDir } from './private-dir.js';

interface OwnedRecord {
  readonly dev: string;
  readonly address: string;
  readonly prefix: number;
  readonly label?: string;
}

interface StateFile {
  readonly pid: number;
  readonly owned: readonly OwnedRecord[];
}

export class AddressManager {
  private readonly owned = new Map<string, OwnedRecord>();
  private readonly file: string;

  /** `name` identifies the daemon (one state file each). Throws if `stateDir` is not private. */
  constructor(stateDir: string, name: string, private readonly log: Logger) {
    this.file = join(stateDir, `${name.replace(/[^\w.-]/g, '_')}.addresses.json`);
    ensurePrivateDir(stateDir, 'state directory');
  }

  /** Addresses recorded by a previous run that did not clean up (only from a file of ours). */
  private previous(): OwnedRecord[] {
    let text: string;
    try {
      const st = lstatSync(this.file);
      if (!st.isFile() || st.uid !== (process.geteuid?.() ?? 0) || (st.mode & 0o022) !== 0) {
        this.log.warning(`Ignoring address state file ${this.file}: not a regular file private to this daemon's user`);
        return [];
      }
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    try {
      const st = JSON.parse(text) as Partial<StateFile>;
      const owned: unknown[] = Array.isArray(st.owned) ? st.owned : [];
      return owned.filter(isRecord);
    } catch (err) {
      this.log.warning(`Ignoring unreadable address state file ${this.file}: ${(err as Error).message}`);
      return [];
    }
  }

  /**
   * Before electing: remove what a killed predecessor left. A configured virtual address
   * present on its device with the prefix the previous run recorded, or with the configured
   * one, is deleted (keepalived also clears configured addresses at start); a recorded
   * entry that is not a configured virtual address is reported and left alone. Reads the
   * kernel's addresses first and returns only what was really removed.
   */
  cleanupStale(configured: readonly { dev: string; vip: VirtualAddress }[]): string[] {
    const removed: string[] = [];
    const wanted = new Map<string, Set<number>>();
    for (const c of configured) {
      const k = key({ dev: c.dev, address: c.vip.address });
      wanted.set(k, (wanted.get(k) ?? new Set()).add(c.vip.prefix));
    }
    for (const r of this.previous()) {
      const prefixes = wanted.get(key(r));
      if (!prefixes) {
        this.log.warning(`Address state file names ${r.address}/${r.prefix} on ${r.dev}, which is not a configured virtual address: leaving it alone`);
        continue;
      }
      prefixes.add(r.prefix);
    }
    for (const [k, prefixes] of wanted) {
      const [dev, address] = k.split('|') as [string, string];
      const info = interfaceInfo(dev);
      if (!info) continue;
      for (const a of listAddresses(info.index)) {
        if (a.address !== address || !prefixes.has(a.prefix)) continue;
        try {
          if (deleteAddress({ ifindex: info.index, address, prefix: a.prefix }) !== 'deleted') continue;
          removed.push(`${address}/${a.prefix} on ${dev}`);
          this.log.warning(`Removed stale virtual address ${address}/${a.prefix} from ${dev} (left by a previous run)`);
        } catch (err) {
          this.log.error(`Cannot remove stale address ${address}/${a.prefix} from ${dev}: ${(err as Error).message}`);
        }
      }
    }
    this.writeState();
    return removed;
  }

  /** Add addresses; returns the number that failed (already present counts as success). */
  add(dev: string, ifindex: number, vips: readonly VirtualAddress[]): number {
    let failed = 0;
    for (const v of vips) {
      const rec: OwnedRecord = { dev: v.dev ?? dev, address: v.address, prefix: v.prefix, ...(v.label !== undefined ? { label: v.label } : {}) };
      try {
        const idx = v.dev && v.dev !== dev ? interfaceInfo(v.dev)?.index ?? 0 : ifindex;
        addAddress({
          ifindex: idx, address: v.address, prefix: v.prefix,
          ...(v.label !== undefined ? { label: v.label } : {}),
          ...(v.broadcast !== undefined ? { broadcast: v.broadcast } : {}),
          ...(v.family === 6 ? { nodad: true } : {}),
        });
        this.owned.set(key(rec), rec);
      } catch (err) {
        failed++;
        this.log.error(`Cannot add ${v.address}/${v.prefix} to ${rec.dev}: ${(err as Error).message}`);
      }
    }
    this.persist();
    return failed;
  }

  remove(dev: string, ifindex: number, vips: readonly VirtualAddress[]): void {
    for (const v of vips) {
      const vdev = v.dev ?? dev;
      // What was really added (its prefix) is what gets deleted.
      const prefix = this.owned.get(key({ dev: vdev, address: v.address }))?.prefix ?? v.prefix;
      try {
        const idx = v.dev && v.dev !== dev ? interfaceInfo(v.dev)?.index ?? 0 : ifindex;
        if (idx) deleteAddress({ ifindex: idx, address: v.address, prefix });
      } catch (err) {
        this.log.error(`Cannot remove ${v.address}/${prefix} from ${vdev}: ${(err as Error).message}`);
      }
      this.owned.delete(key({ dev: vdev, address: v.address }));
    }
    this.persist();
  }

  /** Remove everything still owned (last resort on exit). */
  removeAll(): void {
    for (const r of [...this.owned.values()]) {
      const info = interfaceInfo(r.dev);
      if (info) {
        try { deleteAddress({ ifindex: info.index, address: r.address, prefix: r.prefix }); } catch { /* gone */ }
      }
      this.owned.delete(key(r));
    }
    this.writeState();
  }

  get count(): number {
    return this.owned.size;
  }

  private persistQueued = false;

  /** Write the state file off the takeover path (after the GARP has gone out). */
  private persist(): void {
    if (this.persistQueued) return;
    this.persistQueued = true;
    setImmediate(() => {
      this.persistQueued = false;
      this.writeState();
    });
  }

  /** Synchronous write, for exit paths. */
  flush(): void {
    this.writeState();
  }

  private writeState(): void {
    try {
      if (this.owned.size === 0) {
        rmSync(this.file, { force: true });
        return;
      }
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, JSON.stringify({ pid: process.pid, owned: [...this.owned.values()] } satisfies StateFile), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch (err) {
      this.log.error(`Cannot write address state file ${this.file}: ${(err as Error).message}`);
    }
  }
}

function isRecord(r: unknown): r is OwnedRecord {
  const o = r as Partial<OwnedRecord> | null;
  return typeof o?.dev === 'string' && typeof o.address === 'string' && Number.isInteger(o.prefix);
}

function key(r: { readonly dev: string; readonly address: string }): string {
  return `${r.dev}|${r.address}`;
}
