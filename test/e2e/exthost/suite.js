// Extension-host tests: loaded by code-server's own (Node) extension host as
// `extensionTestsPath`, next to the extension under test (loaded from
// `extensionDevelopmentPath`, the folder the .vsix installed). They reach the
// registered providers and the debugger only through the real `vscode` API.
// run.mjs starts them; the exit code comes back through codeAutomationExit.
'use strict';

const vscode = require('vscode');
const assert = require('assert');
const path = require('path');
const { createRunner } = require('./mini-mocha');

const EXT_ID = 'mmutrace.mmutrace';

/** Polls `check` until it returns a truthy value; throws with `what` after `ms`. */
async function waitFor(check, what, ms = 15000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function hoverText(hovers) {
  return hovers
    .flatMap((h) => h.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .join('\n');
}

/** The position of `needle` on the first line that starts with `lineStart`, `delta` characters in. */
function at(doc, lineStart, needle, delta = 0) {
  for (let i = 0; i < doc.lineCount; i++) {
    const text = doc.lineAt(i).text;
    if (text.startsWith(lineStart)) {
      const c = text.indexOf(needle);
      assert.ok(c >= 0, `no ${needle} on line ${i + 1}`);
      return new vscode.Position(i, c + delta);
    }
  }
  throw new Error(`no line starts with ${lineStart}`);
}

function flatten(symbols) {
  return symbols.flatMap((s) => [s, ...flatten(s.children || [])]);
}

/**
 * Watches the DAP traffic of every mmutrace session: the messages the
 * adapter sends (events, responses), in order, with a way to wait for one.
 */
class DapWatch {
  constructor() {
    this.sent = [];
    this.waiters = [];
    this.sessions = [];
    this.disposable = vscode.debug.registerDebugAdapterTrackerFactory('mmutrace', {
      createDebugAdapterTracker: (session) => {
        this.sessions.push(session);
        return {
          onDidSendMessage: (m) => {
            this.sent.push({ session: session.id, m });
            this.waiters = this.waiters.filter((w) => !w(m, session));
          },
        };
      },
    });
  }
  /** Resolves with the first message (from now on) that `pred` accepts. */
  next(pred, what, ms = 20000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no DAP message: ${what} within ${ms} ms; last messages: ${JSON.stringify(this.sent.slice(-5).map((x) => x.m.event || x.m.command))}`)), ms);
      this.waiters.push((m, s) => {
        if (!pred(m, s)) return false;
        clearTimeout(t);
        resolve(m);
        return true;
      });
    });
  }
  stopped(what) {
    return this.next((m) => m.type === 'event' && m.event === 'stopped', `stopped event (${what})`);
  }
  dispose() {
    this.disposable.dispose();
  }
}

async function stopAllSessions() {
  const ended = [];
  while (vscode.debug.activeDebugSession) {
    const s = vscode.debug.activeDebugSession;
    const done = new Promise((r) => {
      const d = vscode.debug.onDidTerminateDebugSession((t) => {
        if (t.id === s.id) {
          d.dispose();
          r();
        }
      });
    });
    await vscode.debug.stopDebugging(s);
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    ended.push(s.id);
    if (ended.length > 10) break;
  }
}

exports.run = async function run() {
  const { api, run } = createRunner();
  const { describe, it, before, after } = api;
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  const demandUri = folder && vscode.Uri.joinPath(folder.uri, 'demand-fault.mmutrace');
  let demand;

  describe('mmutrace in a real extension host', () => {
    before(async () => {
      assert.ok(folder, 'a workspace folder is open');
      const ext = vscode.extensions.getExtension(EXT_ID);
      assert.ok(ext, `extension ${EXT_ID} is loaded`);
      demand = await vscode.workspace.openTextDocument(demandUri);
      await vscode.window.showTextDocument(demand);
      assert.strictEqual(demand.languageId, 'mmutrace', 'a .mmutrace file gets the mmutrace language');
      await waitFor(() => ext.isActive, 'the extension to activate on the mmutrace language');
    });

    describe('providers', () => {
      it('diagnostics: the example is clean; a typo gets its message; undoing it clears it', async () => {
        const clean = () => vscode.languages.getDiagnostics(demandUri).filter((x) => x.source === 'mmutrace').length === 0;
        // Clean to begin with (diagnostics are computed on open).
        await waitFor(clean, 'no diagnostic on the example');
        const line = at(demand, 'read 0x401000', 'read').line;
        const typo = new vscode.WorkspaceEdit();
        typo.replace(demandUri, new vscode.Range(line, 0, line, 4), 'reed');
        assert.ok(await vscode.workspace.applyEdit(typo));
        try {
          const diags = await waitFor(() => {
            const d = vscode.languages.getDiagnostics(demandUri).filter((x) => x.source === 'mmutrace');
            return d.length ? d : null;
          }, 'a diagnostic for `reed`');
          assert.strictEqual(diags.length, 1, JSON.stringify(diags.map((d) => d.message)));
          assert.strictEqual(diags[0].message, 'unknown keyword `reed` (did you mean `read`?)');
          assert.strictEqual(diags[0].severity, vscode.DiagnosticSeverity.Error);
          assert.strictEqual(diags[0].range.start.line, line);
          // The quick fix replaces it.
          const actions = await vscode.commands.executeCommand('vscode.executeCodeActionProvider', demandUri, diags[0].range);
          assert.ok(actions.some((a) => a.title === 'Replace with `read`'), `quick fix offered: ${actions.map((a) => a.title)}`);
        } finally {
          const undo = new vscode.WorkspaceEdit();
          undo.replace(demandUri, new vscode.Range(line, 0, line, 4), 'read');
          await vscode.workspace.applyEdit(undo);
        }
        await waitFor(clean, 'the diagnostics to clear');
        // Back to the text on disk: nothing left unsaved for the other tests.
        if (demand.isDirty) await demand.save();
        assert.ok(!demand.isDirty);
      });

      it('hover: an address split per level, a PTE value decoded', async () => {
        const addr = hoverText(await vscode.commands.executeCommand('vscode.executeHoverProvider', demandUri, at(demand, 'read 0x400000 @fault', '0x400000', 2)));
        assert.ok(addr.includes('PML4 0, PDPT 0, PD 2, PT 0, offset 0'), addr);
        const pte = hoverText(await vscode.commands.executeCommand('vscode.executeHoverProvider', demandUri, at(demand, 'map 0x401000', '0x201000', 2)));
        assert.ok(pte.includes('Maps the 4 KiB page at guest-physical 0x201000'), pte);
        assert.ok(pte.includes('P W U A D'), pte);
      });

      it('completion: events after the setup, members after `last.`', async () => {
        const doc = await vscode.workspace.openTextDocument({ language: 'mmutrace', content: 'mode 64\nspace init\nmap 0x400000 = 0\nread 0x400000\n\nexpect last.' });
        const labels = async (pos) => {
          const list = await vscode.commands.executeCommand('vscode.executeCompletionItemProvider', doc.uri, pos);
          return list.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
        };
        const events = await labels(new vscode.Position(4, 0));
        for (const k of ['read', 'write', 'pte', 'cr3', 'expect']) assert.ok(events.includes(k), `${k} in ${events}`);
        assert.ok(!events.includes('map'), `no setup directive after the first event: ${events}`);
        const members = await labels(new vscode.Position(5, 'expect last.'.length));
        for (const k of ['exits', 'fault']) assert.ok(members.includes(k), `${k} in ${members}`);
      });

      it('document symbols: the space and the @fault label', async () => {
        const syms = flatten(await vscode.commands.executeCommand('vscode.executeDocumentSymbolProvider', demandUri));
        const names = syms.map((s) => s.name);
        assert.ok(names.includes('init'), `space init in ${names}`);
        const fault = syms.find((s) => s.name === '@fault');
        assert.ok(fault, `@fault in ${names}`);
        assert.strictEqual(fault.range.start.line, at(demand, 'read 0x400000 @fault', 'read').line);
      });

      it('Compare Policies: 3 exits from @fault under zap, 2 under update and access, 1 under tdp', async () => {
        await vscode.commands.executeCommand('mmutrace.comparePolicies', demandUri);
        const ed = await waitFor(() => vscode.window.visibleTextEditors.find((e) => e.document.uri.scheme === 'mmutrace-compare'), 'the compare document');
        const text = ed.document.getText();
        assert.match(text, /^\s+zap\s+update\s+access\s+tdp$/m, text);
        assert.match(text, /from @fault\s+3\s+2\s+2\s+1$/m, text);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      });
    });

    describe('debugger', () => {
      let dap;
      before(() => {
        dap = new DapWatch();
      });
      after(async () => {
        await stopAllSessions();
        dap.dispose();
      });

      it('startDebugging without a program debugs the active trace and stops on entry', async () => {
        await vscode.window.showTextDocument(demand);
        const stopped = dap.stopped('entry');
        const ok = await vscode.debug.startDebugging(folder, { type: 'mmutrace', request: 'launch', name: 'ext-host: active file' });
        assert.ok(ok, 'startDebugging returned false');
        const ev = await stopped;
        assert.strictEqual(ev.body.reason, 'entry');
        const s = vscode.debug.activeDebugSession;
        assert.strictEqual(s.type, 'mmutrace');
        assert.strictEqual(path.basename(s.configuration.program), 'demand-fault.mmutrace');
        const threads = await s.customRequest('threads');
        assert.deepStrictEqual(threads.threads.map((t) => t.name), ['vCPU 0']);
        const st = await s.customRequest('stackTrace', { threadId: 1 });
        assert.strictEqual(st.stackFrames[0].line, at(demand, 'read 0x401000', 'read').line + 1);
        const sc = await s.customRequest('scopes', { frameId: st.stackFrames[0].id });
        const names = sc.scopes.map((x) => x.name);
        assert.ok(names.some((n) => n.startsWith('Guest walk')), `guest walk scope in ${names}`);
        assert.ok(names.some((n) => n.startsWith('Shadow walk')), `shadow walk scope in ${names}`);
        const ev2 = await s.customRequest('evaluate', { expression: 'exits.total', context: 'repl', frameId: st.stackFrames[0].id });
        assert.strictEqual(ev2.result, '0');
      });

      it('the vmexit filter stops on the exit; stepIn shows the handler; stepBack returns', async () => {
        const s = vscode.debug.activeDebugSession;
        assert.ok(s, 'the session of the previous test is still there');
        await s.customRequest('setExceptionBreakpoints', { filters: ['vmexit'] });
        let stopped = dap.stopped('vmexit');
        await s.customRequest('continue', { threadId: 1 });
        let ev = await stopped;
        assert.strictEqual(ev.body.reason, 'exception');
        const text = `${ev.body.description} ${ev.body.text || ''}`;
        assert.match(text, /exit|fault/i, text);
        let st = await s.customRequest('stackTrace', { threadId: 1 });
        const lineAtExit = st.stackFrames[0].line;
        stopped = dap.stopped('step in');
        await s.customRequest('stepIn', { threadId: 1 });
        await stopped;
        st = await s.customRequest('stackTrace', { threadId: 1 });
        assert.ok(st.stackFrames.length >= 2, JSON.stringify(st.stackFrames.map((f) => f.name)));
        assert.match(st.stackFrames[0].name, /page_fault|walk_addr|fetch|pte_write/, st.stackFrames[0].name);
        stopped = dap.stopped('step back');
        await s.customRequest('stepBack', { threadId: 1 });
        await stopped;
        st = await s.customRequest('stackTrace', { threadId: 1 });
        assert.ok(st.stackFrames[0].line <= lineAtExit, `${st.stackFrames[0].line} <= ${lineAtExit}`);
        await s.customRequest('setExceptionBreakpoints', { filters: [] });
        await stopAllSessions();
      });

      it('policy zap from the configuration: 4 exits in all, 3 from @fault', async () => {
        const stopped = dap.stopped('end');
        const ok = await vscode.debug.startDebugging(folder, { type: 'mmutrace', request: 'launch', name: 'ext-host: zap', program: demandUri.fsPath, policy: 'zap', stopOnEntry: false });
        assert.ok(ok);
        const ev = await stopped;
        assert.strictEqual(ev.body.reason, 'end');
        const s = vscode.debug.activeDebugSession;
        const st = await s.customRequest('stackTrace', { threadId: 1 });
        const r = await s.customRequest('evaluate', { expression: 'exits.total', context: 'repl', frameId: st.stackFrames[0].id });
        assert.strictEqual(r.result, '4');
        const p = await s.customRequest('evaluate', { expression: 'policy', context: 'repl', frameId: st.stackFrames[0].id });
        assert.match(p.result, /zap/);
        const terminated = dap.next((m) => m.type === 'event' && m.event === 'terminated', 'terminated', 10000).catch(() => null);
        await stopAllSessions();
        await terminated;
      });
    });
  });

  await run();
};
