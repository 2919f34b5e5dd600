/**
 * Directories the daemon trusts (its state directory, the control socket's directory) must
 * be its own: whoever can write there can plant a state file that names addresses to delete,
 * or a socket that answers for the daemon. Checked wherever they are, not only under
 * /run/carpool, before anything on the host changes.
 */
import { mkdirSync, statSync } from 'node:fs';
import { CarpoolError } from '../lib/errors.js';

/**
 * Create `dir` (0700) if missing; refuse one that is not a directory, is owned by another
 * user, or is writable by group or others. `what` names it in the error.
 */
export function ensurePrivateDir(dir: string, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir); // follows a symlink such as /var/run -> /run: the target is what must be private
  const uid = process.geteuid?.() ?? 0;
  if (!st.isDirectory()) {
    throw new CarpoolError('UNSAFE_DIR', `${what} ${dir} is not a directory`, 'point it at a directory only this daemon\'s user owns');
  }
  if (st.uid !== uid) {
    throw new CarpoolError('UNSAFE_DIR', `${what} ${dir} is owned by uid ${st.uid}, not by this daemon's user (uid ${uid})`,
      `chown ${uid} ${dir}, or use another directory`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new CarpoolError('UNSAFE_DIR', `${what} ${dir} is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`,
      `chmod go-w ${dir} (0700 is best), or use another directory`);
  }
}
