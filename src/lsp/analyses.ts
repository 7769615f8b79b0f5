// The analyses of the open documents, made in slices: a parse runs a few
// milliseconds at a time and gives the turn back to the connection between
// slices, so that requests keep being answered while a large trace is parsed.
// A new version of a document drops the parse of the old one at its next
// slice; whoever waited for the old one gets the new one's analysis. No
// protocol types here beyond the document's text and version.

import { analyzeSteps, type TraceAnalysis } from '../extension/features/analysis';

/** Lines parsed between two looks at the clock. */
export const SLICE_LINES = 2000;
/** How long a slice runs before the connection gets its turn (ms). */
export const SLICE_MS = 8;

export interface VersionedText {
  uri: string;
  version: number;
  getText(): string;
}

interface Job {
  version: number;
  cancelled: boolean;
  promise: Promise<TraceAnalysis>;
  resolve(a: TraceAnalysis | Promise<TraceAnalysis>): void;
  reject(e: unknown): void;
}

/** Runs `f` after the messages already queued: setImmediate in Node, a message port in a browser worker. */
function makeLater(): (f: () => void) => void {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (typeof g.setImmediate === 'function') return (f) => g.setImmediate!(f);
  if (typeof MessageChannel === 'function') {
    const queue: (() => void)[] = [];
    const ch = new MessageChannel();
    (ch.port1 as unknown as { onmessage: (() => void) | null }).onmessage = () => queue.shift()?.();
    return (f) => {
      queue.push(f);
      ch.port2.postMessage(0);
    };
  }
  return (f) => void setTimeout(f, 0);
}

export class Analyses {
  private readonly done = new Map<string, { version: number; analysis: TraceAnalysis }>();
  private readonly jobs = new Map<string, Job>();
  private readonly later = makeLater();
  private readonly now: () => number = typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();

  /** @param onAnalyzed called when a document's newest version has been analyzed. */
  constructor(private readonly onAnalyzed: (uri: string, version: number, analysis: TraceAnalysis) => void) {}

  /** The analysis of this version if it is already made. */
  ready(doc: VersionedText): TraceAnalysis | undefined {
    const hit = this.done.get(doc.uri);
    return hit && hit.version === doc.version ? hit.analysis : undefined;
  }

  /** The analysis of this version: made now if it is not under way. */
  get(doc: VersionedText): Promise<TraceAnalysis> {
    const hit = this.ready(doc);
    if (hit) return Promise.resolve(hit);
    const job = this.jobs.get(doc.uri);
    if (job && job.version === doc.version) return job.promise;
    return this.start(doc);
  }

  /** Starts analyzing a new version (on open and on every change). */
  start(doc: VersionedText): Promise<TraceAnalysis> {
    const old = this.jobs.get(doc.uri);
    let resolve!: Job['resolve'];
    let reject!: Job['reject'];
    const promise = new Promise<TraceAnalysis>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const job: Job = { version: doc.version, cancelled: false, promise, resolve, reject };
    this.jobs.set(doc.uri, job);
    // No request is answered from an old version: its analysis can go now (for a 1M-line trace, ~200 MB).
    this.done.delete(doc.uri);
    if (old) {
      old.cancelled = true;
      old.resolve(promise);
    }
    const steps = analyzeSteps(doc.getText(), SLICE_LINES);
    const slice = (): void => {
      if (job.cancelled) return;
      const t0 = this.now();
      try {
        for (;;) {
          const r = steps.next();
          if (r.done) {
            this.jobs.delete(doc.uri);
            this.done.set(doc.uri, { version: job.version, analysis: r.value });
            job.resolve(r.value);
            this.onAnalyzed(doc.uri, job.version, r.value);
            return;
          }
          if (this.now() - t0 >= SLICE_MS) break;
        }
      } catch (e) {
        this.jobs.delete(doc.uri);
        job.reject(e);
        return;
      }
      this.later(slice);
    };
    this.later(slice);
    return promise;
  }

  /** Forgets a closed document; a parse under way stops. */
  forget(uri: string): void {
    const job = this.jobs.get(uri);
    if (job) {
      job.cancelled = true;
      job.reject(new Error(`${uri} was closed`));
      job.promise.catch(() => {});
    }
    this.jobs.delete(uri);
    this.done.delete(uri);
  }
}
