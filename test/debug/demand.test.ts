// The seed's demand fault (examples/demand-fault.mmutrace), stepped forwards
// and backwards through the built adapter, with the exits and the PTE values
// asserted at each stop.
//
// Reasoning from engine.md, for the default policy `update`:
//   setup: pool 0x10000000. `space init` takes the L4 table 0x10000000; `map
//   0x400000` creates L3 0x10001000, L2 0x10002000 and L1 0x10003000 (entries
//   P W U A = 0x...027); the L2 index of 0x400000 is 2, so the PDE sits at
//   0x10002010; the leaf of 0x400000 is L1[0] at 0x10003000 (= 0), its
//   neighbour L1[1] at 0x10003008 = 0x201000|P W U A D = 0x201067. The vCPU's
//   shadow root (#1, level 4, gfn 0x10000) exists before the first event.
//   line 13 read 0x401000: the root is empty -> exit, walk succeeds -> fetch
//     allocates #2 (L3), #3 (L2), #4 (L1, gfn 0x10003: the page table is now
//     shadowed) and the leaf spte = host frame 0x201+0x100000 with P W U A D
//     = 0x100201067. Outcome fill: exits 1.
//   line 15 read 0x400000: L1[0] is empty -> exit; the guest walk faults at L1,
//     user read of a page that is not present -> #PF 0x4 injected: exits 2.
//   line 17 pte 0x400000 = 0x200067: its page table 0x10003 is shadowed ->
//     trapped, emulate: exits 3; kvm_mmu_pte_write zaps #4[0] (empty) and
//     `update` installs 0x100200067 at once.
//   line 19 read 0x400000: the spte is there -> no exit under update (zap
//     would refault: its counters read 4 at the end).
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  DEMAND,
  evaluate,
  frames,
  launch,
  next,
  raw,
  reverse,
  scopeVars,
  scopes,
  startClient,
  stepBack,
  stepIn,
  stepOut,
  stopAfter,
  topLine,
  vars,
  type Client,
} from './helpers';

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

/** The exit counters at this stop: `total` → [ours, zap's]. */
async function counters(): Promise<Record<string, [number, number | undefined]>> {
  const v = await scopeVars(dc, 'Exit counters');
  const out: Record<string, [number, number | undefined]> = {};
  for (const k of ['total', 'pf', 'fill', 'inject', 'emulate', 'cr3']) {
    const m = /^(\d+)(?:\s+\(zap: (\d+)[,)])?/.exec(v.get(k)!.value)!;
    out[k] = [Number(m[1]), m[2] === undefined ? undefined : Number(m[2])];
  }
  return out;
}

