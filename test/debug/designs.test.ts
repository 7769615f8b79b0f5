// The debugger under the later designs (designs.md): a session under `tdp`
// (npt exits stop the vmexit filter, the nested walk and nested pages scopes,
// the handler frames tdp_page_fault and __direct_map, the other policies'
// counters) and one under `access` (its shadow pages' roles carry the access).
// The seed's demand fault (examples/demand-fault.mmutrace): line 13 reads the
// neighbour, 15 faults, 17 stores the pte, 19 retries.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DEMAND, ROOT, cont, evaluate, frames, launch, scopeVars, scopes, startClient, stepIn, topLine, vars, type Client } from './helpers';

let dc: Client;
beforeEach(async () => {
  dc = await startClient();
});
afterEach(async () => {
  await dc.stop();
});

describe('tdp', () => {
  test('vmexit stops on npt exits: the first read (5) and the retry (1), explained', async () => {
    const s = await launch(dc, { program: DEMAND, policy: 'tdp', stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['vmexit'] }));
    expect(s.reason).toBe('exception');
    expect(await topLine(dc)).toBe(13);
    // L4, L3, L2, L1 tables and the page: designs.md, "An access".
    expect(s.description).toBe('VM exit: nested page fault (npt, 5 exits)');
    const i = (await dc.exceptionInfoRequest({ threadId: 1 })).body;
    expect(i.details!.message).toMatch(/touched 5 guest-physical frames that the nested page table did not map yet: 5 VM exits \(npt\), each handled by tdp_page_fault and __direct_map/);
    expect(await evaluate(dc, 'exit.reason', false)).toBe('"npt"');
    expect(await evaluate(dc, 'exit.outcome', false)).toBe('"map"');
    expect(await evaluate(dc, 'spte(0x401000)', false)).toBe('-1');
    expect(await evaluate(dc, 'npte(0x201000) != -1', false)).toBe('true');
    // The fault (line 15) and the pte store (17) cost no exit: the next stop is the retry.
    const s2 = await cont(dc);
    expect(s2.description).toBe('VM exit: nested page fault (npt, 1 exit)');
    expect(await topLine(dc)).toBe(19);
    const names = (await scopes(dc)).map((x) => x.name);
    expect(names).toContain('Nested walk of 0x400000');
    expect(names.some((n) => /^Nested pages \(\d+\)$/.test(n))).toBe(true);
    expect(names.some((n) => n.startsWith('Shadow walk'))).toBe(false);
    // The nested walk: the four guest tables, then the page, each mapped now.
    const nw = await scopeVars(dc, 'Nested walk');
    expect([...nw.keys()]).toEqual(['gfn 0x10000', 'gfn 0x10001', 'gfn 0x10002', 'gfn 0x10003', 'gfn 0x200']);
    expect(nw.get('gfn 0x200')!.value).toBe('the page: mapped to host frame 0x100200');
    const l = await vars(dc, nw.get('gfn 0x200')!.variablesReference);
    expect(l.map((v) => v.name)).toEqual(['L4', 'L3', 'L2', 'L1']);
    expect(l[3]!.value).toMatch(/^0x100200067 → host frame 0x100200$/);
    // The other three policies' counters beside the session's (6 npt exits in all at the end).
    expect((await cont(dc)).reason).toBe('end');
    const c = await scopeVars(dc, 'Exit counters');
    const total = c.get('total')!.value;
    expect(total.startsWith('6  (')).toBe(true);
    if (!total.includes('computing')) expect(total).toBe('6  (zap: 4, update: 3, access: 3)');
    expect(c.get('npt')!.value.startsWith('6')).toBe(true);
  });

  test('stepIn shows tdp_page_fault, __direct_map and kvm_mmu_get_page', async () => {
    await launch(dc, { program: DEMAND, policy: 'tdp' });
    await stepIn(dc);
    const seen = new Set<string>();
    for (let k = 0; k < 200; k++) {
      const f = await frames(dc);
      if (f.length === 1) break;
      for (const x of f.slice(0, -1)) seen.add(x.name.split(':')[0]!);
      await stepIn(dc);
    }
    expect([...seen]).toEqual(expect.arrayContaining(['tdp_page_fault', '__direct_map', 'kvm_mmu_get_page', 'mmu_set_spte']));
  });
});

describe('access', () => {
  test('shadow pages carry the access of their walk; the flaw-2 write faults as it should', async () => {
    const FLAW2 = join(ROOT, 'examples/flaw2-shared-role.mmutrace');
    const s = await launch(dc, { program: FLAW2, policy: 'access', stopOnEntry: false }, (c) => c.setExceptionBreakpointsRequest({ filters: ['guest-fault', 'audit'] }));
    // No audit violation (2008 has no flaw 2): the stop is the write through the read-only alias.
    expect(s.description).toBe('#PF 0x7 (protection, write, user) injected into the guest');
    expect(await topLine(dc)).toBe(22);
    const pages = await scopeVars(dc, 'Shadow pages');
    const roles = [...pages.values()].map((v) => v.value);
    // The page table 0x10003 is shadowed twice: through the writable entry and the read-only one.
    expect(roles.filter((v) => /^gfn 0x10003, level 1, access W U X,/.test(v))).toHaveLength(1);
    expect(roles.filter((v) => /^gfn 0x10003, level 1, access U X,/.test(v))).toHaveLength(1);
    const c = await scopeVars(dc, 'Exit counters');
    expect(c.get('policy')!.value).toBe('access');
  });
});
