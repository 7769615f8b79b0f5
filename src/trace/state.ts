// The state of the trace parser at a line boundary: everything the lines after
// it depend on. The streaming parser (stream.ts) saves one where it is asked
// to (checkpoints) and a new parser resumed from it, fed the file's bytes from
// `byteOffset`, gives the same rows (same absolute lines, columns and global
// row numbers) and the same diagnostics as the parse of the whole file.

import type { Cpl, Mode, MapStmt, PokeStmt, Range, SpaceDecl, SpaceStmt } from './ast';

export interface ParserState {
  /** Lines before the resume point: the next line parsed is `line + 1`. */
  readonly line: number;
  /** Byte offset in the file (after gunzip) of the first byte of line `line + 1`. */
  readonly byteOffset: number;
  /** Global index of the next row (rows before it: `row`). */
  readonly row: number;
  /** The input's first lone CR (the only one reported) is behind. */
  readonly loneCrSeen: boolean;
  readonly mode: Mode;
  /** No event line yet: setup directives are still allowed. */
  readonly inSetup: boolean;
  readonly firstEventLine: number;
  /** Lines of `mode`, `policy`, `vcpus`, `pool`, `shadow-pages`, the setup's `cpl`, and the first `space`/`pool`/`poke` (0: none). */
  readonly lines: readonly [number, number, number, number, number, number, number];
  readonly modeBlockKw: string;
  /** The space `map` lines go to (-1: none). */
  readonly curSpace: number;
  /** The Program's setup fields so far (shared, not copied, once the setup is done). */
  readonly setup: {
    readonly mode: Mode;
    readonly policy?: string;
    readonly policyLine?: number;
    readonly vcpus: number;
    readonly cpl: Cpl;
    readonly pool: number;
    readonly shadowPages: number;
    /** Append-only lists shared with the parser (and every later state): the first `spaceCount` and `setupCount` are this state's. */
    readonly spaces: readonly SpaceDecl[];
    readonly setup: readonly (SpaceStmt | MapStmt | PokeStmt)[];
    readonly spaceCount: number;
    readonly setupCount: number;
  };
  /** Labels defined before the point: the first `labelCount` of these append-only lists. */
  readonly labels: { readonly names: readonly string[]; readonly lines: readonly number[] };
  readonly labelCount: number;
  /** Counts behind the cap of diagnostics (maxDiagnostics) and the first error's line. */
  readonly diagnostics: {
    readonly shown: number;
    readonly shownErrors: number;
    readonly errors: number;
    readonly firstErrorLine: number;
    readonly suppressed: number;
    readonly suppressedAt: Range | undefined;
  };
}
