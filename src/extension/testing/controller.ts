// The Testing view (vscode.tests): each .mmutrace with `expect` lines is a
// test item (the file, then each policy, then each `expect`), discovered in
// the workspace (when the view first asks, then through a file watcher) and in
// open documents as they are edited. Run replays in-process with the engine
// (testing/results.ts, as `mmutrace check`); Debug starts an mmutrace debug
// session under the policy, which stops at the failed `expect` (the `expect`
// exception filter is on by default). Glue only: discovery and replay are in
// discover.ts and results.ts.

import * as vscode from 'vscode';
import { DEBUG_TYPE, LANGUAGE_ID, launchFor } from '../features/debugConfig';
import { MAX_TRACE_BYTES } from '../../io/limits';
import { discoverTests, expectId, policyId, testPolicies } from './discover';
import { parseForTests, runPolicy, type PolicyOutcome } from './results';

type Kind = 'file' | 'policy' | 'expect';
interface ItemData {
  kind: Kind;
  uri: vscode.Uri;
  policy?: string;
  line?: number;
}

const GLOB = '**/*.mmutrace';
const DEBOUNCE_MS = 300;
/**
 * Discovery reads a file of the workspace whole: a larger one (a recording,
 * not a file of tests) is not read, and has no tests until it is opened in an
 * editor (README, "The Testing view").
 */
const DISCOVERY_MAX_BYTES = 64 * 1024 * 1024;

function baseName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}
function programOf(uri: vscode.Uri): string {
  return uri.scheme === 'file' ? uri.fsPath : uri.toString();
}
function lineRange(line: number, col = 1, endCol = col): vscode.Range {
  return new vscode.Range(line - 1, Math.max(0, col - 1), line - 1, Math.max(0, endCol - 1));
}

