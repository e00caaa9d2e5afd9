import { InvalidResponseError } from './errors.js';

/**
 * Reads `exp` (seconds since the epoch) from a JWT's payload and returns it in ms. The signature is not
 * checked: the token is only carried back to its issuer. Throws {@link InvalidResponseError} (without the
 * token in the message) when the token is not a JWT with a numeric `exp`.
 */
export function jwtExpiresAt(token: string): number {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) {
    throw new InvalidResponseError('token is not a JWT (three base64url parts)');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidResponseError('JWT payload is not JSON', { cause });
  }
  const exp = (payload as { exp?: unknown } | null)?.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= 0) {
    throw new InvalidResponseError('JWT payload has no numeric exp');
  }
  return exp * 1000;
}
