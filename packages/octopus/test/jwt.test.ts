import assert from 'node:assert/strict';
import { InvalidResponseError, jwtExpiresAt } from '../src/index.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const jwt = (payload: unknown) => `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;

describe('jwtExpiresAt', () => {
  it('reads exp (seconds) from the payload as ms', () => {
    assert.equal(jwtExpiresAt(jwt({ sub: 'x', exp: 1_700_000_000 })), 1_700_000_000_000);
  });

  it('rejects a token that is not three base64url parts', () => {
    assert.throws(() => jwtExpiresAt('abc.def'), InvalidResponseError);
    assert.throws(() => jwtExpiresAt('a.b+c.d'), InvalidResponseError);
  });

  it('rejects a payload without a numeric exp', () => {
    assert.throws(() => jwtExpiresAt(jwt({ sub: 'x' })), InvalidResponseError);
    assert.throws(() => jwtExpiresAt(jwt({ exp: '1700000000' })), InvalidResponseError);
    assert.throws(() => jwtExpiresAt('e30.bm90IGpzb24.c2ln'), InvalidResponseError);
  });

  it('never puts the token in the error message', () => {
    const token = jwt({ sub: 'secret-subject' });
    try {
      jwtExpiresAt(token);
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof Error && !e.message.includes(token) && !e.message.includes('secret'));
    }
  });
});