export function registerTesting(context: vscode.ExtensionContext): void {
  const ctrl = vscode.tests.createTestController('mmutrace', 'mmutrace traces');
  context.subscriptions.push(ctrl);
  const data = new WeakMap<vscode.TestItem, ItemData>();

  /** The open document's text (unsaved edits included), else the file's (up to `max` bytes). */
  async function textOf(uri: vscode.Uri, max = MAX_TRACE_BYTES): Promise<string | undefined> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) return open.getText();
    try {
      const st = await vscode.workspace.fs.stat(uri);
      if (st.size > max) return undefined;
      return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      return undefined;
    }
  }

  /** Makes (or remakes) the items of one file from its text; a file with no `expect` has none. */
  function update(uri: vscode.Uri, text: string | undefined): void {
    const id = uri.toString();
    const found = text === undefined ? undefined : discoverTests(text);
    if (!found || found.expects.length === 0) {
      ctrl.items.delete(id);
      return;
    }
    let file = ctrl.items.get(id);
    if (!file) {
      file = ctrl.createTestItem(id, baseName(uri), uri);
      file.description = vscode.workspace.asRelativePath(uri, false).replace(/[^/]*$/, '').replace(/\/$/, '') || undefined;
      data.set(file, { kind: 'file', uri });
      ctrl.items.add(file);
    }
    const policies = testPolicies(found);
    const children: vscode.TestItem[] = [];
    policies.forEach((p, i) => {
      const pol = ctrl.createTestItem(policyId(id, p), p, uri);
      pol.sortText = String(i);
      pol.description = found.policy ? `policy line ${found.policy.line}` : undefined;
      if (found.policy) pol.range = lineRange(found.policy.line);
      data.set(pol, { kind: 'policy', uri, policy: p });
      pol.children.replace(
        found.expects.map((e) => {
          const it = ctrl.createTestItem(expectId(id, p, e.line), `${e.line}: ${e.source}`, uri);
          it.range = lineRange(e.line, e.col, e.endCol);
          it.sortText = String(e.line).padStart(9, '0');
          data.set(it, { kind: 'expect', uri, policy: p, line: e.line });
          return it;
        }),
      );
      children.push(pol);
    });
    file.children.replace(children);
  }

  const isTrace = (d: vscode.TextDocument): boolean => d.languageId === LANGUAGE_ID || d.uri.path.endsWith('.mmutrace');
  const pending = new Map<string, ReturnType<typeof setTimeout>>();
  const later = (doc: vscode.TextDocument): void => {
    const key = doc.uri.toString();
    clearTimeout(pending.get(key));
    pending.set(
      key,
      setTimeout(() => {
        pending.delete(key);
        update(doc.uri, doc.getText());
      }, DEBOUNCE_MS),
    );
  };
  context.subscriptions.push(
    { dispose: () => pending.forEach((t) => clearTimeout(t)) },
    vscode.workspace.onDidOpenTextDocument((d) => isTrace(d) && update(d.uri, d.getText())),
    vscode.workspace.onDidChangeTextDocument((e) => isTrace(e.document) && later(e.document)),
  );
  for (const d of vscode.workspace.textDocuments) if (isTrace(d)) update(d.uri, d.getText());

  // The workspace: scanned when the Testing view (or a run) first asks, then watched.
  let watching = false;
  ctrl.resolveHandler = async (item) => {
    if (item || watching) return;
    watching = true;
    const watcher = vscode.workspace.createFileSystemWatcher(GLOB);
    context.subscriptions.push(
      watcher,
      watcher.onDidCreate(async (u) => update(u, await textOf(u, DISCOVERY_MAX_BYTES))),
      watcher.onDidChange(async (u) => update(u, await textOf(u, DISCOVERY_MAX_BYTES))),
      watcher.onDidDelete((u) => ctrl.items.delete(u.toString())),
    );
    const files = await vscode.workspace.findFiles(GLOB, '**/node_modules/**');
    await Promise.all(files.map(async (u) => update(u, await textOf(u, DISCOVERY_MAX_BYTES))));
  };
  ctrl.refreshHandler = async () => {
    const files = await vscode.workspace.findFiles(GLOB, '**/node_modules/**');
    const seen = new Set(files.map((u) => u.toString()));
    ctrl.items.forEach((it) => {
      if (!seen.has(it.id)) ctrl.items.delete(it.id);
    });
    await Promise.all(files.map(async (u) => update(u, await textOf(u, DISCOVERY_MAX_BYTES))));
  };

  /** What a request asks for: per file, the policies, and for each the expect lines (undefined: all). */
  function plan(request: vscode.TestRunRequest): Map<vscode.TestItem, Map<vscode.TestItem, Set<vscode.TestItem> | undefined>> {
    const out = new Map<vscode.TestItem, Map<vscode.TestItem, Set<vscode.TestItem> | undefined>>();
    const excluded = new Set(request.exclude ?? []);
    const addPolicy = (file: vscode.TestItem, pol: vscode.TestItem, exp?: vscode.TestItem): void => {
      if (excluded.has(pol) || excluded.has(file) || (exp && excluded.has(exp))) return;
      let pols = out.get(file);
      if (!pols) out.set(file, (pols = new Map()));
      if (!exp) {
        pols.set(pol, undefined);
        return;
      }
      if (pols.has(pol) && pols.get(pol) === undefined) return;
      const set = pols.get(pol) ?? new Set<vscode.TestItem>();
      set.add(exp);
      pols.set(pol, set);
    };
    const addFile = (file: vscode.TestItem): void => file.children.forEach((pol) => addPolicy(file, pol));
    const roots: vscode.TestItem[] = [];
    if (request.include) roots.push(...request.include);
    else ctrl.items.forEach((it) => roots.push(it));
    for (const it of roots) {
      const d = data.get(it);
      if (!d) continue;
      if (d.kind === 'file') addFile(it);
      else if (d.kind === 'policy') addPolicy(it.parent!, it);
      else addPolicy(it.parent!.parent!, it.parent!, it);
    }
    // Excluded expects of an included policy: the policy still runs, they are not reported.
    for (const pols of out.values()) {
      for (const [pol, exps] of pols) {
        if (exps === undefined && [...excluded].some((x) => x.parent === pol)) {
          const keep = new Set<vscode.TestItem>();
          pol.children.forEach((c) => !excluded.has(c) && keep.add(c));
          pols.set(pol, keep);
        }
      }
    }
    return out;
  }

  /** Runs what the request asks for and reports it; returns the outcomes by policy item. */
  async function execute(run: vscode.TestRun, request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<{ pol: vscode.TestItem; outcome?: PolicyOutcome }[]> {
    const done: { pol: vscode.TestItem; outcome?: PolicyOutcome }[] = [];
    const work = plan(request);
    for (const pols of work.values()) {
      for (const [pol, exps] of pols) {
        run.enqueued(pol);
        (exps ?? childrenOf(pol)).forEach((e) => run.enqueued(e));
      }
    }
    for (const [file, pols] of work) {
      if (token.isCancellationRequested) break;
      const uri = data.get(file)!.uri;
      const text = await textOf(uri);
      // The items may be stale (the file changed since discovery): rediscover from the text run.
      const t0 = Date.now();
      const parsed = text === undefined ? undefined : parseForTests(text);
      if (!parsed || !parsed.program) {
        const messages = parsed
          ? parsed.errors.slice(0, 20).map((d) => {
              const m = new vscode.TestMessage(`${d.message}${d.hint ? ` (${d.hint})` : ''}`);
              m.location = new vscode.Location(uri, lineRange(d.line, d.col, d.endLine === d.line ? d.endCol : d.col));
              return m;
            })
          : [new vscode.TestMessage(`cannot read ${baseName(uri)}`)];
        for (const [pol, exps] of pols) {
          run.errored(pol, messages);
          (exps ?? childrenOf(pol)).forEach((e) => run.skipped(e));
          done.push({ pol });
        }
        continue;
      }
      for (const [pol, exps] of pols) {
        // A turn of the event loop between two replays: the extension host stays responsive through a long run.
        await new Promise((r) => setTimeout(r, 0));
        if (token.isCancellationRequested) break;
        run.started(pol);
        const policy = data.get(pol)!.policy!;
        const outcome = runPolicy(parsed.program, policy);
        done.push({ pol, outcome });
        let failed = false;
        for (const e of exps ?? childrenOf(pol)) {
          const line = data.get(e)!.line!;
          const o = outcome.expects.get(line);
          if (!o) {
            run.skipped(e);
            continue;
          }
          if (o.passed) run.passed(e);
          else {
            failed = true;
            const msg = o.expected !== undefined ? vscode.TestMessage.diff(o.message, o.expected, o.actual ?? '') : new vscode.TestMessage(o.message);
            msg.location = new vscode.Location(uri, lineRange(o.line, o.col));
            run.failed(e, msg);
          }
        }
        const problems: vscode.TestMessage[] = outcome.incidents.map((inc) => {
          const m = new vscode.TestMessage(`${inc.kind}: ${inc.message}`);
          m.location = new vscode.Location(uri, lineRange(inc.line));
          return m;
        });
        const ms = Date.now() - t0;
        if (outcome.error) {
          const m = new vscode.TestMessage(`error: ${outcome.error.message}`);
          m.location = new vscode.Location(uri, lineRange(outcome.error.line, outcome.error.col));
          run.errored(pol, [m, ...problems], ms);
        } else if (problems.length) run.failed(pol, problems, ms);
        else if (failed) run.failed(pol, new vscode.TestMessage(`an expect failed under ${policy}`), ms);
        else run.passed(pol, ms);
      }
    }
    return done;
  }

  function childrenOf(item: vscode.TestItem): vscode.TestItem[] {
    const out: vscode.TestItem[] = [];
    item.children.forEach((c) => out.push(c));
    return out;
  }

  ctrl.createRunProfile(
    'Run',
    vscode.TestRunProfileKind.Run,
    async (request, token) => {
      if (!watching && !request.include) await ctrl.resolveHandler?.(undefined);
      const run = ctrl.createTestRun(request);
      try {
        await execute(run, request, token);
      } finally {
        run.end();
      }
    },
    true,
  );

  // Debug: the run's results first (in-process), then a debug session under
  // the first policy that failed (else the first asked for). The session
  // stops at the failed `expect`; a passing `expect` asked for alone gets a
  // breakpoint of its own for the session.
  ctrl.createRunProfile(
    'Debug',
    vscode.TestRunProfileKind.Debug,
    async (request, token) => {
      const run = ctrl.createTestRun(request);
      try {
        const done = await execute(run, request, token);
        if (token.isCancellationRequested || done.length === 0) return;
        // In the tree's order (the file's policies zap, update, access, tdp), whatever order the request listed them in.
        done.sort((a, b) => Number(a.pol.sortText ?? 0) - Number(b.pol.sortText ?? 0));
        const failing = done.find((d) => d.outcome && (d.outcome.error || d.outcome.incidents.length || [...d.outcome.expects.values()].some((e) => !e.passed)));
        const target = failing ?? done[0]!;
        const d = data.get(target.pol)!;
        const only = request.include?.length === 1 ? data.get(request.include[0]!) : undefined;
        let bp: vscode.SourceBreakpoint | undefined;
        if (!failing && only?.kind === 'expect') {
          bp = new vscode.SourceBreakpoint(new vscode.Location(d.uri, lineRange(only.line!)));
          vscode.debug.addBreakpoints([bp]);
        }
        const config = launchFor(programOf(d.uri), `${baseName(d.uri)} (${d.policy})`, { policy: d.policy, stopOnEntry: false });
        const ended = new Promise<void>((resolve) => {
          const sub = vscode.debug.onDidTerminateDebugSession((s) => {
            if (s.type === DEBUG_TYPE && s.configuration.name === config.name) {
              sub.dispose();
              resolve();
            }
          });
          token.onCancellationRequested(() => {
            sub.dispose();
            resolve();
          });
        });
        const started = await vscode.debug.startDebugging(vscode.workspace.getWorkspaceFolder(d.uri), config, { testRun: run });
        if (started) await ended;
        if (bp) vscode.debug.removeBreakpoints([bp]);
      } finally {
        run.end();
      }
    },
    true,
  );
}
