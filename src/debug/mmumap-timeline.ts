// The MMU map's timeline (mmumap.ts): the trace's events in at most N
// buckets, each with its most notable exit and the exits of every policy at
// its end, from a replay under each policy (PolicyTracker, compare.ts: the
// session's own policy gets one too, since the session's effect log knows
// only the rows it has run).
//
// Two ways to cut the buckets, from what the runtime noted of the events as
// they were parsed (EventBlocks), so that no row is read again (a file is
// read in windows: rowwindows.ts). Up to EXACT_MAX events: equal numbers of
// events, from the list of every event's row and line. Past it (no list of
// 100 million rows is kept): whole blocks of 4,096 rows, from each block's
// events and first event and the trackers' totals at block boundaries.

import { firstIndex } from '../trace';
import { PolicyTracker, TRACKER_BLOCK } from './compare';
import type { TraceRuntime } from './runtime';

/** Time the request may spend replaying the other policies for the timeline (ms); the rest comes at later requests. */
const TRACKER_MS = 40;
const OUTCOMES = ['none', 'fill', 'inject', 'emulate', 'cr3', 'npt'] as const;
/** The most notable exit of a timeline bucket: inject, then emulate, fill, npt, cr3. */
const RANK = [0, 3, 5, 4, 1, 2];

export interface TimelineBucket {
  /** First event row of the bucket (goto target id = row + 1) and its line. */
  row: number;
  line: number;
  /** Events in the bucket. */
  events: number;
  /** The most notable exit in the bucket: none, fill, inject, emulate, cr3 (-1: not replayed yet). */
  outcome: 'none' | 'fill' | 'inject' | 'emulate' | 'cr3' | 'npt' | 'unknown';
  /** Exits of the bucket by outcome under the session's policy. */
  counts: { fill: number; inject: number; emulate: number; cr3: number; npt: number };
  /** Cumulative exits at the end of the bucket, one per policy of `policies` (-1: not replayed yet). */
  exits: number[];
}

export interface TimelineInfo {
  policies: string[];
  policy: string;
  events: number;
  /** Every row parsed and every policy replayed to the end. */
  complete: boolean;
  buckets: TimelineBucket[];
  /** Index of the bucket of the current position (-1: before the first or none). */
  position: number;
}

// ---------------------------------------------------------------------------
// Timeline

interface TimelineCache {
  program: unknown;
  trackers: PolicyTracker[];
}

const timelineCaches = new WeakMap<TraceRuntime, TimelineCache>();

export function timelineInfo(rt: TraceRuntime, maxBuckets: number): TimelineInfo {
  const policy = rt.machine.policy.name;
  // The session's policy gets a replay of its own (the session's effect log knows only the rows it has run, the
  // timeline shows the whole trace); the others share the runtime's.
  const others = rt.policyTrackers();
  const policies = [policy, ...others.map((t) => t.policy)];
  let c = timelineCaches.get(rt);
  if (!c || c.program !== rt.program || c.trackers[1] !== others[0]) {
    c = {
      program: rt.program,
      trackers: [new PolicyTracker(rt.program, policy, (n) => rt.timeline.hasRow(n - 1)), ...others],
    };
    timelineCaches.set(rt, c);
  }
  const deadline = performance.now() + TRACKER_MS;
  const total = rt.program.events.count;
  for (const t of c.trackers) t.advance(total, deadline);
  const list = rt.eventBlocks.eventList;
  if (!list) return byBlocks(rt, c.trackers, policies, maxBuckets, total);
  const n = rt.eventBlocks.events;
  const rows = list.rows;
  const nb = Math.min(n, maxBuckets);
  const buckets: TimelineBucket[] = [];
  const cum = policies.map(() => 0);
  const known = policies.map(() => true);
  for (let b = 0; b < nb; b++) {
    const from = Math.floor((b * n) / nb);
    const to = Math.floor(((b + 1) * n) / nb);
    const counts = { fill: 0, inject: 0, emulate: 0, cr3: 0, npt: 0 };
    const kinds = new Float64Array(5);
    let best = 0;
    let unknown = false;
    for (let k = from; k < to; k++) {
      const r = rows[k]!;
      for (let p = 0; p < policies.length; p++) {
        const code = c.trackers[p]!.codeAt(r);
        if (code < 0) {
          known[p] = false;
          if (p === 0) unknown = true;
          continue;
        }
        if (code > 0) cum[p]! += c.trackers[p]!.exitsAt(r);
        if (p === 0 && code > 0) {
          c.trackers[0]!.exitsByKind(r, kinds);
          if (RANK[code]! > RANK[best]!) best = code;
        }
      }
    }
    for (let k = 0; k < 5; k++) counts[OUTCOMES[k + 1] as keyof typeof counts] = kinds[k]!;
    buckets.push({
      row: rows[from]!,
      line: list.lines[from]!,
      events: to - from,
      outcome: unknown && best === 0 ? 'unknown' : OUTCOMES[best]!,
      counts,
      exits: cum.map((x, p) => (known[p] ? x : -1)),
    });
  }
  return { policies, policy, events: n, complete: rt.parseDone && c.trackers.every((x) => x.done || x.pos >= total), buckets, position: positionOf(rt, buckets) };
}

