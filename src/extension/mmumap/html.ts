// The MMU Map webview's page: pure functions (no vscode import) that make
// its HTML with a strict Content-Security-Policy (no remote content; the one
// style element and the one script carry a fresh nonce), its CSS (colours
// from the VS Code theme's CSS variables only) and its script (plain DOM and
// SVG, built with createElement/textContent: no innerHTML of data).

import { WEBVIEW_SCRIPT } from './script';

export const MMU_MAP_VIEW_TYPE = 'mmutrace.mmuMap';
export const MMU_MAP_COMMAND = 'mmutrace.openMmuMap';
export const MMU_MAP_TITLE = 'MMU Map';

/** Messages from the webview to the extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'refresh'; bounds?: Record<string, number> }
  | { type: 'goto'; row: number }
  | { type: 'expand'; path: number[] };

/** A CodeLens on line 1 of a trace while an mmutrace session is active (pure, for tests). */
export function mmuMapLens(sessionActive: boolean): { title: string; tooltip: string; command: string } | undefined {
  return sessionActive ? { title: '$(type-hierarchy) MMU Map', tooltip: 'Open the MMU Map of the debug session: guest page tables beside the shadow pages', command: MMU_MAP_COMMAND } : undefined;
}

/** A nonce for the CSP: 32 random characters from [A-Za-z0-9]. */
export function makeNonce(random: (n: number) => Uint8Array = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n))): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (const b of random(32)) s += chars[b % chars.length];
  return s;
}

