import { z } from 'zod';

export const FAULT_KINDS = [
  'latency',
  'json500',
  'html502',
  'html504',
  'throttle429',
  'reset',
  'truncate',
  'malformed',
  'missingSlots',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Default wait of a `latency` fault, ms. */
export const DEFAULT_FAULT_LATENCY_MS = 30_000;
/** Default `Retry-After` of a `throttle429` fault, seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export const FaultRuleSchema = z.strictObject({
  /** RegExp source matched against the request path (no query). */
  path: z.string().refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, 'not a valid regular expression'),
  kind: z.enum(FAULT_KINDS),
  /** 0..1, default 1. */
  probability: z.number().min(0).max(1).optional(),
  /** Applies at most this many times; default unlimited. */
  count: z.int().min(1).optional(),
  /** For `latency`: wait before answering normally, ms. Default 30000. */
  latencyMs: z.int().min(0).max(600_000).optional(),
  /** For `throttle429`, seconds. Default 1. */
  retryAfterSeconds: z.int().min(0).max(86_400).optional(),
});
export type FaultRule = z.infer<typeof FaultRuleSchema>;

/** A registered rule and how often it has fired. */
export interface FaultEntry extends FaultRule {
  readonly id: string;
  applied: number;
}

/** What the server does to one request. */
export interface FaultPlan {
  /** Total wait before answering, ms (sum of firing latency rules). */
  delayMs: number;
  /** The first firing non-latency rule, if any. */
  fault?: FaultEntry;
}

/** Fault rules; registered through `POST /_sim/faults` or in process. */
export interface SimFaults {
  /** Adds a rule; returns its id. Throws on an invalid rule. */
  add(rule: FaultRule): string;
  /** Removes every rule. */
  clear(): void;
  /** Removes one rule; false when unknown. */
  remove(id: string): boolean;
  list(): FaultEntry[];
}

export class FaultTable implements SimFaults {
  readonly #rules: { entry: FaultEntry; re: RegExp }[] = [];
  #next = 1;

  constructor(private readonly random: () => number = Math.random) {}

  add(rule: FaultRule): string {
    const parsed = FaultRuleSchema.parse(rule);
    const id = `f${this.#next++}`;
    this.#rules.push({ entry: { ...parsed, id, applied: 0 }, re: new RegExp(parsed.path) });
    return id;
  }

  clear(): void {
    this.#rules.length = 0;
  }

  remove(id: string): boolean {
    const i = this.#rules.findIndex((r) => r.entry.id === id);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  list(): FaultEntry[] {
    return this.#rules.map((r) => ({ ...r.entry }));
  }

  /**
   * Decides the faults of one request: latency rules add up; the first other rule that matches and wins its
   * probability roll applies. `applicable` says whether a kind makes sense for this path (missingSlots only
   * on rates pages). Rules that fire are consumed; spent rules are removed.
   */
  plan(path: string, applicable: (kind: FaultKind) => boolean): FaultPlan {
    const plan: FaultPlan = { delayMs: 0 };
    for (const rule of [...this.#rules]) {
      const e = rule.entry;
      if (!rule.re.test(path) || !applicable(e.kind)) continue;
      if (e.kind !== 'latency' && plan.fault) continue;
      if (this.random() >= (e.probability ?? 1)) continue;
      e.applied++;
      if (e.count !== undefined && e.applied >= e.count) this.remove(e.id);
      if (e.kind === 'latency') plan.delayMs += e.latencyMs ?? DEFAULT_FAULT_LATENCY_MS;
      else plan.fault = e;
    }
    return plan;
  }
}
