/** Timings and fault rates of the two chaos modes. All durations are real milliseconds unless noted. */

export type ChaosMode = 'short' | 'long';

/** Lease of the fetchers: short, within the schema's limits (duration ≥ 5 s, retry × 1.2 < deadline). */
export const LEASE = { durationMs: 5_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 } as const;

/** Simulated seconds per real second: the fetchers' schedule (OCTOPUS_SIM_CLOCK) runs this much faster. */
export const SIM_SPEED = 60;
/** Simulated start: 15 simulated minutes (15 real seconds) before the Agile day-ahead publication (GMT). */
export const SIM_START = '2026-11-02T15:45:00Z';

/** The pods' sync timings (RateClient options), short so a half-open link is found and repaired quickly. */
export const POD_TIMINGS = {
  resyncIntervalMs: 2_000,
  resyncGraceMs: 200,
  relistIntervalMs: 20_000,
  retryInitialMs: 100,
  retryMaxMs: 2_000,
  pingIntervalMs: 1_000,
  maxPingOut: 2,
  reconnectTimeWaitMs: 250,
  connectTimeoutMs: 1_000,
  jsTimeoutMs: 2_000,
  /**
   * Honest pods check their interest entries this often (± 25 %), not a quarter of the TTL: the hostile pod
   * deletes and overwrites them all the time, and an honest pod's check is what bounds that damage.
   */
  interestCheckIntervalMs: 3_000,
} as const;

/**
 * Pods 1 and 3 follow only their tariffs (`sync: 'tariffs'`: pushes on core subjects, gets to catch up, no
 * consumer); pods 2 and 4 mirror the whole bucket. Their full catch-up runs every 10 s (± 25 %), so a push
 * lost without a reconnect (a route down during a node kill) is read again within the convergence bound.
 */
export const TARIFF_SYNC_PODS: ReadonlySet<number> = new Set([1, 3]);
export const TARIFF_POD_TIMINGS = { sync: 'tariffs', relistIntervalMs: 10_000 } as const;

/**
 * Allowed gap between a fetcher sending a request and the in-process simulator stamping its arrival, and
 * between a SIGSTOP/SIGKILL and the last request that was already on the wire. Must stay well below the lease
 * margin durationMs − renewDeadlineMs (2 s), which is what really separates two terms' requests.
 */
export const UPSTREAM_TOLERANCE_MS = 1_000;

/**
 * Bound on convergence once every fault has stopped: each pod must hold the latest stored document of every
 * tariff within this time. A pod whose link was half-open needs pingInterval × (maxPingOut + 1) to call the
 * link dead, a reconnect wait, then at most two resync periods plus the grace (the first check may be the one
 * that was already running) and one JetStream timeout for a status call that hit a dead node: 3 + 0.25 +
 * 2 × 2 + 0.2 + 2 ≈ 9.5 s. Added: the restarted NATS node's stream catch-up and stream-leader elections
 * (≈ 6 s measured, docs/nats-notes.md §2.4) and the last fetches still running when faults stopped (one
 * upstream timeout, 4 s) → 20 s.
 */
export const CONVERGENCE_BOUND_MS = 20_000;

export interface ChaosSettings {
  mode: ChaosMode;
  /** How long faults are injected. */
  chaosMs: number;
  /** How long a new leader works before the next leader fault (SIGKILL and SIGSTOP alternate), min/max. */
  leaderFaultGapMs: readonly [number, number];
  /** A stopped leader stays frozen this long: past the lease so another takes over (min/max). */
  stopForMs: readonly [number, number];
  /** First NATS node kill, then every this long. */
  nodeKillFirstMs: number;
  nodeKillEveryMs: number;
  /** How long a killed node stays down. */
  nodeDownMs: number;
  /** First half-open link, then every this long; how long it stays blackholed. */
  halfOpenFirstMs: number;
  halfOpenEveryMs: number;
  halfOpenForMs: number;
  /** Moves the simulator clock to 15:58 of the next day this often (new day window + publication). */
  clockJumpEveryMs: number;
  /** No clock jump closer than this to the end of the faults, so content settles. */
  quietBeforeEndMs: number;
  /** Forced refresh requests, one every this long. */
  refreshEveryMs: number;
  /** The hostile pod runs one round of attacks (every single-shot attack, then both floods) every this long. */
  hostileEveryMs: number;
  /** Interest flood: new valid-format codes declared per round, up to this many distinct codes in the run. */
  interestFloodPerRound: number;
  interestFloodCodes: number;
  /** Force-refresh flood: requests sent at once per round (half for held tariffs, half for flood codes). */
  refreshFloodSize: number;
}

/** RATEBUS_CHAOS=long; RATEBUS_CHAOS_MS overrides the fault phase length (e.g. a 5-minute long run). */
export function chaosSettings(env: NodeJS.ProcessEnv = process.env): ChaosSettings {
  const mode: ChaosMode = env.RATEBUS_CHAOS === 'long' ? 'long' : 'short';
  const override = Number(env.RATEBUS_CHAOS_MS);
  const hasOverride = Number.isFinite(override) && override >= 30_000;
  if (mode === 'short') {
    return {
      mode,
      chaosMs: hasOverride ? override : 50_000,
      leaderFaultGapMs: [1_500, 4_000],
      stopForMs: [LEASE.durationMs + 1_500, LEASE.durationMs + 3_000],
      nodeKillFirstMs: 12_000,
      nodeKillEveryMs: 60_000,
      nodeDownMs: 6_000,
      halfOpenFirstMs: 5_000,
      halfOpenEveryMs: 20_000,
      halfOpenForMs: 5_000,
      clockJumpEveryMs: 15_000,
      quietBeforeEndMs: 18_000,
      refreshEveryMs: 1_500,
      hostileEveryMs: 2_000,
      interestFloodPerRound: 5,
      interestFloodCodes: 60,
      refreshFloodSize: 20,
    };
  }
  return {
    mode,
    chaosMs: hasOverride ? override : 12 * 60_000,
    leaderFaultGapMs: [2_000, 8_000],
    stopForMs: [LEASE.durationMs + 1_500, LEASE.durationMs + 5_000],
    nodeKillFirstMs: 20_000,
    nodeKillEveryMs: 75_000,
    nodeDownMs: 8_000,
    halfOpenFirstMs: 8_000,
    halfOpenEveryMs: 25_000,
    halfOpenForMs: 6_000,
    clockJumpEveryMs: 40_000,
    quietBeforeEndMs: 20_000,
    refreshEveryMs: 1_000,
    hostileEveryMs: 2_000,
    interestFloodPerRound: 5,
    interestFloodCodes: 300,
    refreshFloodSize: 20,
  };
}

/** The simulator's fault mix, active during the whole fault phase. Latency stays below the upstream timeout. */
export const SIM_FAULTS = [
  { path: '.*', kind: 'json500', probability: 0.04 },
  { path: '.*', kind: 'html502', probability: 0.04 },
  { path: '.*', kind: 'reset', probability: 0.03 },
  { path: 'rates|charges', kind: 'truncate', probability: 0.03 },
  { path: 'rates|charges', kind: 'malformed', probability: 0.03 },
  { path: 'unit-rates', kind: 'missingSlots', probability: 0.04 },
  { path: '.*', kind: 'throttle429', probability: 0.03, retryAfterSeconds: 1 },
  { path: '.*', kind: 'latency', probability: 0.1, latencyMs: 1_500 },
] as const;

/** Upstream timeout of the fetchers (real ms): bounds a request held by a latency fault. */
export const UPSTREAM_TIMEOUT_MS = 4_000;
