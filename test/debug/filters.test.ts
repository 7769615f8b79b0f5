// The exception filters (debugger.md): each one, with conditions, forwards
// and backwards, and exceptionInfo in a KVM reader's words. The fixtures
// explain what each line does.
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { cont, fixture, launch, lineOf, reverse, startClient, topLine, writeTemp, type Client } from './helpers';

const FILTERS = fixture('filters.mmutrace');
const L = (text: string) => lineOf(FILTERS, text);

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

/** Launches with the given filters (and no others) and collects the lines of every stop until the end. */
async function stops(file: string, filters: string[], filterOptions: { filterId: string; condition: string }[] = []): Promise<{ line: number; reason: string; description: string }[]> {
  const out: { line: number; reason: string; description: string }[] = [];
  let s = await launch(dc, { program: file, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters, filterOptions }));
  for (let i = 0; i < 50 && s.reason !== 'end'; i++) {
    out.push({ line: await topLine(dc), reason: s.reason, description: s.description ?? '' });
    s = await cont(dc);
  }
  return out;
}

async function info(): Promise<{ exceptionId: string; description?: string; details?: { message?: string } }> {
  return (await dc.exceptionInfoRequest({ threadId: 1 })).body;
}

describe('exception filters', () => {
  test('vmexit: every exit; the stop is on the line that exited', async () => {
    const got = await stops(FILTERS, ['vmexit']);
    expect(got.map((g) => g.line)).toEqual([
      L('read 0x401000'),
      L('read 0x600000'),
      L('pte 0x400000'),
      L('pte 0x402000'),
      L('pte 0x403000'),
      L('cr3 b'),
      L('read 0x400000'),
    ]);
    expect(got.every((g) => g.reason === 'exception')).toBe(true);
    expect(got[0]!.description).toBe('VM exit: page fault (fill)');
  });

  test('vmexit with a condition on exit.reason and on exit.outcome', async () => {
    const first = await launch(dc, { program: FILTERS, stopOnEntry: false }, (c) =>
      c.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'exit.reason == "cr3"' }] }),
    );
    expect(first.reason).toBe('exception');
    expect(await topLine(dc)).toBe(L('cr3 b'));
    const i = await info();
    expect(i.exceptionId).toBe('vmexit');
    expect(i.details!.message).toMatch(/loaded CR3 \(0x10005000\): VM exit, new_cr3 released the vCPU's shadow roots/);
    expect((await cont(dc)).reason).toBe('end');
    await dc.stop();
    dc = await startClient();
    const got = await stops(FILTERS, [], [{ filterId: 'vmexit', condition: 'exit.outcome == "emulate"' }]);
    expect(got.map((g) => g.line)).toEqual([L('pte 0x400000'), L('pte 0x402000'), L('pte 0x403000')]);
  });

  test('a filter condition that does not parse is reported', async () => {
    await dc.initializeRequest();
    const r = await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'exit.reason ==' }, { filterId: 'nope', condition: '1' }] });
    expect(r.body!.breakpoints![0]!.verified).toBe(false);
    expect(r.body!.breakpoints![0]!.message).toMatch(/condition/);
    expect(r.body!.breakpoints![1]!.verified).toBe(false);
  });

  test('pte-write: trapped or not', async () => {
    const got = await stops(FILTERS, ['pte-write']);
    expect(got.map((g) => g.line)).toEqual([L('pte 0x800000'), L('pte 0x400000'), L('pte 0x402000'), L('pte 0x403000')]);
    expect(got[0]!.description).toBe('Guest page-table write (not trapped)');
    expect(got[1]!.description).toBe('Guest page-table write (trapped)');
  });

  test('pte-write explained: not trapped, then trapped', async () => {
    await launch(dc, { program: FILTERS, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['pte-write'] }));
    let i = await info();
    expect(i.details!.message).toMatch(/not shadowed, so it is not write-protected: the store went straight to guest memory with no VM exit/);
    await cont(dc);
    i = await info();
    expect(i.details!.message).toMatch(/shadowed, hence write-protected: the store trapped \(VM exit, page fault\), kvm emulated it and kvm_mmu_pte_write/);
  });

  test('guest-fault: the injected #PF, explained', async () => {
    const got = await stops(FILTERS, ['guest-fault']);
    expect(got.map((g) => g.line)).toEqual([L('read 0x600000')]);
    await dc.stop();
    dc = await startClient();
    await launch(dc, { program: FILTERS, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['guest-fault'] }));
    const i = await info();
    expect(i.exceptionId).toBe('guest-fault');
    expect(i.description).toBe('#PF 0x4 (not present, read, user) injected into the guest');
    expect(i.details!.message).toMatch(/walked the guest page tables and faulted at L2 \(entry at 0x10002018 = 0x0\).*inject_page_fault delivered #PF with error code 0x4/);
  });

  test('flood: the third write in a row zaps the shadow page', async () => {
    const got = await stops(FILTERS, ['flood']);
    expect(got.map((g) => g.line)).toEqual([L('pte 0x403000')]);
    await dc.stop();
    dc = await startClient();
    await launch(dc, { program: FILTERS, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['flood'] }));
    const i = await info();
    expect(i.details!.message).toMatch(/write number 3 in a row to guest frame 0x10003 .*zapped its shadow page \(#4\) with kvm_mmu_zap_page/);
  });

  test('expect (on by default): a failed expect stops on its line with both sides', async () => {
    const file = fixture('expect-fail.mmutrace');
    const s = await launch(dc, { program: file, stopOnEntry: false });
    expect(s.reason).toBe('exception');
    expect(await topLine(dc)).toBe(lineOf(file, 'expect last.exits == 2'));
    const i = await info();
    expect(i.exceptionId).toBe('expect');
    expect(i.description).toBe('expect failed at line 7: last.exits == 2');
    expect(i.details!.message).toMatch(/left 0x1 \(last.exits\), right 0x2/);
    // Continue: the next expect holds, the trace ends.
    expect((await cont(dc)).reason).toBe('end');
    // Backwards, the failed expect stops again.
    expect((await reverse(dc)).reason).toBe('exception');
    expect(await topLine(dc)).toBe(7);
  });

  test('expect can be switched off', async () => {
    const s = await launch(dc, { program: fixture('expect-fail.mmutrace'), stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: [] }));
    expect(s.reason).toBe('end');
  });

  test('audit (on by default): known flaw 1 under update, clean under zap', async () => {
    const file = fixture('audit.mmutrace');
    const s = await launch(dc, { program: file, stopOnEntry: false });
    expect(s.reason).toBe('exception');
    expect(await topLine(dc)).toBe(lineOf(file, 'pte 0x400000'));
    const i = await info();
    expect(i.exceptionId).toBe('audit');
    expect(i.details!.message).toMatch(/check 3: a shadow pte grants what the guest walk on its path refuses.*grants W that an entry on the guest path withholds/);
    await dc.stop();
    dc = await startClient();
    const z = await launch(dc, { program: file, stopOnEntry: false, policy: 'zap' });
    expect(z.reason).toBe('end');
    await dc.stop();
    dc = await startClient();
    // `audit: false` in the launch configuration: no audit, no stop.
    const off = await launch(dc, { program: file, stopOnEntry: false, audit: false });
    expect(off.reason).toBe('end');
  });

  test('reverseContinue honours the filters backwards', async () => {
    await launch(dc, { program: FILTERS, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: [] }));
    await dc.setExceptionBreakpointsRequest({ filters: ['guest-fault'], filterOptions: [{ filterId: 'vmexit', condition: 'exit.reason == "cr3"' }] });
    let s = await reverse(dc);
    expect(s.reason).toBe('exception');
    expect(await topLine(dc)).toBe(L('cr3 b'));
    s = await reverse(dc);
    expect(await topLine(dc)).toBe(L('read 0x600000'));
    expect((await info()).exceptionId).toBe('guest-fault');
    s = await reverse(dc);
    expect(s.reason).toBe('entry');
    // And forwards again from the start.
    s = await cont(dc);
    expect(await topLine(dc)).toBe(L('read 0x600000'));
  });

  // `line` in an expect is the line of the event it checks (language.md: "the line of the
  // current event"), whatever the debugger last evaluated a condition for, with every filter
  // on or none, and after a step back re-runs the rows. Lines: 1 mode, 2 space, 3 map,
  // 4 read (line 4), 5 expect line == 4, 6 read, 7 expect line == 6.
  test('an expect of `line` holds with any filters, forwards and when re-run', async () => {
    const file = writeTemp('expect-line.mmutrace', ['mode 64', 'space s', 'map 0x400000 = 0x200000 P W U A D', 'read 0x400000', 'expect line == 4', 'read 0x400000', 'expect line == 6', ''].join('\n'));
    for (const filters of [[], ['expect'], ['expect', 'vmexit', 'guest-fault', 'pte-write', 'flood', 'audit']]) {
      const seen = await stops(file, filters);
      // A failed expect would stop with reason exception (the expect filter is on in two of the three runs).
      expect(seen.filter((x) => x.reason === 'exception' && /expect/.test(x.description))).toEqual([]);
      await dc.stop();
      dc = await startClient();
    }
    // Forwards to the end with the expect filter, back to the entry, forwards again: no failure either way.
    let s = await launch(dc, { program: file, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['expect'] }));
    expect(s.reason).toBe('end');
    s = await reverse(dc);
    expect(s.reason).toBe('entry');
    s = await cont(dc);
    expect(s.reason).toBe('end');
  });
});
