// The `livelock` exception filter (debugger.md): a session stops after an
// event where KVM 2007 would have looped forever, names the function that
// loops, shows each retry's exit as handler frames, and steps back over it.
// The example's comments say what each line does (examples/livelock-shared-table.mmutrace:
// line 21 reads through the supervisor-only path, line 23 is the user read that livelocks).
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ROOT, cont, evaluate, frames, launch, startClient, stepBack, stepIn, topLine, writeTemp, type Client } from './helpers';

const SHARED = join(ROOT, 'examples/livelock-shared-table.mmutrace');

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

describe('livelocks and hangs', () => {
  test('on by default: the stop after the livelocking read, explained in exceptionInfo', async () => {
    const s = await launch(dc, { program: SHARED, stopOnEntry: false, policy: 'zap' });
    expect(s.reason).toBe('exception');
    expect(s.description).toMatch(/^Livelock in paging64_page_fault: the guest would retry this read of 0x400000 by user forever/);
    expect(await topLine(dc)).toBe(23);
    const i = (await dc.exceptionInfoRequest({ threadId: 1 })).body;
    expect(i.exceptionId).toBe('livelock');
    // 4 exits, all fills (engine.md, "The retry"), and the function 2007 would loop in.
    expect(i.details!.message).toMatch(/4 VM exits \(page-fault \(fill\), page-fault \(fill\), page-fault \(fill\), page-fault \(fill\)\)/);
    expect(i.details!.message).toMatch(/KVM 2007 would loop forever in paging64_page_fault/);
    // The state after the event: 5 fill exits so far, the read completed as the guest walk says.
    expect(await evaluate(dc, 'exits.fill', false)).toBe('5');
    expect(await evaluate(dc, 'last.exits', false)).toBe('4');
    expect((await cont(dc)).reason).toBe('end');
  });

  test('stepIn shows each retry as a successive page_fault exit; stepBack returns to the state before the access', async () => {
    await launch(dc, { program: SHARED, stopOnEntry: false, policy: 'update' }, (c) =>
      c.setBreakpointsRequest({ source: { path: SHARED }, breakpoints: [{ line: 23 }] }),
    );
    expect(await topLine(dc)).toBe(23);
    expect(await evaluate(dc, 'exits.total', false)).toBe('1');
    // stepIn runs the event with a recorder: the livelock filter stops first, after the event.
    const s = await stepIn(dc);
    expect(s.reason).toBe('exception');
    expect((await frames(dc))[0]!.name).toMatch(/\(done\)$/);
    // stepIn again walks the handler steps of the event: the outermost frames are the exits.
    await stepIn(dc);
    const exits: string[] = [];
    let livelockStep = '';
    for (let k = 0; k < 200; k++) {
      const f = await frames(dc);
      if (f.length === 1) break;
      const top = f[f.length - 2]!.name; // the outermost handler frame, right above the event line
      if (f.length === 2 && / VM exit: /.test(top)) exits.push(top);
      if (/livelock:/.test(f[0]!.name)) livelockStep = f[0]!.name;
      await stepIn(dc);
    }
    expect(exits).toHaveLength(4);
    for (const [n, e] of exits.entries()) {
      expect(e).toMatch(n === 0 ? /^paging64_page_fault: VM exit: page fault on read of 0x400000 by user$/ : new RegExp(`^paging64_page_fault: VM exit: page fault on read of 0x400000 by user \\(retry ${n}: the shadow still refuses it\\)`));
    }
    // After the fourth exit, the livelock itself shows as a step of the function that loops.
    expect(livelockStep).toMatch(/^paging64_page_fault: livelock: the guest would retry this read/);
    // Past the event (the end of the trace): 5 exits. Step back over the whole access.
    expect(await evaluate(dc, 'exits.total', false)).toBe('5');
    let k = 0;
    for (; k < 400; k++) {
      await stepBack(dc);
      if ((await frames(dc)).length === 1 && (await topLine(dc)) === 23 && (await evaluate(dc, 'exits.total', false)) === '1') break;
    }
    expect(k).toBeLessThan(400);
    // Back before the access: the exit of the first read only; the user path is not linked.
    expect(await evaluate(dc, 'exits.fill', false)).toBe('1');
    expect(await evaluate(dc, 'spte(0x400000)', false)).toBe('-1');
  });

  test('a hang: a pool of 2 pages, the reclaim finds only the root in use', async () => {
    const f = writeTemp('hang.mmutrace', 'mode 64\nshadow-pages 2\nspace s\nmap 0x1000 = 0x5000 P W U A D\nread 0x1000\n');
    const s = await launch(dc, { program: f, stopOnEntry: false });
    expect(s.reason).toBe('exception');
    expect(s.description).toMatch(/^Hang in kvm_mmu_free_some_pages: kvm_mmu_free_some_pages would loop forever: only roots in use are left/);
    const i = (await dc.exceptionInfoRequest({ threadId: 1 })).body;
    expect(i.exceptionId).toBe('livelock');
    expect(i.details!.message).toMatch(/Hang: KVM 2007's kvm_mmu_free_some_pages would loop forever in the host/);
  });

  test('off: no stop', async () => {
    const s = await launch(dc, { program: SHARED, stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['expect', 'audit'] }));
    expect(s.reason).toBe('end');
  });
});
