// The Debug Adapter Protocol side of the debugger, part 3 of 4: what a
// stop shows: threads (the vCPUs), stack frames (the event and its handler
// steps), scopes and variables (views.ts builds them), evaluation, hovers
// and completions, exceptionInfo and readMemory.

import type { DebugProtocol } from '@vscode/debugprotocol';
import { SHADOW_FRAME_BASE, spteToBigInt } from '../engine';
import { completeExpr, formatValue, parseExpr, type Expr, type NameDoc, type Value } from '../expr';
import { DEBUG_NAMES } from './breakpoints';
import { guestEntryText, hx, rowText, shadowEntryText } from './format';
import { EXIT_DOC, MAX_READ_MEMORY, ShownError, UserError, int, isHex } from './session-base';
import { SessionBreakpoints } from './session-breakpoints';
import { ViewContext, buildScopes, type VarNode } from './views';

export abstract class SessionInspect extends SessionBreakpoints {
  // ---------------------------------------------------------------------------
  // Threads and frames

  protected threads(): DebugProtocol.ThreadsResponse['body'] {
    if (!this.rt.loaded) return { threads: [] };
    return { threads: this.rt.machine.mmu.vcpus.map((v) => ({ id: v.id + 1, name: `vCPU ${v.id}` })) };
  }

  protected threadIndex(a: Record<string, unknown>): number {
    const id = int(a, 'threadId');
    const n = this.rt.machine.mmu.vcpus.length;
    if (id < 1 || id > n) throw new UserError(`unknown threadId ${id}: the threads are vCPU 0..${n - 1} (ids 1..${n})`);
    return id - 1;
  }

  protected stackTrace(a: Record<string, unknown>): DebugProtocol.StackTraceResponse['body'] {
    this.requireStopped();
    const vcpu = this.threadIndex(a);
    const rt = this.rt;
    const frames: DebugProtocol.StackFrame[] = [];
    const add = (name: string, line: number | undefined, hint?: 'normal' | 'label' | 'subtle'): void => {
      const id = this.nextFrameId++;
      this.frames.set(id, { thread: vcpu, index: frames.length });
      const f: DebugProtocol.StackFrame = { id, name, line: line === undefined ? 0 : this.toClientLine(line), column: line === undefined ? 0 : this.columnsStartAt1 ? 1 : 0 };
      if (line !== undefined) f.source = this.source();
      if (hint) f.presentationHint = hint;
      frames.push(f);
    };
    if (vcpu !== rt.machine.current) {
      const v = rt.machine.mmu.vcpus[vcpu]!;
      add(`vCPU ${vcpu} is not running this event (CR3 ${hx(v.cr3)}, ${v.user ? 'user' : 'kernel'})`, undefined, 'label');
    } else {
      const p = rt.position;
      if (p.kind === 'end') add('end of the trace', rt.currentLine);
      else {
        const line = rt.lineOfRow(p.row);
        if (p.kind === 'step') {
          const steps = rt.currentSteps;
          const chain: number[] = [];
          let depth = steps[p.step]!.depth;
          chain.push(p.step);
          for (let j = p.step - 1; j >= 0 && depth > 0; j--) {
            if (steps[j]!.depth < depth) {
              chain.push(j);
              depth = steps[j]!.depth;
            }
          }
          for (const j of chain) add(`${steps[j]!.fn}: ${steps[j]!.text}`, line);
          add(rowText(rt.program, p.row), line);
        } else {
          add(`${rowText(rt.program, p.row)}${p.kind === 'after' ? '  (done)' : ''}`, line);
        }
      }
    }
    const start = a.startFrame === undefined ? 0 : int(a, 'startFrame');
    const levels = a.levels === undefined ? 0 : int(a, 'levels');
    const sliced = frames.slice(start, levels > 0 ? start + levels : undefined);
    return { stackFrames: sliced, totalFrames: frames.length };
  }

  protected ensureView(): ViewContext {
    return (this.view ??= new ViewContext(this.rt));
  }

