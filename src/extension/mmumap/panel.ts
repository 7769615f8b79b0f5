// The MMU Map panel: a webview that follows the active mmutrace debug
// session. On each stop (seen by a debug adapter tracker) it asks the
// adapter for `mmuMap` and posts the answer to the webview; a click on the
// timeline sends the DAP `goto` request (forwards or backwards). It never
// runs the engine itself. It restores after a reload (WebviewPanelSerializer).

import * as vscode from 'vscode';
import { MMU_MAP_REQUEST } from '../../debug/mmumap';
import { MMU_MAP_COMMAND, MMU_MAP_TITLE, MMU_MAP_VIEW_TYPE, makeNonce, mmuMapHtml, mmuMapLens, parseWebviewMessage } from './html';

const DEBUG_TYPE = 'mmutrace';
/** Requests that make the session run (the map is stale until the next stop). */
const MOTIONS = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto', 'restart']);

class MmuMapController implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private panelSubs: vscode.Disposable[] = [];
  private bounds: Record<string, number> = {};
  private seq = 0;
  private threadId = 1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  readonly lensChanged = new vscode.EventEmitter<void>();

  constructor(private readonly extensionUri: vscode.Uri) {}

  open(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(MMU_MAP_VIEW_TYPE, MMU_MAP_TITLE, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, this.options());
    this.attach(panel);
  }

  private options(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return { enableScripts: true, localResourceRoots: [], retainContextWhenHidden: false };
  }

  attach(panel: vscode.WebviewPanel): void {
    this.detach();
    this.panel = panel;
    panel.webview.options = this.options();
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'icons', 'mmutrace.png');
    panel.webview.html = mmuMapHtml(makeNonce());
    this.panelSubs.push(
      panel.onDidDispose(() => {
        if (this.panel === panel) {
          this.panel = undefined;
          this.detach();
        }
      }),
      panel.webview.onDidReceiveMessage((raw: unknown) => void this.onMessage(raw)),
      panel.onDidChangeViewState((e) => {
        if (e.webviewPanel.visible) this.refresh();
      }),
    );
  }

  private detach(): void {
    for (const d of this.panelSubs) d.dispose();
    this.panelSubs = [];
  }

  private session(): vscode.DebugSession | undefined {
    const s = vscode.debug.activeDebugSession;
    return s && s.type === DEBUG_TYPE ? s : undefined;
  }

  private post(message: unknown): void {
    void this.panel?.webview.postMessage(message);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const m = parseWebviewMessage(raw);
    if (!m) return;
    const session = this.session();
    switch (m.type) {
      case 'ready':
        this.refresh();
        return;
      case 'refresh':
        if (m.bounds) this.bounds = m.bounds;
        this.refresh();
        return;
      case 'goto':
        if (!session) return;
        try {
          // DAP goto: target ids are row + 1 (session.ts); the thread is the vCPU of the last map.
          await session.customRequest('goto', { threadId: this.threadId, targetId: m.row + 1 });
        } catch (e) {
          this.post({ type: 'status', text: `goto failed: ${(e as Error).message}` });
        }
        return;
      case 'expand':
        if (!session) return;
        try {
          const map = (await session.customRequest(MMU_MAP_REQUEST, { ...this.bounds, expand: m.path, timeline: false })) as { expanded?: unknown };
          this.post({ type: 'expanded', table: map.expanded ?? null });
        } catch {
          /* the session moved on: the next stop sends a new map */
        }
        return;
    }
  }

  /** Asks the active session for the map (debounced; stale answers are dropped). */
  refresh(): void {
    if (!this.panel) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.request();
    }, 30);
  }

  private async request(): Promise<void> {
    const session = this.session();
    const seq = ++this.seq;
    if (!session) {
      this.post({ type: 'status', text: 'No mmutrace debug session. Start one (F5 on a .mmutrace file) and the map follows it.' });
      return;
    }
    try {
      const t0 = Date.now();
      const map = (await session.customRequest(MMU_MAP_REQUEST, { ...this.bounds })) as { threadId?: number };
      if (seq !== this.seq) return;
      if (typeof map.threadId === 'number') this.threadId = map.threadId;
      // requestMs: how long the adapter took to answer, as the extension saw it (for measurements).
      this.post({ type: 'map', map, requestMs: Date.now() - t0 });
    } catch (e) {
      if (seq === this.seq) this.post({ type: 'status', text: `The session is not stopped (${(e as Error).message}).` });
    }
  }

  running(session: vscode.DebugSession): void {
    if (session === this.session()) this.post({ type: 'status', text: 'Running…' });
  }

  dispose(): void {
    this.detach();
    this.panel?.dispose();
    this.lensChanged.dispose();
    if (this.timer) clearTimeout(this.timer);
  }
}

/** Registers the command, the serializer, the session tracking and the lens. */
export function registerMmuMap(context: vscode.ExtensionContext): void {
  const c = new MmuMapController(context.extensionUri);
  // Restores the panel after a reload (activation event onWebviewPanel:mmutrace.mmuMap). Every
  // VS Code since 1.x has it; minimal stand-ins of the API (some unit tests) may not.
  if (typeof vscode.window.registerWebviewPanelSerializer === 'function') {
    context.subscriptions.push(
      vscode.window.registerWebviewPanelSerializer(MMU_MAP_VIEW_TYPE, {
        async deserializeWebviewPanel(panel: vscode.WebviewPanel) {
          c.attach(panel);
        },
      }),
    );
  }
  context.subscriptions.push(
    c,
    vscode.commands.registerCommand(MMU_MAP_COMMAND, () => c.open()),
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
      createDebugAdapterTracker(session) {
        return {
          onWillReceiveMessage(m: { type?: string; command?: string }) {
            if (m.type === 'request' && m.command && MOTIONS.has(m.command)) c.running(session);
          },
          onDidSendMessage(m: { type?: string; event?: string }) {
            if (m.type === 'event' && (m.event === 'stopped' || m.event === 'invalidated')) c.refresh();
            else if (m.type === 'event' && m.event === 'terminated') c.refresh();
          },
        };
      },
    }),
    vscode.debug.onDidChangeActiveDebugSession(() => {
      c.refresh();
      c.lensChanged.fire();
    }),
    vscode.debug.onDidTerminateDebugSession(() => {
      c.refresh();
      c.lensChanged.fire();
    }),
    vscode.languages.registerCodeLensProvider(
      { language: 'mmutrace' },
      {
        onDidChangeCodeLenses: c.lensChanged.event,
        provideCodeLenses() {
          const s = vscode.debug.activeDebugSession;
          const lens = mmuMapLens(s?.type === DEBUG_TYPE);
          return lens ? [new vscode.CodeLens(new vscode.Range(0, 0, 0, 0), { title: lens.title, tooltip: lens.tooltip, command: lens.command })] : [];
        },
      },
    ),
  );
}
