// The shapes that the parser produces and the engine, the CLI, the debugger
// and the editor consume. Lines and columns are 1-based; an end column is
// exclusive (the column just after the last character).

import { firstIndex } from './search';

export type Mode = '32' | 'pae' | '64';
export type Cpl = 'user' | 'kernel';
export type Severity = 'error' | 'warning';

export interface Range {
  line: number;
  col: number;
  endLine: number;
  endCol: number;
}

/** A text edit that a quick fix applies. */
export interface Fix {
  title: string;
  range: Range;
  newText: string;
}

export interface Diagnostic extends Range {
  severity: Severity;
  message: string;
  /** A short suggestion shown after the message ("did you mean `read`?"). */
  hint?: string;
  /** The edit that carries the hint out, where one exists. */
  fix?: Fix;
}

/** The expression AST of src/expr (kept opaque here so that the trace layer does not depend on it). */
export interface ExprNodeRef {
  readonly kind: string;
}

// ---------------------------------------------------------------------------
// Addresses: a VA is a JS number. In mode 64 it is kept to its low 48 bits
// (a canonical high address 0xffff8000_00000000 is stored as 0x8000_00000000;
// the walk only uses bits 12..47, and display sign-extends it again). A GPA
// is at most 52 bits, exact in a double.
//
// Statements in object form: one per non-empty, non-comment line. The parser
// keeps them only when asked (`keepStatements`), for the editor features; the
// engine reads the compact EventTable below instead.

export interface Label {
  name: string;
  range: Range;
}

interface StmtBase {
  line: number;
  /** The whole statement, without the trailing comment. */
  range: Range;
  /** The keyword's range. */
  keyword: Range;
  label?: Label;
}

export interface ModeStmt extends StmtBase { kind: 'mode'; mode: Mode }
export interface PolicyStmt extends StmtBase { kind: 'policy'; name: string; nameRange: Range }
export interface VcpusStmt extends StmtBase { kind: 'vcpus'; count: number }
export interface CplStmt extends StmtBase { kind: 'cpl'; cpl: Cpl }
export interface PoolStmt extends StmtBase { kind: 'pool'; gpa: number }
export interface ShadowPagesStmt extends StmtBase { kind: 'shadow-pages'; count: number }
export interface SpaceStmt extends StmtBase { kind: 'space'; name: string; nameRange: Range; index: number }
export interface MapStmt extends StmtBase {
  kind: 'map';
  va: number;
  /** Exclusive end of a range `VA..VA_END`, else undefined. */
  vaEnd?: number;
  vaRange: Range;
  level: number;
  pte: bigint;
  pteRange: Range;
  /** Index of the space being built (the last `space` before this line). */
  space: number;
}
export interface PokeStmt extends StmtBase { kind: 'poke'; gpa: number; gpaRange: Range; value: bigint; valueRange: Range; size: number }

export interface AccessStmt extends StmtBase {
  kind: 'read' | 'write' | 'exec';
  va: number;
  vaRange: Range;
  /** `write VA = VALUE`; undefined when the memory keeps its content. */
  value?: bigint;
  valueRange?: Range;
  /** Bytes stored by a write (default: the mode's entry size); 1 for read and exec. */
  size: number;
  cpl?: Cpl;
}
export interface PteStmt extends StmtBase {
  kind: 'pte';
  va: number;
  vaRange: Range;
  level: number;
  value: bigint;
  valueRange: Range;
  size: number;
  offset: number;
}
export interface StoreStmt extends StmtBase { kind: 'store'; gpa: number; gpaRange: Range; value: bigint; valueRange: Range; size: number }
export interface Cr3Stmt extends StmtBase {
  kind: 'cr3';
  /** Index into Program.spaces, or -1 when a GPA is given. */
  space: number;
  gpa: number;
  targetRange: Range;
}
export interface InvlpgStmt extends StmtBase { kind: 'invlpg'; va: number; vaRange: Range }
export interface VcpuStmt extends StmtBase { kind: 'vcpu'; vcpu: number }
export interface ExpectStmt extends StmtBase {
  kind: 'expect';
  /** The expression's source text and where it starts. */
  source: string;
  exprRange: Range;
  expr: ExprNodeRef;
}

