/**
 * OCF meta-data (`ra-api.rng`, notes §1.5) parsed with a real XML parser. Agents print it
 * on stdout for `meta-data`; some print log lines on stderr as well (nginx), and a broken
 * one may print anything, so the result is a value or a reason, never an exception.
 */
import { createRequire } from 'node:module';
import type * as Fxp from 'fast-xml-parser';
import { parseDurationMs } from '../core/duration.js';

/** fast-xml-parser, loaded on first use: a daemon without OCF resources never pays for it. */
let fxp: typeof Fxp | undefined;
const fastXml = (): typeof Fxp => (fxp ??= createRequire(import.meta.url)('fast-xml-parser') as typeof Fxp);

export interface AgentParameter {
  readonly name: string;
  readonly required: boolean;
  readonly unique: boolean;
  readonly type: string;
  readonly default?: string;
  readonly shortdesc: string;
  readonly deprecated: boolean;
}

export interface AgentAction {
  readonly name: string;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  readonly depth?: number;
}

export interface AgentMetaData {
  readonly name: string;
  /** OCF API version the agent claims (`1.0`, `1.1`). */
  readonly version: string;
  readonly shortdesc: string;
  readonly parameters: readonly AgentParameter[];
  readonly actions: readonly AgentAction[];
}

export type MetaDataResult = { readonly ok: true; readonly meta: AgentMetaData } | { readonly ok: false; readonly reason: string };

const ARRAYS = new Set(['parameter', 'action', 'option', 'longdesc', 'shortdesc']);

type XmlNode = Record<string, unknown>;

function text(v: unknown): string {
  if (Array.isArray(v)) v = (v as unknown[]).find((x) => typeof x !== 'object' || (x as XmlNode)['lang'] === 'en' || !(x as XmlNode)['lang']) ?? v[0];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') {
    const t = (v as XmlNode)['#text'];
    return typeof t === 'string' ? t.trim() : '';
  }
  return typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

function flag(v: unknown): boolean {
  return v === '1' || v === 1 || v === 'true' || v === true;
}

export function parseMetaData(xml: string): MetaDataResult {
  const start = xml.indexOf('<');
  if (start < 0) return { ok: false, reason: 'no XML in the output' };
  const body = xml.slice(start);
  const valid = fastXml().XMLValidator.validate(body);
  if (valid !== true) return { ok: false, reason: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})` };
  const doc = new (fastXml().XMLParser)({
    ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false, parseTagValue: false,
    isArray: (name: string) => ARRAYS.has(name), processEntities: true, ignoreDeclaration: true,
  }).parse(body) as XmlNode;
  const ra = doc['resource-agent'] as XmlNode | undefined;
  if (!ra || typeof ra !== 'object') return { ok: false, reason: 'no <resource-agent> element' };
  const params = ((ra['parameters'] as XmlNode | undefined)?.['parameter'] as XmlNode[] | undefined) ?? [];
  const actions = ((ra['actions'] as XmlNode | undefined)?.['action'] as XmlNode[] | undefined) ?? [];
  const parameters: AgentParameter[] = [];
  for (const p of params) {
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    if (!name) continue;
    const content = (p['content'] as XmlNode | undefined) ?? {};
    const dflt = content['default'];
    parameters.push({
      name, required: flag(p['required']), unique: flag(p['unique']), type: typeof content['type'] === 'string' ? content['type'] : 'string',
      ...(typeof dflt === 'string' ? { default: dflt } : {}),
      shortdesc: text(p['shortdesc']), deprecated: p['deprecated'] !== undefined,
    });
  }
  return {
    ok: true,
    meta: {
      name: typeof ra['name'] === 'string' ? ra['name'] : '',
      version: text(ra['version']) || (typeof ra['version'] === 'string' ? ra['version'] : ''),
      shortdesc: text(ra['shortdesc']),
      parameters,
      actions: actions.flatMap((a) => {
        const name = typeof a['name'] === 'string' ? a['name'] : '';
        if (!name) return [];
        const timeoutMs = typeof a['timeout'] === 'string' ? parseDurationMs(a['timeout']) : undefined;
        const intervalMs = typeof a['interval'] === 'string' ? parseDurationMs(a['interval']) : undefined;
        const depth = typeof a['depth'] === 'string' && /^\d+$/.test(a['depth']) ? Number(a['depth']) : undefined;
        return [{ name, ...(timeoutMs !== undefined ? { timeoutMs } : {}), ...(intervalMs !== undefined ? { intervalMs } : {}), ...(depth !== undefined ? { depth } : {}) }];
      }),
    },
  };
}
