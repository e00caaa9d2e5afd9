import { LocalBus } from '@ratebus/fixtures';

/**
 * A LocalBus for the enclosing suite: started before its tests, stopped after them together with the
 * clients the tests pushed to `clients` (closed first).
 */
export function suiteBus<C extends { close(): Promise<unknown> }>(): {
  readonly bus: LocalBus;
  readonly clients: C[];
} {
  const world = { clients: [] as C[] } as { bus: LocalBus; clients: C[] };
  before(async () => {
    world.bus = await LocalBus.start();
  });
  after(async () => {
    await world.bus?.stop(world.clients.splice(0));
  });
  return world;
}
