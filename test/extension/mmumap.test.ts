// The MMU Map panel's pure parts: the page (a strict CSP with a nonce, no
// remote content, theme colours only), its script (valid, no innerHTML or
// eval), the messages it may send, and the package.json contributions.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CSS, MMU_MAP_COMMAND, MMU_MAP_VIEW_TYPE, contentSecurityPolicy, makeNonce, mmuMapHtml, mmuMapLens, parseWebviewMessage } from '../../src/extension/mmumap/html';
import { WEBVIEW_SCRIPT } from '../../src/extension/mmumap/script';

const pkg = JSON.parse(readFileSync(resolve(__dirname, '../../package.json'), 'utf8'));

describe('the page', () => {
  const nonce = makeNonce();
  const html = mmuMapHtml(nonce);

  test('a fresh nonce each time, letters and digits', () => {
    expect(nonce).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(makeNonce()).not.toBe(nonce);
    expect(() => mmuMapHtml('x"><script>')).toThrow();
  });

  test('a strict Content-Security-Policy with the nonce', () => {
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
    expect(meta).not.toBeNull();
    const csp = meta![1]!.replace(/&#39;/g, "'");
    expect(csp).toBe(contentSecurityPolicy(nonce));
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`script-src 'nonce-${nonce}'`);
    expect(csp).toContain(`style-src 'nonce-${nonce}'`);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:/);
    // The CSP comes before any script or style.
    expect(html.indexOf('Content-Security-Policy')).toBeLessThan(html.indexOf('<style'));
  });

  test('every script and style element carries the nonce; no inline handlers or style attributes', () => {
    const scripts = html.match(/<script\b[^>]*>/g)!;
    expect(scripts).toHaveLength(1);
    for (const s of scripts) expect(s).toBe(`<script nonce="${nonce}">`);
    const styles = html.match(/<style\b[^>]*>/g)!;
    for (const s of styles) expect(s).toBe(`<style nonce="${nonce}">`);
    expect(html).not.toMatch(/\son[a-z]+="/);
    expect(html).not.toMatch(/\sstyle="/);
  });

  test('no remote content: no http(s) URLs anywhere, no src or href', () => {
    // The SVG namespace is an identifier, not a fetch; it is the only URL allowed.
    const urls = html.match(/https?:\/\/[^\s'"]+/g) ?? [];
    expect(urls.filter((u) => u !== 'http://www.w3.org/2000/svg')).toEqual([]);
    expect(html).not.toMatch(/\s(src|href)=/);
    expect(html).not.toMatch(/@import|url\(/);
  });

  test('colours come from the theme', () => {
    const colours = CSS.match(/#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(/g) ?? [];
    expect(colours).toEqual([]);
    expect(CSS).toContain('var(--vscode-editor-background)');
    expect(CSS).toContain('var(--vscode-diffEditor-insertedTextBackground)');
  });

  test('the script is valid JavaScript that builds the DOM without innerHTML or eval', () => {
    expect(() => new Function(WEBVIEW_SCRIPT)).not.toThrow();
    expect(WEBVIEW_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    expect(WEBVIEW_SCRIPT).not.toContain('</script');
    // Keyboard: the trees and the timeline answer arrow keys and Enter.
    for (const key of ['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight', 'Enter', 'Home', 'End']) expect(WEBVIEW_SCRIPT).toContain(`'${key}'`);
    // State kept for a reload.
    expect(WEBVIEW_SCRIPT).toContain('vscode.setState');
    expect(WEBVIEW_SCRIPT).toContain('vscode.getState');
  });
});

describe('messages from the webview', () => {
  test('only well-formed messages pass', () => {
    expect(parseWebviewMessage({ type: 'ready' })).toEqual({ type: 'ready' });
    expect(parseWebviewMessage({ type: 'goto', row: 12 })).toEqual({ type: 'goto', row: 12 });
    expect(parseWebviewMessage({ type: 'goto', row: -1 })).toBeUndefined();
    expect(parseWebviewMessage({ type: 'goto', row: '12' })).toBeUndefined();
    expect(parseWebviewMessage({ type: 'expand', path: [0, 3] })).toEqual({ type: 'expand', path: [0, 3] });
    expect(parseWebviewMessage({ type: 'expand', path: [0, 'x'] })).toBeUndefined();
    expect(parseWebviewMessage({ type: 'refresh', bounds: { shadowPages: 600, evil: 1 } })).toEqual({ type: 'refresh', bounds: { shadowPages: 600 } });
    expect(parseWebviewMessage({ type: 'launch' })).toBeUndefined();
    expect(parseWebviewMessage(null)).toBeUndefined();
  });
});

describe('the lens', () => {
  test('on line 1 while an mmutrace session is active', () => {
    expect(mmuMapLens(false)).toBeUndefined();
    expect(mmuMapLens(true)!.command).toBe(MMU_MAP_COMMAND);
  });
});

describe('package.json', () => {
  test('the command, in the debug toolbar and the palette, and the serializer activation', () => {
    const cmd = pkg.contributes.commands.find((c: { command: string }) => c.command === MMU_MAP_COMMAND);
    expect(cmd.title).toBe('Open MMU Map');
    // The menu id is `debug/toolBar` exactly (VS Code matches menu ids case-sensitively).
    expect(pkg.contributes.menus['debug/toolbar']).toBeUndefined();
    expect(pkg.contributes.menus['debug/toolBar']).toContainEqual(expect.objectContaining({ command: MMU_MAP_COMMAND, when: 'debugType == mmutrace' }));
    expect(pkg.contributes.menus.commandPalette.some((m: { command: string }) => m.command === MMU_MAP_COMMAND)).toBe(true);
    expect(pkg.activationEvents).toContain(`onWebviewPanel:${MMU_MAP_VIEW_TYPE}`);
  });
});

// ---------------------------------------------------------------------------
// The script against a small stand-in DOM (just what it uses), fed with real
// data from the debugger's map of the seed's demand fault.

type Listener = (ev: Record<string, unknown>) => void;

class FakeEl {
  tagName: string;
  children: FakeEl[] = [];
  parentNode: FakeEl | null = null;
  attrs = new Map<string, string>();
  dataset: Record<string, string> = {};
  classes = new Set<string>();
  listeners = new Map<string, Listener[]>();
  text = '';
  tabIndex = -1;
  title = '';
  hidden = false;
  id = '';
  style: Record<string, string> = {};
  constructor(tag: string, readonly doc: FakeDoc) {
    this.tagName = tag.toUpperCase();
  }
  get className(): string {
    return [...this.classes].join(' ');
  }
  set className(v: string) {
    this.classes = new Set(v.split(/\s+/).filter(Boolean));
  }
  get classList() {
    return { add: (c: string) => this.classes.add(c), contains: (c: string) => this.classes.has(c), remove: (c: string) => this.classes.delete(c) };
  }
  get textContent(): string {
    return this.text + this.children.map((c) => c.textContent).join('');
  }
  set textContent(v: string) {
    this.children = [];
    this.text = v;
  }
  get firstChild(): FakeEl | null {
    return this.children[0] ?? null;
  }
  appendChild(c: FakeEl): FakeEl {
    c.parentNode = this;
    this.children.push(c);
    return c;
  }
  removeChild(c: FakeEl): FakeEl {
    this.children = this.children.filter((x) => x !== c);
    return c;
  }
  remove(): void {
    this.parentNode?.removeChild(this);
  }
  setAttribute(k: string, v: string): void {
    if (k === 'class') this.className = v;
    else if (k.startsWith('data-')) this.dataset[k.slice(5)] = v;
    else this.attrs.set(k, v);
  }
  getAttribute(k: string): string | null {
    if (k === 'class') return this.className;
    if (k.startsWith('data-')) return this.dataset[k.slice(5)] ?? null;
    return this.attrs.get(k) ?? null;
  }
  removeAttribute(k: string): void {
    if (k.startsWith('data-')) delete this.dataset[k.slice(5)];
    else this.attrs.delete(k);
  }
  addEventListener(t: string, l: Listener): void {
    this.listeners.set(t, [...(this.listeners.get(t) ?? []), l]);
  }
  dispatch(t: string, ev: Record<string, unknown> = {}): void {
    for (const l of this.listeners.get(t) ?? []) l({ target: this, preventDefault() {}, ...ev });
  }
  click(): void {
    this.dispatch('click');
  }
  focus(): void {
    this.doc.activeElement = this;
  }
  scrollIntoView(): void {}
  getBoundingClientRect() {
    return { left: 0, top: 0, right: 100, bottom: 20, width: 100, height: 20 };
  }
  get scrollWidth(): number {
    return 800;
  }
  get scrollHeight(): number {
    return 600;
  }
  closest(sel: string): FakeEl | null {
    for (let e: FakeEl | null = this; e; e = e.parentNode) if (matches(e, sel)) return e;
    return null;
  }
  *walk(): Generator<FakeEl> {
    for (const c of this.children) {
      yield c;
      yield* c.walk();
    }
  }
  querySelectorAll(sel: string): FakeEl[] {
    return [...this.walk()].filter((e) => matches(e, sel));
  }
  querySelector(sel: string): FakeEl | null {
    return this.querySelectorAll(sel)[0] ?? null;
  }
}

function matchesCompound(e: FakeEl, s: string): boolean {
  const m = /^([a-z]*)((?:\.[\w-]+)*)((?:\[[\w-]+(?:="[^"]*")?\])*)$/.exec(s.trim());
  if (!m) throw new Error(`selector not modelled: ${s}`);
  if (m[1] && e.tagName !== m[1].toUpperCase()) return false;
  for (const c of m[2]!.split('.').filter(Boolean)) if (!e.classes.has(c)) return false;
  for (const a of m[3]!.matchAll(/\[([\w-]+)(?:="([^"]*)")?\]/g)) {
    const v = e.getAttribute(a[1]!);
    if (a[2] === undefined ? v === null || v === undefined : v !== a[2]) return false;
  }
  return true;
}

function matches(e: FakeEl, sel: string): boolean {
  return sel.split(',').some((part) => {
    const steps = part.split('>').map((x) => x.trim());
    if (steps.length === 1) return matchesCompound(e, steps[0]!);
    return matchesCompound(e, steps[1]!) && e.parentNode !== null && matchesCompound(e.parentNode, steps[0]!);
  });
}

class FakeDoc {
  activeElement: FakeEl | null = null;
  body = new FakeEl('body', this);
  createElement(tag: string): FakeEl {
    return new FakeEl(tag, this);
  }
  createElementNS(_ns: string, tag: string): FakeEl {
    return new FakeEl(tag, this);
  }
  createTextNode(t: string): FakeEl {
    const e = new FakeEl('#text', this);
    e.text = t;
    return e;
  }
  querySelector(sel: string): FakeEl | null {
    return this.body.querySelector(sel);
  }
  querySelectorAll(sel: string): FakeEl[] {
    return this.body.querySelectorAll(sel);
  }
  getElementById(id: string): FakeEl | null {
    if (this.body.id === id) return this.body;
    return [...this.body.walk()].find((e) => e.id === id) ?? null;
  }
}

function page() {
  const doc = new FakeDoc();
  const mk = (tag: string, id: string, parent: FakeEl): FakeEl => {
    const e = doc.createElement(tag);
    e.id = id;
    parent.appendChild(e);
    return e;
  };
  mk('header', 'head', doc.body);
  mk('div', 'status', doc.body);
  const main = mk('div', 'main', doc.body);
  const cols = mk('div', 'cols', main);
  mk('section', 'guest', cols);
  mk('section', 'shadow', cols);
  const foot = mk('footer', 'foot', doc.body);
  mk('div', 'legend', foot);
  mk('svg', 'timeline', foot);
  const posted: Record<string, unknown>[] = [];
  let saved: unknown;
  const win: { listeners: Listener[] } = { listeners: [] };
  const frames: (() => void)[] = [];
  const run = new Function('acquireVsCodeApi', 'document', 'window', 'requestAnimationFrame', WEBVIEW_SCRIPT);
  run(
    () => ({ postMessage: (m: Record<string, unknown>) => posted.push(m), getState: () => saved, setState: (s: unknown) => (saved = s) }),
    doc,
    { addEventListener: (t: string, l: Listener) => t === 'message' && win.listeners.push(l) },
    (f: () => void) => frames.push(f),
  );
  const send = (data: unknown): void => {
    for (const l of win.listeners) l({ data });
    while (frames.length) frames.shift()!();
  };
  return { doc, posted, send, saved: () => saved };
}

describe('the script in a page', () => {
  test('renders the map of the pte write under update, marks included, and asks for goto', async () => {
    const { TraceRuntime } = await import('../../src/debug/runtime');
    const { buildMmuMap } = await import('../../src/debug/mmumap');
    const text = readFileSync(resolve(__dirname, '../../examples/demand-fault.mmutrace'), 'utf8');
    const rt = new TraceRuntime({ output() {}, stopped() {}, terminated() {}, progress() {}, breakpointsChanged() {}, invalidated() {} });
    rt.load({ program: 'demand-fault.mmutrace', policy: 'update', audit: true, logExits: false }, text);
    rt.state = 'stopped';
    rt.moveTo({ kind: 'before', row: rt.rowAtOrAfterLine(18), step: 0 });
    const map = JSON.parse(JSON.stringify(buildMmuMap(rt)));

    const p = page();
    expect(p.posted[0]).toEqual({ type: 'ready' });
    p.send({ type: 'status', text: 'Running…' });
    expect(p.doc.getElementById('status')!.textContent).toBe('Running…');
    p.send({ type: 'map', map });
    const shadow = p.doc.getElementById('shadow')!;
    const guest = p.doc.getElementById('guest')!;
    // The new shadow pte is marked updated (and flashes); the walk is highlighted on both sides.
    const upd = shadow.querySelectorAll('.sent.m-updated');
    expect(upd).toHaveLength(1);
    expect(upd[0]!.classes.has('flash')).toBe(true);
    expect(upd[0]!.textContent).toContain('updated');
    expect(guest.querySelectorAll('.gent.m-walk')).toHaveLength(4);
    expect(shadow.querySelectorAll('.sent.m-walk')).toHaveLength(4);
    expect(guest.querySelectorAll('.gent.m-changed')).toHaveLength(1);
    // Four write-protected tables, four shadow pages, a line from each page to its table.
    expect(guest.querySelectorAll('.gtable')).toHaveLength(4);
    expect(shadow.querySelectorAll('.spage')).toHaveLength(4);
    expect(p.doc.getElementById('lines')!.children).toHaveLength(4);
    // The timeline: one mark per event; a click asks for goto of its row.
    const bars = p.doc.getElementById('timeline')!.querySelectorAll('.bar');
    expect(bars.map((b) => b.getAttribute('class'))).toEqual(['bar fill', 'bar inject', 'bar emulate sel', 'bar none']);
    p.doc.getElementById('timeline')!.dispatch('click', { target: bars[0] });
    expect(p.posted.at(-1)).toEqual({ type: 'goto', row: map.timeline.buckets[0].row });
    // Keyboard: Left then Enter goes to the mark before the current one.
    p.doc.getElementById('timeline')!.dispatch('keydown', { key: 'ArrowRight' });
    p.doc.getElementById('timeline')!.dispatch('keydown', { key: 'Enter' });
    expect(p.posted.at(-1)).toEqual({ type: 'goto', row: map.timeline.buckets[1].row });
    // Down arrow moves the focus through the tree.
    const first = guest.querySelector('.nav')!;
    first.focus();
    guest.dispatch('keydown', { key: 'ArrowDown' });
    expect(p.doc.activeElement).toBe(guest.querySelectorAll('.nav')[1]);
  });

  test('a collapsed table opens on request and stays open across stops', async () => {
    const { TraceRuntime } = await import('../../src/debug/runtime');
    const { buildMmuMap } = await import('../../src/debug/mmumap');
    const rt = new TraceRuntime({ output() {}, stopped() {}, terminated() {}, progress() {}, breakpointsChanged() {}, invalidated() {} });
    rt.load({ program: 'x.mmutrace', audit: false, logExits: false }, 'mode 64\nspace a\nmap 0x400000 = 0x1000 P W U A D\nspace b\nmap 0x400000 = 0x2000 P W U A D\ncr3 b\n');
    rt.state = 'stopped';
    const map = JSON.parse(JSON.stringify(buildMmuMap(rt, { depth: 0 })));
    const p = page();
    p.send({ type: 'map', map });
    const row = p.doc.getElementById('guest')!.querySelector('.gent')!;
    expect(row.dataset.expand).toBe('0');
    row.dispatch('dblclick');
    expect(p.posted.at(-1)).toEqual({ type: 'expand', path: [0] });
    p.send({ type: 'expanded', table: JSON.parse(JSON.stringify(buildMmuMap(rt, { depth: 0, expand: [0] }).expanded)) });
    expect(p.doc.getElementById('guest')!.querySelectorAll('.gtable')).toHaveLength(2);
    expect(p.saved()).toEqual({ bounds: {}, open: { '0': true } });
    // The next stop's map comes collapsed: the panel asks again for what was open.
    p.send({ type: 'map', map });
    expect(p.posted.at(-1)).toEqual({ type: 'expand', path: [0] });
  });
});
