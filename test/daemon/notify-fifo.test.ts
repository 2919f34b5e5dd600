/** keepalived's notify FIFO: the line format, never blocking, drops counted, the FIFO created and removed. */
import { closeSync, constants, existsSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseKeepalivedConf } from '../../src/config/keepalived/parse.js';
import { emitCarpoolYaml } from '../../src/config/emit-yaml.js';
import { parseCarpoolYaml } from '../../src/config/yaml/parse.js';
import { Logger } from '../../src/daemon/logger.js';
import { NotifyFifoWriter } from '../../src/daemon/notify-fifo.js';

const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });
const quiet = () => new Logger({ ident: 't', facility: 'none', debug: false, console: false });

describe('NotifyFifoWriter', () => {
  it('drops (and counts) without a reader, writes keepalived lines with one, removes the FIFO it made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fifo-'));
    dirs.push(dir);
    const path = join(dir, 'notify.fifo');
    const w = new NotifyFifoWriter({ path }, quiet());
    await w.start();
    expect(existsSync(path)).toBe(true);
    w.write('INSTANCE', 'VI_1', 'BACKUP', 100); // nobody reads: ENXIO, dropped at once
    expect(w.counters()).toEqual({ written: 0, dropped: 1 });
    const rd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    w.write('INSTANCE', 'VI_1', 'MASTER', 100);
    w.write('GROUP', 'G1', 'MASTER', 0);
    const buf = Buffer.alloc(256);
    const n = readSync(rd, buf);
    expect(buf.subarray(0, n).toString()).toBe('INSTANCE "VI_1" MASTER 100\nGROUP "G1" MASTER 0\n');
    closeSync(rd);
    w.write('INSTANCE', 'VI_1', 'STOP', 100); // reader gone: EPIPE, dropped, reopened next time
    expect(w.counters()).toEqual({ written: 2, dropped: 2 });
    w.stop();
    expect(existsSync(path)).toBe(false);
  });
});

describe('keepalived.conf notify FIFOs', () => {
  const inst = 'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 10.0.0.1 }\n}\n';
  it('vrrp_notify_fifo wins over notify_fifo for VRRP events; the script comes along; convert carries it', () => {
    const r = parseKeepalivedConf(`global_defs {\n notify_fifo /run/all.fifo\n vrrp_notify_fifo /run/vrrp.fifo\n vrrp_notify_fifo_script "/usr/local/bin/read-fifo -v"\n}\n${inst}`, { file: 'k.conf' });
    expect(r.config.notifyFifo).toEqual({ path: '/run/vrrp.fifo', script: { argv: ['/usr/local/bin/read-fifo', '-v'], shell: false } });
    expect(parseCarpoolYaml(emitCarpoolYaml(r.config), { file: 'k.conf' }).config).toEqual(r.config);
    expect(parseKeepalivedConf(`global_defs {\n notify_fifo /run/all.fifo\n}\n${inst}`, { file: 'k.conf' }).config.notifyFifo).toEqual({ path: '/run/all.fifo' });
  });
});
