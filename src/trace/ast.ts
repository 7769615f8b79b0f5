// The shapes that the parser produces and the engine, the CLI, the debugger
// and the editor consume. Lines and columns are 1-based; an end column is
// exclusive (the column just after the last character).

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
// columns (about 30 bytes an event) so that a million-line trace fits in
// less memory than its text.

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

/** `EventTable.flags` bits. */
export const EF_HAS_VALUE = 1;
export const EF_USER = 2;
export const EF_KERNEL = 4;

/** One event row, decoded (for the debugger and tests; the engine reads the columns). */
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

export class EventTable {
  count = 0;
  op: Uint8Array;
  /** 1-based source line. */
  line: Uint32Array;
  /** VA (access, pte, invlpg) or GPA (store, cr3 by address). */
  addr: Float64Array;
  /** cr3: space index or -1; vcpu: number; cpl: 0 user / 1 kernel; expect: index into Program.expects. */
  arg: Int32Array;
  /** The value's low and high 32 bits (write with EF_HAS_VALUE, pte, store). */
  vlo: Uint32Array;
  vhi: Uint32Array;
  /** Bytes: 1, 2, 4 or 8 (read and exec: 1). */
  size: Uint8Array;
  /** pte: the level 1..4. */
  level: Uint8Array;
  /** pte: byte offset within the entry. */
  offset: Uint8Array;
  flags: Uint8Array;

  constructor(capacity = 64) {
    this.op = new Uint8Array(capacity);
    this.line = new Uint32Array(capacity);
    this.addr = new Float64Array(capacity);
    this.arg = new Int32Array(capacity);
    this.vlo = new Uint32Array(capacity);
    this.vhi = new Uint32Array(capacity);
    this.size = new Uint8Array(capacity);
    this.level = new Uint8Array(capacity);
    this.offset = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** Appends a row and returns its index. `value` is split into 32-bit halves. */
  push(op: OpCode, line: number, addr: number, arg: number, value: bigint, size: number, level: number, offset: number, flags: number): number {
    if (this.count === this.op.length) this.grow(this.count * 2);
    const i = this.count++;
    this.op[i] = op;
    this.line[i] = line;
    this.addr[i] = addr;
    this.arg[i] = arg;
    if (value !== 0n) {
      this.vlo[i] = Number(value & 0xffffffffn);
      this.vhi[i] = Number((value >> 32n) & 0xffffffffn);
    }
    this.size[i] = size;
    this.level[i] = level;
    this.offset[i] = offset;
    this.flags[i] = flags;
    return i;
  }

  /** Shrinks the columns to `count` rows (call once, when parsing is done). */
  trim(): void {
    if (this.op.length !== this.count) this.grow(this.count);
  }

  value(i: number): bigint {
    return (BigInt(this.vhi[i]!) << 32n) | BigInt(this.vlo[i]!);
  }

  row(i: number): EventRow {
    const f = this.flags[i]!;
    return {
      op: this.op[i] as OpCode,
      line: this.line[i]!,
      addr: this.addr[i]!,
      arg: this.arg[i]!,
      value: this.value(i),
      hasValue: (f & EF_HAS_VALUE) !== 0,
      size: this.size[i]!,
      level: this.level[i]!,
      offset: this.offset[i]!,
      cpl: f & EF_USER ? 'user' : f & EF_KERNEL ? 'kernel' : undefined,
    };
  }

  private grow(n: number): void {
    const cap = Math.max(n, 1);
    const copy = <T extends Uint8Array | Uint32Array | Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a.subarray(0, Math.min(this.count, cap)) as never);
      return b;
    };
    this.op = copy(this.op, (k) => new Uint8Array(k));
    this.line = copy(this.line, (k) => new Uint32Array(k));
    this.addr = copy(this.addr, (k) => new Float64Array(k));
    this.arg = copy(this.arg, (k) => new Int32Array(k));
    this.vlo = copy(this.vlo, (k) => new Uint32Array(k));
    this.vhi = copy(this.vhi, (k) => new Uint32Array(k));
    this.size = copy(this.size, (k) => new Uint8Array(k));
    this.level = copy(this.level, (k) => new Uint8Array(k));
    this.offset = copy(this.offset, (k) => new Uint8Array(k));
    this.flags = copy(this.flags, (k) => new Uint8Array(k));
  }
}

export interface SpaceDecl {
  name: string;
  line: number;
  range: Range;
}

export interface Program {
  mode: Mode;
  /** The file's `policy` directive, if any (a launch configuration or CLI flag overrides it). */
  policy?: string;
  vcpus: number;
  cpl: Cpl;
  pool: number;
  shadowPages: number;
  spaces: SpaceDecl[];
  /** `space`, `map` and `poke` lines in file order: the engine builds guest memory from them. */
  setup: (SpaceStmt | MapStmt | PokeStmt)[];
  events: EventTable;
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