export type SetupStmt = ModeStmt | PolicyStmt | VcpusStmt | CplStmt | PoolStmt | ShadowPagesStmt | SpaceStmt | MapStmt | PokeStmt;
export type EventStmt = AccessStmt | PteStmt | StoreStmt | Cr3Stmt | InvlpgStmt | VcpuStmt | ExpectStmt | CplStmt;
export type Stmt = SetupStmt | EventStmt;

// ---------------------------------------------------------------------------
// The compact program: what the engine replays. Events live in typed-array
// columns (about 11 bytes an event on a kbuild-like trace) so that a
// million-line trace fits in less memory than its text.

/** Opcodes of the EventTable. Vcpu, Cpl and Expect are rows but not events. */
export const Op = {
  Read: 0,
  Write: 1,
  Exec: 2,
  Pte: 3,
  Store: 4,
  Cr3: 5,
  Invlpg: 6,
  Vcpu: 7,
  Cpl: 8,
  Expect: 9,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];
export const OP_NAMES = ['read', 'write', 'exec', 'pte', 'store', 'cr3', 'invlpg', 'vcpu', 'cpl', 'expect'] as const;

/** `EventTable.flagsOf` bits. */
export const EF_HAS_VALUE = 1;
export const EF_USER = 2;
export const EF_KERNEL = 4;

/** One event row, decoded (for the debugger and tests; the engine reads the accessors). */
export interface EventRow {
  op: OpCode;
  line: number;
  addr: number;
  arg: number;
  value: bigint;
  hasValue: boolean;
  size: number;
  level: number;
  offset: number;
  cpl?: Cpl;
}

/** Rows per block of the line column (one 32-bit base line a block, one byte a row). */
const LINE_BLOCK_SHIFT = 6;
/** A line offset that does not fit in a byte: the line is in the exception list. */
const LINE_FAR = 255;
/** attr: the row's address or argument is in the far list. */
const ATTR_FAR_ADDR = 1 << 13;

/** The number of bits set in a 32-bit word. */
function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * The events of a program, by row, in columns (about 11 bytes a row on a
 * kbuild-like trace, against 29 for one typed array per field):
 *
 * - `op`: one byte a row.
 * - the line: a 32-bit base line every 64 rows and one byte a row, the
 *   offset from the base (consecutive rows are mostly on consecutive lines);
 *   an offset of 255 or more, or a negative one, is looked up in a short
 *   sorted list of exceptions.
 * - `addr` and `arg` share one value: the VA or GPA for the events that
 *   have an address, the argument for `vcpu`, `cpl` and `expect` (which have
 *   none), and -(space + 1) for a `cr3` to a named space (else its GPA); held
 *   in 48 bits (32 + 16) a row, a value outside 0..2^48-1 (a GPA above 256
 *   TiB, a space) in a short sorted list of exceptions.
 * - size, level, offset and flags packed in 16 bits.
 * - the value's 32-bit halves only for the rows whose value is not zero, in
 *   row order: a bit a row says which rows have one, and a count of the rows
 *   with a value before each 32 rows gives the slot (a rank, in O(1)).
 *
 * Read rows through the accessors (`lineOf`, `addrOf`, `argOf`, `sizeOf`,
 * `levelOf`, `offsetOf`, `flagsOf`, `loOf`, `hiOf`, `value`); only `op` is
 * a column to index directly.
 */
/**
 * Read access to a program's rows by their index in the whole trace: an
 * EventTable (every row in memory), or the debugger's windows over a file
 * (src/debug/rowwindows.ts: the rows around where the machine is, the rest
 * parsed again from the file when they are read). `window(i)` gives the
 * table that holds row i and its first row, for a reader that reads a run of
 * rows (the engine's step): rows `base` to `base + table.count - 1` are
 * `table`'s rows 0 to count - 1.
 */
export interface Rows {
  /** Rows known so far (a file still being parsed has more to come). */
  readonly count: number;
  window(i: number): RowWindow;
  opOf(i: number): OpCode;
  lineOf(i: number): number;
  addrOf(i: number): number;
  argOf(i: number): number;
  eventAddr(i: number): number;
  sizeOf(i: number): number;
  levelOf(i: number): number;
  offsetOf(i: number): number;
  flagsOf(i: number): number;
  loOf(i: number): number;
  hiOf(i: number): number;
  value(i: number): bigint;
  row(i: number): EventRow;
  rowAtOrAfterLine(line: number): number;
  /** Bytes held in memory. */
  readonly byteLength: number;
}

