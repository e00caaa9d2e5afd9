import assert from 'node:assert/strict';
import { type Simulator, startSimulator } from '@ratebus/octopus-sim';
import { followSimulatorClock, NoSimulatorClockError } from '@ratebus/service-kit';
import { check, NatsServer } from '@ratebus/testkit';

describe('followSimulatorClock', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSimulator({ port: 0, start: '2026-11-27T15:55:00Z', speed: 60 });
  });
  after(async () => {
    await sim?.close();
  });

  it('agrees with the simulator on "now", at the simulator speed', async () => {
    using clock = await followSimulatorClock(sim.url, { refreshMs: 50 });
    assert.equal(clock.speed, 60);
    // Both advance 60 simulated ms per real ms: their difference stays within a few real ms × 60.
    for (let i = 0; i < 3; i++) {
      const diff = Math.abs(clock.now() - sim.clock.now().getTime());
      assert.ok(diff < 2_000, `followed clock off by ${diff} ms`);
    }
    assert.ok(clock.now() > Date.parse('2026-11-27T15:55:00Z'));
    assert.ok(clock.now() < Date.parse('2026-11-27T17:00:00Z'));
  });

  it('picks up a speed or time changed at run time', async () => {
    using clock = await followSimulatorClock(sim.url, { refreshMs: 50 });
    sim.clock.setSpeed(0);
    sim.clock.set('2027-01-01T12:00:00Z');
    await check(() => clock.speed === 0 && clock.now() === Date.parse('2027-01-01T12:00:00Z'), {
      name: 'followed clock frozen at the new time',
    });
  });

  it('refuses a server that is not the simulator, and an unreachable one', async () => {
    // A real HTTP server that is not the simulator: nats-server's monitoring port answers 404 here.
    await using ns = await NatsServer.start({ jetstream: false });
    await assert.rejects(followSimulatorClock(`http://127.0.0.1:${ns.httpPort}`), NoSimulatorClockError);
    await assert.rejects(followSimulatorClock('http://127.0.0.1:9'), Error);
  });
});