/** The Content-Security-Policy of the page: nothing but the nonce'd style and script. */
export function contentSecurityPolicy(nonce: string): string {
  return [`default-src 'none'`, `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, `img-src data:`, `font-src 'none'`, `connect-src 'none'`, `frame-src 'none'`, `form-action 'none'`, `base-uri 'none'`].join('; ');
}

/** Validates a message from the webview (it is untrusted input). */
export function parseWebviewMessage(m: unknown): FromWebview | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'ready':
      return { type: 'ready' };
    case 'refresh': {
      const bounds: Record<string, number> = {};
      if (typeof o.bounds === 'object' && o.bounds !== null) {
        for (const [k, v] of Object.entries(o.bounds)) if (['depth', 'tableEntries', 'shadowPages', 'pageEntries', 'buckets'].includes(k) && typeof v === 'number' && Number.isFinite(v)) bounds[k] = v;
      }
      return { type: 'refresh', bounds };
    }
    case 'goto':
      return typeof o.row === 'number' && Number.isSafeInteger(o.row) && o.row >= 0 ? { type: 'goto', row: o.row } : undefined;
    case 'expand':
      return Array.isArray(o.path) && o.path.length <= 5 && o.path.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x < 1024) ? { type: 'expand', path: o.path as number[] } : undefined;
    default:
      return undefined;
  }
}

export const CSS = `
:root { color-scheme: light dark; }
body { margin: 0; padding: 0; font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); display: flex; flex-direction: column; height: 100vh; overflow: hidden; }
header { padding: 4px 8px; border-bottom: 1px solid var(--vscode-panel-border); display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
header .pos { font-weight: bold; }
header .dim, .dim { color: var(--vscode-descriptionForeground); }
#status { padding: 8px; color: var(--vscode-descriptionForeground); }
#main { flex: 1; overflow: auto; position: relative; }
#cols { display: grid; grid-template-columns: minmax(0, 1fr) 48px minmax(0, 1fr); position: relative; }
#lines { position: absolute; left: 0; top: 0; pointer-events: none; overflow: visible; }
#lines path { fill: none; stroke: var(--vscode-charts-blue); stroke-width: 1.2; opacity: 0.55; }
#lines path.meta { stroke: var(--vscode-charts-purple); stroke-dasharray: 4 3; }
#lines path.walk { stroke: var(--vscode-focusBorder); stroke-width: 2.2; opacity: 0.95; }
.pane { padding: 4px 8px; min-width: 0; }
.pane h2 { font-size: 1em; margin: 4px 0; color: var(--vscode-descriptionForeground); }
.gtable, .spage { border: 1px solid var(--vscode-panel-border); border-radius: 3px; margin: 3px 0 6px; content-visibility: auto; contain-intrinsic-size: auto 60px; }
.gtable .gtable { margin-left: 14px; }
.thead, .phead { padding: 2px 4px; background: var(--vscode-sideBarSectionHeader-background, var(--vscode-editorWidget-background)); display: flex; gap: 8px; flex-wrap: wrap; }
.wp { color: var(--vscode-charts-orange); }
.meta-tag { color: var(--vscode-charts-purple); }
.spage.meta { border-style: dashed; border-color: var(--vscode-charts-purple); }
.gent, .sent { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); padding: 0 4px 0 2.2em; text-indent: -1.8em; white-space: pre-wrap; overflow-wrap: anywhere; cursor: default; }
.nav:focus { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
.twisty { display: inline-block; width: 1.2em; cursor: pointer; color: var(--vscode-descriptionForeground); }
.more { padding: 1px 4px 3px 20px; color: var(--vscode-textLink-foreground); cursor: pointer; }
.group > h3 { font-size: 0.95em; margin: 8px 0 2px; }
.group.current > h3 { color: var(--vscode-foreground); }
.m-walk { background: var(--vscode-editor-selectionBackground); outline: 1px solid var(--vscode-focusBorder); }
.m-step { box-shadow: inset 4px 0 0 var(--vscode-debugIcon-stepIntoForeground, var(--vscode-charts-purple)); background: var(--vscode-editor-stackFrameHighlightBackground, var(--vscode-editor-findMatchHighlightBackground)); }
.m-created { background: var(--vscode-diffEditor-insertedTextBackground); }
.m-updated { background: var(--vscode-editor-findMatchHighlightBackground); box-shadow: inset -4px 0 0 var(--vscode-charts-blue); }
.m-zapped { background: var(--vscode-diffEditor-removedTextBackground); text-decoration: line-through; }
.m-changed { box-shadow: inset -4px 0 0 var(--vscode-charts-yellow); }
.spage.m-created, .spage.m-zapped { outline: 2px solid var(--vscode-charts-green); }
.spage.m-zapped { outline-color: var(--vscode-charts-red); }
.flash { animation: flash 1.4s ease-out 2; }
@keyframes flash { 0% { filter: brightness(1.8); } 100% { filter: none; } }
@media (prefers-reduced-motion: reduce) { .flash { animation: none; } }
.badge { border-radius: 3px; padding: 0 4px; margin-left: 4px; font-size: 0.85em; border: 1px solid currentColor; text-indent: 0; }
.m-walk .badge { background: var(--vscode-editor-background); }
.b-created { color: var(--vscode-charts-green); } .b-zapped { color: var(--vscode-charts-red); } .b-updated { color: var(--vscode-charts-blue); } .b-changed { color: var(--vscode-charts-yellow); } .b-walk { color: var(--vscode-focusBorder); } .b-step { color: var(--vscode-charts-purple); }
footer { border-top: 1px solid var(--vscode-panel-border); padding: 4px 8px; }
#timeline { width: 100%; height: 90px; display: block; }
#timeline:focus { outline: 1px solid var(--vscode-focusBorder); }
#timeline .bar { fill: var(--vscode-disabledForeground, var(--vscode-descriptionForeground)); opacity: 0.35; cursor: pointer; }
#timeline .bar.fill { fill: var(--vscode-charts-green); opacity: 0.9; }
#timeline .bar.inject { fill: var(--vscode-charts-red); opacity: 0.9; }
#timeline .bar.emulate { fill: var(--vscode-charts-yellow); opacity: 0.9; }
#timeline .bar.npt { fill: var(--vscode-charts-purple); opacity: 0.9; }
#timeline .bar.cr3 { fill: var(--vscode-charts-blue); opacity: 0.9; }
#timeline .bar.unknown { opacity: 0.1; }
#timeline .bar.sel { stroke: var(--vscode-focusBorder); stroke-width: 2; }
#timeline .cum { fill: none; stroke-width: 1.5; }
#timeline .cum.p0 { stroke: var(--vscode-foreground); }
#timeline .cum.p1 { stroke: var(--vscode-charts-orange); stroke-dasharray: 5 3; }
#timeline .cum.p2 { stroke: var(--vscode-charts-purple); stroke-dasharray: 2 2; }
#timeline .here { stroke: var(--vscode-focusBorder); stroke-width: 2; }
.legend { display: flex; gap: 12px; flex-wrap: wrap; color: var(--vscode-descriptionForeground); font-size: 0.9em; }
.legend .sw-fill { color: var(--vscode-charts-green); } .legend .sw-inject { color: var(--vscode-charts-red); } .legend .sw-emulate { color: var(--vscode-charts-yellow); } .legend .sw-cr3 { color: var(--vscode-charts-blue); } .legend .sw-npt { color: var(--vscode-charts-purple); }
`;

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** The whole page. `nonce` must be fresh for every page load. */
export function mmuMapHtml(nonce: string): string {
  if (!/^[A-Za-z0-9]{16,}$/.test(nonce)) throw new Error('the nonce must be at least 16 letters or digits');
  const n = escapeAttr(nonce);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttr(contentSecurityPolicy(nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${MMU_MAP_TITLE}</title>
<style nonce="${n}">${CSS}</style>
</head>
<body>
<header id="head" aria-live="polite"><span class="pos">MMU Map</span></header>
<div id="status" role="status">Waiting for an mmutrace debug session to stop…</div>
<div id="main" hidden>
  <div id="cols">
    <section class="pane" id="guest" role="tree" aria-label="Guest page tables"></section>
    <div></div>
    <section class="pane" id="shadow" role="tree" aria-label="Shadow pages"></section>
  </div>
</div>
<footer id="foot" hidden>
  <div class="legend" id="legend"></div>
  <svg id="timeline" tabindex="0" role="listbox" aria-label="Timeline of the trace: Left and Right choose an event, Enter goes there"></svg>
</footer>
<script nonce="${n}">${WEBVIEW_SCRIPT}</script>
</body>
</html>`;
}
