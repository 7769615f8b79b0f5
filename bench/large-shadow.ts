// The debugger on a large shadow: 10,000 reads, each in its own 2 MB region,
// so that the shadow holds 10,022 pages at the end (test/debug/gen.ts
// `manyPagesTrace`). In-process (TraceRuntime, audit on as the debugger's
// default): a `goto` from the first event to the last (`moveTo`), which takes
// the timeline's checkpoints on the way, then a step back from the last
// event (restore the nearest checkpoint, run again), and one snapshot of the
// shadow at the end (the engine's own cost of a checkpoint). The timeline
// adapts the distance between checkpoints to their cost, so the count varies
// from run to run (and between builds); the same goto on a Timeline with a
// fixed gap (20 checkpoints, and none) shows their cost apart from that.
//
// `benchLargeShadow()` is what `npm run bench` calls; run alone (after
// `npm run build`): node dist/large-shadow.js [READS] [RUNS]

import { TraceRuntime, type RuntimeHost } from '../src/debug/runtime';
import { Timeline } from '../src/debug/timeline';
import { Machine } from '../src/engine';
import { parseTrace } from '../src/trace';
import { Op } from '../src/trace';
import { manyPagesTrace } from '../test/debug/gen';

export interface LargeShadowResult {
  reads: number;
  pages: number;
  gotoEndMs: number[];
  checkpoints: number;
  checkpointBytes: number;
  stepBackMs: number[];
  snapshotMs: number[];
  /** Timeline with a fixed gap: the goto with 20 checkpoints, and with only the first. */
  fixed20Ms: number[];
  fixedNoneMs: number[];
}

const host: RuntimeHost = {
  output: () => undefined,
  stopped: () => undefined,
  terminated: () => undefined,
  progress: () => undefined,
  breakpointsChanged: () => undefined,
  invalidated: () => undefined,
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

export function benchLargeShadow(reads = 10_000, runs = 5): LargeShadowResult {
  const text = manyPagesTrace(reads);
  const program = parseTrace(text).program;
  const t = program.events;
  const eventRows: number[] = [];
  for (let r = 0; r < t.count; r++) if (t.op[r]! <= Op.Invlpg) eventRows.push(r);
  const first = eventRows[0]!;
  const last = eventRows[eventRows.length - 1]!;
  const res: LargeShadowResult = { reads, pages: 0, gotoEndMs: [], checkpoints: 0, checkpointBytes: 0, stepBackMs: [], snapshotMs: [], fixed20Ms: [], fixedNoneMs: [] };
  for (let i = 0; i < runs; i++) {
    const rt = new TraceRuntime(host);
    rt.load({ program: 'large-shadow.mmutrace', audit: true, logExits: false }, text);
    // The whole file parsed first: the goto measures the replay and its checkpoints only.
    (rt as unknown as { moreRows(n: number): boolean }).moreRows(Infinity);
    rt.moveTo({ kind: 'before', row: first, step: 0 });
    const t0 = performance.now();
    rt.moveTo({ kind: 'before', row: last, step: 0 });
    res.gotoEndMs.push(performance.now() - t0);
    const mem = rt.timeline.memoryEstimate();
    res.checkpoints = mem.checkpoints;
    res.checkpointBytes = mem.checkpointBytes;
    res.pages = rt.machine.shadow.alive;
    // A step back from the last event: restore the checkpoint before it and run again.
    const t1 = performance.now();
    rt.moveTo({ kind: 'before', row: eventRows[eventRows.length - 2]!, step: 0 });
    res.stepBackMs.push(performance.now() - t1);
    rt.moveTo({ kind: 'before', row: last, step: 0 });
    const t2 = performance.now();
    rt.machine.shadow.snapshot();
    res.snapshotMs.push(performance.now() - t2);
    rt.dispose();
    for (const [gap, out] of [[Math.ceil((last - first) / 20), res.fixed20Ms], [1e9, res.fixedNoneMs]] as const) {
      const tl = new Timeline(new Machine(program, { audit: 'incremental' }), () => false, { gap });
      tl.seek(first);
      const t3 = performance.now();
      tl.seek(last);
      out.push(performance.now() - t3);
    }
  }
  return res;
}

export function formatLargeShadow(r: LargeShadowResult): string {
  const f = (xs: number[]): string => `median ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(1)).join(' / ')})`;
  return [
    `debugger on ${r.reads} reads in their own 2 MB regions (${r.pages} shadow pages at the end), in-process, audit on`,
    `  goto first → last event      ${f(r.gotoEndMs)}; ${r.checkpoints} checkpoints, ~${(r.checkpointBytes / 1048576).toFixed(1)} MB`,
    `  step back from the last      ${f(r.stepBackMs)}`,
    `  one shadow snapshot at end   ${f(r.snapshotMs)}`,
    `  Timeline, fixed gap: goto first → last with 20 checkpoints ${f(r.fixed20Ms)}; with none ${f(r.fixedNoneMs)}`,
  ].join('\n');
}

if (/large-shadow\.(js|ts)$/.test(process.argv[1] ?? '')) {
  const reads = Number(process.argv[2] ?? 10_000);
  const runs = Number(process.argv[3] ?? 5);
  console.log(formatLargeShadow(benchLargeShadow(reads, runs)));
}
