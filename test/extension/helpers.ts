import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { analyze, type Position, type TraceAnalysis } from '../../src/extension/features/analysis';

export const EXAMPLES = resolve(__dirname, '../../examples');

export function exampleNames(): string[] {
  return readdirSync(EXAMPLES).filter((f) => f.endsWith('.mmutrace')).sort();
}

export function example(name: string): TraceAnalysis {
  return analyze(readFileSync(resolve(EXAMPLES, name), 'utf8'));
}

/** The position of the `nth` occurrence of `needle` on the first line that starts with `lineStart`, plus `delta` columns. */
export function at(a: TraceAnalysis, lineStart: string, needle: string, delta = 0, nth = 0): Position {
  const i = a.lines.findIndex((l) => l.startsWith(lineStart));
  if (i < 0) throw new Error(`no line starts with ${JSON.stringify(lineStart)}`);
  let col = -1;
  for (let k = 0; k <= nth; k++) col = a.lines[i]!.indexOf(needle, col + 1);
  if (col < 0) throw new Error(`no ${JSON.stringify(needle)} on line ${i + 1}`);
  return { line: i + 1, col: col + 1 + delta };
}

/** The position at the end of a line of a text (the cursor after what was typed). */
export function endOf(a: TraceAnalysis, line: number): Position {
  return { line, col: a.lines[line - 1]!.length + 1 };
}
