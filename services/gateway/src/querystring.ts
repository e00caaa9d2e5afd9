/**
 * Query strings read and written the way the upstream (Django + Python's urllib) does, so that parameter
 * values, and the `next`/`previous` links built from them, come out byte for byte the same.
 */

/** One `name=value` pair, decoded. */
export type QueryPair = readonly [name: string, value: string];

const utf8 = new TextDecoder('utf-8');
const HEX = /^[0-9A-Fa-f]{2}$/;

/** Python `unquote_plus`: `+` is a space, `%XX` a byte, malformed escapes stay literal, bad UTF-8 → U+FFFD. */
export function unquotePlus(s: string): string {
  const text = s.replaceAll('+', ' ');
  if (!text.includes('%')) return text;
  const bytes: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < text.length; ) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && HEX.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else {
      const cp = text.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      for (const b of enc.encode(ch)) bytes.push(b);
      i += ch.length;
    }
  }
  return utf8.decode(new Uint8Array(bytes));
}

/** Python `parse_qsl(query, keep_blank_values=True)`: split on `&`, a pair without `=` has an empty value. */
export function parseQuery(query: string): QueryPair[] {
  const out: QueryPair[] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    out.push([unquotePlus(name), unquotePlus(value)]);
  }
  return out;
}

/** Django `QueryDict.get`: the LAST value given for `name`, or undefined. */
export function lastValue(pairs: readonly QueryPair[], name: string): string | undefined {
  for (let i = pairs.length - 1; i >= 0; i--) {
    const p = pairs[i] as QueryPair;
    if (p[0] === name) return p[1];
  }
  return undefined;
}

const SAFE = /[A-Za-z0-9_.~-]/;

/** Python `quote_plus`: UTF-8, letters/digits/`_.-~` kept, space → `+`, everything else `%XX` upper-case. */
export function quotePlus(s: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(s)) {
    const ch = String.fromCharCode(b);
    if (b < 0x80 && SAFE.test(ch)) out += ch;
    else if (b === 0x20) out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * DRF `replace_query_param` / `remove_query_param` on a query: pairs are grouped by name, `name` set to
 * `value` (or removed when `value` is null), names sorted, and everything re-encoded with `quote_plus`.
 */
export function replaceQueryParam(pairs: readonly QueryPair[], name: string, value: string | null): string {
  const groups = new Map<string, string[]>();
  for (const [k, v] of pairs) {
    const g = groups.get(k);
    if (g) g.push(v);
    else groups.set(k, [v]);
  }
  if (value === null) groups.delete(name);
  else groups.set(name, [value]);
  const names = [...groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  for (const k of names) for (const v of groups.get(k) ?? []) parts.push(`${quotePlus(k)}=${quotePlus(v)}`);
  return parts.join('&');
}
