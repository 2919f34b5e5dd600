/**
 * The man page carpool(8) and the bash completion (contrib/man/, contrib/bash-completion/, shipped by
 * the Debian package) must not drift from the CLI: every subcommand `carpool --help` lists (and those
 * of `resource` and `lab`) is described in carpool.8 and completed by the script, and the script
 * completes nothing the CLI does not have. The completion runs for real when bash-completion is
 * installed; the man pages are rendered by man(1) with its warnings on.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCarpool } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAN8 = readFileSync(join(ROOT, 'contrib/man/carpool.8'), 'utf8');
const COMPLETION = join(ROOT, 'contrib/bash-completion/carpool');
const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';
const has = (path: string) => spawnSync('test', ['-e', path]).status === 0;

/** The command names under "Commands:" in a commander help text. */
function commandsOf(help: string): string[] {
  const at = help.indexOf('\nCommands:\n');
  expect(at, help).toBeGreaterThan(0);
  const section = help.slice(at + 1).split('\n\n')[0]!; // an epilogue may follow with examples
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!);
}

/** What the completion script offers for the words typed so far (the last one being completed). */
function complete(...words: string[]): string[] {
  const script = `source ${BASH_COMPLETION}; source ${COMPLETION}
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}; _carpool; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script, 'bash', 'carpool', ...words], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

const help: { '': string[]; resource: string[]; lab: string[]; balancer: string[]; checker: string[] } = { '': [], resource: [], lab: [], balancer: [], checker: [] };
beforeAll(async () => {
  // `carpool help` prints what `carpool --help` prints (node itself would take a leading --help).
  for (const command of ['', 'resource', 'lab', 'balancer', 'checker']) {
    const r = await runCarpool(command ? [command, '--help'] : ['help'], '/nonexistent', 30_000);
    help[command as keyof typeof help] = commandsOf(r.stdout);
  }
}, 60_000);

describe('carpool(8) and the bash completion follow `carpool --help`', () => {
  it('the help lists the subcommands at all (the parser is real)', () => {
    expect(help['']).toEqual(expect.arrayContaining(['ucarp', 'run', 'status', 'resource', 'lab']));
    expect(help.resource).toEqual(expect.arrayContaining(['move', 'cleanup']));
  });

  it('carpool.8 describes every subcommand in COMMANDS, and those of resource, balancer, checker and lab', () => {
    const commands = MAN8.slice(MAN8.indexOf('.SH COMMANDS'), MAN8.indexOf('.SH FILES'));
    const described = new Set([...commands.matchAll(/^\.(?:B|BI) "?([a-z][a-z-\\]*)/gm)].map((m) => m[1]!.replaceAll('\\', '')));
    expect(help[''].filter((c) => !described.has(c))).toEqual([]);
    for (const sub of [help.resource, help.balancer]) expect(sub.filter((c) => c !== 'help' && !described.has(c))).toEqual([]);
    expect(help.checker.filter((c) => c !== 'help' && !new RegExp(`^\\.BI "checker ${c}`, 'm').test(commands))).toEqual([]);
    const lab = commands.slice(commands.indexOf('.BI "lab '));
    expect(help.lab.filter((c) => c !== 'help' && !new RegExp(`\\b${c}\\b`).test(lab))).toEqual([]);
  });

  it('the completion script lists exactly the subcommands of the help', () => {
    const text = readFileSync(COMPLETION, 'utf8');
    const list = (re: RegExp) => (re.exec(text)?.[1] ?? '').split(' ').sort();
    expect(list(/_carpool_commands='([^']*)'/)).toEqual([...help['']].sort());
    expect(list(/resource\)\n\s+if[^\n]*\n\s+COMPREPLY=\(\$\(compgen -W '([^']*)'/)).toEqual([...help.resource].sort());
    for (const sub of ['lab', 'balancer', 'checker'] as const) {
      expect(list(new RegExp(`${sub}\\)\\n\\s+if[^\\n]*\\n\\s+COMPREPLY=\\(\\$\\(compgen -W '([^']*)'`))).toEqual([...help[sub]].sort());
    }
  });

  it.skipIf(!has(BASH_COMPLETION))('the completion completes subcommands, sub-subcommands and options', () => {
    expect(complete('')).toEqual([...help['']].sort());
    expect(complete('re')).toEqual(['reload', 'resource']);
    expect(complete('resource', 'c')).toEqual(['cleanup', 'clear']);
    expect(complete('run', '--format', '')).toEqual(['keepalived', 'yaml']);
    expect(complete('ucarp', '--sh')).toEqual(['--shutdown']);
    expect(complete('-')).toEqual(['--help', '--version', '-V', '-h']);
  });

  it.skipIf(spawnSync('man', ['--version']).error !== undefined)('man renders both pages without a warning', () => {
    for (const page of ['carpool.8', 'carpool.yaml.5']) {
      const r = spawnSync('man', ['--warnings', '-l', join(ROOT, 'contrib/man', page)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' } });
      expect(r.stderr, page).toBe('');
      expect(r.stdout).toContain(page === 'carpool.8' ? 'carpool - high availability' : 'carpool.yaml - configuration file');
    }
  });
});
