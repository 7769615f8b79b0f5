// The Lackey converter and its guest kernel model, one rule at a time, on
// hand-written Lackey logs. Expected events are worked out from the rules of
// the README ("Recording real programs"): the layout puts page tables at the
// pool 0x1000000 upward (mode 64: proc1's root 0x1000000, the kernel's PDPT,
// PD and PT 0x1001000-0x1003000, the kernel space's root 0x1004000, so the
// first table of an event is 0x1005000), data frames at 0x40000000 upward,
// the zero page at 0x202000. Every converted log is also parsed without a
// diagnostic and replayed under every policy with the audit.

import { describe, expect, it } from 'vitest';
import { Run } from '../engine/helpers';
import { convert, log, replay } from './helpers';

/** Replays under every policy (the 2007 two, and access and tdp of designs.md): no violation, no livelock, no hang. */
function clean(text: string): void {
  for (const policy of ['zap', 'update', 'access', 'tdp']) {
    const r = replay(text, policy);
    expect({ policy, violations: r.violations, livelocks: r.livelocks, hangs: r.hangs }).toEqual({ policy, violations: 0, livelocks: 0, hangs: 0 });
  }
}

/** The first touch of `va` (mode 64, the first in its 512 GiB, so three tables from `t`): the access, tables top-down, the leaf, the retry. */
function firstTouch64(access: string, va: string, t: number, leaf: string): string[] {
  const h = (n: number): string => '0x' + n.toString(16);
  return [
    `${access} ${va}`,
    `pte ${va} L4 = ${h(t)} P W U A`,
    `pte ${va} L3 = ${h(t + 0x1000)} P W U A`,
    `pte ${va} L2 = ${h(t + 0x2000)} P W U A`,
    `pte ${va} = ${leaf}`,
    `${access} ${va}`,
  ];
}

describe('the setup', () => {
  it('maps the kernel half in the first process space and links the kernel space to the same tables', () => {
    const c = convert(log('I  00400000,3'));
    expect(c.setup).toEqual([
      'mode 64',
      'pool 0x1000000',
      'space proc1',
      'map 0xffffffff81000000 = 0x200000 P A',
      'map 0xffffffff81001000 = 0x201000 P W A D NX',
      'space kernel',
      'map 0xffffffff81000000 L4 = 0x1001000 P W U A',
    ]);
    // The kernel space's PML4 entry points at the PDPT that proc1's map built (pool page 2).
    const run = new Run(c.text + 'cr3 kernel\nexec 0xffffffff81000000 kernel\n');
    const recs = run.run().recs;
    expect(recs.at(-1)!.ok).toBe(true);
    expect(recs.at(-1)!.fault).toBe(-1);
  });

  it('writes the exact origin and the model in the header comments', () => {
    const c = convert(log('I  00400000,3'), { origin: ['Recorded by: mmutrace record -- ./a'] });
    expect(c.text.startsWith('# Recorded by: mmutrace record -- ./a\n')).toBe(true);
    expect(c.text).toContain('# The guest kernel model');
  });
});

describe('first touch', () => {
  it('by an instruction fetch: not-present #PF, three tables top-down, a read-only executable frame, the retry', () => {
    const c = convert(log('I  00400000,3'));
    expect(c.events).toEqual(firstTouch64('exec', '0x400000', 0x1005000, '0x40000000 P U A'));
    const recs = new Run(c.text).run().recs;
    // User exec of a page whose PML4 entry is absent: error code U|F = 0x14, not present.
    expect(recs[0]!.fault).toBe(0x14);
    expect(recs.at(-1)!.ok).toBe(true);
    clean(c.text);
  });

  it('by a read: the shared zero page, read-only and NX', () => {
    const c = convert(log(' L 00601000,8'));
    expect(c.events).toEqual(firstTouch64('read', '0x601000', 0x1005000, '0x202000 P U A NX'));
    clean(c.text);
  });

  it('by a write (S) or a modify (M): a fresh frame P W U A D', () => {
    for (const k of ['S', 'M']) {
      const c = convert(log(` ${k} 00601000,8`));
      expect(c.events).toEqual(firstTouch64('write', '0x601000', 0x1005000, '0x40000000 P W U A D'));
      clean(c.text);
    }
  });

  it('data frames come from a bump allocator, one per page first written or executed', () => {
    const c = convert(log(' S 00601000,8', 'I  00602000,1', ' L 00603000,4', ' S 00604000,8'));
    const leaves = c.events.filter((e) => /^pte \S+ = /.test(e));
    expect(leaves).toEqual([
      'pte 0x601000 = 0x40000000 P W U A D',
      'pte 0x602000 = 0x40001000 P U A',
      'pte 0x603000 = 0x202000 P U A NX',
      'pte 0x604000 = 0x40002000 P W U A D',
    ]);
    clean(c.text);
  });
});

