// The MMU map's data (src/debug/mmumap.ts): which entries are marked, which
// walk is highlighted, on the examples, in-process; the `mmuMap` request
// over DAP against the built adapter; and a measure on a trace with 10,000
// shadow pages.
import { readFileSync, readdirSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { buildMmuMap, parseMmuMapArgs, type GuestEntry, type GuestTable, type MmuMap, type ShadowEntry, type ShadowPageInfo } from '../../src/debug/mmumap';
import { TraceRuntime, type RuntimeHost } from '../../src/debug/runtime';
import { manyPagesTrace } from './gen';
import { DEMAND, ROOT, launch, next, raw, startClient, writeTemp, type Client } from './helpers';

const host: RuntimeHost = { output() {}, stopped() {}, terminated() {}, progress() {}, breakpointsChanged() {}, invalidated() {} };

function load(text: string, policy?: string): TraceRuntime {
  const rt = new TraceRuntime(host);
  rt.load({ program: 'test.mmutrace', policy, audit: true, logExits: false }, text);
  rt.state = 'stopped';
  return rt;
}

/** Stands before the event on `line` (every row before it has run). */
function before(rt: TraceRuntime, line: number): void {
  const row = rt.rowAtOrAfterLine(line);
  expect(rt.lineOfRow(row)).toBe(line);
  rt.moveTo({ kind: 'before', row, step: 0 });
}

function allGuest(t: GuestTable | null | undefined, out: GuestEntry[] = []): GuestEntry[] {
  for (const e of t?.entries ?? []) {
    out.push(e);
    if (e.child) allGuest(e.child, out);
  }
  return out;
}
function allPages(m: MmuMap): ShadowPageInfo[] {
  return m.shadow.groups.flatMap((g) => g.pages);
}
function allSptes(m: MmuMap): (ShadowEntry & { uid: number; level: number })[] {
  return allPages(m).flatMap((p) => p.entries.map((e) => ({ ...e, uid: p.uid, level: p.level })));
}
function marked(m: MmuMap, mark: string): (ShadowEntry & { uid: number; level: number })[] {
  return allSptes(m).filter((e) => e.marks.includes(mark as never));
}

const demand = readFileSync(DEMAND, 'utf8');
// Lines of examples/demand-fault.mmutrace.
const FIRST_READ = 13;
const FAULT = 15;
const PTE = 17;
const REFAULT = 19;

describe('the MMU map of demand-fault.mmutrace', () => {
  for (const policy of ['zap', 'update']) {
    test(`${policy}: the walk of the pte's address is highlighted on both sides`, () => {
      const rt = load(demand, policy);
      before(rt, PTE);
      const m = buildMmuMap(rt, { timeline: false });
      // Mode 64: the walk of 0x400000 reads L4..L1. The pte line has not run yet, so the guest
      // walk stops at the L1 entry (not present), which is highlighted all the same.
      expect(m.walk!.va).toBe('0x400000');
      expect(m.walk!.guest.map((g) => g.level)).toEqual([4, 3, 2, 1]);
      const walked = allGuest(m.guest).filter((e) => e.marks.includes('walk'));
      expect(walked.map((e) => e.level)).toEqual([4, 3, 2, 1]);
      expect(walked.map((e) => e.gpa)).toEqual(m.walk!.guest.map((g) => g.gpa));
      const leaf = walked[3]!;
      expect(leaf.raw).toBe('0x0');
      expect(leaf.index).toBe(0);
      // The shadow: root (L4) → L3 → L2 → the L1 shadow page of the table, index 0, not present (the fault was injected).
      expect(m.walk!.shadow.map((s) => s.level)).toEqual([4, 3, 2, 1]);
      expect(m.walk!.shadow[3]!.index).toBe(0);
      expect(m.walk!.shadow[3]!.raw).toBe('0x0');
      const sw = marked(m, 'walk');
      expect(sw.map((e) => e.level).sort()).toEqual([1, 2, 3, 4]);
      // Each page on the shadow walk shadows the guest table on the guest walk at its level.
      for (const s of m.walk!.shadow) {
        const page = allPages(m).find((p) => p.uid === s.uid)!;
        const g = m.walk!.guest.find((x) => x.level === s.level)!;
        expect(page.gfn).toBe(Math.floor(g.gpa / 4096));
        expect(page.marks).toContain('walk');
      }
    });

    test(`${policy}: write-protected frames are the four shadowed guest tables`, () => {
      const rt = load(demand, policy);
      before(rt, FAULT);
      const m = buildMmuMap(rt, { timeline: false });
      // The first read shadowed L4 (the root, built before the first event), L3, L2 and the L1 table.
      const tables = [m.guest!, ...allGuest(m.guest).filter((e) => e.child).map((e) => e.child!)];
      expect(tables.map((t) => t.level)).toEqual([4, 3, 2, 1]);
      for (const t of tables) {
        expect(t.wp).toBe(true);
        expect(t.shadows).toHaveLength(1);
      }
      expect(m.writeProtected.frames).toEqual(tables.map((t) => t.gfn).sort((a, b) => a - b));
      for (const p of allPages(m)) expect(p.wp).toBe(true);
      // One group: the root of vCPU 0 and the three pages below it.
      expect(m.shadow.groups).toHaveLength(1);
      expect(m.shadow.groups[0]!.pages).toHaveLength(4);
      expect(m.shadow.groups[0]!.current).toBe(true);
    });
  }

  test('update: at the pte write the new shadow pte is marked updated', () => {
    const rt = load(demand, 'update');
    before(rt, PTE + 1);
    const m = buildMmuMap(rt, { timeline: false });
    // kvm_mmu_pte_write on the shadowed L1 table: zap_pte finds index 0 not
    // present (the fault was injected, no spte was built), then the seed's
    // update installs the spte from the new gpte (P and A set, whole entry):
    // 0 → spte within the trapped store, so `updated`; nothing is zapped.
    const upd = marked(m, 'updated');
    expect(upd).toHaveLength(1);
    expect(upd[0]!.level).toBe(1);
    expect(upd[0]!.index).toBe(0);
    expect(upd[0]!.was).toBe('0x0');
    expect(upd[0]!.gfn).toBe(0x200);
    expect(marked(m, 'zapped')).toHaveLength(0);
    expect(marked(m, 'created')).toHaveLength(0);
    // The guest entry the pte line wrote is marked changed, with its old value.
    const changed = allGuest(m.guest).filter((e) => e.marks.includes('changed'));
    expect(changed).toHaveLength(1);
    expect(changed[0]!.level).toBe(1);
    expect(changed[0]!.was).toBe('0x0');
    expect(m.lastEvent!.exit).toBe('emulate');
    // The refault does not happen: the read costs nothing and changes nothing.
    before(rt, REFAULT + 1);
    const r = buildMmuMap(rt, { timeline: false });
    expect(r.lastEvent!.exit).toBe('none');
    expect(allSptes(r).filter((e) => e.marks.some((k) => k !== 'walk'))).toHaveLength(0);
  });

  test('zap: the pte write changes no spte (none was there); the refault creates it', () => {
    const rt = load(demand, 'zap');
    before(rt, PTE + 1);
    const m = buildMmuMap(rt, { timeline: false });
    // Under zap, kvm_mmu_pte_write only zaps: index 0 held no spte (the fault
    // was injected), so no shadow entry changes; the guest entry does.
    expect(allSptes(m).filter((e) => e.marks.some((k) => k !== 'walk'))).toHaveLength(0);
    expect(allGuest(m.guest).filter((e) => e.marks.includes('changed'))).toHaveLength(1);
    before(rt, REFAULT + 1);
    const r = buildMmuMap(rt, { timeline: false });
    // The refault: page_fault → fetch → set_pte builds the leaf: 0 → spte, `created`.
    expect(r.lastEvent!.exit).toBe('fill');
    const created = marked(r, 'created');
    expect(created).toHaveLength(1);
    expect(created[0]!.index).toBe(0);
    expect(created[0]!.gfn).toBe(0x200);
  });

  // A rewrite of a pte whose spte is present: the zap is visible.
  const rewrite = `${demand}\npte 0x401000 = 0x202000 P W U A D\nread 0x401000\n`;
  const REWRITE = demand.split('\n').length + 1;
  test('zap: rewriting a present pte marks its spte zapped; the refault creates it again', () => {
    const rt = load(rewrite, 'zap');
    before(rt, REWRITE + 1);
    const m = buildMmuMap(rt, { timeline: false });
    // mmu_pte_write_zap_pte clears the spte of 0x401000 (index 1, built by the first read): present → 0.
    const z = marked(m, 'zapped');
    expect(z).toHaveLength(1);
    expect(z[0]!.index).toBe(1);
    expect(z[0]!.raw).toBe('0x0');
    expect(z[0]!.was).toMatch(/^0x100201/);
    expect(marked(m, 'updated')).toHaveLength(0);
    rt.moveTo({ kind: 'end', row: rt.program.events.count, step: 0 });
    const r = buildMmuMap(rt, { timeline: false });
    expect(marked(r, 'created').map((e) => [e.index, e.gfn])).toEqual([[1, 0x202]]);
  });

  test('update: rewriting a present pte marks its spte updated (zapped, then installed)', () => {
    const rt = load(rewrite, 'update');
    before(rt, REWRITE + 1);
    const m = buildMmuMap(rt, { timeline: false });
    const u = marked(m, 'updated');
    expect(u).toHaveLength(1);
    expect(u[0]!.index).toBe(1);
    expect(u[0]!.gfn).toBe(0x202);
    expect(u[0]!.was).toMatch(/^0x100201/);
    expect(marked(m, 'zapped')).toHaveLength(0);
  });

  test('stepping into the first read highlights the step entry', () => {
    const rt = load(demand, 'update');
    const row = rt.rowAtOrAfterLine(FIRST_READ);
    const steps = rt.recordSteps(row);
    const k = steps.findIndex((s) => s.sptes?.length);
    expect(k).toBeGreaterThanOrEqual(0);
    rt.moveTo({ kind: 'step', row, step: k });
    const m = buildMmuMap(rt, { timeline: false });
    expect(m.position.step!.fn).toBe(steps[k]!.fn);
    const st = marked(m, 'step');
    expect(st.map((e) => [e.uid, e.index])).toEqual(steps[k]!.sptes!.map((s) => [s.page, s.index]));
    // A step that read guest entries marks them.
    const j = steps.findIndex((s) => s.gptes?.length);
    rt.moveTo({ kind: 'step', row, step: j });
    const g = allGuest(buildMmuMap(rt, { timeline: false }).guest).filter((e) => e.marks.includes('step'));
    expect(g.map((e) => e.gpa)).toEqual(steps[j]!.gptes);
  });

  test('the timeline: one mark per event, exits of each policy', () => {
    const rt = load(demand, 'update');
    before(rt, PTE);
    const m = buildMmuMap(rt);
    const tl = m.timeline!;
    expect(tl.policies).toEqual(['update', 'zap', 'access', 'tdp']);
    expect(tl.complete).toBe(true);
    expect(tl.events).toBe(4);
    expect(tl.buckets.map((b) => b.line)).toEqual([FIRST_READ, FAULT, PTE, REFAULT]);
    expect(tl.buckets.map((b) => b.outcome)).toEqual(['fill', 'inject', 'emulate', 'none']);
    // Cumulative exits: update 1,2,3,3; zap 1,2,3,4 (the refault); access as update; tdp 5 (the
    // first read touches 4 tables and its page), 5, 5 (the fault and the store cost none), 6.
    expect(tl.buckets.map((b) => b.exits)).toEqual([
      [1, 1, 1, 5],
      [2, 2, 2, 5],
      [3, 3, 3, 5],
      [3, 4, 3, 6],
    ]);
    expect(tl.position).toBe(2);
    // Downsampled: two buckets of two events.
    const small = buildMmuMap(rt, { buckets: 2 }).timeline!;
    expect(small.buckets.map((b) => [b.events, b.outcome, b.exits])).toEqual([
      [2, 'inject', [2, 2, 2, 5]],
      [2, 'emulate', [3, 4, 3, 6]],
    ]);
  });

  test('the tree is bounded: collapsed below the depth, opened by path', () => {
    const rt = load(demand, 'update');
    before(rt, FIRST_READ);
    // Depth 0, but the walk of the current event (read 0x401000) keeps its path open.
    const m = buildMmuMap(rt, { depth: 0, timeline: false });
    expect(m.guest!.level).toBe(4);
    const l4 = m.guest!.entries[0]!;
    expect(l4.child).toBeDefined();
    // Without a walk (a trace whose event has no address) the entries below depth 0 are expandable.
    const rt2 = load('mode 64\nspace a\nmap 0x400000 = 0x1000 P W U A D\nspace b\nmap 0x400000 = 0x2000 P W U A D\ncr3 b\n');
    const m2 = buildMmuMap(rt2, { depth: 0, timeline: false });
    expect(m2.walk).toBeNull();
    const top = m2.guest!.entries[0]!;
    expect(top.child).toBeUndefined();
    expect(top.expandable).toBe(true);
    const sub = buildMmuMap(rt2, { expand: [top.index], depth: 0, timeline: false }).expanded!;
    expect(sub.level).toBe(3);
    expect(sub.path).toEqual([top.index]);
    expect(sub.entries[0]!.expandable).toBe(true);
    expect(buildMmuMap(rt2, { expand: [top.index + 1], timeline: false }).expanded).toBeNull();
  });
});

describe('metaphysical pages', () => {
  test('large-page.mmutrace: a metaphysical L1 page for the 2 MiB page, not write-protected', () => {
    const rt = load(readFileSync(`${ROOT}/examples/large-page.mmutrace`, 'utf8'), 'update');
    before(rt, 10); // after `read 0x200000`
    const m = buildMmuMap(rt, { timeline: false });
    const meta = allPages(m).filter((p) => p.metaphysical);
    expect(meta).toHaveLength(1);
    expect(meta[0]!.gfn).toBe(0x40000);
    expect(meta[0]!.level).toBe(1);
    expect(meta[0]!.wp).toBe(false);
    expect(meta[0]!.role).toMatch(/metaphysical/);
    expect(meta[0]!.marks).toContain('created');
    expect(m.writeProtected.frames).not.toContain(0x40000);
    // The guest's large entry (L2 index 1) names it, so the panel can join them.
    const large = allGuest(m.guest).find((e) => e.kind === 'large')!;
    expect(large.level).toBe(2);
    expect(large.index).toBe(1);
    expect(large.gfn).toBe(0x40000);
    expect(large.shadows).toEqual([meta[0]!.uid]);
  });
});

describe('every example and fixture', () => {
  const files = [
    ...readdirSync(`${ROOT}/examples`).filter((f) => f.endsWith('.mmutrace')).map((f) => `${ROOT}/examples/${f}`),
    ...['modes.mmutrace', 'vcpus.mmutrace', 'filters.mmutrace', 'audit.mmutrace'].map((f) => `${ROOT}/test/debug/fixtures/${f}`),
  ];
  for (const file of files) {
    test(file.slice(ROOT.length + 1), () => {
      for (const policy of ['zap', 'update']) {
        let rt: TraceRuntime;
        try {
          rt = load(readFileSync(file, 'utf8'), policy);
        } catch {
          continue; // a fixture that does not load (it is about errors)
        }
        const t = rt.program.events;
        for (let row = 0; row <= t.count; row++) {
          if (row < t.count && !rt.isEventRow(row)) continue;
          rt.moveTo(row < t.count ? { kind: 'before', row, step: 0 } : { kind: 'end', row, step: 0 });
          const m = buildMmuMap(rt);
          // Every live page is in exactly one group; every walk entry the guest tree holds is marked.
          expect(m.shadow.groups.reduce((a, g) => a + g.total, 0)).toBe(m.shadow.alive);
          const uids = allPages(m).map((p) => p.uid);
          expect(new Set(uids).size).toBe(uids.length);
          if (m.walk) for (const s of m.walk.shadow) expect(marked(m, 'walk').some((e) => e.uid === s.uid && e.index === s.index)).toBe(true);
          expect(JSON.stringify(m).length).toBeLessThan(500_000);
        }
      }
    });
  }
});

describe('arguments', () => {
  test('bounds are checked and clamped', () => {
    expect(parseMmuMapArgs({ shadowPages: 1e9 }).shadowPages).toBe(5000);
    expect(() => parseMmuMapArgs({ expand: ['x'] })).toThrow(/expand/);
    expect(() => parseMmuMapArgs({ depth: 'deep' })).toThrow();
  });
});

describe('over DAP', () => {
  let dc: Client | null = null;
  afterEach(async () => {
    await dc?.stop();
    dc = null;
  });

  test('the adapter announces and answers mmuMap', async () => {
    dc = await startClient();
    const caps = await dc.initializeRequest({ adapterID: 'mmutrace', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    expect((caps.body as Record<string, unknown>).supportsMmuMapRequest).toBe(true);
    // Not launched yet: a clean error.
    expect((await raw(dc, 'mmuMap', {})).success).toBe(false);
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: DEMAND, policy: 'update' } as never);
    await initialized;
    const stopped = dc.waitForEvent('stopped');
    await dc.configurationDoneRequest();
    await stopped;
    for (let i = 0; i < 2; i++) await next(dc);
    const r = await raw(dc, 'mmuMap', {});
    expect(r.success).toBe(true);
    const m = r.body as MmuMap;
    expect(m.position.line).toBe(PTE);
    expect(m.walk!.va).toBe('0x400000');
    expect(m.timeline!.buckets).toHaveLength(4);
    // A timeline mark's row is a goto target (id row + 1), backwards here.
    const stop = dc.waitForEvent('stopped');
    await dc.gotoRequest({ threadId: m.threadId, targetId: m.timeline!.buckets[0]!.row + 1 });
    expect(((await stop) as { body: { reason: string } }).body.reason).toBe('goto');
    const back = (await raw(dc, 'mmuMap', {})).body as MmuMap;
    expect(back.position.line).toBe(FIRST_READ);
    expect(back.timeline!.position).toBe(0);
    // Bad arguments fail with a message.
    const bad = await raw(dc, 'mmuMap', { expand: 'no' });
    expect(bad.success).toBe(false);
    expect(bad.message).toMatch(/expand/);
  });
});

describe('a trace with 10,000 shadow pages', () => {
  test('the request stays bounded in time and size', async () => {
    const n = 10_000;
    const file = writeTemp('mmumap-many.mmutrace', manyPagesTrace(n));
    const dc = await startClient();
    try {
      const s = await launch(dc, { program: file, stopOnEntry: false, logExits: false });
      expect(s.reason).toBe('end');
      const times: number[] = [];
      let size = 0;
      let body: MmuMap | null = null;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const r = await raw(dc, 'mmuMap', {});
        times.push(performance.now() - t0);
        expect(r.success).toBe(true);
        size = JSON.stringify(r.body).length;
        body = r.body as MmuMap;
      }
      const m = body!;
      // One L1 page per 2 MiB region, and the L2/L3/L4 pages above them.
      expect(m.shadow.alive).toBeGreaterThan(n);
      const sent = allPages(m).length;
      expect(sent).toBeLessThanOrEqual(300 + 10);
      expect(m.shadow.groups.reduce((a, g) => a + g.total, 0)).toBe(m.shadow.alive);
      expect(m.shadow.groups.reduce((a, g) => a + g.more, 0)).toBe(m.shadow.alive - sent);
      expect(m.timeline!.buckets.length).toBeLessThanOrEqual(400);
      expect(size).toBeLessThan(2_000_000);
      expect(Math.min(...times)).toBeLessThan(1000);
      // The first request also builds the machines that replay the trace under each policy for the timeline.
      console.log(`mmuMap on ${m.shadow.alive} shadow pages: ${times.map((t) => t.toFixed(0)).join(' / ')} ms, ${(size / 1024).toFixed(0)} KiB, ${sent} pages sent, ${allGuest(m.guest).length} guest entries, timeline complete: ${m.timeline!.complete}`);
    } finally {
      await dc.stop();
    }
  });
});

describe('the MMU map under tdp (designs.md)', () => {
  test('the nested table beside the guest tree, with the frames the walk touches marked', () => {
    const rt = load(demand, 'tdp');
    // Stop before the retry (line 19): the first read mapped L4, L3, L2, L1 (0x10000..0x10003) and
    // the neighbour's page 0x201; the retry's own page 0x200 is not mapped yet.
    before(rt, REFAULT);
    const m = buildMmuMap(rt);
    expect(m.policy).toBe('tdp');
    expect(m.shadow.groups.map((g) => g.title)).toEqual(['nested page table #1 (gfn 0x0)']);
    // The walk of 0x400000: the four tables' nested leaves (mapped), then the page's (empty).
    expect(m.walk!.shadow.map((x) => [x.level, x.raw])).toEqual([
      [1, '0x110000067'],
      [1, '0x110001067'],
      [1, '0x110002067'],
      [1, '0x110003067'],
      [1, '0x0'],
    ]);
    expect(m.walk!.result).toMatch(/the nested table maps 4 of the 5 frames/);
  });
});
