/**
 * Adds and removes virtual addresses over rtnetlink (no `ip` fork on the takeover path)
 * and remembers which ones this daemon added, in a small state file, so that a restart
 * after SIGKILL removes what the dead daemon left behind before it elects again.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { VirtualAddress } from '../config/model.js';
import { addAddress, deleteAddress, interfaceInfo, listAddresses } from '../net/link.js';
import type { Logger } from './logger.js';

interface OwnedRecord {
  readonly dev: string;
  readonly address: string;
  readonly prefix: number;
}

interface StateFile {
  readonly pid: number;
  readonly owned: readonly OwnedRecord[];
}

export class AddressManager {
  private readonly owned = new Map<string, OwnedRecord>();
  private readonly file: string;

  /** `name` identifies the daemon (one state file each). */
  constructor(stateDir: string, name: string, private readonly log: Logger) {
    this.file = join(stateDir, `${name.replace(/[^\w.-]/g, '_')}.addresses.json`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  }

  /** Addresses recorded by a previous run that did not clean up. */
  private previous(): OwnedRecord[] {
    try {
      const st = JSON.parse(readFileSync(this.file, 'utf8')) as StateFile;
      return Array.isArray(st.owned) ? (st.owned as OwnedRecord[]) : [];
    } catch {
      return [];
    }
  }

  /**
   * Before electing: remove addresses a previous run recorded, and any configured virtual
   * address already present (keepalived does the same at start). Returns what was removed.
   */
  cleanupStale(configured: readonly { dev: string; vip: VirtualAddress }[]): string[] {
    const removed: string[] = [];
    const candidates = new Map<string, OwnedRecord>();
    for (const r of this.previous()) candidates.set(key(r), r);
    for (const c of configured) {
      const r = { dev: c.dev, address: c.vip.address, prefix: c.vip.prefix };
      candidates.set(key(r), r);
    }
    for (const r of candidates.values()) {
      const info = interfaceInfo(r.dev);
      if (!info) continue;
      const present = listAddresses(info.index).some((a) => a.address === r.address);
      if (!present) continue;
      try {
        deleteAddress({ ifindex: info.index, address: r.address, prefix: r.prefix });
        removed.push(`${r.address}/${r.prefix} on ${r.dev}`);
        this.log.warning(`Removed stale virtual address ${r.address}/${r.prefix} from ${r.dev} (left by a previous run)`);
      } catch (err) {
        this.log.error(`Cannot remove stale address ${r.address} from ${r.dev}: ${(err as Error).message}`);
      }
    }
    this.writeState();
    return removed;
  }

  /** Add addresses; returns the number that failed (already present counts as success). */
  add(dev: string, ifindex: number, vips: readonly VirtualAddress[]): number {
    let failed = 0;
    for (const v of vips) {
      const rec = { dev: v.dev ?? dev, address: v.address, prefix: v.prefix };
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
      const rec = { dev: v.dev ?? dev, address: v.address, prefix: v.prefix };
      try {
        const idx = v.dev && v.dev !== dev ? interfaceInfo(v.dev)?.index ?? 0 : ifindex;
        if (idx) deleteAddress({ ifindex: idx, address: v.address, prefix: v.prefix });
      } catch (err) {
        this.log.error(`Cannot remove ${v.address}/${v.prefix} from ${rec.dev}: ${(err as Error).message}`);
      }
      this.owned.delete(key(rec));
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

function key(r: OwnedRecord): string {
  return `${r.dev}|${r.address}`;
}
