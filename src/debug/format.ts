// Text for the debugger's views: entries (raw value, flags, frame), events,
// error codes. No DAP here.

import {
  HOST_FRAME_OFFSET,
  PT_PAGE_SIZE,
  PT_PRESENT,
  PT_NX_HI,
  SHADOW_FRAME_BASE,
  displayVa,
  entryFrame,
  flagNames,
  spteFlags,
  spteFrame,
  spteNx,
  spteToBigInt,
  type PagingMode,
} from '../engine';
import { EF_HAS_VALUE, EF_KERNEL, EF_USER, OP_NAMES, Op, type Program, type Rows } from '../trace';

export function hx(n: number | bigint): string {
  if (typeof n === 'bigint') return n < 0n ? '-0x' + (-n).toString(16) : '0x' + n.toString(16);
  return n < 0 ? '-0x' + (-n).toString(16) : '0x' + n.toString(16);
}

export function entryValue(mode: PagingMode, lo: number, hi: number): bigint {
  return mode.entrySize === 8 ? (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0) : BigInt(lo >>> 0);
}

function sizeName(bytes: number): string {
  if (bytes >= 2 ** 30) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20) return `${bytes / 2 ** 20} MiB`;
  return `${bytes / 1024} KiB`;
}

/** True when a guest entry at `level` is a leaf (level 1, or a large entry). */
export function isGuestLeaf(mode: PagingMode, level: number, lo: number): boolean {
  return level === 1 || ((lo & PT_PAGE_SIZE) !== 0 && mode.isLargeLevel(level));
}

/** `0x200067 P W U A D → gfn 0x200` (a guest entry at `level`; pdpte: a PAE PDPTE). */
export function guestEntryText(mode: PagingMode, level: number, lo: number, hi: number, pdpte = false): string {
  const raw = hx(entryValue(mode, lo, hi));
  if ((lo & PT_PRESENT) === 0) return `${raw} not present`;
  const flags = flagNames(lo, mode.hasNx && (hi & PT_NX_HI) !== 0);
  const frame = entryFrame(mode, lo, hi);
  let target: string;
  if (pdpte) target = `page directory at gfn ${hx(frame)}`;
  else if (level === 1) target = `gfn ${hx(frame)}`;
  else if (isGuestLeaf(mode, level, lo)) {
    const align = mode.largeFrameAlign(level);
    target = `${sizeName(2 ** mode.levelShift(level))} page at gfn ${hx(frame - (frame % align))}`;
  } else target = `L${level - 1} table at gfn ${hx(frame)}`;
  return `${raw} ${flags.join(' ')} → ${target}`;
}

/** The decoded flags of a guest entry. */
export function guestFlags(mode: PagingMode, lo: number, hi: number): string {
  const f = flagNames(lo, mode.hasNx && (hi & PT_NX_HI) !== 0);
  return f.length ? f.join(' ') : '(none)';
}

/** `0x100200067 P W U A D → host frame 0x100200 (gfn 0x200)` for a shadow entry. */
export function shadowEntryText(spte: number, level: number, childUid?: number): string {
  const raw = hx(spteToBigInt(spte));
  if (spte === 0) return `${raw} not present`;
  const names = shadowFlagNames(spte);
  const hf = spteFrame(spte);
  if (level > 1 && childUid !== undefined) return `${raw} ${names} → shadow page #${childUid}`;
  if (hf >= SHADOW_FRAME_BASE && level > 1) return `${raw} ${names} → shadow page #${hf - SHADOW_FRAME_BASE}`;
  return `${raw} ${names} → host frame ${hx(hf)} (gfn ${hx(hf - HOST_FRAME_OFFSET)})`;
}

export function shadowFlagNames(spte: number): string {
  const f = spteFlags(spte);
  const names = flagNames(f, spteNx(spte));
  return names.length ? names.join(' ') : '(none)';
}

/** The VA of a row (access, pte, invlpg), as the user wrote it. */
export function rowVa(program: Program<Rows>, row: number): bigint {
  return displayVa(program.events.addrOf(row), program.mode);
}

const labelCache = new WeakMap<Program<Rows>, { size: number; byRow: Map<number, string> }>();

/** The label of a row, if it has one. */
export function rowLabel(program: Program<Rows>, row: number): string | undefined {
  let c = labelCache.get(program);
  if (!c || c.size !== program.labels.size) {
    const byRow = new Map<number, string>();
    for (const [name, r] of program.labels) byRow.set(r, name);
    c = { size: program.labels.size, byRow };
    labelCache.set(program, c);
  }
  return c.byRow.get(row);
}

/** The statement of a row in the trace's own words: `read 0x400000 @fault`. */
export function rowText(program: Program<Rows>, row: number): string {
  const t = program.events;
  const op = t.opOf(row);
  const f = t.flagsOf(row);
  const cpl = f & EF_USER ? ' user' : f & EF_KERNEL ? ' kernel' : '';
  let s: string;
  switch (op) {
    case Op.Read:
    case Op.Exec:
      s = `${OP_NAMES[op]} ${hx(rowVa(program, row))}${cpl}`;
      break;
    case Op.Write:
      s = `write ${hx(rowVa(program, row))}${f & EF_HAS_VALUE ? ` = ${hx(t.value(row))}` : ''}${t.sizeOf(row) !== (program.mode === '32' ? 4 : 8) ? ` size ${t.sizeOf(row)}` : ''}${cpl}`;
      break;
    case Op.Pte: {
      const lvl = t.levelOf(row);
      const size = t.sizeOf(row);
      const off = t.offsetOf(row);
      s = `pte ${hx(rowVa(program, row))}${lvl !== 1 ? ` L${lvl}` : ''} = ${hx(t.value(row))}${size !== (program.mode === '32' ? 4 : 8) || off ? ` size ${size}` : ''}${off ? ` offset ${off}` : ''}`;
      break;
    }
    case Op.Store:
      s = `store ${hx(t.addrOf(row))} = ${hx(t.value(row))} size ${t.sizeOf(row)}`;
      break;
    case Op.Cr3: {
      const space = t.argOf(row);
      s = space >= 0 ? `cr3 ${program.spaces[space]?.name ?? space}` : `cr3 ${hx(t.addrOf(row))}`;
      break;
    }
    case Op.Invlpg:
      s = `invlpg ${hx(rowVa(program, row))}`;
      break;
    case Op.Vcpu:
      s = `vcpu ${t.argOf(row)}`;
      break;
    case Op.Cpl:
      s = `cpl ${t.argOf(row) === 0 ? 'user' : 'kernel'}`;
      break;
    default:
      s = `expect ${program.expects[t.argOf(row)]?.source ?? ''}`;
  }
  const label = rowLabel(program, row);
  return label ? `${s} @${label}` : s;
}
