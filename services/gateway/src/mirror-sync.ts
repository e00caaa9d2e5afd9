import { parseRateKey, type TariffRef, tariffRef } from '@ratebus/schema';
import type { MirrorWriter } from './mirror.js';
import type { RateSource, SourceUpdate, UpdatingRateSource } from './source.js';

/** Which tariff an update names (`product` + `tariff`, or a `{product}.{tariff}` key), validated; else null. */
export function refOfUpdate(e: SourceUpdate): TariffRef | null {
  try {
    if (e.product !== undefined && e.tariff !== undefined) return tariffRef(e.product, e.tariff);
    if (e.key !== undefined) return parseRateKey(e.key);
  } catch {
    // not a tariff we can name a file after
  }
  return null;
}

/** Mirrors the held copies of the given tariffs now (e.g. every tariff of the initial snapshot). */
export function mirrorTariffs(source: RateSource, writer: MirrorWriter, refs: Iterable<TariffRef>): void {
  for (const ref of refs) {
    const held = source.get(ref.product, ref.tariff);
    if (held) void writer.write(held.document);
  }
}

/**
 * Mirrors every update of the source to the writer, and the given tariffs right away.
 * Returns a function that detaches the listener (the source's `on()` returns an unsubscribe function, or
 * it has `off()`).
 */
export function attachMirror(
  source: UpdatingRateSource,
  writer: MirrorWriter,
  initial: Iterable<TariffRef> = [],
): () => void {
  const listener = (e: SourceUpdate): void => {
    const ref = refOfUpdate(e);
    if (ref) mirrorTariffs(source, writer, [ref]);
  };
  const unsubscribe = source.on('update', listener);
  mirrorTariffs(source, writer, initial);
  return () => {
    if (typeof unsubscribe === 'function') unsubscribe();
    else source.off?.('update', listener);
  };
}
