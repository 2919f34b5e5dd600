/**
 * Real mail servers for the balancer lab tests, each with its own files in the test's
 * directory and nothing of the system's configuration touched: Debian's exim4 (`-bdf`, in
 * the foreground, its own config, spool and logs; the config must belong to root for `-C`)
 * and dovecot (`-F -c FILE`: IMAPS and POP3S only, a self-signed certificate made here,
 * base and state directories of its own). Both listen on one address of a namespace.
 */
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../src/lib/exec.js';

/** uid/gid of a system user (exim runs as Debian-exim: its spool and logs must be its own). */
async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run(['id', '-u', user])).stdout.trim());
  const gid = Number((await run(['id', '-g', user])).stdout.trim());
  return { uid, gid };
}

/** Write exim's files for `name` listening on `address:port`; the argv runs it in the foreground. */
export async function writeExim(dir: string, name: string, address: string, port = 25): Promise<string[]> {
  const { uid, gid } = await idsOf('Debian-exim');
  for (const d of ['', 'spool', 'log']) mkdirSync(join(dir, d), { recursive: true });
  chownSync(join(dir, 'spool'), uid, gid);
  chownSync(join(dir, 'log'), uid, gid);
  const file = join(dir, 'exim.conf');
  writeFileSync(file, `primary_hostname = ${name}.lab.test
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
pid_file_path = ${dir}/exim.pid
exim_user = Debian-exim
exim_group = Debian-exim
keep_environment =
local_interfaces = <; ${address}.${port}
daemon_smtp_ports = ${port}
smtp_banner = $smtp_active_hostname ESMTP ${name}
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = refuse
begin acl
refuse:
  deny
begin routers
begin transports
`, { mode: 0o644 });
  return ['exim4', '-C', file, '-bdf', '-odf', '-oX', String(port), '-oP', `${dir}/exim.pid`];
}

/** A self-signed certificate (RSA 2048, 2 days) for the lab's TLS servers: [cert, key]. */
export async function selfSigned(dir: string, cn: string): Promise<[string, string]> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`]);
  chmodSync(key, 0o600);
  return [cert, key];
}

/** Write dovecot's files for `name` on `address` (IMAPS 993, POP3S 995 only); the argv runs it in the foreground. */
export function writeDovecot(dir: string, name: string, address: string, cert: string, key: string): string[] {
  for (const d of ['', 'state', 'home']) mkdirSync(join(dir, d), { recursive: true });
  const file = join(dir, 'dovecot.conf');
  writeFileSync(file, `base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = ${name}
log_path = ${dir}/dovecot.log
protocols = imap pop3
listen = ${address}
ssl = required
ssl_cert = <${cert}
ssl_key = <${key}
login_greeting = ${name} ready
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=${dir}/home
}
mail_location = maildir:${dir}/home/Maildir
service imap-login {
  chroot =
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 993
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 995
  }
}
service anvil {
  chroot =
}
`, { mode: 0o644 });
  return ['dovecot', '-F', '-c', file];
}
