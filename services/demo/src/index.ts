/** @ratebus/demo — `npm run demo`. The program is `main.ts`; `Demo` is the whole system in process, for tests. */

export { DEFAULT_SPEED, Demo, type DemoOptions } from './demo.js';
export { chooseNats, type NatsChoice } from './nats.js';
export { PODS, Pods } from './pods.js';
export { type ScreenOptions, showUntil } from './screen.js';
export { CONFIGURED_TARIFFS, Topology } from './topology.js';