/** A table of consecutive rows: row `base + k` of the trace is the table's row k. */
export interface RowWindow {
  readonly table: EventTable;
  readonly base: number;
}

/** The slot of row `i` in a sorted list of exception rows that holds it. */
function exceptionSlot(rows: readonly number[], i: number): number {
  return firstIndex(rows.length, (k) => rows[k]! < i);
}

export class EventTable implements Rows {
  count = 0;
  op: Uint8Array;
  /** Base line of each block of 64 rows (the line of its first row). */
  private lineBase: Uint32Array;
  /** Per row: its line minus its block's base, or LINE_FAR. */
  private lineOff: Uint8Array;
  /** Rows whose offset is LINE_FAR (ascending) and their lines. */
  private farRows: number[] = [];
  private farLines: number[] = [];
  /** Address, or argument (see above): bits 0..31 and 32..47; others in the far list. */
  private aLo: Uint32Array;
  private aHi: Uint16Array;
  /** Rows whose address or argument is not in 0..2^48-1 (ascending; their attr has ATTR_FAR_ADDR) and those values. */
  private farAddrRows: number[] = [];
  private farAddrs: number[] = [];
  /** size (bits 0-3), level (4-6), offset (7-9), flags (10-12), ATTR_FAR_ADDR. */
  private attr: Uint16Array;
  /** Bit i % 32 of word i >> 5: row i has a non-zero value. */
  private valBits: Uint32Array;
  /** Rows with a value before word w's first row. */
  private valRank: Uint32Array;
  /** Values in row order: low half at 2k, high half at 2k + 1. */
  private vals: Uint32Array;
  private valCount = 0;

  constructor(capacity = 64) {
    const cap = Math.max(capacity, 1);
    this.op = new Uint8Array(cap);
    this.lineOff = new Uint8Array(cap);
    this.lineBase = new Uint32Array((cap >>> LINE_BLOCK_SHIFT) + 1);
    this.aLo = new Uint32Array(cap);
    this.aHi = new Uint16Array(cap);
    this.attr = new Uint16Array(cap);
    this.valBits = new Uint32Array((cap >>> 5) + 1);
    this.valRank = new Uint32Array((cap >>> 5) + 1);
    this.vals = new Uint32Array(Math.max(16, cap >>> 2));
  }

