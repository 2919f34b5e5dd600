/**
 * The keepalived.conf checker: diagnostics, the value readers every scope uses (one argument, an
 * integer, seconds, a boolean, an address, an interface name, a script), and the dispatch of a
 * block's statements to its scope's handlers, its policies for keywords carpool does not implement
 * (a warning or an error, never silence), or the unknown-keyword error.
 */
import { parseCidr, parseIP } from '../../protocol/inet.js';
import type { ConfigDiagnostic, ConfigDiagnosticCode } from '../diagnostics.js';
import type { Hook } from '../model.js';
import { suggest } from '../common.js';
import type { At } from '../vrrp/spec.js';
import { splitScriptWords, type KaStatement, type KaToken, type SourceLoc } from './syntax.js';

export type Severity = 'error' | 'warning';

/** How a keyword that carpool does not implement is treated. */
export interface Policy {
  readonly kind: 'not-used' | 'unsupported' | 'lvs';
  readonly why: string;
}

export const MAIL: Policy = { kind: 'not-used', why: 'not used by carpool (no mail alerts)' };
export const TUNING: Policy = { kind: 'not-used', why: 'process tuning of keepalived; carpool is one Node.js process and ignores it' };
export const LVS: Policy = { kind: 'lvs', why: 'LVS' };
export const unsupported = (why: string): Policy => ({ kind: 'unsupported', why });

export type Handler<C> = (st: KaStatement, ctx: C) => void;

export interface Ctx { readonly c: Checker }

/** Diagnostics and value readers. */
export class Checker {
  readonly diagnostics: ConfigDiagnostic[] = [];
  constructor(readonly vrrpOnly: boolean) {}

  report(severity: Severity, code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string): void {
    this.diagnostics.push({ file: at.file, line: at.line, column: at.column, message, expected, code, severity });
  }
  error(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report('error', code, at, message, expected);
  }
  warn(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report('warning', code, at, message, expected);
  }

