/** Stable error codes of the wire contract. Tests and callers branch on these, never on messages. */
export const SchemaErrorCode = {
  InvalidCode: 'ERR_INVALID_CODE',
  InvalidMessage: 'ERR_INVALID_MESSAGE',
} as const;
export type SchemaErrorCode = (typeof SchemaErrorCode)[keyof typeof SchemaErrorCode];

/** Which kind of code was rejected. */
export type CodeKind = 'product' | 'tariff' | 'region' | 'key' | 'bucket' | 'subject-token';

/** A product, tariff or other code that may not become a subject, key or file name. */
export class InvalidCodeError extends Error {
  readonly code = SchemaErrorCode.InvalidCode;
  readonly kind: CodeKind;
  /** The rejected value, JSON-quoted and cut to 80 characters so it is safe to log. */
  readonly value: string;
  readonly reason: string;

  constructor(kind: CodeKind, value: unknown, reason: string, options?: ErrorOptions) {
    const shown = safeShow(value);
    super(`invalid ${kind} code ${shown}: ${reason}`, options);
    this.name = 'InvalidCodeError';
    this.kind = kind;
    this.value = shown;
    this.reason = reason;
  }
}

/** One problem found while validating a message: a zod issue code and the path to the offending field. */
export interface MessageIssue {
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

/** A payload that is not valid JSON or does not match its schema. Carries issues, never the raw payload. */
export class InvalidMessageError extends Error {
  readonly code = SchemaErrorCode.InvalidMessage;
  /** Name of the message type that was expected. */
  readonly messageType: string;
  readonly issues: readonly MessageIssue[];

  constructor(messageType: string, issues: readonly MessageIssue[], options?: ErrorOptions) {
    const first = issues[0];
    const summary = first ? `${first.path || '(root)'}: ${first.message}` : 'invalid';
    const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : '';
    super(`invalid ${messageType}: ${summary}${more}`, options);
    this.name = 'InvalidMessageError';
    this.messageType = messageType;
    this.issues = issues;
  }
}

function safeShow(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
