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
/** IPVS settings with no meaning on carpool's nftables data plane (or the same behaviour built in): accepted with a warning. */
export const ipvsOnly = (why: string): Policy => ({ kind: 'not-used', why: `an IPVS setting, not used with carpool's nftables data plane: ${why}` });
export const unsupported = (why: string): Policy => ({ kind: 'unsupported', why });

/** A word that only a shell understands: a redirection, a pipe, a command separator, a substitution. */
const SHELL_SYNTAX = /^(\d*[<>]|&>|\$\(|`)|^(\||\|\||&&|;|&)$/;
/** A shell as the program: its arguments are its business. */
const SHELL = /(^|\/)(ba|da|z|k|mk|a)?sh$/;

/** The first word of `argv` that only a shell understands (none when the program is a shell itself). */
export function shellWordOf(argv: readonly string[]): string | undefined {
  return SHELL.test(argv[0] ?? '') ? undefined : argv.find((w) => SHELL_SYNTAX.test(w));
}

export type Handler<C> = (st: KaStatement, ctx: C) => void;

export interface Ctx { readonly c: Checker }

/** Longest word echoed whole in a message; longer ones are cut (a 10 MB token must not become a 10 MB line). */
export const MAX_SHOWN = 80;
const MAX_MESSAGE = 1000;

/** `text`, or its first MAX_SHOWN characters and its size when it is longer. */
export function shown(text: string): string {
  if (text.length <= MAX_SHOWN) return text;
  return `${text.slice(0, MAX_SHOWN)}… (${new TextEncoder().encode(text).length} bytes)`;
}

/**
 * A message with every overlong word cut (file paths of up to 255 characters, as in "first at
 * FILE:LINE", stay whole), and at most MAX_MESSAGE characters in all.
 */
function bounded(message: string): string {
  if (message.length <= MAX_SHOWN) return message;
  // A plain scan: a regular expression over a 10 MB word overflows V8's regexp stack.
  let out = '';
  let start = 0;
  const flush = (end: number) => {
    const w = message.slice(start, end);
    out += w.length > MAX_SHOWN && !/^\/\S{0,254}$/.test(w) ? shown(w) : w;
  };
  for (let i = 0; i < message.length; i++) {
    const c = message[i]!;
    if (c === ' ' || c === '\n' || c === '\t' || c === "'") {
      flush(i);
      out += c;
      start = i + 1;
      if (out.length > MAX_MESSAGE) break;
    }
  }
  if (out.length <= MAX_MESSAGE) flush(message.length);
  return out.length <= MAX_MESSAGE ? out : `${out.slice(0, MAX_MESSAGE)}… (message cut)`;
}

/** Diagnostics and value readers. */
export class Checker {
  readonly diagnostics: ConfigDiagnostic[] = [];
  /**
   * @param vrrpOnly skip LVS blocks with a warning (`--vrrp-only`).
   * @param strict   what keepalived only logs and skips (unknown keywords, ignored words, a duplicate
   *                 address...) is an error (`carpool check --strict`) instead of a warning.
   */
  constructor(readonly vrrpOnly: boolean, readonly strict = false) {}

  report(severity: Severity, code: ConfigDiagnosticCode, at: SourceLoc, message: string, expected: string): void {
    this.diagnostics.push({ file: at.file, line: at.line, column: at.column, message: bounded(message), expected: bounded(expected), code, severity });
  }
  /**
   * Something keepalived logs and goes on with (it skips the keyword, ignores the word, drops the
   * duplicate): a warning that says what both do, or an error under `--strict`.
   */
  lenient(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report(this.strict ? 'error' : 'warning', code, at, this.strict ? `--strict: ${message}` : message, expected);
    if (!this.strict) this.diagnostics[this.diagnostics.length - 1] = { ...this.diagnostics[this.diagnostics.length - 1]!, keepalivedSkips: true };
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
  /**
   * A flag keyword. keepalived's handlers of flags do not look at what follows (`nopreempt 1`,
   * even `nopreempt off`, set the flag): carpool reads the flag alone too, and says so.
   */
  noArgs(st: KaStatement): void {
    this.noBlock(st);
    const t = st.args[0];
    if (t) {
      const words = st.args.map((a) => a.text).join(' ');
      this.lenient(t.loc, 'EXTRA_ARGUMENT',
        `${st.keyword} takes no value: keepalived ignores '${words}' and sets ${st.keyword} anyway; so does carpool`,
        `${st.keyword} on its own (or remove the line to turn it off)`);
    }
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
      this.error(tok.loc, 'OUT_OF_RANGE', `${what}: got ${Number.isSafeInteger(v) ? v : tok.text}`, `an integer ${min}..${max}`);
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
      this.error(tok.loc, 'OUT_OF_RANGE', `${what}: got ${Number.isFinite(v) ? v : tok.text}`, `seconds ${min}..${max}`);
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
    const quoted = cmd.replace(/'/g, "'\\''");
    const fix = `${st.keyword} "/bin/bash -c '${shown(quoted)}'"`;
    if (/^<\s*\//.test(cmd)) {
      // keepalived (core/notify.c): a script starting with `</` "is checking for a file being
      // openable" and goes to system(), i.e. /bin/sh -c. carpool does the same. bash's /dev/tcp and
      // /dev/udp exist only where /bin/sh is bash: keepalived runs such a script all the same
      // (on Debian, whose /bin/sh is dash, it fails every time, exit 2 — seen with 2.2.7), and so
      // does carpool, with a warning that says so.
      if (/^<\s*\/dev\/(tcp|udp)\//.test(cmd)) {
        this.warn(st.args[0]!.loc, 'NEEDS_SHELL',
          `${st.keyword} in ${owner}: '${shown(cmd)}' needs bash: like keepalived, carpool hands a script starting with '</' to /bin/sh, where /dev/tcp works only if /bin/sh is bash — on Debian (dash) this check fails every time`,
          fix);
      }
      return { value: { argv: [cmd], shell: true }, at: st.args[0]!.loc };
    }
    const shellWord = shellWordOf(argv);
    if (shellWord !== undefined) {
      // keepalived execs the words without a shell: the operator reaches the program as a word.
      this.error(st.args[0]!.loc, 'NEEDS_SHELL',
        `${st.keyword} in ${owner}: '${shown(shellWord)}' is shell syntax (redirection, pipe, ; or $(...)); the command needs a shell — keepalived and carpool run it without one, so it would not do what it says`,
        fix);
      return undefined;
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

  /** keepalived: "Unknown keyword 'X'", and the keyword (with its block) is skipped. */
  unknown(st: KaStatement, known: readonly string[], where: string, hintText?: string): void {
    const guess = st.keyword.length <= MAX_SHOWN ? suggest(st.keyword, known) : undefined;
    this.lenient(st.loc, 'UNKNOWN_KEYWORD',
      `unknown keyword '${st.keyword}' in ${where}${guess ? ` — did you mean '${guess}'?` : ''}${hintText ?? ''}; skipped, as keepalived does`,
      `a keyword of ${where}`);
  }

  /** Run each statement of a block through its handler, policy, or the unknown-keyword error. */
  dispatch<C>(stmts: readonly KaStatement[], handlers: Readonly<Record<string, Handler<C>>>, policies: Readonly<Record<string, Policy>>,
    where: string, ctx: C, unknownHint?: (st: KaStatement) => string | undefined): void {
    const known = [...Object.keys(handlers), ...Object.keys(policies)];
    for (const st of stmts) {
      const h = Object.hasOwn(handlers, st.keyword) ? handlers[st.keyword] : undefined;
      if (h) h(st, ctx);
      else if (Object.hasOwn(policies, st.keyword)) this.policy(st, policies[st.keyword]!, where);
      else this.unknown(st, known, where, unknownHint?.(st));
    }
  }
}

export function hint(word: string, known: readonly string[]): string {
  const g = word.length <= MAX_SHOWN ? suggest(word, known) : undefined;
  return g ? ` — did you mean '${g}'?` : '';
}