  protected scopes(a: Record<string, unknown>): DebugProtocol.ScopesResponse['body'] {
    this.requireLaunched();
    const id = int(a, 'frameId');
    const f = this.rt.state === 'stopped' ? this.frames.get(id) : undefined;
    if (!f) {
      // A frame of an earlier stop (the client asks while the next stop is on its way): no scopes, no error.
      if (id >= 1 && id < this.nextFrameId) return { scopes: [] };
      this.requireStopped();
      throw new UserError(`unknown frameId ${id}`);
    }
    const scopes = buildScopes(this.ensureView(), f.thread);
    return {
      scopes: scopes.map((s) => {
        const ref = this.refFor(s.node);
        const out: DebugProtocol.Scope = { name: s.name, variablesReference: ref, expensive: s.expensive };
        if (s.hint) out.presentationHint = s.hint;
        if (s.node.indexed) out.indexedVariables = s.node.indexed.count;
        return out;
      }),
    };
  }

  protected refFor(node: VarNode): number {
    if (!node.named && !node.indexed) return 0;
    const ref = this.nextVarRef++;
    this.vars.set(ref, node);
    return ref;
  }

  protected variables(a: Record<string, unknown>): DebugProtocol.VariablesResponse['body'] {
    this.requireLaunched();
    const ref = int(a, 'variablesReference');
    const node = this.rt.state === 'stopped' ? this.vars.get(ref) : undefined;
    if (!node) {
      // A reference of an earlier stop (VS Code asks for the children of a node it still shows, after
      // a step or while the next stop is on its way: a normal race): no children, no error.
      if (ref >= 1 && ref < this.nextVarRef) return { variables: [] };
      this.requireStopped();
      throw new UserError(`unknown variablesReference ${ref}`);
    }
    const filter = a.filter;
    if (filter !== undefined && filter !== 'indexed' && filter !== 'named') throw new UserError('`filter` must be "indexed" or "named"');
    const start = a.start === undefined ? 0 : int(a, 'start');
    const count = a.count === undefined ? 0 : int(a, 'count');
    if (start < 0 || count < 0) throw new UserError('`start` and `count` must not be negative');
    const hexFormat = isHex(a.format);
    let children: VarNode[] = [];
    if (filter !== 'indexed' && node.named) children = node.named();
    if (filter !== 'named' && node.indexed) {
      const total = node.indexed.count;
      const from = Math.min(start, total);
      // No `count` (0): one page of at most 1000, with a filter or without (a client that asks for all
      // of 200,000 shadow pages would wait seconds for tens of megabytes).
      const n = count > 0 ? Math.min(count, total - from) : Math.min(total - from, 1000);
      children = children.concat(node.indexed.get(from, n));
    } else if (filter === 'named' && count > 0) children = children.slice(start, start + count);
    return {
      variables: children.map((c) => {
        const v: DebugProtocol.Variable = { name: c.name, value: hexFormat ? c.value : c.value, variablesReference: this.refFor(c) };
        if (c.type) v.type = c.type;
        if (c.evaluateName) v.evaluateName = c.evaluateName;
        if (c.memoryReference) v.memoryReference = c.memoryReference;
        if (c.indexed) v.indexedVariables = c.indexed.count;
        const attrs: DebugProtocol.VariablePresentationHint['attributes'] = ['readOnly'];
        if (c.data && this.rt.dataBps.some((b) => b.dataId === c.data!.dataId)) attrs.push('hasDataBreakpoint');
        v.presentationHint = { kind: c.data ? 'data' : c.named || c.indexed ? 'class' : 'property', attributes: attrs };
        return v;
      }),
    };
  }

  // ---------------------------------------------------------------------------
  // Evaluation

  protected evaluate(a: Record<string, unknown>): DebugProtocol.EvaluateResponse['body'] {
    if (typeof a.expression !== 'string') throw new UserError('`expression` is required');
    this.requireStopped();
    if (a.frameId !== undefined) {
      const id = int(a, 'frameId');
      if (!this.frames.has(id)) throw new UserError(`unknown frameId ${id}`);
    }
    const context = typeof a.context === 'string' ? a.context : 'repl';
    const hexFormat = isHex(a.format);
    let text = a.expression.trim();
    if (text.length > 10_000) throw new UserError('the expression is too long');
    // A hover over a label (`@fault`) names its line.
    const label = /^@?([A-Za-z_][A-Za-z0-9_.-]*)$/.exec(text);
    if (label && this.rt.program.labels.has(label[1]!) && (text.startsWith('@') || context === 'hover')) {
      const row = this.rt.program.labels.get(label[1]!)!;
      return { result: `label @${label[1]}: line ${this.rt.lineOfRow(row)}, ${rowText(this.rt.program, row)}`, variablesReference: 0 };
    }
    if (text.startsWith('@')) text = text.slice(1);
    const parsed = parseExpr(text, { names: DEBUG_NAMES });
    if (!parsed.expr) {
      const d = parsed.diagnostics[0];
      const message = d ? `${d.message}${d.hint ? ` (${d.hint})` : ''}` : 'not an expression';
      // Typed by the user (Debug Console, Watch): shown; a hover's text is the editor's pick, not a mistake.
      throw context === 'hover' ? new UserError(message) : new ShownError(message);
    }
    const r = this.rt.evaluate(parsed.expr);
    if (!r.ok) throw new UserError(r.message);
    // A hover over an address: what it is in the guest and the shadow.
    if (context === 'hover' && parsed.expr.kind === 'number') return { result: this.describeAddress(parsed.expr.value, hexFormat), variablesReference: 0 };
    return this.valueResult(parsed.expr, r.value, hexFormat);
  }

