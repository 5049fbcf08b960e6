import { existsSync, readFileSync, rmSync } from "node:fs";
import { RESULTS, type CaseResult } from "../helpers/report.js";

/** Starts each run with an empty results file; at the end prints the table that docs/reliability.md holds. */
export default function setup(): () => void {
  rmSync(RESULTS, { force: true });
  return () => {
    if (!existsSync(RESULTS)) return;
    const rows = readFileSync(RESULTS, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as CaseResult);
    const lines = [
      "| area | what was tried | outcome | lost | seconds |",
      "|---|---|---|---|---|",
      ...rows.map((r) => `| ${r.area} | ${r.tried} | ${r.outcome} | ${r.lost} | ${r.seconds.toFixed(1)} |`),
    ];
    process.stdout.write(`\nReliability report (${rows.length} cases):\n\n${lines.join("\n")}\n\n`);
  };
}