describe('the seed demand fault', () => {
  test('forwards: exits, walks and entries at each stop', async () => {
    const entry = await launch(dc, { program: DEMAND });
    expect(entry.reason).toBe('entry');
    expect(entry.threadId).toBe(1);
    expect(await topLine(dc)).toBe(13);
    expect((await dc.threadsRequest()).body.threads).toEqual([{ id: 1, name: 'vCPU 0' }]);
    expect((await counters()).total).toEqual([0, 0]);
    // Nothing shadowed yet below the root: spte of the neighbour is -1 (the path stops at L4).
    expect(await evaluate(dc, 'spte(0x401000)')).toBe('-0x1');
    expect((await scopes(dc)).map((s) => s.name)).toEqual([
      'Event',
      'vCPU 0',
      'Guest walk of 0x401000',
      'Shadow walk of 0x401000',
      'Guest page tables (CR3 0x10000000)',
      'Shadow pages (1)',
      'Exit counters',
    ]);

    // next: line 13 runs (fill), the expect on line 14 holds, stop before line 15.
    let s = await next(dc);
    expect(s.reason).toBe('step');
    expect(await topLine(dc)).toBe(15);
    let c = await counters();
    expect(c.total).toEqual([1, 1]);
    expect(c.fill).toEqual([1, 1]);
    const ev = await scopeVars(dc, 'Event');
    expect(ev.get('last event')!.value).toBe('line 13: read 0x401000');
    expect(ev.get('exit (last event)')!.value).toBe('page fault → fill');
    expect(ev.get('shadow pages created (last event)')!.value).toBe('#2 (gfn 0x10001, L3), #3 (gfn 0x10002, L2), #4 (gfn 0x10003, L1)');
    // The guest walk of the next event's address, 0x400000, ends at the empty leaf.
    const gw = await scopeVars(dc, 'Guest walk of 0x400000');
    expect([...gw.keys()]).toEqual(['L4 [0]', 'L3 [0]', 'L2 [2]', 'L1 [0]', 'result']);
    expect(gw.get('L2 [2]')!.value).toBe('0x10003027 P W U A → L1 table at gfn 0x10003');
    expect(gw.get('L2 [2]')!.memoryReference).toBe('0x10003000');
    expect(gw.get('L1 [0]')!.value).toBe('0x0 not present');
    expect(gw.get('result')!.value).toBe('#PF 0x4 (not present, read, user) at L1 for a read by user');
    // The shadow walk: #1 → #2 → #3 → #4, whose entry 0 is empty; the links were made by the last event.
    const sw = await scopeVars(dc, 'Shadow walk of 0x400000');
    expect([...sw.keys()]).toEqual(['L4 #1 [0]', 'L3 #2 [0]', 'L2 #3 [2]', 'L1 #4 [0]', 'result']);
    expect(sw.get('L4 #1 [0]')!.value).toMatch(/^0x8000002027 P W U A → shadow page #2 +\[changed by the last event, was 0x0\]$/);
    expect(sw.get('L1 #4 [0]')!.value).toBe('0x0 not present');
    expect(await evaluate(dc, 'spte(0x401000)')).toBe('0x100201067 P W U A D → host frame 0x100201 (gfn 0x201)');
    expect(await evaluate(dc, 'gpte(0x401000)')).toBe('0x201067 P W U A D → gfn 0x201');
    expect(await evaluate(dc, 'shadowed(0x10003000)')).toBe('true');

    // next: line 15 injects #PF 0x4; stop before line 17.
    await next(dc);
    expect(await topLine(dc)).toBe(17);
    c = await counters();
    expect(c.total).toEqual([2, 2]);
    expect(c.inject).toEqual([1, 1]);
    expect((await scopeVars(dc, 'Event')).get('fault injected (last event)')!.value).toBe('#PF 0x4 (not present, read, user)');
    expect(await evaluate(dc, 'last.fault', false)).toBe('4');

    // next: the pte store on line 17 traps (emulate) and `update` installs the spte.
    await next(dc);
    expect(await topLine(dc)).toBe(19);
    c = await counters();
    expect(c.total).toEqual([3, 3]);
    expect(c.emulate).toEqual([1, 1]);
    expect(await evaluate(dc, 'gpte(0x400000)')).toBe('0x200067 P W U A D → gfn 0x200');
    expect(await evaluate(dc, 'spte(0x400000)')).toBe('0x100200067 P W U A D → host frame 0x100200 (gfn 0x200)');
    expect(await evaluate(dc, 'last.updated', false)).toBe('1');
    const gw2 = await scopeVars(dc, 'Guest walk of 0x400000');
    expect(gw2.get('L1 [0]')!.value).toBe('0x200067 P W U A D → gfn 0x200  [changed by the last event, was 0x0]');
    const sw2 = await scopeVars(dc, 'Shadow walk of 0x400000');
    expect(sw2.get('L1 #4 [0]')!.value).toBe('0x100200067 P W U A D → host frame 0x100200 (gfn 0x200)  [changed by the last event, was 0x0]');

    // next: line 19 costs no exit under update; zap would have refaulted (4).
    s = await next(dc);
    expect(s.reason).toBe('end');
    expect((await frames(dc))[0]!.name).toBe('end of the trace');
    c = await counters();
    expect(c.total).toEqual([3, 4]);
    expect(c.fill).toEqual([1, 2]);
    // Every expect held.
    expect((await scopeVars(dc, 'Exit counters')).get('expectations')!.value).toBe('4 passed, 0 failed');
  });

  test('backwards: stepBack restores exits and entries, down to the start', async () => {
    await launch(dc, { program: DEMAND, stopOnEntry: false });
    // No breakpoint: runs to the end and stays there.
    expect(dc.events.some((e) => e.event === 'stopped' && (e as { body: { reason: string } }).body.reason === 'end')).toBe(true);
    expect((await counters()).total).toEqual([3, 4]);
    const expected: [number, number, string, string][] = [
      // line, exits.total, gpte(0x400000), spte(0x400000)
      [19, 3, '0x200067', '0x100200067'],
      [17, 2, '0x0', '0x0'],
      [15, 1, '0x0', '0x0'],
      [13, 0, '0x0', '-0x1'],
    ];
    for (const [line, total, g, sp] of expected) {
      const s = await stepBack(dc);
      expect(s.reason).toBe('step');
      expect(await topLine(dc)).toBe(line);
      expect(await evaluate(dc, 'exits.total', false)).toBe(String(total));
      expect((await evaluate(dc, 'gpte(0x400000)')).split(' ')[0]).toBe(g);
      expect((await evaluate(dc, 'spte(0x400000)')).split(' ')[0]).toBe(sp);
    }
    // At the start, stepBack stays.
    const s = await stepBack(dc);
    expect(s.description).toBe('At the start of the trace');
    expect(await topLine(dc)).toBe(13);
    // And forwards again gives the same values (deterministic re-execution).
    await next(dc);
    await next(dc);
    await next(dc);
    expect(await topLine(dc)).toBe(19);
    expect(await evaluate(dc, 'spte(0x400000)')).toBe('0x100200067 P W U A D → host frame 0x100200 (gfn 0x200)');
    // reverseContinue without breakpoints goes back to the start.
    const r = await reverse(dc);
    expect(r.reason).toBe('entry');
    expect(await topLine(dc)).toBe(13);
  });

  test('the zap policy from the launch configuration', async () => {
    await launch(dc, { program: DEMAND, policy: 'zap', stopOnEntry: false });
    const c = await counters();
    // Three exits from @fault on under zap: inject, emulate, and the refault (fill); plus the first fill.
    expect(c.total).toEqual([4, undefined]);
    const v = await scopeVars(dc, 'Exit counters');
    // designs.md's seed table: update 3 in all, access 3, tdp 6 (5 first touches, then the new page).
    expect(v.get('total')!.value).toBe('4  (update: 3, access: 3, tdp: 6)');
    expect(v.get('policy')!.value).toBe('zap');
  });

  test('stepIn walks the handler steps; stepOut finishes the event', async () => {
    await launch(dc, { program: DEMAND });
    await next(dc); // before line 15
    let s = await stepIn(dc);
    expect(s.reason).toBe('step');
    let f = await frames(dc);
    expect(f.map((x) => x.name)).toEqual(['paging64_page_fault: VM exit: page fault on read of 0x400000 by user', 'read 0x400000 @fault']);
    expect(f.every((x) => x.line === 15)).toBe(true);
    await stepIn(dc);
    f = await frames(dc);
    expect(f[0]!.name).toBe('paging64_walk_addr: L4 entry at 0x10000000 = 0x10001027: present, A already set');
    expect(f).toHaveLength(3);
    // next (step over) stays at the same depth: the L3 step of the walk.
    await next(dc);
    f = await frames(dc);
    expect(f[0]!.name).toBe('paging64_walk_addr: L3 entry at 0x10001000 = 0x10002027: present, A already set');
    await next(dc);
    await next(dc);
    f = await frames(dc);
    expect(f[0]!.name).toBe('paging64_walk_addr: L1 entry at 0x10003000 = 0x0: not present');
    await next(dc);
    f = await frames(dc);
    expect(f[0]!.name).toBe('inject_page_fault: guest walk faulted at L1: #PF 0x4 (not present, read, user) injected into the guest');
    // stepBack inside the handler goes back one step.
    await stepBack(dc);
    expect((await frames(dc))[0]!.name).toMatch(/^paging64_walk_addr: L1 entry/);
    // stepOut from the walk step leaves page_fault: the event is done, stop before line 17.
    s = await stepOut(dc);
    expect(await topLine(dc)).toBe(17);
    expect((await frames(dc))).toHaveLength(1);
    // stepIn on the trapped pte store: page_fault → kvm_mmu_pte_write → zap pte → update pte.
    await stepIn(dc);
    const names: string[] = [];
    for (let i = 0; i < 10; i++) {
      const fr = await frames(dc);
      if (fr.length === 1) break;
      names.push(fr[0]!.name.split(':')[0]!);
      await stepIn(dc);
    }
    expect(names).toEqual(['paging64_page_fault', 'kvm_mmu_pte_write', 'mmu_pte_write_zap_pte', 'paging64_update_pte']);
    expect(await topLine(dc)).toBe(19);
    // stepIn on an event without an exit is a plain next.
    s = await stepIn(dc);
    expect(s.reason).toBe('end');
  });

  test('goto, gotoTargets and breakpointLocations', async () => {
    await launch(dc, { program: DEMAND });
    const locs = await raw(dc, 'breakpointLocations', { source: { path: DEMAND }, line: 1, endLine: 30 });
    expect(locs.body.breakpoints).toEqual([{ line: 13 }, { line: 15 }, { line: 17 }, { line: 19 }]);
    // Jump to Cursor on the expect of line 18 goes to the next event, line 19.
    const t = (await dc.gotoTargetsRequest({ source: { path: DEMAND }, line: 18 })).body.targets;
    expect(t).toHaveLength(1);
    expect(t[0]!.line).toBe(19);
    let s = await stopAfter(dc, () => dc.gotoRequest({ threadId: 1, targetId: t[0]!.id }));
    expect(s.reason).toBe('goto');
    expect(await topLine(dc)).toBe(19);
    expect(await evaluate(dc, 'exits.total', false)).toBe('3');
    // Back to line 15 (the labelled one).
    const t2 = (await dc.gotoTargetsRequest({ source: { path: DEMAND }, line: 15 })).body.targets;
    s = await stopAfter(dc, () => dc.gotoRequest({ threadId: 1, targetId: t2[0]!.id }));
    expect(await topLine(dc)).toBe(15);
    expect(await evaluate(dc, 'exits.total', false)).toBe('1');
    expect(await evaluate(dc, 'line', false)).toBe('15');
    // An unknown target is an error.
    expect((await raw(dc, 'goto', { threadId: 1, targetId: 999 })).success).toBe(false);
  });

  test('readMemory returns guest-physical memory: the page table', async () => {
    await launch(dc, { program: DEMAND, stopOnEntry: false });
    // The PDE's memoryReference is the L1 table it points to.
    await stepBack(dc);
    const gw = await scopeVars(dc, 'Guest walk of 0x400000');
    const ref = gw.get('L2 [2]')!.memoryReference!;
    const r = (await raw(dc, 'readMemory', { memoryReference: ref, offset: 0, count: 16 })).body;
    expect(r.address).toBe('0x10003000');
    const bytes = Buffer.from(r.data, 'base64');
    expect(bytes.length).toBe(16);
    expect(bytes.readBigUInt64LE(0)).toBe(0x200067n); // L1[0], filled by the pte store
    expect(bytes.readBigUInt64LE(8)).toBe(0x201067n); // L1[1], the neighbour
    // The shadow page of that table, as 8-byte entries.
    const sp = (await raw(dc, 'readMemory', { memoryReference: 's#4', count: 16 })).body;
    const sb = Buffer.from(sp.data, 'base64');
    expect(sb.readBigUInt64LE(0)).toBe(0x100200067n);
    expect(sb.readBigUInt64LE(8)).toBe(0x100201067n);
    // Past the guest-physical limit: unreadable.
    const far = (await raw(dc, 'readMemory', { memoryReference: '0xfffffffffff00', offset: 0x100, count: 0x200 })).body;
    expect(far.unreadableBytes).toBe(0x200);
    expect((await raw(dc, 'readMemory', { memoryReference: 'nonsense', count: 4 })).success).toBe(false);
  });

  test('evaluate, hover, hex formatting and completions', async () => {
    await launch(dc, { program: DEMAND });
    await next(dc);
    const f = (await frames(dc))[0]!;
    const ev = (expression: string, context = 'repl', hex?: boolean) =>
      dc.evaluateRequest({ expression, frameId: f.id, context, ...(hex === undefined ? {} : { format: { hex } }) }).then((r) => r.body);
    expect((await ev('exits.total')).result).toBe('1');
    expect((await ev('exits.total', 'watch', true)).result).toBe('0x1');
    expect((await ev('cr3')).result).toBe('0x10000000');
    expect((await ev('policy')).result).toBe('"update"');
    expect((await ev('exit.reason')).result).toBe('"page-fault"');
    expect((await ev('exit.outcome == "fill"')).result).toBe('true');
    // A record can be expanded.
    const rec = await ev('exits');
    expect(rec.variablesReference).toBeGreaterThan(0);
    const members = await vars(dc, rec.variablesReference);
    expect(members.map((m) => m.name)).toEqual(['total', 'pf', 'fill', 'inject', 'emulate', 'cr3', 'invlpg', 'npt']);
    // Hover over an address and over a label.
    expect((await ev('0x401000', 'hover')).result).toBe('0x401000 · VA → gpa 0x201000 · gpte 0x201067 P W U A D → gfn 0x201 · spte 0x100201067');
    expect((await ev('@fault', 'hover')).result).toBe('label @fault: line 15, read 0x400000 @fault');
    // Errors are error responses.
    const bad = await raw(dc, 'evaluate', { expression: 'gpte(', frameId: f.id, context: 'repl' });
    expect(bad.success).toBe(false);
    const unknown = await raw(dc, 'evaluate', { expression: 'nosuchname', frameId: f.id, context: 'repl' });
    expect(unknown.success).toBe(false);
    expect(unknown.message).toMatch(/nosuchname/);
    // Completions: names, the debugger's `exit`, and members after a dot.
    const c1 = (await dc.completionsRequest({ text: 'ex', column: 3, frameId: f.id })).body.targets.map((t) => t.label);
    expect(c1).toEqual(expect.arrayContaining(['exits', 'exit']));
    const c2 = (await dc.completionsRequest({ text: 'exit.o', column: 7 })).body.targets;
    expect(c2.map((t) => t.label)).toEqual(['outcome']);
    expect(c2[0]!.start).toBe(6);
    expect(c2[0]!.length).toBe(1);
    const c3 = (await dc.completionsRequest({ text: 'last.', column: 6 })).body.targets.map((t) => t.label);
    expect(c3).toEqual(['exits', 'fault', 'zapped', 'updated']);
  });

  test('guest page tables as a tree, shadow pages with their entries', async () => {
    await launch(dc, { program: DEMAND, stopOnEntry: false });
    const sc = await scopes(dc);
    const tables = sc.find((s) => s.name.startsWith('Guest page tables'))!;
    expect(tables.indexedVariables).toBe(1);
    const l4 = await vars(dc, tables.variablesReference);
    expect(l4.map((v) => v.name)).toEqual(['[0] 0x0']);
    const l3 = await vars(dc, l4[0]!.variablesReference);
    const l2 = await vars(dc, l3[0]!.variablesReference);
    expect(l2.map((v) => v.name)).toEqual(['[2] 0x400000']);
    const l1 = await vars(dc, l2[0]!.variablesReference);
    expect(l1.map((v) => [v.name, v.value])).toEqual([
      ['[0] 0x400000', '0x200067 P W U A D → gfn 0x200'],
      ['[1] 0x401000', '0x201067 P W U A D → gfn 0x201'],
    ]);
    expect(l1[0]!.evaluateName).toBe('gpte(0x400000, 1)');
    expect(l1[0]!.memoryReference).toBe('0x200000');
    const pages = sc.find((s) => s.name.startsWith('Shadow pages'))!;
    expect(pages.name).toBe('Shadow pages (4)');
    const list = await vars(dc, pages.variablesReference);
    expect(list.map((v) => v.name)).toEqual(['#1', '#2', '#3', '#4']);
    expect(list[3]!.value).toBe('gfn 0x10003, level 1, 2 present, write-protected');
    const details = new Map((await vars(dc, list[3]!.variablesReference)).map((v) => [v.name, v]));
    expect(details.get('role')!.value).toBe('level 1, glevels 4');
    expect(details.get('born')!.value).toBe('line 13');
    expect(details.get('parents')!.value).toBe('#3 [2]');
    const entries = await vars(dc, details.get('entries')!.variablesReference);
    expect(entries.map((v) => v.name)).toEqual(['[0]', '[1]']);
    expect(entries[0]!.value).toMatch(/^0x100200067 P W U A D → host frame 0x100200 \(gfn 0x200\)/);
  });

  test('restart reloads the trace and stops on entry again', async () => {
    await launch(dc, { program: DEMAND, stopOnEntry: false });
    const s = await stopAfter(dc, () => dc.restartRequest({ arguments: { program: DEMAND, policy: 'zap' } as never }));
    expect(s.reason).toBe('entry');
    expect(await topLine(dc)).toBe(13);
    expect(await evaluate(dc, 'policy')).toBe('"zap"');
    // terminate ends the session with a terminated event.
    const term = dc.waitForEvent('terminated');
    await dc.terminateRequest({});
    await term;
  });

  test('continue at the end terminates', async () => {
    await launch(dc, { program: DEMAND, stopOnEntry: false });
    const term = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: 1 });
    await term;
  });
});

