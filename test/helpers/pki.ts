/**
 * Test certificates made with Debian's `openssl` (EC P-256): a CA, certificates it signs for a
 * host name / IP address, and the bad ones of the issue's list — expired (`openssl ca` with dates
 * in the past), signed by another CA, for another host, a key that is not the certificate's.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: readonly string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

let serial = 0;

export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

export interface Leaf {
  readonly cert: string;
  readonly key: string;
}

export class Pki {
  readonly ca: Leaf;
  constructor(readonly dir: string, readonly name = 'ca') {
    mkdirSync(dir, { recursive: true });
    this.ca = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', this.ca.key, '-out', this.ca.cert,
      '-subj', `/CN=carpool test ${name}`, '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    writeFileSync(join(dir, `${name}.index`), '');
    writeFileSync(join(dir, `${name}.serial`), '1000\n');
    writeFileSync(join(dir, `${name}.cnf`), [
      '[ca]', 'default_ca = d', '[d]', `database = ${join(dir, `${name}.index`)}`, `new_certs_dir = ${dir}`, `serial = ${join(dir, `${name}.serial`)}`,
      'default_md = sha256', 'policy = p', 'unique_subject = no', '[p]', 'commonName = supplied', '',
    ].join('\n'));
  }

  /**
   * A certificate signed by this CA for `cn` with subjectAltName `san` (e.g. `IP:10.0.0.1`),
   * usable as server and client certificate; `expired`: valid only in 2020.
   */
  issue(file: string, cn: string, san: string, opts: { expired?: boolean } = {}): Leaf {
    const leaf = { cert: join(this.dir, `${file}.pem`), key: join(this.dir, `${file}.key`) };
    const csr = join(this.dir, `${file}.csr`);
    const ext = join(this.dir, `${file}.ext`);
    writeFileSync(ext, `basicConstraints=CA:FALSE\nsubjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', leaf.key, '-out', csr, '-subj', `/CN=${cn}`], this.dir);
    if (opts.expired) {
      openssl(['ca', '-batch', '-notext', '-config', join(this.dir, `${this.name}.cnf`), '-cert', this.ca.cert, '-keyfile', this.ca.key, '-in', csr, '-out', leaf.cert,
        '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extfile', ext], this.dir);
    } else {
      openssl(['x509', '-req', '-in', csr, '-CA', this.ca.cert, '-CAkey', this.ca.key, '-set_serial', String(Date.now() * 100 + (serial++ % 100)), '-out', leaf.cert, '-days', '30', '-extfile', ext], this.dir);
    }
    return leaf;
  }
}
