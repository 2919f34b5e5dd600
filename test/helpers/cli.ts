/** The real CLI in a child process, for the CLI tests: TypeScript sources through tsx, so no build is needed. */
import { spawn } from 'node:child_process';

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Run `carpool ...args` with CARPOOL_RUN_DIR=runDir; kill it after `killAfterMs` (for commands that never end). */
export function runCarpool(args: string[], runDir: string, killAfterMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e',
      "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(process.argv.slice(1)) ?? 0", ...args],
    { env: { ...process.env, CARPOOL_RUN_DIR: runDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGTERM'), killAfterMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
