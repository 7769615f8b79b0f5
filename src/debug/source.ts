// Where the debugger's rows come from: a trace parsed in parts (its head
// before the first stop, the rest in background slices or when the machine
// runs out of rows). Two kinds: a text already in memory (the web build, the
// tests and benchmarks: TextSource), and a file read in chunks
// (filesource.ts: the adapter on Node, so that a trace of any size is never
// one string). The runtime (runtime-load.ts) sees only this interface.

import { TraceParser, type Diagnostic, type EventTable, type Program, type Rows } from '../trace';

/** Sees the rows of each piece parsed, once, in order: rows [from, to) of `t`, whose row k is the trace's row base + k (not kept: read them now). */
export type RowsHook = (t: EventTable, from: number, to: number, base: number) => void;

export interface TraceSource {
  /** The program so far: its events grow as the parse goes on (the same object throughout). */
  readonly program: Program<Rows>;
  readonly done: boolean;
  readonly linesParsed: number;
  /** How far the parse has come, 0 to 1. */
  readonly fraction: number;
  /** What the progress says: "N of M lines", "N lines, X of Y MB". */
  readonly progressText: string;
  /** A parse error has been found so far. */
  readonly hasErrors: boolean;
  /**
   * Rows parsed ahead of a running machine that are still in memory when it
   * gets to them (windows over a file keep a few dozen; a text keeps all):
   * the background parse waits rather than go further ahead of a run.
   */
  readonly rowsAhead: number;
  /**
   * Called with the rows of every piece parsed from now on (set it before the
   * first parseMore): what must see every row (the page-table frames of the
   * pte-write filter) sees it here, where a file's rows are in memory.
   */
  onRows: RowsHook | null;
  /** Parses about `lines` more lines (at least one, unless done). */
  parseMore(lines: number): void;
  /**
   * Ends the parse (the program keeps what it has) and gives every diagnostic
   * so far, with a note on what was not checked; or a message that says it
   * all (a file that cannot be read further, or is not UTF-8).
   */
  failure(): { diagnostics: Diagnostic[]; note?: string; message?: string };
  /** The parse is complete: final touches to the program (its line count). */
  finish(): void;
  /** Releases the file, if any. */
  close(): void;
}

/** A trace whose text is in memory. */
export class TextSource implements TraceSource {
  private readonly p: TraceParser;
  readonly program: Program;
  onRows: RowsHook | null = null;
  readonly rowsAhead = Infinity;
  private seen = 0;

  constructor(text: string) {
    this.p = new TraceParser(text);
    this.program = this.p.result().program;
  }

  get done(): boolean {
    return this.p.done;
  }

  get linesParsed(): number {
    return this.p.linesParsed;
  }

  get fraction(): number {
    return this.p.linesParsed / (this.p.totalLines || 1);
  }

  get progressText(): string {
    return `${this.p.linesParsed} of ${this.p.totalLines || 1} lines`;
  }

  get hasErrors(): boolean {
    return this.p.result().hasErrors;
  }

  parseMore(lines: number): void {
    this.p.parseLines(lines);
    this.tellRows();
  }

  private tellRows(): void {
    const t = this.program.events;
    if (this.onRows && t.count > this.seen) this.onRows(t, this.seen, t.count, 0);
    this.seen = t.count;
  }

  failure(): { diagnostics: Diagnostic[]; note?: string } {
    // The text is in memory already: every diagnostic of it.
    this.p.parseLines(Infinity);
    this.tellRows();
    return { diagnostics: this.p.result().diagnostics };
  }

  finish(): void {
    this.p.result();
  }

  close(): void {}
}
