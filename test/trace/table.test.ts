// The EventTable's compact columns: every field read back as pushed, for
// rows on far-apart lines, rows with and without values across the 32-row
// words of the value rank, and the argument folded into the address.
import { describe, expect, test } from 'vitest';
import { EF_HAS_VALUE, EF_KERNEL, EF_USER, EventTable, Op, type EventRow, type OpCode } from '../../src/trace';
import { prng } from '../../bench/gen';

interface Pushed {
  op: OpCode;
  line: number;
  addr: number;
  arg: number;
  value: bigint;
  size: number;
  level: number;
  offset: number;
  flags: number;
}

function randomRows(n: number, seed: number): Pushed[] {
  const rnd = prng(seed);
  const pick = (k: number): number => Math.floor(rnd() * k);
  const out: Pushed[] = [];
  let line = 1 + pick(3);
  for (let i = 0; i < n; i++) {
    const x = rnd();
    line += x < 0.8 ? 1 : x < 0.95 ? 2 + pick(10) : x < 0.99 ? 200 + pick(400) : 70000 + pick(9);
    const op = pick(10) as OpCode;
    const r: Pushed = { op, line, addr: 0, arg: 0, value: 0n, size: 0, level: 0, offset: 0, flags: 0 };
    const value = (): bigint => (rnd() < 0.3 ? 0n : (BigInt(pick(2 ** 32)) << 32n) | BigInt(pick(2 ** 32)));
    if (op <= Op.Exec) {
      r.addr = pick(2 ** 48);
      r.size = op === Op.Write ? [1, 2, 4, 8][pick(4)]! : 1;
      r.flags = [0, EF_USER, EF_KERNEL][pick(3)]!;
      if (op === Op.Write && rnd() < 0.5) {
        r.flags |= EF_HAS_VALUE;
        r.value = value();
      }
    } else if (op === Op.Pte) {
      r.addr = pick(2 ** 48);
      r.level = 1 + pick(4);
      r.size = [4, 8][pick(2)]!;
      r.offset = pick(8 - r.size + 1);
      r.flags = EF_HAS_VALUE;
      r.value = value();
    } else if (op === Op.Store) {
      r.addr = pick(2 ** 52);
      r.size = 8;
      r.flags = EF_HAS_VALUE;
      r.value = value();
    } else if (op === Op.Cr3) {
      if (rnd() < 0.5) r.arg = pick(1000);
      else {
        r.arg = -1;
        r.addr = pick(2 ** 40) * 4096;
      }
    } else if (op === Op.Invlpg) r.addr = pick(2 ** 48);
    else r.arg = pick(op === Op.Cpl ? 2 : 5000);
    out.push(r);
  }
  return out;
}

const asRow = (r: Pushed): EventRow => ({
  op: r.op,
  line: r.line,
  addr: r.addr,
  arg: r.arg,
  value: r.value,
  hasValue: (r.flags & EF_HAS_VALUE) !== 0,
  size: r.size,
  level: r.level,
  offset: r.offset,
  cpl: r.flags & EF_USER ? 'user' : r.flags & EF_KERNEL ? 'kernel' : undefined,
});

describe('EventTable', () => {
  for (const [n, cap] of [
    [1, 1],
    [70, 64],
    [5000, 64],
    [5000, 8192],
  ] as const) {
    test(`${n} random rows (initial capacity ${cap}) read back as pushed, before and after trim`, () => {
      const rows = randomRows(n, n + cap);
      const t = new EventTable(cap);
      rows.forEach((r, i) => expect(t.push(r.op, r.line, r.addr, r.arg, r.value, r.size, r.level, r.offset, r.flags)).toBe(i));
      const check = (): void => {
        expect(t.count).toBe(n);
        const got = [];
        const want = [];
        for (let i = 0; i < n; i++) {
          const r = rows[i]!;
          got.push([t.row(i), t.lineOf(i), t.loOf(i), t.hiOf(i), t.flagsOf(i), r.op <= Op.Invlpg && !(r.op === Op.Cr3 && r.arg >= 0) ? t.eventAddr(i) : r.addr]);
          want.push([asRow(r), r.line, Number(r.value & 0xffffffffn), Number(r.value >> 32n), r.flags, r.addr]);
        }
        expect(got).toEqual(want);
      };
      check();
      t.trim();
      check();
    });
  }

  test('pushLoHi stores the halves; a zero value takes no slot', () => {
    const t = new EventTable(4);
    t.pushLoHi(Op.Store, 3, 0x1000, 0, 0xdeadbeef, 0x12345678, 8, 0, 0, EF_HAS_VALUE);
    t.pushLoHi(Op.Pte, 4, 0x2000, 0, 0, 0, 8, 1, 0, EF_HAS_VALUE);
    t.pushLoHi(Op.Write, 5, 0x3000, 0, 0xffffffff, 0xffffffff, 8, 0, 0, EF_HAS_VALUE);
    t.trim();
    expect(t.value(0)).toBe(0x12345678deadbeefn);
    expect(t.value(1)).toBe(0n);
    expect(t.value(2)).toBe(0xffffffffffffffffn);
    expect(t.byteLength).toBeLessThan(3 * 29);
  });

  test('a consecutive-line trace takes under 14 bytes a row', () => {
    const t = new EventTable(64);
    for (let i = 0; i < 100_000; i++) t.push(i % 10 === 0 ? Op.Pte : Op.Read, 10 + i, 0x400000 + (i % 64) * 4096, 0, i % 10 === 0 ? 0x1007n : 0n, i % 10 === 0 ? 8 : 1, i % 10 === 0 ? 1 : 0, 0, i % 10 === 0 ? EF_HAS_VALUE : 0);
    t.trim();
    expect(t.byteLength / t.count).toBeLessThan(14);
  });
});
