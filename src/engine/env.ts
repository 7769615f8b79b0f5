// The names and functions of the expression language over a machine
// (language.md, "Names every implementation provides"). The debugger adds
// its own names (`exit`) through `extra`.

import { ExprError, type ExprEnv, type Value } from '../expr';
import { PAGE_SIZE, spteToBigInt } from './bits';
import type { Machine } from './machine';
import { shadowIndex } from './paging';
import { TdpMmu } from './tdp';
import { ACC_READ, GuestWalk, WALK_CHECK_PERMS, walkAddr } from './walk';

export class MachineEnv implements ExprEnv {
  /** Extra top-level names (the debugger's `exit`, ...). */
  readonly extra = new Map<string, () => Value>();
  /** What `line` means: by default the line of the last event run; the debugger sets the current stop's. */
  line: (() => number) | null = null;
  private readonly walk = new GuestWalk();

  constructor(private readonly m: Machine) {}

  name(id: string): Value | undefined {
    const m = this.m;
    switch (id) {
      case 'policy':
        return m.policy.name;
      case 'vcpu':
        return BigInt(m.current);
      case 'line':
        return BigInt(this.line ? this.line() : m.lastEventLine);
      case 'cr3':
        return BigInt(m.vcpu.cr3);
      case 'exits': {
        const e = m.mmu.exits;
        return { total: BigInt(e.total), pf: BigInt(e.pf), fill: BigInt(e.fill), inject: BigInt(e.inject), emulate: BigInt(e.emulate), cr3: BigInt(e.cr3), invlpg: BigInt(e.invlpg), npt: BigInt(e.npt) };
      }
      case 'last': {
        const l = m.last;
        return { exits: BigInt(l.exits), fault: BigInt(l.fault), zapped: BigInt(l.zapped), updated: BigInt(l.updated) };
      }
      default: {
        const f = this.extra.get(id);
        return f ? f() : undefined;
      }
    }
  }

  call(fn: string, args: Value[]): Value | undefined {
    switch (fn) {
      case 'gpte':
        return this.gpte(this.va(args[0], fn), this.level(args[1], fn, this.m.mode.levels));
      case 'spte':
        return this.spte(this.va(args[0], fn), this.level(args[1], fn, this.m.mode.shadowLevels) ?? 1);
      case 'gpa':
        return this.gpa(this.va(args[0], fn));
      case 'npte':
        return this.npte(this.address(args[0], fn, this.m.mode.name === '32' ? 2 ** 32 : 2 ** 52), this.level(args[1], fn, 4) ?? 1);
      case 'shadowed':
        return this.m.shadow.isShadowed(Math.floor(this.address(args[0], fn, this.m.mode.name === '32' ? 2 ** 32 : 2 ** 52) / PAGE_SIZE));
      default:
        return undefined;
    }
  }

  private address(v: Value | undefined, fn: string, limit: number): number {
    if (typeof v !== 'bigint') throw new ExprError(`${fn}: the address must be a number`);
    if (v < 0n) throw new ExprError(`${fn}: address ${v} is negative (an address is 0 to 0x${(limit - 1).toString(16)})`);
    if (v >= BigInt(limit)) throw new ExprError(`${fn}: address 0x${v.toString(16)} is out of range (below 0x${limit.toString(16)})`);
    return Number(v);
  }

  /** A VA of the mode; in mode 64 a canonical high address is kept to its low 48 bits. */
  private va(v: Value | undefined, fn: string): number {
    if (typeof v !== 'bigint') throw new ExprError(`${fn}: the address must be a number`);
    if (this.m.mode.name === '64') {
      if (v >= 0xffff800000000000n && v <= 0xffffffffffffffffn) return Number(v & 0xffffffffffffn);
      return this.address(v, fn, 2 ** 47);
    }
    return this.address(v, fn, 2 ** 32);
  }

  private level(v: Value | undefined, fn: string, max: number): number | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'bigint' || v < 1n || v > BigInt(max)) throw new ExprError(`${fn}: level must be 1..${max} in mode ${this.m.mode.name}`);
    return Number(v);
  }

  private entry(level: number): bigint {
    const w = this.walk;
    const lo = w.pteLo[level]!;
    return this.m.mode.entrySize === 8 ? (BigInt(w.pteHi[level]!) << 32n) | BigInt(lo) : BigInt(lo);
  }

  /** gpte(VA[, LEVEL]): the guest entry where the walk ends, or at LEVEL (-1 when the walk ends above it). */
  gpte(va: number, level?: number): bigint {
    const w = this.walk;
    walkAddr(this.m.mem, this.m.mode, this.m.vcpu, va, ACC_READ, false, 0, w);
    if (level === undefined) return this.entry(w.level);
    return level < w.level ? -1n : this.entry(level);
  }

  /** spte(VA[, LEVEL]): the shadow entry at LEVEL on the current vCPU's shadow path (0 when empty, -1 when the path stops above). */
  spte(va: number, level: number): bigint {
    const mmu = this.m.mmu;
    if (mmu instanceof TdpMmu) return -1n; // designs.md: there is no shadow under `tdp`
    const vcpu = this.m.vcpu;
    if (this.m.mode.shadowLevels === 3 && level === 3) {
      const root = vcpu.paeRoot[shadowIndex(va, 3)];
      return root ? BigInt(root.hostFrame) * 4096n | 1n : 0n;
    }
    let page = mmu.shadowTop(vcpu, va);
    if (!page) return -1n;
    for (let l = page.level; l > level; l--) {
      page = page.child(shadowIndex(va, l));
      if (!page) return -1n;
    }
    return spteToBigInt(page.entry(shadowIndex(va, level)));
  }

  /** npte(GPA[, L]): the nested entry at level L on the path of GPA; -1 where no table is there, or no nested table at all. */
  npte(gpa: number, level: number): bigint {
    const mmu = this.m.mmu;
    if (!(mmu instanceof TdpMmu)) return -1n;
    const v = mmu.npte(Math.floor(gpa / PAGE_SIZE), level);
    return v < 0 ? -1n : spteToBigInt(v);
  }

  /** gpa(VA): the guest translation for a read at the current privilege, or -1. */
  gpa(va: number): bigint {
    const w = this.walk;
    const ok = walkAddr(this.m.mem, this.m.mode, this.m.vcpu, va, ACC_READ, this.m.vcpu.user, WALK_CHECK_PERMS, w);
    return ok ? BigInt(w.gpa) : -1n;
  }
}
