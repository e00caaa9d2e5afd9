/** Requests kept in the stats log. */
export const STATS_LOG_LIMIT = 50_000;

export interface StatsLogEntry {
  seq: number;
  /** Real time the request arrived. */
  at: string;
  /** Simulated time the request arrived. */
  simAt: string;
  method: string;
  path: string;
  query: string;
  caller: string;
  /** HTTP status; 0 when the connection was reset without an answer. */
  status: number;
  ms: number;
}

export interface StatsSnapshot {
  total: number;
  byPath: Record<string, number>;
  byCaller: Record<string, number>;
  byStatus: Record<string, number>;
  /** GraphQL operations by name (`obtainKrakenToken`, `viewer`, ...). */
  byOperation: Record<string, number>;
  peakConcurrent: number;
  inFlight: number;
  log: StatsLogEntry[];
}

/** Request accounting of every non-`/_sim/` request. */
export interface SimStats {
  snapshot(): StatsSnapshot;
  reset(): void;
}

/** A request being served; `finish` records its status once. */
export interface StatsTicket {
  operation(name: string): void;
  finish(status: number): void;
}

const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

export class StatsRecorder implements SimStats {
  #total = 0;
  #byPath: Record<string, number> = {};
  #byCaller: Record<string, number> = {};
  #byStatus: Record<string, number> = {};
  #byOperation: Record<string, number> = {};
  #peak = 0;
  #inFlight = 0;
  #seq = 0;
  #log: StatsLogEntry[] = [];

  /** Counts a request on arrival, so totals are exact even while faults hold answers back. */
  begin(r: { method: string; path: string; query: string; caller: string; simAt: Date }): StatsTicket {
    this.#total++;
    bump(this.#byPath, r.path);
    bump(this.#byCaller, r.caller);
    this.#inFlight++;
    this.#peak = Math.max(this.#peak, this.#inFlight);
    const started = performance.now();
    const at = new Date().toISOString();
    const generation = this.#log;
    let done = false;
    return {
      operation: (name) => bump(this.#byOperation, name),
      finish: (status) => {
        if (done) return;
        done = true;
        this.#inFlight--;
        // A reset in between starts a new generation; late finishers do not leak into it.
        if (generation !== this.#log) return;
        bump(this.#byStatus, String(status));
        this.#log.push({
          seq: ++this.#seq,
          at,
          simAt: r.simAt.toISOString(),
          method: r.method,
          path: r.path,
          query: r.query,
          caller: r.caller,
          status,
          ms: Math.round((performance.now() - started) * 10) / 10,
        });
        if (this.#log.length > STATS_LOG_LIMIT * 1.2) this.#log.splice(0, this.#log.length - STATS_LOG_LIMIT);
      },
    };
  }

  snapshot(): StatsSnapshot {
    return {
      total: this.#total,
      byPath: { ...this.#byPath },
      byCaller: { ...this.#byCaller },
      byStatus: { ...this.#byStatus },
      byOperation: { ...this.#byOperation },
      peakConcurrent: this.#peak,
      inFlight: this.#inFlight,
      log: this.#log.slice(-STATS_LOG_LIMIT),
    };
  }

  reset(): void {
    this.#total = 0;
    this.#byPath = {};
    this.#byCaller = {};
    this.#byStatus = {};
    this.#byOperation = {};
    this.#peak = this.#inFlight;
    this.#seq = 0;
    this.#log = [];
  }
}