describe('tables', () => {
  it('are allocated top-down once: a neighbour page needs the leaf only, another GiB a PD and a PT, another 512 GiB all three', () => {
    const c = convert(log('I  00400000,3', 'I  00401000,3', ' L 40000000,8', ' L 7f0000000000,8'));
    expect(c.events.slice(6)).toEqual([
      'exec 0x401000',
      'pte 0x401000 = 0x40001000 P U A',
      'exec 0x401000',
      'read 0x40000000',
      'pte 0x40000000 L3 = 0x1008000 P W U A',
      'pte 0x40000000 L2 = 0x1009000 P W U A',
      'pte 0x40000000 = 0x202000 P U A NX',
      'read 0x40000000',
      ...firstTouch64('read', '0x7f0000000000', 0x100a000, '0x202000 P U A NX'),
    ]);
    expect(c.stats.tables).toBe(5 + 3 + 2 + 3);
    clean(c.text);
  });
});

describe('protection faults', () => {
  it('a write to a zero-page mapping: #PF P|W|U, copy-on-write into a fresh frame by a rewrite of the present pte, the retry', () => {
    const c = convert(log(' L 00601000,8', ' S 00601008,8'));
    expect(c.events.slice(6)).toEqual(['write 0x601008', 'pte 0x601008 = 0x40000000 P W U A D', 'write 0x601008']);
    const recs = new Run(c.text).run().recs;
    const w = recs.filter((r) => r.op === 'write');
    expect(w[0]!.fault).toBe(0x7);
    expect(w[1]!.ok).toBe(true);
    expect(c.stats.protectionFaults).toBe(1);
    clean(c.text);
  });

  it('a write to a page first executed: copy-on-write as well', () => {
    const c = convert(log('I  00400000,3', ' S 00400100,8'));
    expect(c.events.slice(6)).toEqual(['write 0x400100', 'pte 0x400100 = 0x40001000 P W U A D', 'write 0x400100']);
    clean(c.text);
  });

  it('an exec of a zero-page mapping (NX): #PF, a fresh read-only executable frame; in mode 32 (no NX) no fault', () => {
    const c = convert(log(' L 00400000,8', 'I  00400010,2'));
    expect(c.events.slice(6)).toEqual(['exec 0x400010', 'pte 0x400010 = 0x40000000 P U A', 'exec 0x400010']);
    expect(new Run(c.text).run().recs.filter((r) => r.op === 'exec')[0]!.fault).toBe(0x15);
    clean(c.text);
    const c32 = convert(log(' L 00400000,8', 'I  00400010,2'), { mode: '32' });
    expect(c32.events.slice(4)).toEqual(['exec 0x400010']);
    clean(c32.text);
  });

  it('a later read or exec of a written page, and a later write, cost nothing more', () => {
    const c = convert(log(' S 00601000,8', ' L 00601000,8', 'I  00601010,2', ' S 00601020,8'));
    expect(c.events.slice(6)).toEqual(['read 0x601000', 'exec 0x601010', 'write 0x601020']);
    clean(c.text);
  });
});

describe('exact compression', () => {
  it('collapses consecutive accesses of the same kind to the same page, and nothing else', () => {
    const c = convert(log('I  00400000,3', 'I  00400004,2', ' L 00601000,8', ' L 00601008,8', 'I  00400008,2', ' L 00601010,8', ' L 00602000,8'));
    expect(c.events.filter((e) => !e.startsWith('pte'))).toEqual([
      'exec 0x400000',
      'exec 0x400000', // the retry
      'read 0x601000',
      'read 0x601000',
      'exec 0x400008', // after a read of another page: not consecutive
      'read 0x601010',
      'read 0x602000',
      'read 0x602000',
    ]);
    expect(c.stats).toMatchObject({ accesses: 7, collapsed: 2, firstEvents: 5 });
    clean(c.text);
  });

  it('an access across a page boundary touches both pages; a write near the end of a page says its size', () => {
    const c = convert(log(' S 00400ffc,8'));
    expect(c.events.filter((e) => !e.startsWith('pte'))).toEqual(['write 0x400ffc size 1', 'write 0x400ffc size 1', 'write 0x401000', 'write 0x401000']);
    clean(c.text);
  });
});

