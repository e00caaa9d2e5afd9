import assert from 'node:assert/strict';
import type { Simulator, StatsSnapshot } from '../src/index.js';
import { admin, startFrozen } from './util.js';

interface GqlAnswer {
  data?: Record<string, unknown>;
  errors?: { message: string; extensions: { errorCode: string; errorDescription?: string } }[];
}

const TOKEN_MUTATION =
  'mutation ObtainToken($input: ObtainJSONWebTokenInput!) { obtainKrakenToken(input: $input) { token refreshToken refreshExpiresIn } }';
const VIEWER = 'query { viewer { accounts { number } } }';
const NOW = Date.parse('2026-10-05T10:00:00Z') / 1000;

describe('Kraken GraphQL', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startFrozen('2026-10-05T10:00:00Z');
  });
  after(() => sim.close());
  afterEach(async () => {
    await admin(sim, 'DELETE', '/_sim/kraken');
    await admin(sim, 'POST', '/_sim/clock', { now: '2026-10-05T10:00:00Z' });
  });

  const gql = async (query: string, variables?: unknown, auth?: string, path = '/v1/graphql/') => {
    const r = await fetch(`${sim.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
      body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
    });
    return { status: r.status, body: (await r.json()) as GqlAnswer };
  };
  const obtain = async (key = 'sk_live_abc123') => {
    const r = await gql(TOKEN_MUTATION, { input: { APIKey: key } });
    return r.body.data?.obtainKrakenToken as {
      token: string;
      refreshToken: string;
      refreshExpiresIn: number;
    };
  };
  const payload = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub: string;
      iat: number;
      exp: number;
    };

  it('issues a JWT whose exp is simulated now + the token TTL', async () => {
    const t = await obtain();
    assert.equal(t.token.split('.').length, 3);
    const p = payload(t.token);
    assert.equal(p.iat, NOW);
    assert.equal(p.exp, NOW + 3600);
    assert.ok(p.sub.length > 0);
    assert.ok(t.refreshExpiresIn > NOW);
    assert.equal(typeof t.refreshToken, 'string');
    await admin(sim, 'POST', '/_sim/kraken', { tokenTtlSeconds: 60 });
    assert.equal(payload((await obtain()).token).exp, NOW + 60);
  });

  it('accepts the key inline and without the trailing slash; rejects an invalid key with KT-CT-1138', async () => {
    const inline = await gql(
      'mutation { obtainKrakenToken(input: {APIKey: "sk_test_XYZ9"}) { token } }',
      undefined,
      undefined,
      '/v1/graphql',
    );
    assert.equal(inline.status, 200);
    assert.equal(
      typeof (inline.body.data?.obtainKrakenToken as { token?: string } | undefined)?.token,
      'string',
    );
    const bad = await gql(TOKEN_MUTATION, { input: { APIKey: 'not-a-key' } });
    assert.equal(bad.status, 200);
    assert.equal(bad.body.errors?.[0]?.extensions.errorCode, 'KT-CT-1138');
    assert.equal(bad.body.errors?.[0]?.message, 'Invalid API key.');
    assert.deepEqual(bad.body.data, { obtainKrakenToken: null });
  });

  it('authenticates other operations with the token and reports missing, unknown and expired tokens', async () => {
    const { token } = await obtain();
    for (const auth of [`JWT ${token}`, token]) {
      const ok = await gql(VIEWER, undefined, auth);
      assert.ok(
        Array.isArray((ok.body.data?.viewer as { accounts?: unknown[] } | undefined)?.accounts),
        auth,
      );
    }
    assert.equal((await gql(VIEWER)).body.errors?.[0]?.extensions.errorCode, 'KT-CT-1139');
    assert.equal(
      (await gql(VIEWER, undefined, 'JWT nope')).body.errors?.[0]?.extensions.errorCode,
      'KT-CT-1139',
    );
    await admin(sim, 'POST', '/_sim/clock', { now: '2026-10-05T11:00:01Z' });
    const expired = await gql(VIEWER, undefined, `JWT ${token}`);
    assert.equal(expired.status, 200);
    assert.equal(expired.body.errors?.[0]?.extensions.errorCode, 'KT-CT-1111');
    assert.equal(expired.body.errors?.[0]?.message, 'Signature of the JWT has expired.');
  });

  it('answers injected errors for the matching operation only, count times', async () => {
    const { token } = await obtain();
    await admin(sim, 'POST', '/_sim/kraken', {
      inject: [
        { errorCode: 'KT-CT-1199', count: 2, operation: 'other' },
        { errorCode: 'KT-CT-1143', count: 1, operation: 'obtainKrakenToken' },
      ],
    });
    const t1 = await gql(TOKEN_MUTATION, { input: { APIKey: 'sk_live_abc123' } });
    assert.equal(t1.body.errors?.[0]?.extensions.errorCode, 'KT-CT-1143');
    for (let i = 0; i < 2; i++) {
      const r = await gql(VIEWER, undefined, `JWT ${token}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.errors?.[0]?.extensions.errorCode, 'KT-CT-1199');
      assert.equal(r.body.errors?.[0]?.message, 'Too many requests.');
      assert.equal(
        r.body.errors?.[0]?.extensions.errorDescription,
        'There were too many requests. Please try again later.',
      );
    }
    assert.ok((await gql(VIEWER, undefined, `JWT ${token}`)).body.data?.viewer);
    assert.ok((await obtain()).token);
    assert.deepEqual((await admin<{ inject: unknown[] }>(sim, 'GET', '/_sim/kraken')).inject, []);
  });

  it('blocks the next n requests at the edge with a CloudFront 403 page', async () => {
    await admin(sim, 'POST', '/_sim/kraken', { edgeBlock403: 2 });
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${sim.url}/v1/graphql/`, {
        method: 'POST',
        body: JSON.stringify({ query: VIEWER }),
      });
      assert.equal(r.status, 403);
      assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      const text = await r.text();
      assert.ok(text.includes('Request blocked.') && text.includes('Generated by cloudfront (CloudFront)'));
    }
    assert.ok((await obtain()).token);
    assert.equal((await admin<{ edgeBlock403: number }>(sim, 'GET', '/_sim/kraken')).edgeBlock403, 0);
  });

  it('counts GraphQL requests under /v1/graphql/ and by operation', async () => {
    sim.stats.reset();
    const { token } = await obtain();
    await gql(VIEWER, undefined, `JWT ${token}`);
    await gql(VIEWER, undefined, `JWT ${token}`, '/v1/graphql');
    const s = await admin<StatsSnapshot>(sim, 'GET', '/_sim/stats');
    assert.deepEqual(s.byPath, { '/v1/graphql/': 3 });
    assert.deepEqual(s.byOperation, { obtainKrakenToken: 1, viewer: 2 });
  });
});