  /** Appends a row and returns its index. `value` is split into 32-bit halves. */
  push(op: OpCode, line: number, addr: number, arg: number, value: bigint, size: number, level: number, offset: number, flags: number): number {
    return this.pushLoHi(op, line, addr, arg, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn), size, level, offset, flags);
  }

  /**
   * Appends a row whose value is given as 32-bit halves. `arg` must be 0 for
   * the rows with an address; `addr` 0 for `vcpu`, `cpl` and `expect`, and for
   * a `cr3` with a space (arg ≥ 0).
   */
  pushLoHi(op: OpCode, line: number, addr: number, arg: number, lo: number, hi: number, size: number, level: number, offset: number, flags: number): number {
    // Kept small so that the parser's loop can inline it: the rare cases are
    // in the methods below.
    const i = this.count;
    if (i === this.op.length) this.grow(i * 2);
    this.count = i + 1;
    this.op[i] = op;
    // The line.
    const b = i >>> LINE_BLOCK_SHIFT;
    if ((i & ((1 << LINE_BLOCK_SHIFT) - 1)) === 0) this.lineBase[b] = line;
    const d = line - this.lineBase[b]!;
    if (d >= 0 && d < LINE_FAR) this.lineOff[i] = d;
    else this.pushFarLine(i, line);
    // The address or the argument.
    const x = op === Op.Vcpu || op === Op.Cpl || op === Op.Expect ? arg : op === Op.Cr3 && arg >= 0 ? -(arg + 1) : addr;
    let attr = size | (level << 4) | (offset << 7) | (flags << 10);
    if (x >= 0 && x < 2 ** 48 && Number.isInteger(x) && !Object.is(x, -0)) {
      const xhi = Math.floor(x / 4294967296);
      this.aLo[i] = x - xhi * 4294967296;
      this.aHi[i] = xhi;
    } else {
      attr |= this.pushFarAddr(i, x);
    }
    this.attr[i] = attr;
    // The value.
    const w = i >>> 5;
    if ((i & 31) === 0) this.valRank[w] = this.valCount;
    if (lo !== 0 || hi !== 0) this.pushValue(i, w, lo, hi);
    return i;
  }

  /** Row i's line is not within a byte of its block's base. */
  private pushFarLine(i: number, line: number): void {
    this.lineOff[i] = LINE_FAR;
    this.farRows.push(i);
    this.farLines.push(line);
  }

  /** Row i's address or argument x is not in 0..2^48-1: the attr bit that says so. */
  private pushFarAddr(i: number, x: number): number {
    this.aLo[i] = 0;
    this.aHi[i] = 0;
    this.farAddrRows.push(i);
    this.farAddrs.push(x);
    return ATTR_FAR_ADDR;
  }

  /** Row i (in bit word w) has a value (taken as unsigned 32-bit halves); one that is zero takes no slot. */
  private pushValue(i: number, w: number, lo: number, hi: number): void {
    lo >>>= 0;
    hi >>>= 0;
    if (lo === 0 && hi === 0) return;
    this.valBits[w]! |= 1 << (i & 31);
    let k = this.valCount++ * 2;
    if (k + 2 > this.vals.length) {
      const v = new Uint32Array(this.vals.length * 2);
      v.set(this.vals);
      this.vals = v;
    }
    this.vals[k++] = lo;
    this.vals[k] = hi;
  }

  /**
   * Empties the table and keeps its columns for the next rows (the streaming
   * parser, src/trace/stream.ts, reuses one table for every batch).
   */
  clear(): void {
    this.valBits.fill(0, 0, ((this.count + 31) >>> 5) + 1);
    this.count = 0;
    this.valCount = 0;
    if (this.farRows.length) this.farRows = [];
    if (this.farLines.length) this.farLines = [];
    if (this.farAddrRows.length) this.farAddrRows = [];
    if (this.farAddrs.length) this.farAddrs = [];
  }

  /**
   * The rows as plain columns, copied (for postMessage with their buffers
   * transferred: the command's parse worker, src/cli/parse-worker.ts).
   */
  toColumns(): EventColumns {
    const n = this.count;
    const blocks = ((n + (1 << LINE_BLOCK_SHIFT) - 1) >>> LINE_BLOCK_SHIFT) + 1;
    const words = ((n + 31) >>> 5) + 1;
    return {
      count: n,
      op: this.op.slice(0, n),
      lineBase: this.lineBase.slice(0, blocks),
      lineOff: this.lineOff.slice(0, n),
      aLo: this.aLo.slice(0, n),
      aHi: this.aHi.slice(0, n),
      attr: this.attr.slice(0, n),
      valBits: this.valBits.slice(0, words),
      valRank: this.valRank.slice(0, words),
      vals: this.vals.slice(0, this.valCount * 2),
      valCount: this.valCount,
      far: [this.farRows.slice(), this.farLines.slice(), this.farAddrRows.slice(), this.farAddrs.slice()],
    };
  }

  /** A table of the rows that toColumns gave (the columns are taken, not copied). */
  static fromColumns(c: EventColumns): EventTable {
    const t = new EventTable(1);
    t.count = c.count;
    t.op = c.op;
    t.lineBase = c.lineBase;
    t.lineOff = c.lineOff;
    t.aLo = c.aLo;
    t.aHi = c.aHi;
    t.attr = c.attr;
    t.valBits = c.valBits;
    t.valRank = c.valRank;
    t.vals = c.vals.length ? c.vals : new Uint32Array(16);
    t.valCount = c.valCount;
    [t.farRows, t.farLines, t.farAddrRows, t.farAddrs] = c.far;
    return t;
  }

  /** Shrinks the columns to `count` rows (call once, when parsing is done). */
  trim(): void {
    if (this.op.length !== this.count) this.grow(this.count);
    if (this.vals.length !== this.valCount * 2) this.vals = this.vals.slice(0, this.valCount * 2);
  }

  /** The whole table is one window (Rows). */
  window(): RowWindow {
    return (this.self ??= { table: this, base: 0 });
  }
  private self: RowWindow | undefined;

  opOf(i: number): OpCode {
    return this.op[i] as OpCode;
  }

  /**
   * Appends rows [from, to) of `src` (the debugger's windows copy the rows of
   * the streaming parser's batches); the `arg` of Op.Expect rows is shifted by
   * `expectShift` (a batch's expects are its own, the program's are the trace's).
   */
  appendRows(src: EventTable, from: number, to: number, expectShift: number): void {
    for (let i = from; i < to; i++) {
      const op = src.op[i] as OpCode;
      const arg = op === Op.Expect ? src.argOf(i) + expectShift : src.argOf(i);
      this.pushLoHi(op, src.lineOf(i), src.addrOf(i), arg, src.loOf(i), src.hiOf(i), src.sizeOf(i), src.levelOf(i), src.offsetOf(i), src.flagsOf(i));
    }
  }

  /** The first row on `line` or after it (`count` when there is none): rows are in line order. */
  rowAtOrAfterLine(line: number): number {
    return firstIndex(this.count, (row) => this.lineOf(row) < line);
  }

  /** The 1-based source line of row i. */
  lineOf(i: number): number {
    const d = this.lineOff[i]!;
    return d !== LINE_FAR ? this.lineBase[i >>> LINE_BLOCK_SHIFT]! + d : this.farLine(i);
  }

  private farLine(i: number): number {
    return this.farLines[exceptionSlot(this.farRows, i)]!;
  }

  /** VA (access, pte, invlpg) or GPA (store, cr3 by address); 0 for the rows that have none. */
  addrOf(i: number): number {
    const op = this.op[i]!;
    if (op <= Op.Invlpg) {
      const a = this.raw(i);
      return a < 0 ? 0 : a;
    }
    return 0;
  }

  /** cr3: space index or -1; vcpu: number; cpl: 0 user / 1 kernel; expect: index into Program.expects; else 0. */
  argOf(i: number): number {
    const op = this.op[i]!;
    if (op === Op.Cr3) {
      const a = this.raw(i);
      return a < 0 ? -a - 1 : -1;
    }
    return op > Op.Invlpg ? this.raw(i) : 0;
  }

  /**
   * The address of a row known to be a read, write, exec, pte, store or
   * invlpg (the replay's hot loop: no test of the op).
   */
  eventAddr(i: number): number {
    return this.raw(i);
  }

  /** The address or argument as stored. */
  private raw(i: number): number {
    return (this.attr[i]! & ATTR_FAR_ADDR) === 0 ? this.aHi[i]! * 4294967296 + this.aLo[i]! : this.farAddr(i);
  }

  private farAddr(i: number): number {
    return this.farAddrs[exceptionSlot(this.farAddrRows, i)]!;
  }

  /** Bytes: 1, 2, 4 or 8 (read and exec: 1; 0 for the rows that have no size). */
  sizeOf(i: number): number {
    return this.attr[i]! & 15;
  }

  /** pte: the level 1..4. */
  levelOf(i: number): number {
    return (this.attr[i]! >>> 4) & 7;
  }

  /** pte: byte offset within the entry. */
  offsetOf(i: number): number {
    return (this.attr[i]! >>> 7) & 7;
  }

  /** EF_HAS_VALUE, EF_USER, EF_KERNEL. */
  flagsOf(i: number): number {
    return (this.attr[i]! >>> 10) & 7;
  }

  /** The slot of row i's value in `vals`, or -1 when its value is zero. */
  private slot(i: number): number {
    const w = i >>> 5;
    const bits = this.valBits[w]!;
    const b = i & 31;
    if (((bits >>> b) & 1) === 0) return -1;
    return this.valRank[w]! + popcount32(bits & ((1 << b) - 1));
  }

  /** The value's low 32 bits (write with EF_HAS_VALUE, pte, store; else 0). */
  loOf(i: number): number {
    const k = this.slot(i);
    return k < 0 ? 0 : this.vals[2 * k]!;
  }

  /** The value's high 32 bits. */
  hiOf(i: number): number {
    const k = this.slot(i);
    return k < 0 ? 0 : this.vals[2 * k + 1]!;
  }

  value(i: number): bigint {
    const k = this.slot(i);
    return k < 0 ? 0n : (BigInt(this.vals[2 * k + 1]!) << 32n) | BigInt(this.vals[2 * k]!);
  }

  /** Bytes held by the columns. */
  get byteLength(): number {
    return (
      this.op.byteLength +
      this.lineBase.byteLength +
      this.lineOff.byteLength +
      this.farRows.length * 16 +
      this.aLo.byteLength +
      this.aHi.byteLength +
      this.farAddrRows.length * 16 +
      this.attr.byteLength +
      this.valBits.byteLength +
      this.valRank.byteLength +
      this.vals.byteLength
    );
  }

  row(i: number): EventRow {
    const f = this.flagsOf(i);
    return {
      op: this.op[i] as OpCode,
      line: this.lineOf(i),
      addr: this.addrOf(i),
      arg: this.argOf(i),
      value: this.value(i),
      hasValue: (f & EF_HAS_VALUE) !== 0,
      size: this.sizeOf(i),
      level: this.levelOf(i),
      offset: this.offsetOf(i),
      cpl: f & EF_USER ? 'user' : f & EF_KERNEL ? 'kernel' : undefined,
    };
  }

  private grow(n: number): void {
    const cap = Math.max(n, 1);
    const copy = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T, len: number, make: (n: number) => T): T => {
      const b = make(len);
      b.set(a.subarray(0, Math.min(a.length, len)) as never);
      return b;
    };
    this.op = copy(this.op, cap, (k) => new Uint8Array(k));
    this.lineOff = copy(this.lineOff, cap, (k) => new Uint8Array(k));
    this.lineBase = copy(this.lineBase, ((cap - 1) >>> LINE_BLOCK_SHIFT) + 1, (k) => new Uint32Array(k));
    this.aLo = copy(this.aLo, cap, (k) => new Uint32Array(k));
    this.aHi = copy(this.aHi, cap, (k) => new Uint16Array(k));
    this.attr = copy(this.attr, cap, (k) => new Uint16Array(k));
    this.valBits = copy(this.valBits, ((cap - 1) >>> 5) + 1, (k) => new Uint32Array(k));
    this.valRank = copy(this.valRank, ((cap - 1) >>> 5) + 1, (k) => new Uint32Array(k));
  }
}

