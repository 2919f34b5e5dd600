/**
 * MISC_CHECK: run `misc_path` and judge its exit code (0 = up; with `misc_dynamic` the core
 * reads 2..255 as a weight). Like the daemon's hooks and VRRP track scripts: exec'd without a
 * shell unless the configuration asked for one (`Hook.shell`), in its own process group, so
 * that `misc_timeout` kills the whole tree; stdin closed; stdout to /dev/null as keepalived
 * does (a script printing megabytes costs the daemon nothing); stderr read, its first
 * MISC_OUTPUT_KEEP_BYTES kept for the detail, the rest dropped; as `user` [`group`] when set
 * (names from /etc/passwd and /etc/group, or numeric ids).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { Probe, ProbeResult } from './probe-kit.js';

/** stderr kept for the detail shown in status and logs; the rest is read and dropped. */
export const MISC_OUTPUT_KEEP_BYTES = 256;

/** uid and gid of `user` [`group`]: numbers as they are, names from the account files. */
export async function resolveUser(user: string, group?: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): Promise<{ uid: number; gid: number } | string> {
  const table = async (path: string): Promise<string[][]> => (await readFile(path, 'utf8')).split('\n').map((l) => l.split(':'));
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    const row = (await table(files.passwd)).find((f) => f[2] === user);
    gid = row ? Number(row[3]) : uid;
  } else {
    const row = (await table(files.passwd)).find((f) => f[0] === user);
    if (!row) return `no user '${user}' in ${files.passwd}`;
    uid = Number(row[2]);
    gid = Number(row[3]);
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const row = (await table(files.group)).find((f) => f[0] === group);
      if (!row) return `no group '${group}' in ${files.group}`;
      gid = Number(row[2]);
    }
  }
  return { uid, gid };
}

export const miscCheck: Probe<'MISC_CHECK'> = async (spec, signal) => {
  const c = spec.checker;
  let ids: { uid: number; gid: number } | undefined;
  if (c.user) {
    const r = await resolveUser(c.user.user, c.user.group).catch((err: Error) => err.message);
    if (typeof r === 'string') return { ok: false, detail: `cannot run as ${c.user.user}: ${r}` };
    ids = r;
  }
  const argv = c.command.shell ? ['/bin/sh', '-c', c.command.argv.join(' ')] : [...c.command.argv];
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    let timedOut = false;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
      });
    } catch (err) {
      resolve({ ok: false, detail: `cannot run ${argv[0]}: ${(err as Error).message}` });
      return;
    }
    const keep = (b: Buffer): void => {
      const room = MISC_OUTPUT_KEEP_BYTES - keptBytes;
      if (room <= 0) return;
      const part = b.subarray(0, room);
      kept.push(Buffer.from(part));
      keptBytes += part.length;
    };
    child.stderr?.on('data', keep);
    const killTree = (): void => {
      try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    };
    const finish = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      // Whatever the script left running in its group goes too (it may hold the pipes).
      killTree();
      child.stderr?.destroy();
      resolve(r);
    };
    const output = (): string => {
      const line = Buffer.concat(kept).toString('utf8').split('\n').find((l) => l.trim() !== '');
      return line ? `: ${line.replace(/[^\t\x20-\x7e]/g, '?').trim().slice(0, 120)}` : '';
    };
    const abort = (): void => { killTree(); finish({ ok: false, detail: 'aborted' }); };
    const timer = setTimeout(() => { timedOut = true; killTree(); }, c.timeoutMs);
    signal.addEventListener('abort', abort);
    child.once('error', (err) => finish({ ok: false, detail: `cannot run ${argv[0]}: ${err.message}` }));
    child.once('exit', (code, sig) => {
      if (timedOut) finish({ ok: false, detail: `timed out after ${c.timeoutMs} ms, killed` });
      else if (code === null) finish({ ok: false, detail: `killed by ${sig ?? 'a signal'}${output()}` });
      else finish({ ok: code === 0, exitCode: code, detail: `exit ${code}${output()}` });
    });
  });
};
