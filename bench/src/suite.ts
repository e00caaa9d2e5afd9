/** What every benchmark suite gets and gives back. */
export interface SuiteContext {
  /** CI smoke: small sizes, short runs. The figures in docs/benchmarks.md come from full runs. */
  readonly quick: boolean;
  /** Progress lines for the person running it. */
  log(line: string): void;
}

export interface SuiteResult {
  /** Section title in docs/benchmarks.md. */
  readonly title: string;
  /** Markdown body: the table(s) side by side with the baseline, and what was measured how. */
  readonly markdown: string;
  /** Raw figures, written to bench/results/<suite>.json. */
  readonly data: unknown;
  /** How to reproduce, where `npm run bench -- --only <suite>` alone is not enough. */
  readonly command?: string;
}

export type Suite = (ctx: SuiteContext) => Promise<SuiteResult>;
