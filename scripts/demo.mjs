#!/usr/bin/env node
// The demo (simulator, two fetchers, gateway and pods on embedded defaults) is not built yet.
// It arrives with the services; until then this says so instead of pretending.
console.error(
  'ratebus demo: not built yet — the services it runs are still being written. `npm test` works today.',
);
process.exit(2);