describe('processes', () => {
  const children = log(
    '==100== Lackey, an example Valgrind tool',
    '==100== Command: ./a',
    'I  00400000,3',
    '==101== Lackey, an example Valgrind tool',
    '==101== Command: /bin/b x',
    'I  00400000,3',
    '==101== Exit code: 0',
    'I  00400004,3',
    '==100== Exit code: 0',
  );

  it('a child is a new space (a root from the pool, the kernel entry copied in, cr3), and the parent resumes with cr3', () => {
    const c = convert(children);
    expect(c.events.slice(6)).toEqual([
      // proc1 took 0x1005000-0x1007000: the child's root is 0x1008000; 511 * 8 = 0xff8; the kernel PDPT | P W U A.
      'store 0x1008ff8 = 0x1001027',
      'cr3 0x1008000',
      ...firstTouch64('exec', '0x400000', 0x1009000, '0x40001000 P U A'),
      'cr3 proc1',
      'exec 0x400004', // the same kind and page as proc1's last access, but after two switches: not collapsed
    ]);
    expect(c.text).toContain('# process 2: pid 101, /bin/b x (space 0x1008000)');
    expect(c.stats.processes).toBe(2);
    clean(c.text);
  });

  it('under PAE a new space gets its three user page directories with it (the PDPTEs are read at the CR3 load)', () => {
    const c = convert(children, { mode: 'pae' });
    // pae setup: root 0x1000000, PDs 0x1001000-0x1003000, kernel PD 0x1004000 and PT 0x1005000, kernel root 0x1006000.
    expect(c.setup).toContain('map 0xc1000000 L3 = 0x1004000 P');
    // proc1's first touch: a PT 0x1007000; the child's root 0x1008000 and its PDs 0x1009000-0x100b000.
    expect(c.events.slice(4, 10)).toEqual([
      'store 0x1008000 = 0x1009001',
      'store 0x1008008 = 0x100a001',
      'store 0x1008010 = 0x100b001',
      'store 0x1008018 = 0x1004001',
      'cr3 0x1008000',
      'exec 0x400000',
    ]);
    clean(c.text);
  });

  it('mode 32: the child copies the kernel directory entry (index 0x304, 4-byte entries)', () => {
    const c = convert(children, { mode: '32' });
    expect(c.events).toContain('store 0x1004c10 = 0x1001027');
    clean(c.text);
  });

  it('a process that makes no access gets no space', () => {
    const c = convert(log('==100== Command: ./a', 'I  00400000,3', '==101== Command: /bin/false', '==101== Exit code: 1', 'I  00400004,3'));
    expect(c.stats.processes).toBe(1);
    expect(c.events.filter((e) => e.startsWith('cr3') || e.startsWith('store'))).toEqual([]);
  });
});

describe('timer ticks (--quantum)', () => {
  it('once N access events are written: cr3 kernel, a kernel exec, cr3 back', () => {
    const c = convert(log('I  00400000,3', 'I  00400004,3', ' L 00400000,8', ' L 00400008,8'), { quantum: 3 });
    expect(c.events.filter((e) => !e.startsWith('pte'))).toEqual([
      'exec 0x400000',
      'exec 0x400000',
      'read 0x400000', // the third event: a tick follows
      'cr3 kernel',
      'exec 0xffffffff81000000 kernel',
      'cr3 proc1',
      'read 0x400008', // after the tick: not collapsed
    ]);
    expect(c.stats.ticks).toBe(1);
    clean(c.text);
  });
});

describe('bad input', () => {
  it.each([
    ['I  0040zz00,3', 1, 8, 'expected `,`'],
    [' X 00400000,3', 1, 1, 'not a Lackey line'],
    ['I  00400000,', 1, 13, 'expected the access size'],
    ['I  00400000,3 junk', 1, 14, 'after the access size'],
    ['hello world', 1, 1, 'not a Lackey line'],
    ['==x== foo', 1, 1, 'a Valgrind line'],
    [' L 800000000000,8', 1, 4, 'not a user address of mode 64'],
    [' L ffffffffff600000,8', 1, 4, 'not a user address of any mode'],
  ])('%j is an error at its line and column', (line, ln, col, msg) => {
    let err: { line: number; col: number; message: string } | undefined;
    try {
      convert(log('I  00400000,3', line), {}, 5);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err).toBeDefined();
    expect({ line: err!.line, col: err!.col }).toEqual({ line: ln + 1, col });
    expect(err!.message).toContain(msg);
  });

  it('mode 32 refuses an address above its 3 GiB user half, saying what to do', () => {
    expect(() => convert(log(' L 1fff000778,8'), { mode: '32' })).toThrow(/not a user address of mode 32.*32-bit program/);
  });

  it('a log cut in the middle of a line converts what came before and says so; a whole last line without \\n is read', () => {
    const cut = convert('I  00400000,3\n L 0060');
    expect(cut.stats.truncated).toBe(true);
    expect(cut.events.at(-1)).toBe('exec 0x400000');
    expect(cut.text).toContain('truncated');
    clean(cut.text);
    const whole = convert('I  00400000,3\n L 00601000,8');
    expect(whole.stats.truncated).toBe(false);
    expect(whole.events.at(-1)).toBe('read 0x601000');
  });

  it('--max-events stops after the access that reaches N events (a fault is never cut in half) and says so', () => {
    const c = convert(log('I  00400000,3', ' L 00601000,8', ' S 00602000,8'), { maxEvents: 3 });
    expect(c.stats.stopped).toBe(true);
    expect(c.events.filter((e) => !e.startsWith('pte'))).toEqual(['exec 0x400000', 'exec 0x400000', 'read 0x601000', 'read 0x601000']);
    expect(c.text).toContain('Stopped at 3 access events');
    clean(c.text);
  });
});
