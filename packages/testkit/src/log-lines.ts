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
