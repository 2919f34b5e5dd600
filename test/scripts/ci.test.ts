/**
 * README.md starts with the two commands a new user runs; .ci/run runs the second one verbatim.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const read = (p: string) => readFileSync(fileURLToPath(new URL(`../../${p}`, import.meta.url)), 'utf8');

describe('README commands', () => {
  const block = /```sh\n([\s\S]*?)```/.exec(read('README.md'))!;
  const commands = block[1]!.trim().split('\n').map((l) => l.replace(/\s+#.*$/, ''));

  it('are the first block: set-up and demo, then set-up with the test packages and the tests; no sudo', () => {
    expect(block.index).toBeLessThan(20);
    expect(commands).toEqual(['./scripts/setup.sh && npm run demo', './scripts/setup.sh --test && npm test']);
    expect(block[1]).not.toMatch(/\bsudo\b/);
  });

  it('.ci/run runs the README\'s test command', () => {
    const lines = read('.ci/run').trim().split('\n');
    expect(lines.at(-1)).toBe(commands[1]);
  });

  it('npm run demo and npm test go through scripts/as-root.sh (root without sudo, sudo otherwise)', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.demo).toMatch(/^scripts\/as-root\.sh /);
    expect(scripts.test).toMatch(/^scripts\/as-root\.sh /);
  });
});
