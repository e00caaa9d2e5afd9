import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * PredBat's storage-cache file format, as documented in `docs/predbat.md` (§ "The storage cache"): the
 * facts this module relies on, never PredBat's code.
 */

/** The origin PredBat's API-key mode hard-codes; cache keys are computed on URLs with this origin. */
export const PREDBAT_ORIGIN = 'https://api.octopus.energy';
/** The storage module PredBat files public Octopus rates under. */
export const PREDBAT_MODULE = 'octopus';

/** `octopus_{16 lower-case hex}.{yaml|meta}`: the only names the feed ever writes or reads as entries. */
export const ENTRY_META_RE = /^octopus_([0-9a-f]{16})\.meta$/;

/** Cache key of a URL: the first 16 hex characters of SHA-256 of the exact URL string (UTF-8). */
export function predbatKey(url: string): string {
  return createHash('sha256').update(url, 'utf8').digest('hex').slice(0, 16);
}

/** The URL PredBat requests for an upstream path (`/v1/products/…/`, trailing slash, no query). */
export function predbatUrl(path: string): string {
  return `${PREDBAT_ORIGIN}${path}`;
}

export function entryFiles(key: string): { yaml: string; meta: string } {
  return { yaml: `${PREDBAT_MODULE}_${key}.yaml`, meta: `${PREDBAT_MODULE}_${key}.meta` };
}

/**
 * `created` as PredBat writes it: ISO 8601 UTC with a `+00:00` offset and microseconds (Python's
 * `datetime.isoformat()` of an aware UTC time). Millisecond input, so the last three digits are zeros.
 */
export function createdString(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 23)}000+00:00`;
}

/**
 * Parses `created` (any ISO 8601 form with an offset or `Z`, up to microseconds) to epoch ms; null when it
 * is not one. Sub-millisecond digits are truncated, which can only make a PredBat-written entry look older
 * by under 1 ms.
 */
export function parseCreated(s: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const frac = (m[2] ?? '').padEnd(3, '0').slice(0, 3);
  const t = Date.parse(`${m[1]}.${frac}${m[3] === '+00:00' ? 'Z' : m[3]}`);
  return Number.isNaN(t) ? null : t;
}

/** The `.meta` document. Unknown keys are allowed: PredBat may add some, and we only read `created`. */
export const PredbatMetaSchema = z.looseObject({
  format: z.string().optional(),
  expiry: z.string().nullable().optional(),
  module: z.string().optional(),
  created: z.string(),
});

/** The `.meta` text of an entry written by the feed: never expires (the hourly clean-up leaves it). */
export function metaText(createdMs: number): string {
  return JSON.stringify({
    format: 'yaml',
    expiry: null,
    module: PREDBAT_MODULE,
    created: createdString(createdMs),
  });
}

/**
 * JSON text → YAML 1.1 text that PyYAML's `safe_load` loads to exactly what Python's `json.loads` gives for
 * the input. JSON is YAML flow style, with three differences that matter to a YAML 1.1 resolver:
 * - a float needs a dot and a signed exponent (`1e-7` would load as the string "1e-7"; `1.0e-7` loads as
 *   the float), so float lexemes are rewritten, ints kept (JSON forbids the leading zeros YAML reads as octal);
 * - the reader rejects some characters JSON allows raw (C1 controls, U+FFFE…), so every non-ASCII character
 *   is escaped (`\uXXXX`, `\UXXXXXXXX` beyond the BMP: YAML does not join surrogate pairs);
 * - a flow-mapping key must be on one line and under 1024 characters to be "simple", so longer keys are
 *   written as explicit `? key` entries.
 * Strings are always double-quoted, so `2026-12-03T23:00:00Z`, `yes`, `~` and `1:30` stay strings.
 * Throws SyntaxError when the input is not JSON.
 */
export function jsonToYaml11(json: string): string {
  JSON.parse(json); // validates: the tokenizer below may then assume well-formed input
  const out: string[] = [];
  let i = 0;
  let depth = 0;
  const indent = () => `\n${'  '.repeat(depth)}`;
  const ws = () => {
    while (i < json.length && ' \t\n\r'.includes(json[i] as string)) i++;
  };
  /** Stack of container kinds and whether the next string is a key. */
  const stack: Array<{ kind: '{' | '['; expectKey: boolean; empty: boolean }> = [];
  while (i < json.length) {
    ws();
    if (i >= json.length) break;
    const c = json[i] as string;
    const top = stack.at(-1);
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      ws();
      if (json[i] === close) {
        i++;
        out.push(c === '{' ? '{}' : '[]');
        continue;
      }
      out.push(c);
      depth++;
      stack.push({ kind: c, expectKey: c === '{', empty: true });
      out.push(indent());
      continue;
    }
    if (c === '}' || c === ']') {
      i++;
      depth--;
      stack.pop();
      out.push(indent(), c);
      continue;
    }
    if (c === ',') {
      i++;
      if (top?.kind === '{') top.expectKey = true;
      out.push(',', indent());
      continue;
    }
    if (c === ':') {
      i++;
      if (top) top.expectKey = false;
      out.push(': ');
      continue;
    }
    if (c === '"') {
      const start = i;
      i++;
      while (json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
      i++;
      const text = yamlQuoted(JSON.parse(json.slice(start, i)) as string);
      // A long key cannot be a simple key: make it explicit.
      out.push(top?.kind === '{' && top.expectKey && text.length > 1000 ? `? ${text}` : text);
      continue;
    }
    NUMBER_RE.lastIndex = i;
    const m = NUMBER_RE.exec(json);
    if (m) {
      i += m[0].length;
      out.push(yamlNumber(m[0], m[1] !== undefined, m[2]));
      continue;
    }
    const lit = ['true', 'false', 'null'].find((l) => json.startsWith(l, i));
    if (lit === undefined) throw new SyntaxError(`unexpected JSON at ${i}`);
    i += lit.length;
    out.push(lit);
  }
  return `${out.join('')}\n`;
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/** A JSON number lexeme as a YAML 1.1 scalar that resolves to the same Python int or float. */
function yamlNumber(lexeme: string, hasFraction: boolean, exponent: string | undefined): string {
  if (!hasFraction && exponent === undefined) return lexeme; // int
  let mantissa = exponent === undefined ? lexeme : lexeme.slice(0, -exponent.length);
  if (!hasFraction) mantissa += '.0';
  if (exponent === undefined) return mantissa;
  const digits = exponent.slice(1);
  return `${mantissa}e${digits.startsWith('-') || digits.startsWith('+') ? digits : `+${digits}`}`;
}

/** A YAML double-quoted scalar of printable ASCII. */
export function yamlQuoted(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (cp >= 0x20 && cp < 0x7f) out += ch;
    else if (cp > 0xffff) out += `\\U${cp.toString(16).padStart(8, '0')}`;
    else out += `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}
