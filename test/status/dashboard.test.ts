import { describe, expect, it } from 'vitest';
import { renderDashboard, scriptJson } from '../../src/status/dashboard.js';
import { status } from './fixtures.js';

describe('renderDashboard', () => {
  const timeline = [{ at: '2026-11-23T10:00:00.250Z', instance: 'web', from: 'BACKUP', to: 'MASTER', reason: 'master-down timeout' }];

  it('embeds the view it was given, readable back as JSON', () => {
    const html = renderDashboard({ status, timeline });
    const json = /<script type="application\/json" id="initial-view">(.*?)<\/script>/s.exec(html)![1]!;
    expect(JSON.parse(json)).toEqual({ status, timeline });
  });

  it('loads nothing from elsewhere: no src/href to other hosts, inline style and script only', () => {
    const html = renderDashboard({ status, timeline });
    expect(html).not.toMatch(/\b(src|href)=["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link\b|<script[^>]+src=/i);
    expect(html).toContain("new EventSource('events')");
  });

  it('cannot be broken out of by a value in the status (script end, comment open)', () => {
    const evil = { ...status, config: '</script><script>alert(1)</script><!--' };
    const html = renderDashboard({ status: evil, timeline: [] });
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(scriptJson('</script>&\u2028')).toBe('"\\u003c/script\\u003e\\u0026\\u2028"');
  });
});