  /** The only argument of a value keyword. */
  one(st: KaStatement, expected: string): KaToken | undefined {
    this.noBlock(st);
    const a = st.args[0];
    if (!a) {
      this.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} needs a value`, expected);
      return undefined;
    }
    if (st.args.length > 1) this.extra(st, 1, expected);
    return a;
  }
  extra(st: KaStatement, allowed: number, expected: string): void {
    const t = st.args[allowed]!;
    this.error(t.loc, 'EXTRA_ARGUMENT', `${st.keyword}: unexpected '${t.text}'`, expected);
  }
  noArgs(st: KaStatement): void {
    this.noBlock(st);
    if (st.args.length > 0) this.extra(st, 0, `${st.keyword} on its own`);
  }
  noBlock(st: KaStatement): void {
    if (st.block) this.error(st.blockLoc ?? st.loc, 'UNEXPECTED_BLOCK', `${st.keyword} does not take a { block }`, `${st.keyword} VALUE`);
  }
  block(st: KaStatement, example: string): readonly KaStatement[] {
    if (!st.block) {
      this.error(st.loc, 'BLOCK_EXPECTED', `${st.keyword} needs a { block }`, example);
      return [];
    }
    return st.block;
  }

  int(tok: KaToken, what: string, min: number, max: number): At<number> | undefined {
    if (!/^[+-]?\d+$/.test(tok.text)) {
      this.error(tok.loc, 'INVALID_VALUE', `${what}: '${tok.text}' is not a whole number`, `an integer ${min}..${max}`);
      return undefined;
    }
    const v = Number(tok.text);
    if (v < min || v > max) {
      this.error(tok.loc, 'OUT_OF_RANGE', `${what}: got ${v}`, `an integer ${min}..${max}`);
      return undefined;
    }
    return { value: v, at: tok.loc };
  }
  /** Decimal seconds (keepalived TIMER). */
  seconds(tok: KaToken, what: string, min: number, max: number): At<number> | undefined {
    if (!/^(\d+(\.\d*)?|\.\d+)$/.test(tok.text)) {
      this.error(tok.loc, 'INVALID_VALUE', `${what}: '${tok.text}' is not a number of seconds`, `seconds ${min}..${max} (decimals allowed)`);
      return undefined;
    }
    const v = Number(tok.text);
    if (v < min || v > max) {
      this.error(tok.loc, 'OUT_OF_RANGE', `${what}: got ${v}`, `seconds ${min}..${max}`);
      return undefined;
    }
    return { value: v, at: tok.loc };
  }
  /** keepalived BOOL: on|off|true|false|yes|no; a bare keyword is true. */
  bool(st: KaStatement): At<boolean> | undefined {
    this.noBlock(st);
    const a = st.args[0];
    if (!a) return { value: true, at: st.loc };
    if (st.args.length > 1) this.extra(st, 1, `${st.keyword} [on|off]`);
    const t = a.text.toLowerCase();
    if (['on', 'true', 'yes'].includes(t)) return { value: true, at: a.loc };
    if (['off', 'false', 'no'].includes(t)) return { value: false, at: a.loc };
    this.error(a.loc, 'INVALID_VALUE', `${st.keyword}: '${a.text}' is not a boolean`, 'on, off, true, false, yes or no (or nothing for on)');
    return undefined;
  }
  ip(tok: KaToken, what: string): At<string> | undefined {
    const p = parseIP(tok.text);
    if (!p) {
      this.error(tok.loc, 'INVALID_ADDRESS', `${what}: '${tok.text}' is not an IP address`, 'an IPv4 or IPv6 address');
      return undefined;
    }
    return { value: parseCidr(tok.text)!.address, at: tok.loc };
  }
  ifname(tok: KaToken, what: string): At<string> | undefined {
    if (tok.text === '' || new TextEncoder().encode(tok.text).length > 15 || /[/\s]/.test(tok.text)) {
      this.error(tok.loc, 'INVALID_VALUE', `${what}: '${tok.text}' is not a valid interface name`, '1..15 bytes without / or blanks');
      return undefined;
    }
    return { value: tok.text, at: tok.loc };
  }

  /**
   * A script keyword (`script`, `notify*`): keepalived re-reads the line with quotes and escapes,
   * takes the first word as the command (itself split into argv) and the next two as user and group.
   */
  script(st: KaStatement, owner: string, allowUser: boolean): At<Hook> | undefined {
    this.noBlock(st);
    const expected = `${st.keyword} "/path/to/script arg ..."${allowUser ? ' [user [group]]' : ''}`;
    const words = splitScriptWords(st.rest);
    if (!words) {
      // An unclosed double quote was already reported by the tokenizer.
      if ((st.rest.match(/"/g)?.length ?? 0) % 2 === 1) return undefined;
      this.error(st.args[0]?.loc ?? st.loc, 'SYNTAX', `${st.keyword} in ${owner}: a quote is not closed`, expected);
      return undefined;
    }
    const cmd = words[0];
    if (cmd === undefined || cmd.trim() === '') {
      this.error(st.loc, 'MISSING_ARGUMENT', `${st.keyword} in ${owner} needs a command`, expected);
      return undefined;
    }
    const argv = splitScriptWords(cmd);
    if (!argv || argv.length === 0) {
      this.error(st.args[0]!.loc, 'SYNTAX', `${st.keyword} in ${owner}: cannot split '${cmd}' into words`, expected);
      return undefined;
    }
    const extra = words.slice(1);
    if (!allowUser && extra.length > 0) {
      this.error(st.args[1]?.loc ?? st.loc, 'EXTRA_ARGUMENT',
        `${st.keyword} in ${owner}: keepalived runs only '${cmd}' and drops '${extra.join(' ')}'; quote the whole command`,
        `${st.keyword} "${[cmd, ...extra].join(' ')}"`);
      return undefined;
    }
    if (extra.length > 2) {
      this.error(st.args[3]?.loc ?? st.loc, 'EXTRA_ARGUMENT',
        `${st.keyword} in ${owner}: too many words; keepalived reads '${extra[0]}' and '${extra[1]}' as user and group`,
        `${st.keyword} "${[cmd, ...extra].join(' ')}" (quote the command with its arguments)`);
      return undefined;
    }
    if (extra.length > 0) {
      this.warn(st.args[1]?.loc ?? st.loc, 'NOT_USED',
        `${st.keyword} in ${owner}: carpool runs hooks as root and does not switch to user '${extra.join(':')}' (if '${extra[0]}' is meant as an argument, quote the command)`,
        `${st.keyword} "${cmd}"`);
    }
    if (argv[0]!.includes('/') && !argv[0]!.startsWith('/')) {
      this.error(st.args[0]!.loc, 'INVALID_VALUE', `${st.keyword} in ${owner}: '${argv[0]}' is a relative path; the daemon runs in /`,
        'an absolute path such as /etc/keepalived/notify.sh');
      return undefined;
    }
    return { value: { argv, shell: false }, at: st.args[0]!.loc };
  }

  /** Keywords carpool knows but does not implement. */
  policy(st: KaStatement, p: Policy, where: string): void {
    if (p.kind === 'not-used') {
      this.warn(st.loc, 'NOT_USED', `${st.keyword} in ${where} is ${p.why.startsWith('not used') ? p.why : `accepted but ignored: ${p.why}`}`,
        'nothing: it does not change failover behaviour');
    } else if (p.kind === 'lvs') {
      this.lvs(st);
    } else {
      this.error(st.loc, 'NOT_SUPPORTED', `${st.keyword} in ${where} is not supported by carpool${p.why ? `: ${p.why}` : ''}`,
        `a configuration without ${st.keyword}`);
    }
  }

  readonly skipped: string[] = [];
  lvs(st: KaStatement): void {
    const what = [st.keyword, ...st.args.map((a) => a.text)].join(' ');
    const reals = (st.block ?? []).filter((s) => s.keyword === 'real_server').length;
    const label = reals > 0 ? `${what} (${reals} real server${reals === 1 ? '' : 's'})` : what;
    if (this.vrrpOnly) {
      this.skipped.push(`${label} at ${st.loc.file}:${st.loc.line}`);
    } else {
      this.error(st.loc, 'LVS_NOT_SUPPORTED', `${st.keyword} (LVS) is not supported yet — run with --vrrp-only to start the VRRP part only, like \`keepalived --vrrp\``,
        'VRRP configuration only, or --vrrp-only');
    }
  }

  unknown(st: KaStatement, known: readonly string[], where: string): void {
    const guess = suggest(st.keyword, known);
    this.error(st.loc, 'UNKNOWN_KEYWORD', `unknown keyword '${st.keyword}' in ${where}${guess ? ` — did you mean '${guess}'?` : ''}`,
      `a keyword of ${where}`);
  }

  /** Run each statement of a block through its handler, policy, or the unknown-keyword error. */
  dispatch<C>(stmts: readonly KaStatement[], handlers: Readonly<Record<string, Handler<C>>>, policies: Readonly<Record<string, Policy>>,
    where: string, ctx: C): void {
    const known = [...Object.keys(handlers), ...Object.keys(policies)];
    for (const st of stmts) {
      const h = Object.hasOwn(handlers, st.keyword) ? handlers[st.keyword] : undefined;
      if (h) h(st, ctx);
      else if (Object.hasOwn(policies, st.keyword)) this.policy(st, policies[st.keyword]!, where);
      else this.unknown(st, known, where);
    }
  }
}

export function hint(word: string, known: readonly string[]): string {
  const g = suggest(word, known);
  return g ? ` — did you mean '${g}'?` : '';
}
