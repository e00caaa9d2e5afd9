import type { z } from 'zod';
import { InvalidMessageError, type MessageIssue } from './errors.js';

/** Result of decoding a payload: the typed value, or an error listing every issue. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: InvalidMessageError };

/** Summarises zod issues as code + dotted path + message; never includes the offending values. */
export function toIssues(error: z.ZodError): MessageIssue[] {
  return error.issues.map((i) => ({ code: i.code, path: i.path.map(String).join('.'), message: i.message }));
}

/** Validates an already-parsed value against a schema. */
export function validate<S extends z.ZodType>(
  schema: S,
  messageType: string,
  value: unknown,
): Decoded<z.infer<S>> {
  const r = schema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, error: new InvalidMessageError(messageType, toIssues(r.error)) };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes JSON bytes or text and validates it. Bad UTF-8, bad JSON and schema failures are all errors. */
export function decode<S extends z.ZodType>(
  schema: S,
  messageType: string,
  payload: Uint8Array | string,
): Decoded<z.infer<S>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof payload === 'string' ? payload : decoder.decode(payload));
  } catch (cause) {
    const issue = { code: 'invalid_json', path: '', message: 'payload is not valid UTF-8 JSON' };
    return { ok: false, error: new InvalidMessageError(messageType, [issue], { cause }) };
  }
  return validate(schema, messageType, parsed);
}

/** Like {@link decode} but throws {@link InvalidMessageError}. */
export function decodeOrThrow<S extends z.ZodType>(
  schema: S,
  messageType: string,
  payload: Uint8Array | string,
): z.infer<S> {
  const r = decode(schema, messageType, payload);
  if (!r.ok) throw r.error;
  return r.value;
}
