/**
 * The control protocol: one JSON object per line each way over the daemon's Unix socket.
 * Shared by the server (src/daemon/control.ts) and every client (cli, lab, bench).
 */

export interface ControlRequest {
  readonly cmd: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

export type ControlResponse = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: string; readonly code?: string };
