/**
 * The scenario files of testdata/scenarios/carp/ and vrrp/: each holds the commands and the
 * transcript they must produce (format: test/helpers/datadriven.ts; commands:
 * test/election/scenarios.ts). `UPDATE_GOLDEN=1 npx vitest run test/election/scenarios.test.ts`
 * rewrites the transcripts; review the diff like code.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommand, parseDataDriven, formatDataDriven, runDataDriven } from '../helpers/datadriven.js';
import { TESTDATA } from '../helpers/golden.js';
import { CarpDriver, VrrpDriver, fold } from './scenarios.js';

const drivers = { carp: () => new CarpDriver(), vrrp: () => new VrrpDriver() };

for (const [proto, make] of Object.entries(drivers)) {
  describe(`${proto} scenarios (testdata/scenarios/${proto}/)`, () => {
    const dir = join(TESTDATA, 'scenarios', proto);
    const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
    it('has the scenarios users care about', () => {
      expect(files.length).toBeGreaterThanOrEqual(4);
    });
    for (const f of files) {
      it(f.replace(/\.txt$/, ''), () => {
        const d = make();
        runDataDriven(join(dir, f), (cmd) => d.run(cmd));
      });
    }
  });
}

describe('scenario file format', () => {
  it('parses commands, quoted values and expectations, and writes them back unchanged', () => {
    const text = '# a comment\nnode ip=10.0.0.1 reason="two words"\n----\nok\n\ntick +1000\n----\nt=1000 a\nt=2000 b\n\n# trailing\n';
    const { cases, trailer } = parseDataDriven(text);
    expect(cases.map((c) => [c.cmd.name, c.cmd.args, Object.fromEntries(c.cmd.kv), c.expected])).toEqual([
      ['node', [], { ip: '10.0.0.1', reason: 'two words' }, ['ok']],
      ['tick', ['+1000'], {}, ['t=1000 a', 't=2000 b']],
    ]);
    expect(formatDataDriven(cases.map((c) => ({ ...c, output: c.expected })), trailer)).toBe(text);
    expect(parseCommand('lose from=10.0.0.2 count=3').kv.get('count')).toBe('3');
    expect(() => parseDataDriven('start\nno separator\n')).toThrow(/expected ----/);
  });

  it('folds identical consecutive effects into a time range', () => {
    expect(fold(['t=1 send a', 't=2 send a', 't=3 send a', 't=3 garp', 't=4 send a'])).toEqual(['t=1..3 send a (x3)', 't=3 garp', 't=4 send a']);
  });

  it('a bad command names the file and line', () => {
    expect(() => new CarpDriver().run(parseCommand('tick 1000'))).toThrow(/tick \+MS/);
    expect(() => new VrrpDriver().run(parseCommand('start'))).toThrow(/no node yet/);
  });
});
