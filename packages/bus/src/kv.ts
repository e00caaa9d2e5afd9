import { JetStreamApiCodes, JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import type { KvEntry } from '@nats-io/kv';

/**
 * True when a KV write lost a compare-and-set: `create` of a key that exists, or `update` of a key whose last
 * revision is not the one given ("wrong last sequence", known or unknown). Decided on the JetStream API code
 * only, never on the message text.
 */
export function isCasLoss(e: unknown): boolean {
  return (
    e instanceof JetStreamApiError &&
    (e.code === JetStreamApiCodes.StreamWrongLastSequence ||
      e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/** The fields of a stored KV entry that a read through the stream leader returns. */
export type LeaderEntry = Pick<KvEntry, 'key' | 'value' | 'revision' | 'operation' | 'created'>;

/**
 * The latest entry of `key` in `bucket`, read with STREAM.MSG.GET, which only the stream leader answers: it
 * sees every acknowledged write. A direct get (`kv.get()` on a bucket with `allow_direct`, the 2.9+ default)
 * or a watch may be served by a replica that is behind, or, after a crash of nats-server 2.9.x, one that
 * numbers writes differently (docs/nats-notes.md). Null when the key was never written. Throws while the
 * stream has no leader.
 */
export async function readThroughLeader(
  jsm: JetStreamManager,
  bucket: string,
  key: string,
): Promise<LeaderEntry | null> {
  const m = await jsm.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` });
  if (!m) return null;
  const op = m.header?.get('KV-Operation');
  const operation = op === 'DEL' || op === 'PURGE' ? op : 'PUT';
  return { key, value: m.data, revision: m.seq, operation, created: m.time };
}
