// Helpers for the record tests: convert a hand-written Lackey log, split the
// result into its setup and its events, and replay it with the audit.

import { Converter, type ConvertOptions, type ConvertStats } from '../../src/record/convert';
import { Machine } from '../../src/engine';
import { parseTrace } from '../../src/trace';

export interface Converted {
  text: string;
  /** Setup lines (no comments). */
  setup: string[];
  /** Event lines after the setup (no comments). */
  events: string[];
  stats: ConvertStats;
}

/** Converts `log` in chunks of `chunk` bytes (to cross line ends anywhere). */
export function convert(log: string, opts: Partial<ConvertOptions> = {}, chunk = 7): Converted {
  const parts: Buffer[] = [];
  const c = new Converter({ mode: '64', origin: ['test'], ...opts }, (t) => parts.push(t));
  c.start();
  const buf = Buffer.from(log, 'utf8');
  for (let i = 0; i < buf.length; i += chunk) if (!c.push(buf.subarray(i, i + chunk))) break;
  const stats = c.finish();
  const text = Buffer.concat(parts).toString('utf8');
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const end = lines.findIndex((l) => l.startsWith('space kernel')) + 2;
  return { text, setup: lines.slice(0, end), events: lines.slice(end), stats };
}

/** Lines of a log written with `|` for line ends in the test source. */
export function log(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

export interface Replayed {
  violations: number;
  livelocks: number;
  hangs: number;
  exits: { pf: number; fill: number; inject: number; emulate: number; cr3: number; total: number };
}

/** Parses (no diagnostic at all) and replays under `policy` with the audit (`full`: everything after every event; the default looks at what each event changed). */
export function replay(text: string, policy: string, audit: 'full' | true = 'full'): Replayed {
  const r = parseTrace(text);
  if (r.diagnostics.length > 0) throw new Error(`the trace has diagnostics: ${JSON.stringify(r.diagnostics.slice(0, 3))}`);
  const m = new Machine(r.program, { policy, audit });
  m.run();
  if (m.error !== null) throw new Error(`replay error: ${m.error}`);
  const s = m.summary('t');
  return { violations: s.audit.violations, livelocks: s.livelocks, hangs: s.hangs, exits: s.exits };
}
