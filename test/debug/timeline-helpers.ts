// Random traces and a fingerprint of a machine's whole state, for the
// timeline's tests (timeline.test.ts, checkpoint-budget.test.ts).
import { Machine, PAGE_SIZE } from '../../src/engine';
import type { Mode } from '../../src/trace';
import { prng } from './gen';

export function randomTrace(mode: Mode, seed: number, events: number): string {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const hex = (n: number): string => '0x' + n.toString(16);
  const flags = (): string => ['P', ...['W', 'U', 'A', 'D'].filter(() => rnd() < 0.75)].join(' ');
  const esize = mode === '32' ? 4 : 8;
  const out = [`mode ${mode}`, 'vcpus 2', 'shadow-pages 24', 'cpl user'];
  const base = 0x400000;
  for (const sp of ['a', 'b']) {
    out.push(`space ${sp}`);
    out.push(`map ${hex(base)}..${hex(base + 48 * PAGE_SIZE)} = ${hex(sp === 'a' ? 0x200000 : 0x300000)} ${flags()}`);
    out.push(`map ${hex(0x800000)}..${hex(0x800000 + 8 * PAGE_SIZE)} = 0x500000 P W U A D`);
    out.push(`map 0x40000000 L2 = 0x1000000 P W U A ${rnd() < 0.5 ? 'D ' : ''}PS`);
  }
  const va = (): number => pick([base + Math.floor(rnd() * 56) * PAGE_SIZE, 0x800000 + Math.floor(rnd() * 8) * PAGE_SIZE, 0x40000000 + Math.floor(rnd() * 64) * PAGE_SIZE, 0x10000000]);
  for (let i = 0; i < events; i++) {
    const r = rnd();
    const v = va();
    const cpl = pick(['', '', ' user', ' kernel']);
    if (r < 0.3) out.push(`read ${hex(v)}${cpl}`);
    else if (r < 0.5) out.push(`write ${hex(v)}${rnd() < 0.5 ? ` = ${Math.floor(rnd() * 1000)}` : ''}${cpl}`);
    else if (r < 0.55) out.push(`exec ${hex(v)}${cpl}`);
    else if (r < 0.75) out.push(`pte ${hex(base + Math.floor(rnd() * 48) * PAGE_SIZE)} = ${hex(0x200000 + Math.floor(rnd() * 64) * PAGE_SIZE)} ${flags()}`);
    else if (r < 0.8) {
      const size = pick([esize, esize, 2]);
      const value = size === 2 ? Math.floor(rnd() * 0x10000) : Math.floor(rnd() * 0x1000) * PAGE_SIZE + 0x67;
      out.push(`store ${hex(0x10000000 + Math.floor(rnd() * 8) * PAGE_SIZE + Math.floor((rnd() * 512) / (esize / 4)) * esize)} = ${hex(value)} size ${size}`);
    }
    else if (r < 0.86) out.push(`cr3 ${pick(['a', 'b'])}`);
    else if (r < 0.9) out.push(`vcpu ${pick([0, 1])}`);
    else if (r < 0.93) out.push(`invlpg ${hex(v)}`);
    else if (r < 0.96) out.push(`cpl ${pick(['user', 'kernel'])}`);
    else out.push(`expect exits.total >= 0`);
  }
  return out.join('\n') + '\n';
}

export function fingerprint(m: Machine): string {
  const sh = m.shadow;
  const pages = sh.pages().map((p) => {
    let h = 0;
    for (let i = 0; i < 512; i++) {
      const v = p.entry(i);
      if (v !== 0) h = (h * 31 + i * 7919 + (v % 1000003)) % 2147483647;
    }
    return `${p.uid}/${p.gfn}/${p.word}/${p.rootCount}/${h}/${p.parents.map((l) => `${l.page.uid}.${l.index}`).join(',')}`;
  });
  const hashOrder = [...sh.hash.entries()].sort((a, b) => a[0] - b[0]).map(([g, l]) => `${g}:${l.map((p) => p.uid).join('.')}`);
  let mh = 0;
  for (const f of m.mem.frames()) {
    const w = new Uint32Array(m.mem.readRange(f * PAGE_SIZE, PAGE_SIZE).buffer);
    // Content only: a page that was written and then restored to zeros reads the same as no page.
    for (let i = 0; i < 1024; i++) if (w[i] !== 0) mh = (Math.imul(mh, 33) + w[i]! + Math.imul(f, 4099) + i) | 0;
  }
  const vcpus = m.mmu.vcpus.map((v) => `${v.cr3}/${v.user}/${v.root?.uid ?? 0}/${v.paeRoot.map((p) => p?.uid ?? 0).join('.')}/${v.lastPtWriteGfn}/${v.lastPtWriteCount}/${[...v.pdpteLo].join('.')}`);
  return JSON.stringify([m.pos, m.current, m.events, m.mmu.exits, m.mmu.faults, sh.stats, sh.alive, sh.nextUid, m.expectations, m.auditor?.count, m.last, pages, hashOrder, vcpus, mh]);
}


/** The machine's state and the audit's whole state (the fingerprint counts violations only). */
export function fullPrint(m: Machine): string {
  return fingerprint(m) + JSON.stringify([m.auditor?.violations, m.newViolations], (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
