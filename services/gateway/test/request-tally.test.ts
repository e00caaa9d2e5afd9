import assert from 'node:assert/strict';
import { GatewayMetrics } from '../src/index.js';

describe('GatewayMetrics request tally', () => {
  it('exports requests by route and status and a cumulative latency histogram at scrape time', async () => {
    const m = new GatewayMetrics();
    m.tally.request('rates', 200, 0.001);
    m.tally.request('rates', 200, 0.0011);
    m.tally.request('rates', 404, 20);
    m.tally.request('livez', 200, 0.0001);
    const text = await m.registry.metrics();
    const line = (s: string) => {
      const found = text.split('\n').find((l) => l.startsWith(`${s} `));
      assert.ok(found, `${s} missing`);
      return Number(found.split(' ')[1]);
    };
    assert.equal(line('ratebus_gateway_requests_total{route="rates",status="200"}'), 2);
    assert.equal(line('ratebus_gateway_requests_total{route="rates",status="404"}'), 1);
    const h = 'ratebus_gateway_request_duration_seconds';
    // A value on a bound counts in that bucket (le = less or equal); above every bound only in +Inf.
    assert.equal(line(`${h}_bucket{le="0.0005",route="rates"}`), 0);
    assert.equal(line(`${h}_bucket{le="0.001",route="rates"}`), 1);
    assert.equal(line(`${h}_bucket{le="0.0025",route="rates"}`), 2);
    assert.equal(line(`${h}_bucket{le="10",route="rates"}`), 2);
    assert.equal(line(`${h}_bucket{le="+Inf",route="rates"}`), 3);
    assert.equal(line(`${h}_count{route="rates"}`), 3);
    assert.ok(Math.abs(line(`${h}_sum{route="rates"}`) - 20.0021) < 1e-9);
    assert.equal(line(`${h}_count{route="livez"}`), 1);
    // Scraping again reports the same totals (counters are set from the tally, not added to).
    assert.equal(
      (await m.registry.metrics()).match(/requests_total\{route="rates",status="200"\} (\d+)/)?.[1],
      '2',
    );
  });
});
