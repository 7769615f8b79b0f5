// Generators of large traces for the debugger's tests and benchmark. A small
// seeded PRNG makes every trace reproducible.

import { prng } from '../../bench/gen';

export { prng };

export interface BigTraceOptions {
  /** Event lines to generate (default 1,000,000). */
  events?: number;
  /** Pages mapped per address space (default 300). */
  pages?: number;
  /** Address spaces (default 4). */
  spaces?: number;
  seed?: number;
}

/**
 * A long mode-64 trace: mostly `read`/`write` over a few hundred pages of a
 * few address spaces, with an occasional guest `pte` store (trapped once its
 * page table is shadowed; it remaps a page to another frame of the same
 * space) and a `cr3` switch between the spaces. Addresses are user-space
 * addresses of a 64-bit Linux process (the mmap area, 0x7f…), values small.
 */
export function bigTrace(opts: BigTraceOptions = {}): string {
  const out: string[] = [];
  for (const batch of bigTraceBatches(opts, Infinity)) out.push(batch);
  return out.join('');
}

/**
 * bigTrace's text in batches of about `batchLines` lines each (the same text,
 * joined): a trace larger than a string can hold is written batch by batch.
 */
export function* bigTraceBatches(opts: BigTraceOptions = {}, batchLines = 100_000): Generator<string> {
  const events = opts.events ?? 1_000_000;
  const pages = opts.pages ?? 300;
  const spaces = opts.spaces ?? 4;
  const rnd = prng(opts.seed ?? 1);
  const base = 0x7f3a_0040_0000;
  let out: string[] = ['# generated: a long trace for the debugger benchmark', 'mode 64', 'cpl kernel'];
  const frame0 = (s: number): number => 0x1000000 + s * 0x1000000;
  for (let s = 0; s < spaces; s++) {
    out.push(`space s${s}`);
    out.push(`map 0x${base.toString(16)}..0x${(base + pages * 4096).toString(16)} = 0x${frame0(s).toString(16)} P W U A D`);
  }
  let space = 0;
  for (let i = 0; i < events; i++) {
    const r = rnd();
    const page = Math.floor(rnd() * pages);
    const va = base + page * 4096 + (Math.floor(rnd() * 512) << 3);
    if (r < 0.6) out.push(`read 0x${va.toString(16)}`);
    else if (r < 0.97) out.push(`write 0x${va.toString(16)} = 0x${(i & 0xffff).toString(16)}`);
    else if (r < 0.995) {
      const frame = frame0(space) + Math.floor(rnd() * pages) * 4096;
      out.push(`pte 0x${(base + page * 4096).toString(16)} = 0x${frame.toString(16)} P W U A${rnd() < 0.5 ? ' D' : ''}`);
    } else {
      space = (space + 1 + Math.floor(rnd() * (spaces - 1))) % spaces;
      out.push(`cr3 s${space}`);
    }
    if (out.length >= batchLines) {
      yield out.join('\n') + '\n';
      out = [];
    }
  }
  out.push('');
  yield out.join('\n');
}

/** Writes bigTrace's text to `path` batch by batch; returns its size in bytes and the line of its last event. */
export function writeBigTrace(path: string, opts: BigTraceOptions = {}): { bytes: number; lastEventLine: number; firstEventLine: number } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as typeof import('node:fs');
  const fd = fs.openSync(path, 'w');
  let bytes = 0;
  try {
    for (const b of bigTraceBatches(opts)) bytes += fs.writeSync(fd, b);
  } finally {
    fs.closeSync(fd);
  }
  const spaces = opts.spaces ?? 4;
  const header = 3 + 2 * spaces;
  const events = opts.events ?? 1_000_000;
  return { bytes, firstEventLine: header + 1, lastEventLine: header + events };
}

/**
 * A trace whose shadow holds about `n` shadow pages: `n` guest page tables
 * (one per 2 MiB region), each touched once, with `shadow-pages` above n so
 * that nothing is reclaimed.
 */
export function manyPagesTrace(n: number): string {
  const out: string[] = ['# generated: thousands of shadow pages', 'mode 64', `shadow-pages ${n + 64}`, 'space big'];
  for (let i = 0; i < n; i++) {
    const va = 0x40000000 + i * 0x200000;
    out.push(`map 0x${va.toString(16)} = 0x${(0x100000 + i * 0x1000).toString(16)} P W U A D`);
  }
  for (let i = 0; i < n; i++) out.push(`read 0x${(0x40000000 + i * 0x200000).toString(16)}`);
  out.push('');
  return out.join('\n');
}
