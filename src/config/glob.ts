/**
 * Pattern helpers for keepalived's `include` (glob(3) with GLOB_BRACE). Pure; load.ts walks the
 * file system with them.
 */

/** csh brace expansion: `a{b,c{d,e}}f` → abf, acdf, acef (unbalanced braces are literal). */
export function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') { i++; continue; }
    if (c === '{') { if (depth++ === 0) open = i; continue; }
    if (c === '}' && depth > 0 && --depth === 0) {
      const inner = pattern.slice(open + 1, i);
      const parts: string[] = [];
      let d = 0;
      let start = 0;
      for (let j = 0; j < inner.length; j++) {
        const x = inner[j];
        if (x === '\\') { j++; continue; }
        if (x === '{') d++;
        else if (x === '}') d--;
        else if (x === ',' && d === 0) { parts.push(inner.slice(start, j)); start = j + 1; }
      }
      parts.push(inner.slice(start));
      const head = pattern.slice(0, open);
      const tail = pattern.slice(i + 1);
      return parts.flatMap((p) => expandBraces(head + p + tail));
    }
  }
  return [pattern];
}

/** One path segment's glob as a RegExp: `*`, `?`, `[...]`/`[!...]`; a leading dot must be matched explicitly. */
export function globSegmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '\\' && i + 1 < segment.length) { re += escapeRe(segment[++i]!); continue; }
    if (c === '*') { re += '[^/]*'; continue; }
    if (c === '?') { re += '[^/]'; continue; }
    if (c === '[') {
      const end = segment.indexOf(']', i + 2);
      if (end > i) {
        let body = segment.slice(i + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
        i = end;
        continue;
      }
    }
    re += escapeRe(c);
  }
  return new RegExp(`^${segment.startsWith('.') ? '' : '(?!\\.)'}${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, (m) => `\\${m}`);
}