describe('more traces', () => {
  test('two vCPUs: a thread each, stops name the event\'s vCPU', async () => {
    const { fixture } = await import('./helpers');
    const file = fixture('vcpus.mmutrace');
    const s0 = await launch(dc, { program: file });
    expect(s0.threadId).toBe(1);
    expect((await dc.threadsRequest()).body.threads).toEqual([
      { id: 1, name: 'vCPU 0' },
      { id: 2, name: 'vCPU 1' },
    ]);
    // `vcpu 1` is not an event: next goes to `cr3 b` on vCPU 1.
    const s1 = await next(dc);
    expect(s1.threadId).toBe(2);
    const st = await dc.stackTraceRequest({ threadId: 2 });
    expect(st.body.stackFrames[0]!.name).toBe('cr3 b');
    // The other vCPU shows one label frame.
    const other = await dc.stackTraceRequest({ threadId: 1 });
    expect(other.body.stackFrames[0]!.presentationHint).toBe('label');
    const s2 = await stopAfter(dc, () => dc.nextRequest({ threadId: 2 }));
    expect(s2.threadId).toBe(2);
    const s3 = await stopAfter(dc, () => dc.nextRequest({ threadId: 2 }));
    expect(s3.threadId).toBe(1);
    const v = await scopeVars(dc, 'vCPU 0');
    expect(v.get('cr3')!.value).toBe('0x10000000');
    // vCPU 1 loaded space b's root.
    const f2 = (await dc.stackTraceRequest({ threadId: 2 })).body.stackFrames[0]!;
    const sc2 = (await dc.scopesRequest({ frameId: f2.id })).body.scopes;
    const vc1 = new Map((await vars(dc, sc2.find((x) => x.name === 'vCPU 1')!.variablesReference)).map((x) => [x.name, x.value]));
    expect(vc1.get('cr3')).toBe('0x10004000');
    expect(vc1.get('exits')).toBe('2');
  });

  test('mode pae: PDPTE registers and a 2 MiB page', async () => {
    const { fixture } = await import('./helpers');
    await launch(dc, { program: fixture('modes.mmutrace') });
    await next(dc);
    const gw = await scopeVars(dc, 'Guest walk of 0x40001000');
    expect([...gw.keys()]).toEqual(['L3 [1] PDPTE register', 'L2 [0]', 'result']);
    expect(gw.get('L2 [0]')!.value).toBe('0x8000e7 P W U A D PS → 2 MiB page at gfn 0x800');
    expect(gw.get('result')!.value).toBe('gpa 0x801000 (write by user allowed)');
    const vc = await scopeVars(dc, 'vCPU 0');
    expect(vc.has('pdptes')).toBe(true);
    expect(vc.has('pae_root')).toBe(true);
    await next(dc);
    await next(dc);
    expect(await evaluate(dc, 'gpa(0x40001000)')).toBe('0x801000');
  });
});