  protected valueResult(expr: Expr, v: Value, hexFormat: boolean): DebugProtocol.EvaluateResponse['body'] {
    if (typeof v === 'object') {
      const node: VarNode = {
        name: '',
        value: formatValue(v, { hex: hexFormat }),
        named: () => Object.keys(v).map((k) => ({ name: k, value: formatScalar(v[k]!, hexFormat) })),
      };
      return { result: node.value, variablesReference: this.refFor(node), namedVariables: Object.keys(v).length };
    }
    if (typeof v === 'bigint' && expr.kind === 'call' && (expr.fn === 'gpte' || expr.fn === 'spte') && v >= 0n) {
      const mode = this.rt.machine.mode;
      const lo = Number(v & 0xffffffffn);
      const hi = Number((v >> 32n) & 0xffffffffn);
      const level = expr.args[1]?.kind === 'number' ? Number(expr.args[1].value) : 1;
      if (expr.fn === 'gpte') return { result: guestEntryText(mode, level, lo, hi), variablesReference: 0, type: 'guest entry' };
      const nx = (hi & 0x80000000) !== 0;
      const n = Number(v & 0xfffffffffffffn) + (nx ? 2 ** 52 : 0);
      return { result: shadowEntryText(n, level), variablesReference: 0, type: 'shadow entry' };
    }
    return { result: formatScalar(v, hexFormat), variablesReference: 0, type: typeof v === 'bigint' ? 'integer' : typeof v };
  }

  /** What a number is, hovered in the trace: a VA's translation and entries, or a GPA. */
  protected describeAddress(v: bigint, hexFormat: boolean): string {
    const rt = this.rt;
    const env = rt.machine.env;
    const parts: string[] = [hexFormat || v >= 4096n ? hx(v) : v.toString()];
    const limit = rt.machine.mode.name === '64' ? 2n ** 47n : 2n ** 32n;
    if (v >= 0n && (v < limit || (rt.machine.mode.name === '64' && v >= 0xffff800000000000n && v <= 0xffffffffffffffffn))) {
      const va = Number(rt.machine.mode.name === '64' ? v & 0xffffffffffffn : v);
      try {
        const gpa = env.gpa(va);
        const mode = rt.machine.mode;
        const g = env.gpte(va);
        parts.push(gpa >= 0n ? `VA → gpa ${hx(gpa)}` : 'VA: the guest walk faults');
        parts.push(`gpte ${guestEntryText(mode, 1, Number(g & 0xffffffffn), Number((g >> 32n) & 0xffffffffn))}`);
        const s = env.spte(va, 1);
        parts.push(s < 0n ? 'spte: no shadow path' : `spte ${s === 0n ? '0 (empty)' : hx(s)}`);
      } catch {
        /* not an address of this mode */
      }
    }
    return parts.join(' · ');
  }

