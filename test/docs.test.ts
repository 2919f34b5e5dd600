/**
 * What the documentation promises, checked against the code it describes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCarpoolYaml } from '../src/config/yaml/parse.js';

const doc = (name: string) => readFileSync(fileURLToPath(new URL(`../docs/${name}`, import.meta.url)), 'utf8');

describe('docs/config.md', () => {
  it('the example\'s `protocol` comment names only protocols the parser accepts, and none as unsupported', () => {
    const example = /```yaml\n([\s\S]*?)```/.exec(doc('config.md'))![1]!;
    const comment = /^\s*protocol: carp\s*#(.*)$/m.exec(example)![1]!;
    expect(comment).not.toMatch(/not supported|unsupported/i);
    const named = ['carp', 'vrrp'].filter((p) => comment.includes(p));
    expect(named).toEqual(['carp', 'vrrp']);
    const minimal: Record<string, string> = {
      carp: 'vhid: 1\n    password: secret',
      vrrp: 'virtual_router_id: 51\n    priority: 100',
    };
    for (const p of named) {
      const { config } = parseCarpoolYaml(`instances:\n  - name: x\n    protocol: ${p}\n    interface: eth0\n    ${minimal[p]}\n    addresses: [192.0.2.1/24]\n`, { file: 'doc' });
      expect(config.instances[0]!.kind, p).toBe(p);
    }
  });
});
