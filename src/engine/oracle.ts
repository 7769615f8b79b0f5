// The oracle: a pure guest walker, the reference for what the guest may see.
// It runs the walk of engine.md on every access, with no shadow at all, and
// keeps its own guest memory. Tests compare it with the engine event by event.

import { EF_HAS_VALUE, EF_KERNEL, EF_USER, Op, type Program } from '../trace/ast';
import { GuestMemory } from './memory';
import { MODES, type PagingMode } from './paging';
import { buildGuestImage, pteEntryAddress } from './setup';
import { ACC_EXEC, ACC_READ, ACC_WRITE, GuestWalk, WALK_CHECK_PERMS, WALK_SET_BITS, walkAddr, type WalkRoot } from './walk';

interface OracleVcpu extends WalkRoot {
  user: boolean;
}

/** What one row did in the reference: an access's outcome, or an error. */
export interface OracleOutcome {
  ok: boolean;
  fault: number;
  error?: string;
}

export class Oracle {
  readonly mode: PagingMode;
  readonly mem: GuestMemory;
  private readonly vcpus: OracleVcpu[] = [];
  private readonly spaceRoots: number[];
  private current = 0;
  pos = 0;
  private readonly walk = new GuestWalk();

  constructor(readonly program: Program) {
    this.mode = MODES[program.mode];
    const image = buildGuestImage(program);
    this.mem = image.memory;
    this.spaceRoots = image.spaceRoots;
    for (let i = 0; i < program.vcpus; i++) {
      const v: OracleVcpu = { cr3: 0, user: program.cpl === 'user', pdpteLo: new Uint32Array(4), pdpteHi: new Uint32Array(4) };
      this.loadCr3(v, this.spaceRoots[0] ?? 0);
      this.vcpus.push(v);
    }
  }

  private loadCr3(v: OracleVcpu, cr3: number): void {
    v.cr3 = cr3;
    if (this.mode.name === 'pae') {
      for (let i = 0; i < 4; i++) {
        v.pdpteLo[i] = this.mem.read32(cr3 + 8 * i);
        v.pdpteHi[i] = this.mem.read32(cr3 + 8 * i + 4);
      }
    }
  }

  /** Runs one row; returns the outcome of an access (ok for everything else), or null at the end. */
  step(): OracleOutcome | null {
    const t = this.program.events;
    const i = this.pos;
    if (i >= t.count) return null;
    this.pos++;
    const v = this.vcpus[this.current]!;
    const op = t.op[i]!;
    switch (op) {
      case Op.Read:
      case Op.Write:
      case Op.Exec: {
        const f = t.flagsOf(i);
        const user = f & EF_USER ? true : f & EF_KERNEL ? false : v.user;
        const kind = op === Op.Read ? ACC_READ : op === Op.Write ? ACC_WRITE : ACC_EXEC;
        const w = this.walk;
        if (!walkAddr(this.mem, this.mode, v, t.addrOf(i), kind, user, WALK_SET_BITS | WALK_CHECK_PERMS, w)) return { ok: false, fault: w.errorCode };
        if (kind === ACC_WRITE && f & EF_HAS_VALUE) this.mem.writeLoHi(w.gpa, t.loOf(i), t.hiOf(i), t.sizeOf(i));
        return { ok: true, fault: -1 };
      }
      case Op.Pte: {
        const at = pteEntryAddress(this.mem, this.mode, v.cr3, t.addrOf(i), t.levelOf(i));
        if (typeof at === 'string') return { ok: false, fault: -1, error: at };
        const off = t.offsetOf(i);
        const val = t.value(i) >> BigInt(8 * off);
        this.mem.writeLoHi(at + off, Number(val & 0xffffffffn), Number((val >> 32n) & 0xffffffffn), t.sizeOf(i));
        return { ok: true, fault: -1 };
      }
      case Op.Store:
        this.mem.writeLoHi(t.addrOf(i), t.loOf(i), t.hiOf(i), t.sizeOf(i));
        return { ok: true, fault: -1 };
      case Op.Cr3: {
        const space = t.argOf(i);
        this.loadCr3(v, space >= 0 ? this.spaceRoots[space]! : t.addrOf(i));
        return { ok: true, fault: -1 };
      }
      case Op.Vcpu:
        this.current = t.argOf(i);
        return { ok: true, fault: -1 };
      case Op.Cpl:
        v.user = t.argOf(i) === 0;
        return { ok: true, fault: -1 };
      default:
        return { ok: true, fault: -1 };
    }
  }
}