/** The bucket of the current position: the last bucket starting at or before the current row. */
function positionOf(rt: TraceRuntime, buckets: TimelineBucket[]): number {
  const p = rt.position;
  const cur = p.kind === 'end' ? Number.MAX_SAFE_INTEGER : p.row;
  return firstIndex(buckets.length, (k) => buckets[k]!.row <= cur) - 1;
}

/**
 * The buckets of a file read in windows: whole blocks of TRACKER_BLOCK rows
 * (a bucket with no event is left out), its events and first event from the
 * runtime's EventBlocks, its exits from each tracker's totals at its two ends
 * (known once the tracker has replayed past its end), its most notable exit
 * from the codes each block caused under the session's policy.
 */
function byBlocks(rt: TraceRuntime, trackers: PolicyTracker[], policies: string[], maxBuckets: number, total: number): TimelineInfo {
  const eb = rt.eventBlocks;
  const nBlocks = eb.blocks;
  const nb = Math.min(nBlocks, maxBuckets);
  const buckets: TimelineBucket[] = [];
  const kinds: (keyof TimelineBucket['counts'])[] = ['fill', 'inject', 'emulate', 'cr3', 'npt'];
  for (let b = 0; b < nb; b++) {
    const b0 = Math.floor((b * nBlocks) / nb);
    const b1 = Math.floor(((b + 1) * nBlocks) / nb);
    const first = eb.firstEvent(b0, b1);
    if (!first) continue;
    const end = Math.min(b1 * TRACKER_BLOCK, total);
    const exits = trackers.map((t) => t.countsAt(end)?.total ?? -1);
    const before = trackers[0]!.countsAt(b0 * TRACKER_BLOCK);
    const after = trackers[0]!.countsAt(end);
    const counts = { fill: 0, inject: 0, emulate: 0, cr3: 0, npt: 0 };
    let outcome: TimelineBucket['outcome'] = 'unknown';
    if (before && after) {
      for (const k of kinds) counts[k] = after[k] - before[k];
      const codes = trackers[0]!.blockCodes(b0, b1);
      let best = 0;
      for (let code = 1; code < OUTCOMES.length; code++) if (codes & (1 << code) && RANK[code]! > RANK[best]!) best = code;
      outcome = OUTCOMES[best]!;
    }
    buckets.push({ row: first.row, line: first.line, events: eb.eventsIn(b0, b1), outcome, counts, exits });
  }
  return {
    policies,
    policy: policies[0]!,
    events: eb.events,
    complete: rt.parseDone && trackers.every((x) => x.done || x.pos >= total),
    buckets,
    position: positionOf(rt, buckets),
  };
}
