import { describe, expect, it } from 'vitest';
import { renderStatusHtml } from '../../src/status/html.js';
import { balancers, status } from './fixtures.js';

describe('HTML status page: the load balancer', () => {
  it('shows each virtual server with its real servers: health, weight, connections, traffic, last check (escaped)', () => {
    const html = renderStatusHtml([{ ...status, balancers }], new Date('2026-11-23T10:00:00Z'));
    expect(html).toContain('<h2>Load balancer</h2>');
    expect(html).toContain('Virtual server <code>10.9.0.100:80/tcp</code> — wlc nat');
    expect(html).toContain('<tr><td><code>10.9.1.2:80</code></td><td class="good">up</td><td>2</td><td>7</td><td>1</td><td>total 120 conn, 2.4K pkt, 1.2MB; rate 2 conn/s, 40 pkt/s, 20KB/s</td>');
    expect(html).toContain('<td class="bad">down</td><td>out</td><td>0</td><td>2</td><td>-</td>');
    expect(html).toContain('connect &lt;ECONNREFUSED&gt;');
    expect(renderStatusHtml([status], new Date())).not.toContain('Load balancer');
  });
});
