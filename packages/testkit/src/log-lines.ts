import type { Readable } from 'node:stream';

/** One line of a process's JSON log (pino): `time`, `msg`, and its structured fields (e.g. `event`, `term`). */
export type LogLine = Readonly<Record<string, unknown>> & { readonly time?: number; readonly msg?: string };

/** The JSON lines of a process's output, in order; other lines (and a partial last line) are skipped. */
export function jsonLogLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const l = JSON.parse(text) as unknown;
      if (l !== null && typeof l === 'object' && !Array.isArray(l)) lines.push(l as LogLine);
    } catch {
      // a partial line, still being written
    }
  }
  return lines;
}

/** The lines of `output` whose `event` field is `event`. */
export function logEvents(output: string, event: string): LogLine[] {
  return jsonLogLines(output).filter((l) => l.event === event);
}

/**
 * Calls `onLine` with each JSON line of `stream` as it arrives, so a long run keeps every line whatever the
 * bound on a process's collected output. Other lines are skipped.
 */
export function followJsonLogLines(stream: Readable, onLine: (line: LogLine) => void): void {
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const cut = text.lastIndexOf('\n');
    partial = text.slice(cut + 1);
    if (cut >= 0) for (const line of jsonLogLines(text.slice(0, cut))) onLine(line);
  });
}
