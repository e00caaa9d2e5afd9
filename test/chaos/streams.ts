/**
 * A diagnostic beside the invariants (it fails nothing): samples every node's `/jsz` once a second and
 * records when a ratebus stream's last sequence, as reported by the node that leads it, falls below the
 * highest last sequence any leader of that stream reported before. A stream leader's last sequence going
 * backwards means acknowledged writes were lost (a lease term or a KV revision can then be issued twice).
 * A follower's lag after a restart is not recorded: only leaders' reports count, and only when another node
 * names the same leader in the same round — a node just restarted after a SIGKILL briefly reports itself the
 * leader of the streams it led before, with its state from before the crash (seen in a standalone
 * reproduction where no acknowledged write was lost).
 */
import type { NatsServer } from '@ratebus/testkit';

/** One stream leader report below an earlier high-water mark. */
export interface StreamRollback {
  /** Real time of the sample, ISO. */
  at: string;
  stream: string;
  /** Server name of the node that reported it (its leader at that moment). */
  leader: string;
  lastSeq: number;
  /** Highest last sequence reported by a leader of this stream before, and by which node. */
  previousHigh: number;
  previousLeader: string;
}

interface JszStream {
  name?: string;
  cluster?: { leader?: string };
  state?: { last_seq?: number };
}
interface Jsz {
  account_details?: Array<{ stream_detail?: JszStream[] }>;
}

export class StreamWatch {
  readonly rollbacks: StreamRollback[] = [];
  samples = 0;
  readonly #nodes: readonly NatsServer[];
  readonly #high = new Map<string, { seq: number; leader: string }>();
  #timer: NodeJS.Timeout | null = null;
  #busy = false;

  constructor(nodes: readonly NatsServer[]) {
    this.#nodes = nodes;
  }

  start(intervalMs = 1_000): void {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      void this.#sample().finally(() => {
        this.#busy = false;
      });
    }, intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #sample(): Promise<void> {
    const at = new Date().toISOString();
    const reports = await Promise.all(
      this.#nodes.map(async (n) => {
        try {
          const res = await fetch(`http://127.0.0.1:${n.httpPort}/jsz?accounts=true&streams=true`, {
            signal: AbortSignal.timeout(900),
          });
          return { node: n.serverName, jsz: (await res.json()) as Jsz };
        } catch {
          return null; // a node that is down or busy: nothing to say
        }
      }),
    );
    this.samples++;
    // stream → the leaders the nodes name for it
    const named = new Map<string, string[]>();
    for (const r of reports) {
      for (const acc of r?.jsz.account_details ?? []) {
        for (const s of acc.stream_detail ?? []) {
          const leader = s.cluster?.leader;
          if (r && s.name && leader) named.set(s.name, [...(named.get(s.name) ?? []), `${r.node}>${leader}`]);
        }
      }
    }
    for (const r of reports) {
      for (const acc of r?.jsz.account_details ?? []) {
        for (const s of acc.stream_detail ?? []) {
          const name = s.name ?? '';
          const last = s.state?.last_seq;
          if (!r || !name.startsWith('KV_ratebus-') || last === undefined) continue;
          if (s.cluster?.leader !== r.node) continue;
          const confirmed = (named.get(name) ?? []).some(
            (x) => x !== `${r.node}>${r.node}` && x.endsWith(`>${r.node}`),
          );
          if (!confirmed) continue;
          const high = this.#high.get(name);
          if (high && last < high.seq) {
            this.rollbacks.push({
              at,
              stream: name,
              leader: r.node,
              lastSeq: last,
              previousHigh: high.seq,
              previousLeader: high.leader,
            });
          }
          if (!high || last > high.seq) this.#high.set(name, { seq: last, leader: r.node });
        }
      }
    }
  }
}
