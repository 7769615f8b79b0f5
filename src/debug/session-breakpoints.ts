// The Debug Adapter Protocol side of the debugger, part 2 of 4: the
// breakpoint requests (line, function, exception filters, data breakpoints,
// breakpointLocations), validated and handed to the runtime.

import type { DebugProtocol } from '@vscode/debugprotocol';
import { FILTERS } from './breakpoints';
import type { BpSpec } from './runtime';
import { MAX_BREAKPOINTS, MAX_FILTER_OPTIONS, SessionBase, UserError, int, resolvePath } from './session-base';
import type { VarNode } from './views';

export abstract class SessionBreakpoints extends SessionBase {
  // ---------------------------------------------------------------------------
  // Breakpoints


  protected specs(a: Record<string, unknown>, key: string, kind: 'line' | 'name' | 'dataId'): BpSpec[] {
    const list = a[key];
    if (!Array.isArray(list)) throw new UserError(`\`${key}\` must be an array`);
    if (list.length > MAX_BREAKPOINTS) throw new UserError(`too many breakpoints: ${list.length} in one request, at most ${MAX_BREAKPOINTS}`);
    return list.map((x, i) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new UserError(`\`${key}[${i}]\` must be an object`);
      const o = x as Record<string, unknown>;
      const spec: BpSpec = {};
      if (kind === 'line') {
        if (!Number.isSafeInteger(o.line) || (o.line as number) < 0) throw new UserError(`\`${key}[${i}].line\` must be a line number`);
        spec.line = this.fromClientLine(o.line as number);
      } else if (kind === 'name') {
        if (typeof o.name !== 'string') throw new UserError(`\`${key}[${i}].name\` must be a string`);
        spec.name = o.name;
      } else {
        if (typeof o.dataId !== 'string') throw new UserError(`\`${key}[${i}].dataId\` must be a string`);
        spec.dataId = o.dataId;
      }
      for (const k of ['condition', 'hitCondition', 'logMessage'] as const) {
        const v = o[k];
        if (v === undefined || v === null) continue;
        if (typeof v !== 'string') throw new UserError(`\`${key}[${i}].${k}\` must be a string`);
        spec[k] = v;
      }
      return spec;
    });
  }

  protected setBreakpoints(a: Record<string, unknown>): DebugProtocol.SetBreakpointsResponse['body'] {
    const path = this.sourcePath(a);
    let specs: BpSpec[];
    if (a.breakpoints !== undefined) specs = this.specs(a, 'breakpoints', 'line');
    else if (Array.isArray(a.lines)) specs = this.specs({ lines: a.lines.map((line) => ({ line })) }, 'lines', 'line');
    else specs = [];
    if (!this.rt.loaded) {
      // Before launch: kept, and placed once the trace is loaded.
      this.pendingLineBps = { path: resolvePath(path, this.cwd), specs };
      return { breakpoints: specs.map((s) => ({ verified: false, line: this.toClientLine(s.line!), message: 'the trace is not loaded yet' })) };
    }
    if (!this.isProgram(path) || this.noDebug) {
      const message = this.noDebug ? 'breakpoints are off: the trace runs without debugging' : `not the trace being debugged (${this.rt.programPath})`;
      return { breakpoints: specs.map((s) => ({ verified: false, line: this.toClientLine(s.line!), message })) };
    }
    const bps = this.rt.setLineBreakpoints(specs);
    return { breakpoints: bps.map((bp) => this.lineBpToDap(bp)) };
  }

  protected setFunctionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetFunctionBreakpointsResponse['body'] {
    const specs = this.specs(a, 'breakpoints', 'name');
    if (this.noDebug) return { breakpoints: specs.map(() => ({ verified: false, message: 'breakpoints are off: the trace runs without debugging' })) };
    const bps = this.rt.setFunctionBreakpoints(specs);
    return { breakpoints: bps.map((bp) => ({ id: bp.id, verified: bp.verified, message: bp.message })) };
  }

  protected setExceptionBreakpoints(a: Record<string, unknown>): DebugProtocol.SetExceptionBreakpointsResponse['body'] {
    if (!Array.isArray(a.filters) || !a.filters.every((f) => typeof f === 'string')) throw new UserError('`filters` must be an array of filter ids');
    const options = Array.isArray(a.filterOptions) ? a.filterOptions.length : 0;
    if (a.filters.length + options > MAX_FILTER_OPTIONS) {
      throw new UserError(`too many exception filters: ${a.filters.length} in \`filters\` and ${options} in \`filterOptions\`, at most ${MAX_FILTER_OPTIONS} in all (there are ${FILTERS.length} filters)`);
    }
    const list: { id: string; condition?: string }[] = (a.filters as string[]).map((id) => ({ id }));
    if (a.filterOptions !== undefined) {
      if (!Array.isArray(a.filterOptions)) throw new UserError('`filterOptions` must be an array');
      for (const [i, o] of a.filterOptions.entries()) {
        if (typeof o !== 'object' || o === null || typeof (o as Record<string, unknown>).filterId !== 'string') throw new UserError(`\`filterOptions[${i}].filterId\` must be a string`);
        const c = (o as Record<string, unknown>).condition;
        if (c !== undefined && typeof c !== 'string') throw new UserError(`\`filterOptions[${i}].condition\` must be a string`);
        list.push({ id: (o as Record<string, unknown>).filterId as string, condition: c as string | undefined });
      }
    }
    if (this.noDebug) return { breakpoints: list.map(() => ({ verified: false, message: 'no debugging in this launch' })) };
    return { breakpoints: this.rt.setExceptionFilters(list) };
  }

  protected dataBreakpointInfo(a: Record<string, unknown>): DebugProtocol.DataBreakpointInfoResponse['body'] {
    if (typeof a.name !== 'string') throw new UserError('`name` is required');
    const ref = a.variablesReference;
    if (ref === undefined || ref === null) {
      return { dataId: null, description: 'Data breakpoints can be set on guest and shadow entries shown as variables (page-table entries in the walks, tables and shadow pages).' };
    }
    if (!Number.isSafeInteger(ref)) throw new UserError('`variablesReference` must be an integer');
    const node = this.vars.get(ref as number);
    if (!node) throw new UserError(`unknown variablesReference ${ref}`);
    const child = childNamed(node, a.name);
    if (!child) throw new UserError(`no variable \`${a.name}\` in that container`);
    if (!child.data) return { dataId: null, description: `\`${child.name}\` is not a guest or shadow entry` };
    return {
      dataId: child.data.dataId,
      description: `${child.data.label} changes`,
      accessTypes: ['write'],
      canPersist: child.data.kind === 'guest',
    };
  }

  protected setDataBreakpoints(a: Record<string, unknown>): DebugProtocol.SetDataBreakpointsResponse['body'] {
    const specs = this.specs(a, 'breakpoints', 'dataId');
    if (this.noDebug) return { breakpoints: specs.map(() => ({ verified: false, message: 'breakpoints are off: the trace runs without debugging' })) };
    const bps = this.rt.setDataBreakpoints(specs);
    return { breakpoints: bps.map((bp) => ({ id: bp.id, verified: bp.verified, message: bp.message })) };
  }

  protected breakpointLocations(a: Record<string, unknown>): DebugProtocol.BreakpointLocationsResponse['body'] {
    const path = this.sourcePath(a);
    const line = int(a, 'line');
    const endLine = a.endLine === undefined ? line : int(a, 'endLine');
    this.requireLaunched();
    if (!this.isProgram(path)) return { breakpoints: [] };
    const from = this.fromClientLine(line);
    const to = Math.min(this.fromClientLine(endLine), from + 100_000);
    return { breakpoints: this.rt.breakpointLines(from, to).map((l) => ({ line: this.toClientLine(l) })) };
  }

}

/**
 * The child of `node` called `name`: its named children, then its indexed ones
 * by index when the node can tell the index of a name, else page by page (never
 * all of them at once, and never spread into one call: a container may have
 * hundreds of thousands).
 */
function childNamed(node: VarNode, name: string): VarNode | undefined {
  const named = node.named?.().find((c) => c.name === name);
  if (named || !node.indexed) return named;
  const { count, get, indexOf } = node.indexed;
  if (indexOf) {
    const i = indexOf(name);
    return i >= 0 && i < count ? get(i, 1).find((c) => c.name === name) : undefined;
  }
  for (let start = 0; start < count; start += 1000) {
    const hit = get(start, Math.min(1000, count - start)).find((c) => c.name === name);
    if (hit) return hit;
  }
  return undefined;
}
