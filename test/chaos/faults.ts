import { setTimeout as sleep } from 'node:timers/promises';
import { rateKey, type TariffRef, tariffRef } from '@ratebus/schema';
import { check } from '@ratebus/testkit';
import {
  ALL_ATTACKS,
  attempt,
  expectedOutcome,
  floodInterest,
  floodRefresh,
  floodTariff,
} from '../integration/hostile/attacks.js';
import type { AttackAttempt } from './invariants.js';
import type { ChaosSettings } from './settings.js';
import { SIM_FAULTS } from './settings.js';
import { ALL_TARIFFS, type ChaosWorld, CONFIGURED, INTEREST_ONLY } from './world.js';

/** Faults injected, by kind. */
export type FaultCounts = Record<string, number>;

const between = ([lo, hi]: readonly [number, number]): number => lo + Math.random() * (hi - lo);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;
const keyOf = (t: { product: string; tariff: string }) => rateKey(t.product, t.tariff);
const TARIFF_REFS: readonly TariffRef[] = ALL_TARIFFS.map((t) => tariffRef(t.product, t.tariff));

/** Sleeps up to `ms`; returns early (never rejects) when the fault phase ends. */
async function nap(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

/**
 * Runs every fault source at once until `signal` aborts, then waits until each has undone its damage
 * (paused leader resumed, killed node restarted, blackholed link restored). Never rejects: a step that
 * fails is counted under `errors` and logged into `notes`.
 */
export class FaultSchedule {
  readonly counts: FaultCounts = {};
  readonly notes: string[] = [];
  /** Every single-shot attack of the hostile pod with its outcome, for the `hostile-refused` invariant. */
  readonly attacks: AttackAttempt[] = [];
  /** The hostile pod's attempts by attack (floods included) and outcome; also flat in `counts`. */
  readonly hostile: Record<string, { attempts: number; outcomes: Record<string, number> }> = {};
  #simFaultIds: string[] = [];

  constructor(
    private readonly w: ChaosWorld,
    private readonly s: ChaosSettings,
  ) {}

  #count(kind: string, n = 1): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + n;
  }

  /** One attempt of the hostile pod, counted as `hostile-<attack>` and `hostile-<attack>-<outcome>`. */
  #countAttempt(attack: string, outcome: string): void {
    this.#count(`hostile-${attack}`);
    this.#count(`hostile-${attack}-${outcome}`);
    const h = this.hostile[attack] ?? { attempts: 0, outcomes: {} };
    this.hostile[attack] = h;
    h.attempts++;
    h.outcomes[outcome] = (h.outcomes[outcome] ?? 0) + 1;
  }

  #guard(name: string, loop: () => Promise<void>): Promise<void> {
    return loop().catch((e: unknown) => {
      this.#count('errors');
      this.notes.push(`${name}: ${String(e)}`);
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    for (const rule of SIM_FAULTS) this.#simFaultIds.push(this.w.sim.faults.add({ ...rule }));
    const endsAt = performance.now() + this.s.chaosMs;
    await Promise.all([
      this.#guard('leader', () => this.#leaderFaults(signal)),
      this.#guard('node', () => this.#nodeFaults(signal)),
      this.#guard('half-open', () => this.#halfOpen(signal)),
      this.#guard('clock', () => this.#clockJumps(signal, endsAt)),
      this.#guard('refresh', () => this.#refreshes(signal)),
      this.#guard('hostile', () => this.#hostile(signal)),
    ]);
    // Sim faults end with the phase; what fired is counted per kind.
    for (const f of this.w.sim.faults.list()) this.#count(`upstream-${f.kind}`, f.applied);
    this.w.sim.faults.clear();
  }

  /**
   * The last fault, so that convergence is measured from real damage: both proxied pods' links go half-open,
   * upstream content changes (next simulated day, then its Agile publication) and the fetcher writes it
   * while those pods cannot hear; then the links are restored. Resolves when restored.
   */
  async finale(timeoutMs = 45_000): Promise<void> {
    const before = await check(() => this.w.readStored(), { timeout: 20_000, name: 'KV before the finale' });
    const agile = rateKey('AGILE-24-10-01', 'E-1R-AGILE-24-10-01-C');
    for (const p of this.w.proxiedPods) {
      p.proxy?.blackhole();
      this.#count('half-open-link');
    }
    try {
      const day = this.#jumpToNextDay();
      // Published after 16:00 UK on `day`: the Agile day ahead runs to 23:00 UK (GMT here) the day after.
      const covers = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + 1, 23);
      await check(
        async () => {
          const now = await this.w.readStored();
          const doc = now.get(agile);
          const changed = [...now.values()].some((d) => d.revision !== before.get(d.key)?.revision);
          return changed && doc?.coversThrough && Date.parse(doc.coversThrough) >= covers;
        },
        { timeout: timeoutMs, interval: 250, name: 'new content stored during the finale' },
      );
    } finally {
      for (const p of this.w.proxiedPods) p.proxy?.restore();
    }
  }

  /** Jumps the simulator to 15:58 UK (GMT) of the next simulated day; returns that day. */
  #jumpToNextDay(): Date {
    const now = this.w.sim.clock.now();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1, 15, 58));
    this.w.sim.clock.set(next);
    this.#count('clock-jump');
    return next;
  }

  /** SIGKILL (a replacement process is started) and SIGSTOP past the lease then SIGCONT, alternating. */
  async #leaderFaults(signal: AbortSignal): Promise<void> {
    let kill = true;
    while (!signal.aborted) {
      // Let the new leader work for a while, so the fault hits it mid-fetch rather than just elected.
      const leader = await this.w.fleet.waitLeader(30_000);
      await nap(between(this.s.leaderFaultGapMs), signal);
      if (signal.aborted) break;
      if (leader.leadingTerm() === null) continue; // deposed meanwhile (e.g. by a node kill): pick again
      if (kill) {
        await leader.kill();
        this.#count('leader-sigkill');
        await this.w.fleet.start();
      } else {
        leader.pause();
        this.#count('leader-sigstop');
        await sleep(between(this.s.stopForMs)); // not cut short: a stopped leader always comes back
        leader.resume();
      }
      kill = !kill;
    }
  }

  /** One node at a time: SIGKILL, down for a while, restarted on the same ports with its store. */
  async #nodeFaults(signal: AbortSignal): Promise<void> {
    await nap(this.s.nodeKillFirstMs, signal);
    while (!signal.aborted) {
      const node = pick(this.w.cluster.nodes);
      await node.kill('SIGKILL');
      this.#count('nats-node-kill');
      await sleep(this.s.nodeDownMs);
      await node.restart();
      await this.w.cluster.waitForMetaLeader(30_000);
      await nap(this.s.nodeKillEveryMs - this.s.nodeDownMs, signal);
    }
  }

  /** A proxied pod's link goes silent both ways (no FIN/RST), later new connections pass again. */
  async #halfOpen(signal: AbortSignal): Promise<void> {
    await nap(this.s.halfOpenFirstMs, signal);
    let i = 0;
    while (!signal.aborted) {
      const pod = this.w.proxiedPods[i++ % this.w.proxiedPods.length];
      if (!pod?.proxy) break;
      pod.proxy.blackhole();
      this.#count('half-open-link');
      await sleep(this.s.halfOpenForMs);
      pod.proxy.restore();
      await nap(this.s.halfOpenEveryMs - this.s.halfOpenForMs, signal);
    }
  }

  /** Content changes upstream: jump to 15:58 UK (GMT) of the next simulated day — a new day window, then
   * the Agile publication two simulated minutes later. None in the last `quietBeforeEndMs`. */
  async #clockJumps(signal: AbortSignal, endsAt: number): Promise<void> {
    while (!signal.aborted) {
      await nap(this.s.clockJumpEveryMs, signal);
      if (signal.aborted || endsAt - performance.now() < this.s.quietBeforeEndMs) break;
      this.#jumpToNextDay();
    }
  }

  /** Forced refreshes of random tariffs: on-demand upstream calls racing the failovers. */
  async #refreshes(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await nap(this.s.refreshEveryMs, signal);
      if (signal.aborted) break;
      this.#count('forced-refresh');
      // Answers are not judged here (no responders while nobody leads is expected); the invariants are.
      for (const outcome of await floodRefresh(this.w.admin, [pick(TARIFF_REFS)], 'chaos'))
        this.#count(`forced-refresh-${outcome}`);
    }
  }

  /**
   * The hostile pod (pod credentials, its own connection): each round every single-shot attack of the
   * hostile-pod suite (test/integration/hostile/attacks.ts) against a random interest-only and configured
   * tariff, then an interest flood (new valid-format codes, up to a cap for the run) and a force-refresh
   * flood (held tariffs and flood codes at once). Every attempt is counted as `hostile-<attack>` and by
   * outcome, `hostile-<attack>-<outcome>`.
   */
  async #hostile(signal: AbortSignal): Promise<void> {
    const flood: TariffRef[] = [];
    let renewed = 0;
    while (!signal.aborted) {
      await nap(this.s.hostileEveryMs, signal);
      if (signal.aborted) break;
      this.#count('hostile-pod');
      const target = {
        nc: this.w.hostile,
        interestKey: keyOf(pick(INTEREST_ONLY)),
        heldKey: keyOf(pick(CONFIGURED)),
      };
      for (const attack of ALL_ATTACKS) {
        const outcome = await attempt(attack, target);
        this.attacks.push({ attack: attack.name, expected: expectedOutcome(attack), outcome });
        this.#countAttempt(attack.name, outcome);
      }
      // New codes until the run's cap, then the same ones again (a pod renewing its flood).
      const batch: TariffRef[] = [];
      for (let i = 0; i < this.s.interestFloodPerRound; i++) {
        if (flood.length < this.s.interestFloodCodes) {
          flood.push(floodTariff(flood.length + 1));
          batch.push(flood.at(-1) as TariffRef);
        } else batch.push(flood[renewed++ % flood.length] as TariffRef);
      }
      for (const outcome of await floodInterest(this.w.hostile, batch))
        this.#countAttempt('interest-flood', outcome);
      const half = Math.floor(this.s.refreshFloodSize / 2);
      const asked = [
        ...Array.from({ length: half }, () => pick(TARIFF_REFS)),
        ...Array.from({ length: this.s.refreshFloodSize - half }, () => pick(flood)),
      ];
      for (const outcome of await floodRefresh(this.w.hostile, asked))
        this.#countAttempt('refresh-flood', outcome);
    }
  }
}