  protected completions(a: Record<string, unknown>): DebugProtocol.CompletionsResponse['body'] {
    if (typeof a.text !== 'string') throw new UserError('`text` is required');
    const column = int(a, 'column');
    if (a.frameId !== undefined) int(a, 'frameId');
    const text = a.text;
    // Multi-line input: only the line being typed on counts.
    let offset = column - (this.columnsStartAt1 ? 1 : 0);
    let base = 0;
    if (a.line !== undefined) {
      const line = int(a, 'line') - (this.linesStartAt1 ? 1 : 0);
      const lines = text.split('\n');
      for (let i = 0; i < Math.min(line, lines.length); i++) base += lines[i]!.length + 1;
      offset += base;
    }
    offset = Math.max(0, Math.min(offset, text.length));
    const { from, items } = completeExpr(text, offset, [EXIT_DOC]);
    const typeOf = (d: NameDoc): DebugProtocol.CompletionItemType => (d.kind === 'function' ? 'function' : d.kind === 'constant' ? 'value' : d.kind === 'member' ? 'property' : 'variable');
    return {
      targets: items.map((d) => ({
        label: d.name,
        text: d.kind === 'function' ? `${d.name}(` : d.name,
        type: typeOf(d),
        detail: `${d.signature} — ${d.doc}`,
        start: from - base + (this.columnsStartAt1 ? 1 : 0),
        length: offset - from,
      })),
    };
  }

  protected exceptionInfo(a: Record<string, unknown>): DebugProtocol.ExceptionInfoResponse['body'] {
    this.requireStopped();
    this.threadIndex(a);
    const stop = this.rt.lastStop;
    if (!stop || stop.reason !== 'exception' || !stop.exception) throw new UserError('the debugger did not stop on an exception filter');
    const e = stop.exception;
    return {
      exceptionId: e.id,
      description: e.description,
      breakMode: 'always',
      details: { message: e.details, typeName: e.id, evaluateName: e.id === 'vmexit' ? 'exit' : undefined },
    };
  }

  // ---------------------------------------------------------------------------
  // Memory

  protected readMemory(a: Record<string, unknown>): DebugProtocol.ReadMemoryResponse['body'] {
    this.requireStopped();
    if (typeof a.memoryReference !== 'string') throw new UserError('`memoryReference` is required');
    const count = int(a, 'count');
    const offset = a.offset === undefined ? 0 : int(a, 'offset');
    if (count < 0) throw new UserError('`count` must not be negative');
    const ref = a.memoryReference.trim();
    const m = this.rt.machine;
    const shadow = /^s#(\d+)$/.exec(ref);
    let base: number;
    let limit: number;
    let read: (at: number, n: number) => Uint8Array;
    if (shadow) {
      const page = this.rt.pageByUid(Number(shadow[1]));
      if (!page) throw new UserError(`shadow page #${shadow[1]} does not exist here`);
      base = 0;
      limit = 4096;
      read = (at, n) => {
        const out = new Uint8Array(n);
        const dv = new DataView(out.buffer);
        for (let i = 0; i < n; i++) {
          const byte = at + i;
          const e = spteToBigInt(page.entry(byte >> 3));
          dv.setUint8(i, Number((e >> BigInt(8 * (byte & 7))) & 0xffn));
        }
        return out;
      };
    } else {
      if (!/^(0x[0-9a-f_]+|\d+)$/i.test(ref)) throw new UserError(`unknown memoryReference \`${ref}\`: a guest-physical address (0x…) or a shadow page (s#UID)`);
      base = Number(ref.replace(/_/g, ''));
      if (!Number.isSafeInteger(base)) throw new UserError('memoryReference out of range');
      limit = m.mode.name === '32' ? 2 ** 32 : 2 ** 52;
      read = (at, n) => m.mem.readRange(at, n);
    }
    const start = base + offset;
    const n = Math.min(count, MAX_READ_MEMORY);
    const from = Math.max(0, Math.min(start, limit));
    const to = Math.max(from, Math.min(start + n, limit));
    const data = to > from ? read(from, to - from) : new Uint8Array(0);
    const unreadable = n - data.length - Math.max(0, from - start);
    // A shadow page's bytes are at its host address (where the entries that point to it point).
    const addr = shadow ? hx((SHADOW_FRAME_BASE + Number(shadow[1])) * 4096 + from) : hx(Math.max(0, start));
    const body: DebugProtocol.ReadMemoryResponse['body'] = { address: addr, data: Buffer.from(data).toString('base64') };
    if (start < 0 || unreadable > 0 || from > start) body!.unreadableBytes = Math.max(0, n - data.length);
    return body;
  }

}

/** A value for the console: numbers from 4096 up in hex (addresses, entries), smaller ones in decimal; all hex when asked. */
function formatScalar(v: Value, hexFormat: boolean): string {
  if (typeof v === 'bigint') {
    if (hexFormat) return formatValue(v, { hex: true });
    return v >= 4096n || v <= -4096n ? formatValue(v, { hex: true }) : v.toString();
  }
  return formatValue(v, { hex: hexFormat });
}
