/** Diagnostics of the VRRP builder: everything goes to the front end's `Report`; one instance counts its own errors. */
import type { ConfigDiagnosticCode, SourceLoc } from '../diagnostics.js';
import type { At, Report, Terms, VrrpDefaultsSpec, VrrpInstanceSpec } from './spec.js';

export const ms = (seconds: number): number => Math.round(seconds * 1000);

export class Diag {
  constructor(private readonly report: Report) {}

  err(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report('error', code, at, message, expected);
  }

  warn(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.report('warning', code, at, message, expected);
  }

  /** True when `v` is absent or within min..max; an OUT_OF_RANGE error otherwise. */
  inRange(v: At<number> | undefined, what: string, min: number, max: number, integer = true): boolean {
    if (!v) return true;
    if ((integer && !Number.isInteger(v.value)) || v.value < min || v.value > max || Number.isNaN(v.value)) {
      this.err(v.at, 'OUT_OF_RANGE', `${what}: got ${v.value}`, `${integer ? 'an integer' : 'a number'} ${min}..${max}`);
      return false;
    }
    return true;
  }
}

/** One vrrp_instance being built: its spec, the defaults, and a count of its errors (any error drops the instance). */
export class InstanceCheck {
  errors = 0;
  readonly name: string;
  /** `vrrp_instance 'NAME'`, for messages. */
  readonly owner: string;

  constructor(private readonly diag: Diag, readonly s: VrrpInstanceSpec, readonly d: VrrpDefaultsSpec, readonly terms: Terms) {
    this.name = s.name.value;
    this.owner = `vrrp_instance '${this.name}'`;
  }

  e(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.errors++;
    this.diag.err(at, code, message, expected);
  }

  warn(at: SourceLoc, code: ConfigDiagnosticCode, message: string, expected: string): void {
    this.diag.warn(at, code, message, expected);
  }

  range(v: At<number> | undefined, what: string, min: number, max: number, integer = true): void {
    if (!this.diag.inRange(v, `${what} in ${this.owner}`, min, max, integer)) this.errors++;
  }
}

/** ` (did you mean 'X'?)` for a case slip, else the names defined, for an undefined reference. */
export function suggestName(name: string, names: readonly string[]): string {
  const close = names.find((n) => n.toLowerCase() === name.toLowerCase());
  return close ? ` (did you mean '${close}'?)` : names.length > 0 ? ` (defined: ${names.slice(0, 8).join(', ')})` : '';
}
