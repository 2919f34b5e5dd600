import { afterAll, describe, expect, it } from 'vitest';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeepalivedConf } from '../../../src/config/keepalived/parse.js';
import { Balancer } from '../../../src/balancer/shell/balancer.js';
import type { NftRunner } from '../../../src/balancer/shell/nft-applier.js';
import { Logger } from '../../../src/daemon/logger.js';

const log = new Logger({ ident: 'test', facility: 'none', debug: false, console: false });

async function until(fn: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!fn()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Balancer shell (localhost probes, fake nft)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'carpool-lb-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a failed checker takes the server out of the plane, runs notify_down (no shell); stop removes the table', async () => {
    const live = createTcpServer((s) => s.destroy());
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    const livePort = (live.address() as AddressInfo).port;
    const tmp = createTcpServer();
    await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
    const deadPort = (tmp.address() as AddressInfo).port;
    await new Promise<void>((r) => tmp.close(() => r()));
    const flag = join(dir, 'down');
    const { config } = parseKeepalivedConf(`vrrp_instance V {
  interface lo
  virtual_router_id 51
  priority 100
  virtual_ipaddress { 10.9.0.100/32 }
}
virtual_server 10.9.0.100 80 {
  delay_loop 1
  warmup 0
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 127.0.0.1 ${livePort} {
    TCP_CHECK {
      connect_timeout 1
    }
  }
  real_server 127.0.0.2 ${deadPort} {
    notify_down "/usr/bin/touch ${flag}"
    TCP_CHECK {
      connect_ip 127.0.0.1
      connect_timeout 1
      retry 0
    }
  }
}
`, { file: 'k.conf' });
    const txns: string[] = [];
    const nft: NftRunner = (_args, input) => {
      if (input !== undefined) txns.push(input);
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    };
    const b = new Balancer(config.balancers!, { log, now: () => performance.now(), nft });
    await b.start();
    expect(txns.length).toBeGreaterThanOrEqual(2); // nft -c, then the whole plane
    expect(txns.at(-1)).toContain(`127.0.0.2 . ${deadPort}`);
    await until(() => b.status().services[0]!.servers[1]!.health === 'down', 3000, 'server 2 down');
    await until(() => existsSync(flag), 3000, 'notify_down ran');
    await until(() => !txns.at(-1)!.includes(`127.0.0.2 . ${deadPort}`) && !txns.at(-1)!.includes('delete table'), 3000, 'diff without server 2');
    const st = b.status();
    expect(st.services[0]!.servers.map((s) => [s.health, s.weight])).toEqual([['up', 1], ['down', null]]);
    expect(st.services[0]!.servers[1]!.checkers[0]!.last).toMatchObject({ ok: false, detail: 'connect ECONNREFUSED' });
    await b.stop();
    expect(txns.at(-1)).toBe('add table ip carpool\ndelete table ip carpool\nadd table ip6 carpool\ndelete table ip6 carpool\nadd table netdev carpool\ndelete table netdev carpool\n');
    live.close();
  }, 10_000);
});
