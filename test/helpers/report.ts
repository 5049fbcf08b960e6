import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * What the reliability suite tried and what was lost, one JSON line per case, gathered into
 * dist/reliability/results.jsonl; the suite's teardown prints them as the table of docs/reliability.md.
 */
export const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "reliability", "results.jsonl");

export interface CaseResult {
  area: string;
  tried: string;
  outcome: string;
  lost: string;
  seconds: number;
}

export function record(result: CaseResult): void {
  mkdirSync(dirname(RESULTS), { recursive: true });
  appendFileSync(RESULTS, `${JSON.stringify(result)}\n`);
}