/** An EventTable's rows as plain columns (EventTable.toColumns / fromColumns). */
export interface EventColumns {
  count: number;
  op: Uint8Array;
  lineBase: Uint32Array;
  lineOff: Uint8Array;
  aLo: Uint32Array;
  aHi: Uint16Array;
  attr: Uint16Array;
  valBits: Uint32Array;
  valRank: Uint32Array;
  vals: Uint32Array;
  valCount: number;
  far: [number[], number[], number[], number[]];
}

export interface SpaceDecl {
  name: string;
  line: number;
  range: Range;
}

/**
 * A parsed trace. `R` is how its rows are held: the parser's EventTable, or
 * (the debugger on a file) windows over the file (Rows).
 */
export interface Program<R extends Rows = EventTable> {
  mode: Mode;
  /** The file's `policy` directive, if any (a launch configuration or CLI flag overrides it). */
  policy?: string;
  /** The line of the `policy` directive (0: none). */
  policyLine?: number;
  vcpus: number;
  cpl: Cpl;
  pool: number;
  shadowPages: number;
  spaces: SpaceDecl[];
  /** `space`, `map` and `poke` lines in file order: the engine builds guest memory from them. */
  setup: (SpaceStmt | MapStmt | PokeStmt)[];
  events: R;
  /** Expect statements, indexed by the `arg` of Op.Expect rows. */
  expects: ExpectStmt[];
  /** Label name → row index in `events`. */
  labels: Map<string, number>;
  /** Number of lines in the file. */
  lineCount: number;
}

export interface ParseResult {
  program: Program;
  diagnostics: Diagnostic[];
  /** Every statement in object form, when `keepStatements` was asked for. */
  statements?: Stmt[];
  /** True when some diagnostic is an error. */
  hasErrors: boolean;
}

export interface ParseOptions {
  /** Keep every statement as an object (the editor features want this; the engine does not). */
  keepStatements?: boolean;
  /** Stop collecting diagnostics after this many (default 1000); a last one says how many more there were. */
  maxDiagnostics?: number;
}

/** The entry size in bytes of a mode. */
export function entrySize(mode: Mode): number {
  return mode === '32' ? 4 : 8;
}

/** The number of guest paging levels of a mode. */
export function modeLevels(mode: Mode): number {
  return mode === '32' ? 2 : mode === 'pae' ? 3 : 4;
}
