// A synthetic, kbuild-like trace with a fixed seed: hundreds of processes
// (address spaces) that are switched between, demand-fault their pages in,
// copy-on-write after forks (whose write-protect runs flood page tables), and
// mostly touch pages that are already mapped.

import type { Mode } from '../src/trace/ast';

/** mulberry32: a small, fast, seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenOptions {
  mode: Mode;
  events: number;
  spaces: number;
  seed: number;
}

interface Proc {
  name: string;
  /** Base VA of each region and its pages' state: 0 not present, 1 read-only (CoW), 2 writable. */
  regions: { base: number; pages: Uint8Array; frame: number }[];
}

const PAGES_PER_REGION = 64;
const REGIONS = 4;

/** Returns the trace text. Exact content depends only on the options. */
export function generateTrace(o: GenOptions): string {
  const rnd = prng(o.seed);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const out: string[] = [];
  out.push(`# generated: ${o.events} events, ${o.spaces} address spaces, mode ${o.mode}, seed ${o.seed}`);
  out.push(`mode ${o.mode}`);
  out.push('cpl user');
  // Region bases: code, data, heap, stack, each 64 pages in its own page table.
  const bases = o.mode === '64' ? [0x400000, 0x10000000, 0x20000000, 0x7ff00000] : [0x400000, 0x8000000, 0x10000000, 0x7f000000];
  const procs: Proc[] = [];
  let nextFrame = 0x40000; // guest frames for data pages, above the pool's tables
  for (let s = 0; s < o.spaces; s++) {
    const p: Proc = { name: `p${s}`, regions: [] };
    out.push(`space ${p.name}`);
    for (let r = 0; r < REGIONS; r++) {
      const pages = new Uint8Array(PAGES_PER_REGION);
      const frame = nextFrame;
      nextFrame += PAGES_PER_REGION;
      const base = bases[r]!;
      // Code and data start present (read-only code, writable data); heap and stack are demand-faulted.
      if (r === 0) {
        out.push(`map 0x${base.toString(16)}..0x${(base + 16 * 4096).toString(16)} = 0x${(frame * 4096).toString(16)} P U A`);
        pages.fill(1, 0, 16);
      } else if (r === 1) {
        out.push(`map 0x${base.toString(16)}..0x${(base + 16 * 4096).toString(16)} = 0x${(frame * 4096).toString(16)} P W U A D`);
        pages.fill(2, 0, 16);
      } else {
        out.push(`map 0x${base.toString(16)} = 0`); // the page table exists; its entries are not present
      }
      p.regions.push({ base, pages, frame });
    }
    procs.push(p);
  }
  out.push('');
  let n = 0;
  let cur = 0;
  const emit = (line: string): void => {
    out.push(line);
    n++;
  };
  const va = (r: { base: number }, i: number): string => '0x' + (r.base + i * 4096).toString(16);
  const pte = (r: { frame: number }, i: number, flags: string): string => `0x${((r.frame + i) * 4096).toString(16)} ${flags}`;
  while (n < o.events) {
    // A time slice of the current process.
    const p = procs[cur]!;
    const slice = 200 + pick(800);
    for (let k = 0; k < slice && n < o.events; k++) {
      const x = rnd();
      const r = p.regions[pick(REGIONS)]!;
      // Most accesses go to a few hot pages of each region (the first 8); the rest anywhere in it.
      const i = rnd() < 0.85 ? pick(8) : pick(PAGES_PER_REGION);
      const state = r.pages[i]!;
      if (state === 0) {
        // Demand fault: the access faults into the guest, the handler fills the pte, the access is retried.
        const write = r !== p.regions[0] && rnd() < 0.5;
        emit(`${write ? 'write' : 'read'} ${va(r, i)}`);
        emit(`pte ${va(r, i)} = ${pte(r, i, r === p.regions[0] ? 'P U A' : 'P W U A D')}`);
        emit(`${write ? 'write' : 'read'} ${va(r, i)}`);
        r.pages[i] = r === p.regions[0] ? 1 : 2;
      } else if (x < 0.002 && r !== p.regions[0]) {
        // A fork: the parent write-protects its private pages (a run of pte stores to one page table).
        let run = 0;
        for (let j = 0; j < PAGES_PER_REGION && run < 12; j++) {
          if (r.pages[j] === 2) {
            emit(`pte ${va(r, j)} = ${pte(r, j, 'P U A D')}`);
            r.pages[j] = 1;
            run++;
          }
        }
      } else if (state === 1 && r !== p.regions[0] && x < 0.05) {
        // Copy-on-write: the write faults into the guest, which maps a copy writable.
        emit(`write ${va(r, i)}`);
        emit(`pte ${va(r, i)} = ${pte(r, i, 'P W U A D')}`);
        emit(`write ${va(r, i)}`);
        r.pages[i] = 2;
      } else if (r === p.regions[0]) {
        emit(`exec ${va(r, i)}`);
      } else if (state === 2 && x < 0.4) {
        emit(`write ${va(r, i)}`);
      } else {
        emit(`read ${va(r, i)}`);
      }
    }
    // Context switch: mostly between a working set of recent processes, now and then a new one.
    cur = rnd() < 0.8 ? (cur + 1 + pick(8)) % Math.min(o.spaces, 16 + Math.floor((n / o.events) * o.spaces)) : pick(o.spaces);
    if (n < o.events) emit(`cr3 ${procs[cur]!.name}`);
  }
  out.push('');
  return out.join('\n');
}
