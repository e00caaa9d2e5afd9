import { runPollingPods } from './polling.js';
import type { DesignResult, DesignRun } from './result.js';

/** Design (a): every pod polls upstream itself every 30 minutes, as PredBat does. */
export function runNaive(run: DesignRun): Promise<DesignResult> {
  return runPollingPods(run, 'naive polling', (pod, _url, fetch) => fetch(`pod-${pod}`));
}
