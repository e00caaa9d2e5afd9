/** @ratebus/demo — `npm run demo`. The program is `main.ts`; these are its parts, for tests. */

export { chooseNats, type NatsChoice } from './nats.js';
export { PODS, Pods } from './pods.js';
export { CONFIGURED_TARIFFS, Topology } from './topology.js';
