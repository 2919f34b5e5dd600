/**
 * `carpool run` without the configuration parsers in the daemon's process. The YAML library,
 * commander and the front ends (carpool YAML, keepalived.conf) cost the resident daemon ~6 MB
 * for a job done once at start and once per reload, so a short-lived child process does it: it
 * runs the usual command line (`config-child.ts` → `commands.ts`: options, help, errors and
 * warnings printed as always, exit codes), and instead of starting the daemon hands the
 * validated configuration back as JSON on file descriptor 3. This process — the daemon, keeping
 * its PID for systemd and start-stop-daemon — never loads them (`test/cli/imports.test.ts`).
 * A reload (SIGHUP, `carpool reload`) asks a new child, asynchronously: the daemon's event loop
 * keeps sending adverts meanwhile.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CarpoolConfig } from '../config/model.js';
import { CarpoolError } from '../lib/errors.js';
import { daemonize, runDaemon } from './daemon-cmd.js';

/** Set in the child's environment: what the parent wants (`start`: print as the CLI does; `reload`: collect). */
const CHILD_ENV = 'CARPOOL_CONFIG_CHILD';
const CHILD_FD = 3;

/** What a child sends back on fd 3 (one JSON document). */
export type ChildAnswer =
  | { readonly ok: true; readonly config: CarpoolConfig; readonly warnings: readonly string[]; readonly daemonize?: readonly string[] }
  | { readonly ok: false; readonly error: { readonly code?: string; readonly message: string; readonly hint?: string } };

/** In the child: what the parent asked for, or undefined when this process is not such a child. */
export function configChildMode(): 'start' | 'reload' | undefined {
  const m = process.env[CHILD_ENV];
  return m === 'start' || m === 'reload' ? m : undefined;
}

/** In the child: hand the answer to the parent. */
export function answerParent(answer: ChildAnswer): void {
  writeSync(CHILD_FD, JSON.stringify(answer));
}

/** Node's own options of this process (`--import tsx` in tests), without an `-e`/`-p` script. */
function nodeOptions(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (['-e', '--eval', '-p', '--print'].includes(a)) i++;
    else if (!/^--(eval|print)=/.test(a)) out.push(a);
  }
  return out;
}

const CHILD_SCRIPT = fileURLToPath(new URL(`./config-child${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));

interface ChildResult { readonly code: number | null; readonly answer?: ChildAnswer }

/** Run the command line `argv` in a child; `start` shares this terminal, `reload` keeps quiet. */
function askChild(argv: readonly string[], mode: 'start' | 'reload'): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions(), CHILD_SCRIPT, ...argv], {
      stdio: mode === 'start' ? ['ignore', 'inherit', 'inherit', 'pipe'] : ['ignore', 'ignore', 'pipe', 'pipe'],
      env: { ...process.env, [CHILD_ENV]: mode },
    });
    const chunks: Buffer[] = [];
    const errs: Buffer[] = [];
    child.stdio[CHILD_FD]!.on('data', (d: Buffer) => chunks.push(d));
    child.stderr?.on('data', (d: Buffer) => errs.push(d));
    child.once('error', reject);
    child.once('close', (code) => {
      const text = Buffer.concat(chunks).toString();
      if (text === '') {
        resolve({ code, ...(mode === 'reload' ? { answer: { ok: false, error: { message: `the configuration reader exited with ${String(code)}: ${Buffer.concat(errs).toString().trim()}` } } } : {}) });
        return;
      }
      try {
        resolve({ code, answer: JSON.parse(text) as ChildAnswer });
      } catch (err) {
        reject(new Error(`the configuration reader sent no valid answer: ${(err as Error).message}`));
      }
    });
  });
}

/** `carpool run ...`: the child reads and checks the file, this process runs the daemon. */
export async function runCommand(argv: readonly string[]): Promise<number> {
  const first = await askChild(argv, 'start');
  // Help, a usage error or an invalid file: the child said it all.
  if (!first.answer || !first.answer.ok) return first.code ?? 1;
  const { config, daemonize: detach } = first.answer;
  if (detach && daemonize(detach)) return 0;
  const reload = async (onWarning: (text: string) => void): Promise<CarpoolConfig> => {
    const r = await askChild(argv, 'reload');
    const a = r.answer!;
    if (!a.ok) throw new CarpoolError(a.error.code ?? 'RELOAD_FAILED', a.error.message, a.error.hint);
    for (const w of a.warnings) onWarning(w);
    return a.config;
  };
  return runDaemon(config, 'run', reload);
}
