// The VS Code workbench in headless Chromium, used the way a person uses it:
// keys, the command palette, clicks and context menus. Everything waits for
// a condition on the DOM (never for a fixed time) and every scenario gets a
// report: its checks, what was missing, its screenshots, and on failure what
// the screen showed.

import { appendFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM } from './setup.mjs';
import { log, waitUntil } from './util.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--disable-default-apps',
  '--metrics-recording-only',
  '--password-store=basic',
];

/** Launches Debian's chromium headless with a fresh profile folder. */
export async function launchBrowser(chromium, profile, viewport = { width: 1600, height: 1000 }) {
  rmSync(profile, { recursive: true, force: true });
  mkdirSync(profile, { recursive: true });
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    env: { ...process.env, XDG_CONFIG_HOME: join(profile, 'xdg-config'), XDG_CACHE_HOME: join(profile, 'xdg-cache') },
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  return { ctx, page };
}

/**
 * Reports every error notification the workbench shows (a toast, or a row of
 * the notifications center: a `.notification-list-item` whose severity icon is
 * `codicon-error`) to `onError(message)`, once per message. A MutationObserver
 * in the page does the looking; installed as an init script, it is there from
 * the first paint and again after every reload of the window.
 */
export async function watchErrorNotifications(page, onError) {
  await page.exposeFunction('mmutraceErrorNotification', (text) => onError(text));
  await page.addInitScript(() => {
    const seen = new Set();
    let pending = false;
    const scan = () => {
      pending = false;
      for (const icon of document.querySelectorAll('.notification-list-item-icon.codicon-error')) {
        const item = icon.closest('.notification-list-item');
        const text = (item?.querySelector('.notification-list-item-message')?.textContent ?? '').replace(/\s+/g, ' ').trim();
        if (!text || seen.has(text)) continue;
        seen.add(text);
        window.mmutraceErrorNotification(text);
      }
    };
    // Rows are templates filled in after they are attached: look again (coalesced) after every change.
    const observer = new MutationObserver(() => {
      if (!pending) {
        pending = true;
        setTimeout(scan, 50);
      }
    });
    observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'], characterData: true });
  });
}

/** Text as Monaco renders it: non-breaking spaces become spaces. */
export const norm = (s) => (s ?? '').replace(/\u00a0/g, ' ');

const EDITOR = '.editor-group-container .editor-instance .monaco-editor';

/** The adapter's exception filters (their labels) and whether each is on by default. */
const DEFAULT_FILTERS = {
  'VM exits': false,
  'Guest page-table writes': false,
  'Injected guest page faults': false,
  'Write floods': false,
  'Failed expects': true,
  'Audit violations': true,
};

export class Workbench {
  constructor(ctx, page, { runDir, shots, workspace, restoreWorkspace }) {
    this.restoreWorkspace = restoreWorkspace;
    this.ctx = ctx;
    this.page = page;
    this.runDir = runDir;
    this.shots = shots;
    this.workspace = workspace;
    this.current = null;
    /** Error notifications seen, each with the scenario it appeared in (null: before the first or between two). */
    this.errorNotifications = [];
    const consoleLog = join(runDir, 'browser-console-ui.log');
    page.on('console', (m) => appendFileSync(consoleLog, `[${m.type()}] ${m.text()}\n`));
    page.on('pageerror', (e) => appendFileSync(consoleLog, `[pageerror] ${e.message}\n`));
  }

  static async open(chromium, { url, runDir, shots, workspace, restoreWorkspace }) {
    const { ctx, page } = await launchBrowser(chromium, join(runDir, 'chrome-ui'));
    page.setDefaultTimeout(20000);
    const wb = new Workbench(ctx, page, { runDir, shots, workspace, restoreWorkspace });
    await watchErrorNotifications(page, (text) => {
      const scenario = wb.current?.id ?? null;
      wb.errorNotifications.push({ scenario, text });
      log(`  error notification${scenario === null ? ' (between scenarios)' : ''}: ${text}`);
    });
    log(`opening ${url}`);
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 90000 });
    await wb.selfTestNotificationWatch();
    // The explorer lists the workspace: the remote file system and the server connection work.
    await page.waitForSelector('.explorer-folders-view .monaco-list-row:has-text("demand-fault.mmutrace")', { timeout: 90000 });
    log('workbench ready');
    return wb;
  }

  async close() {
    await this.ctx.close().catch(() => {});
  }

  /**
   * The watch on error notifications sees one: a row shaped as VS Code draws
   * an error notification is added to the page, must be reported, and is
   * taken away again (so that a broken watch cannot pass every scenario).
   */
  async selfTestNotificationWatch() {
    const text = 'mmutrace e2e: the watch on error notifications works';
    await this.page.evaluate((t) => {
      const item = document.createElement('div');
      item.className = 'notification-list-item mmutrace-self-test';
      item.innerHTML = '<div class="notification-list-item-icon codicon codicon-error"></div><div class="notification-list-item-message"></div>';
      item.lastElementChild.textContent = t;
      item.style.display = 'none';
      document.body.appendChild(item);
    }, text);
    await waitUntil(() => this.errorNotifications.some((n) => n.text === text), { timeoutMs: 10000, what: 'the watch on error notifications to see a test row' });
    await this.page.evaluate(() => document.querySelector('.mmutrace-self-test')?.remove());
    this.errorNotifications = this.errorNotifications.filter((n) => n.text !== text);
    log('the watch on error notifications works (a test row was seen)');
  }

  // -------------------------------------------------------------------------
  // Scenario bookkeeping.

  /** Plays a scenario: resets the workbench, runs it with a time limit, and returns its report. */
  async play(sc) {
    const report = { id: sc.id, title: sc.title, status: 'pass', checks: [], missing: [], shots: [], ms: 0 };
    this.current = report;
    const t0 = Date.now();
    log(`scenario ${sc.id}: ${sc.title}`);
    try {
      await this.reset().catch((e) => {
        throw new Error(`resetting the workbench before the scenario: ${e.message}`);
      });
      let timer;
      await Promise.race([
        sc.run(this),
        new Promise((_, rej) => {
          timer = setTimeout(() => rej(new Error(`scenario timed out after ${sc.timeoutMs ?? 120000} ms`)), sc.timeoutMs ?? 120000);
        }),
      ]).finally(() => clearTimeout(timer));
    } catch (e) {
      report.error = e.message.split('\n')[0];
      log(`scenario ${sc.id} error: ${e.message.split('\n').slice(0, 3).join(' / ')}`);
      report.seen = await this.whatIsSeen().catch((x) => `(could not read the screen: ${x.message})`);
      log(`what the screen showed:\n${report.seen}`);
      await this.shot(`${String(sc.id).padStart(2, '0')}-failed`).catch(() => {});
    }
    // No scenario may make VS Code show an error notification (a toast or the notifications center).
    const notes = this.errorNotifications.filter((n) => n.scenario === sc.id).map((n) => n.text);
    this.check(notes.length === 0, 'no error notification appeared', { seen: notes.join(' | ') });
    report.ms = Date.now() - t0;
    if (report.error || report.checks.some((c) => !c.ok && !c.missing)) report.status = 'fail';
    else if (report.missing.length) report.status = 'missing';
    log(`scenario ${sc.id}: ${report.status.toUpperCase()} (${(report.ms / 1000).toFixed(1)} s)`);
    this.current = null;
    return report;
  }

  /**
   * Records a check. `missing` describes the extension or adapter feature that
   * the check needs, for the report when it fails.
   */
  check(ok, what, { seen, missing } = {}) {
    const c = { ok: !!ok, what, seen: ok ? undefined : seen, missing: ok ? undefined : missing };
    this.current?.checks.push(c);
    if (!ok && missing) this.current?.missing.push(`${missing}${seen ? ` (seen: ${seen})` : ''}`);
    log(`  ${ok ? 'PASS' : missing ? 'MISSING' : 'FAIL'} ${what}${!ok && seen ? `\n        seen: ${seen}` : ''}`);
    return !!ok;
  }

  /** Waits for `cond` (async, returns truthy) and records the check; false when it never held. */
  async expect(what, cond, { timeoutMs = 15000, seen, missing } = {}) {
    try {
      await waitUntil(cond, { timeoutMs, interval: 150, what });
      return this.check(true, what);
    } catch (e) {
      let s = seen ? await seen().catch((x) => `(${x.message})`) : e.message;
      if (typeof s === 'string' && s.length > 600) s = `${s.slice(0, 600)}…`;
      return this.check(false, what, { seen: s, missing });
    }
  }

  async shot(name, { keepMouse = false } = {}) {
    const file = join(this.shots, `${name}.png`);
    // Away from anything with a hover (the activity bar's empty part), unless the hover is the point.
    if (!keepMouse) {
      await this.page.mouse.move(20, 600);
      await waitUntil(async () => (await this.page.locator('.workbench-hover-container, .monaco-hover:not(.hidden)').count()) === 0, { timeoutMs: 3000, what: 'hovers to go' }).catch(() => {});
    }
    await this.page.screenshot({ path: file });
    this.current?.shots.push(name);
    log(`  screenshot ${file}`);
    return file;
  }

  /** The visible text of the workbench's parts, for a failure report. */
  async whatIsSeen() {
    return this.page.evaluate(() => {
      const t = (sel) =>
        [...document.querySelectorAll(sel)]
          .map((e) => e.innerText)
          .join(' | ')
          .replace(/\u00a0/g, ' ')
          .replace(/\n+/g, ' / ')
          .slice(0, 1500);
      return [
        `notifications: ${t('.notifications-toasts .notification-toast') || '(none)'}`,
        `dialog: ${t('.monaco-dialog-box') || '(none)'}`,
        `quick input: ${t('.quick-input-widget:not([style*="display: none"])') || '(none)'}`,
        `tabs: ${t('.tabs-container .tab')}`,
        `side bar: ${t('.part.sidebar')}`,
        `panel: ${t('.part.panel')}`,
        `debug toolbar: ${document.querySelector('.debug-toolbar') ? 'shown' : 'none'}`,
        `status bar: ${t('.part.statusbar')}`,
      ].join('\n');
    });
  }

  // -------------------------------------------------------------------------
  // General moves.

  /** Back to a known state: no debug session, no breakpoints, no editors, no widgets. */
  async reset() {
    const p = this.page;
    for (let i = 0; i < 3; i++) await p.keyboard.press('Escape');
    await p.mouse.move(5, 500);
    if (await this.debugging()) await this.stopDebugging();
    await this.resetBreakpoints();
    await this.closeAllEditors();
    // The files as copied from examples/, whatever an earlier scenario did to them.
    if (this.restoreWorkspace) this.restoreWorkspace();
  }

  /** Exception filters as the adapter defaults them, no line or data breakpoint (they persist in the workspace's state). */
  async resetBreakpoints() {
    const p = this.page;
    await this.openRunAndDebug();
    // A workspace that never had a breakpoint or a session shows no Breakpoints view.
    if ((await this.viewState('Breakpoints')) === null) return;
    await this.setViewExpanded('Breakpoints', true);
    const bps = p.locator('.debug-breakpoints');
    // (Its header can show for a moment while the view container lays out.)
    if (!(await bps.waitFor({ timeout: 3000 }).then(() => true, () => false))) return;
    const others = bps.locator('.monaco-list-row .breakpoint:not(.exception)');
    if (await others.count()) {
      // VS Code 1.139 lists it as "Remove All Breakpoints" (no category).
      await this.runCommand('Remove All Breakpoints');
      await waitUntil(async () => (await others.count()) === 0, { timeoutMs: 10000, what: 'the breakpoints to go' });
    }
    for (const [name, on] of Object.entries(DEFAULT_FILTERS)) await this.setExceptionFilter(bps, name, on);
  }

  /**
   * Sets one exception filter's checkbox in the Breakpoints view. The list can
   * render again at any moment (after a window reload it fills in as the
   * breakpoints are restored: seen in CI, a row counted and then gone before
   * its checkbox was read), so every read looks the row up again and a
   * vanished row is waited for, never read with a long timeout. A row that is
   * not shown at all has nothing to reset.
   */
  async setExceptionFilter(bps, name, on) {
    const box = bps.locator('.monaco-list-row', { hasText: name }).locator('.monaco-checkbox').first();
    const state = async () => {
      if (!(await box.count())) return 'absent';
      const v = await box.getAttribute('aria-checked', { timeout: 500 }).catch(() => null);
      return v === null ? 'rendering' : v === 'true';
    };
    await waitUntil(
      async () => {
        const s = await state();
        if (s === 'absent' || s === on) return true;
        if (s === 'rendering') return false;
        await box.click({ timeout: 1000 }).catch(() => {});
        // The click toggles it once: wait for that before another look, so a slow repaint is not toggled back.
        await waitUntil(async () => (await state()) !== s, { timeoutMs: 2000, interval: 100, what: 'the click to take' }).catch(() => {});
        return false;
      },
      { timeoutMs: 15000, what: `the ${name} exception filter ${on ? 'on' : 'off'}` },
    );
  }

  async closeAllEditors() {
    const p = this.page;
    if ((await p.locator('.tabs-container .tab').count()) === 0) return;
    // Unsaved edits are reverted, never saved: the workspace files stay as copied.
    for (let i = 0; i < 10; i++) {
      const dirty = p.locator('.tabs-container .tab.dirty');
      if ((await dirty.count()) === 0) break;
      await dirty.first().click();
      await this.runCommand('File: Revert File');
    }
    await this.runCommand('View: Close All Editors');
    await waitUntil(
      async () => {
        const dlg = p.locator('.monaco-dialog-box');
        if (await dlg.count()) {
          const dont = dlg.locator('.monaco-button', { hasText: /Don't Save/ });
          if (await dont.count()) await dont.first().click();
        }
        return (await p.locator('.tabs-container .tab').count()) === 0;
      },
      { timeoutMs: 15000, what: 'every editor to close' },
    );
  }

  /**
   * Runs a command from the palette (F1). Retried: for a few seconds after
   * load, commands behind context keys are not offered yet.
   */
  async runCommand(label, { tries = 30, optional = false } = {}) {
    const p = this.page;
    const input = p.locator('.quick-input-widget input.input');
    const exactLabel = new RegExp(`^${escapeRe(label)}$`);
    const row = p
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: p.locator('.label-name', { hasText: exactLabel }) })
      .first();
    for (let i = 1; i <= tries; i++) {
      try {
        // (A view that takes the focus as it opens can close the palette again: every step is retried.)
        if (!(await input.isVisible())) await p.keyboard.press('F1');
        await input.waitFor({ state: 'visible', timeout: 5000 });
        await input.fill(`>${label}`, { timeout: 3000 });
        await row.waitFor({ timeout: 2000 });
        await row.click({ timeout: 3000 });
        await input.waitFor({ state: 'hidden', timeout: 3000 }).catch(() => {});
        return true;
      } catch {
        if (await input.isVisible()) await p.keyboard.press('Escape');
        if (optional && i >= 2) return false;
        if (i % 5 === 0) log(`  palette: "${label}" not offered yet (try ${i})`);
      }
    }
    throw new Error(`command not found in the palette: ${label}`);
  }

  /** Types into a quick input opened by `key` (Quick Open, Go to Line) and accepts, retried like the palette. */
  async quickInput(key, text, accept) {
    const p = this.page;
    const input = p.locator('.quick-input-widget input.input');
    let last;
    for (let i = 1; i <= 5; i++) {
      try {
        if (await input.isVisible()) await p.keyboard.press('Escape');
        await p.keyboard.press(key);
        await input.waitFor({ state: 'visible', timeout: 5000 });
        await input.fill(text, { timeout: 3000 });
        await accept();
        await input.waitFor({ state: 'hidden', timeout: 5000 });
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  /** Opens a workspace file with Quick Open and waits for its editor. */
  async openFile(name, probe) {
    const p = this.page;
    await this.quickInput('Control+P', name, async () => {
      const row = p.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
      await row.waitFor({ timeout: 10000 });
      await row.click({ timeout: 3000 });
    });
    await p.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 15000 });
    if (probe) await p.locator(`${EDITOR} .view-lines`, { hasText: probe }).first().waitFor({ timeout: 15000 });
    return this.editor();
  }

  /** The active editor (the one of the active group). */
  editor() {
    return this.page.locator('.editor-group-container.active .editor-instance .monaco-editor').first();
  }

  async editorText() {
    return norm(await this.editor().locator('.view-lines').innerText());
  }

  /** The rendered line of the active editor that starts with `start`. */
  line(start) {
    return this.editor()
      .locator('.view-line')
      .filter({ hasText: new RegExp(`^${escapeRe(start).replace(/ /g, '[ \\u00a0]')}`) })
      .first();
  }

  /** The token span holding exactly `text` on the line that starts with `start`. */
  token(start, text) {
    return this.line(start)
      .locator('span > span')
      .filter({ hasText: new RegExp(`^${escapeRe(text)}$`) })
      .first();
  }

  async focusEditor() {
    const ed = this.editor();
    await ed.waitFor({ timeout: 15000 });
    // A click on the text area would move the cursor: focus through the command instead,
    // and wait until the editor has the keyboard (keys typed before would land elsewhere).
    await this.runCommand('View: Focus Active Editor Group');
    await this.waitFocus('.editor-group-container.active .editor-instance .monaco-editor', 'the active editor');
  }

  /** Waits until the keyboard focus is inside `selector`. */
  async waitFocus(selector, what) {
    await waitUntil(() => this.page.evaluate((sel) => !!document.activeElement?.closest(sel), selector), { timeoutMs: 10000, what: `the keyboard focus in ${what}` });
  }

  /** Fails when the active editor has unsaved edits (a key that went astray), before they can be saved or run. */
  async expectClean(when) {
    if (await this.page.locator('.tabs-container .tab.active.dirty').count()) {
      throw new Error(`the editor has unsaved edits ${when} (a key typed into it by mistake?): ${(await this.editorText()).split('\n').slice(0, 25).join(' / ')}`);
    }
  }

  /** Moves the cursor with Go to Line (Ctrl+G). */
  async gotoLine(line, col = 1) {
    await this.focusEditor();
    await this.quickInput('Control+G', `:${line}:${col}`, () => this.page.keyboard.press('Enter'));
    await this.expectCursor(line, col);
  }

  async expectCursor(line, col) {
    await waitUntil(async () => norm(await this.page.locator('.statusbar-item', { hasText: /^Ln \d+, Col \d+/ }).first().innerText()).startsWith(`Ln ${line}, Col ${col}`), {
      timeoutMs: 10000,
      what: `the cursor at ${line}:${col}`,
    });
  }

  /** The Problems panel, open and focused. */
  async openProblems() {
    await this.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
    await this.page.locator('.markers-panel').waitFor({ timeout: 15000 });
    return this.page.locator('.markers-panel');
  }

  // -------------------------------------------------------------------------
  // Webviews: an iframe (the host) holding an iframe (the page). Playwright
  // reaches both; the page is found by an element it must have.

  /** The frame of a webview page that has `selector` (waits for it). */
  async webviewFrame(selector, { timeoutMs = 20000 } = {}) {
    let found = null;
    await waitUntil(
      async () => {
        for (const f of this.page.frames()) {
          if (f === this.page.mainFrame() || f.isDetached()) continue;
          if (await f.locator(selector).count().catch(() => 0)) {
            found = f;
            return true;
          }
        }
        return false;
      },
      { timeoutMs, interval: 200, what: `a webview with ${selector}` },
    );
    return found;
  }

  /** Runs `fn` in the webview page that has `selector`; null while there is none (or it is reloading). */
  async inWebview(selector, fn) {
    const f = await this.webviewFrame(selector).catch(() => null);
    return f ? f.evaluate(fn).catch(() => null) : null;
  }

  // -------------------------------------------------------------------------
  // Debugging.

  async debugging() {
    return (await this.page.locator('.debug-toolbar').count()) > 0 && (await this.page.locator('.debug-toolbar').isVisible());
  }

  async openRunAndDebug() {
    const p = this.page;
    await this.runCommand('View: Show Run and Debug');
    await p.locator('.part.sidebar .debug-viewlet, .part.sidebar .debug-pane').first().waitFor({ timeout: 15000 });
    // Room for the variables: a wider side bar (drag its sash), the empty Watch view collapsed.
    const bar = await p.locator('.part.sidebar').boundingBox();
    const sash = p.locator('.monaco-sash.primary-sidebar-sash');
    if (bar && bar.width < 500 && (await sash.count())) {
      const s = await sash.boundingBox();
      await p.mouse.move(s.x + s.width / 2, s.y + s.height / 2);
      await p.mouse.down();
      await p.mouse.move(s.x + s.width / 2 + (560 - bar.width) / 2, s.y + s.height / 2, { steps: 4 });
      await p.mouse.move(s.x + s.width / 2 + (560 - bar.width), s.y + s.height / 2, { steps: 4 });
      await p.mouse.up();
    }
  }

  /** During a session: the empty Watch view collapsed, for room. */
  async collapseWatch() {
    await this.setViewExpanded('Watch', false);
  }

  /**
   * Whether a view of the side bar (by its header's title) is expanded:
   * 'true', 'false', or null when it is not shown. One look at the DOM (the
   * headers come and go while a view container lays out).
   */
  async viewState(name) {
    return this.page.evaluate((n) => {
      const h = [...document.querySelectorAll('.part.sidebar .pane-header')].find((e) => e.offsetParent !== null && e.innerText.trim().startsWith(n));
      return h ? h.getAttribute('aria-expanded') : null;
    }, name);
  }

  /** Expands or collapses a view of the side bar by its header (Watch, Breakpoints...). */
  async setViewExpanded(name, expanded) {
    const state = await this.viewState(name);
    if (state === null || (state === 'true') === expanded) return;
    const header = this.page.locator('.part.sidebar .pane-header', { hasText: new RegExp(`^${escapeRe(name)}`) }).first();
    await header
      .locator('.title, h3')
      .first()
      .click({ timeout: 5000 })
      .catch(() => {});
    await waitUntil(async () => (await this.viewState(name)) === String(expanded), { timeoutMs: 5000, what: `the ${name} view to ${expanded ? 'expand' : 'collapse'}` }).catch(() => {});
  }

  /** F5 from the editor (no launch.json: the extension debugs the active trace), waits for the first stop. */
  async startDebugging() {
    const p = this.page;
    await this.openRunAndDebug();
    await this.focusEditor();
    await this.expectClean('before F5');
    await p.keyboard.press('F5');
    // Should VS Code ask which debugger (the extension not active yet), the answer is mmutrace.
    const pick = p.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: /^mmutrace/ }).first();
    await waitUntil(
      async () => {
        if (await p.locator('.debug-toolbar').isVisible()) return true;
        if (await pick.isVisible().catch(() => false)) await pick.click();
        return false;
      },
      { timeoutMs: 30000, what: 'the debug session to start (its toolbar)' },
    );
    await this.waitPaused();
    await this.collapseWatch();
  }

  async stopDebugging() {
    const p = this.page;
    const stop = p.locator('.debug-toolbar .action-label[aria-label^="Stop"], .debug-toolbar .action-label[aria-label^="Disconnect"]');
    if (await stop.count()) await stop.first().click();
    else await p.keyboard.press('Shift+F5');
    await p.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 20000 });
  }

  /** Waits for the paused-line decoration of a stop in the active editor. */
  async waitPaused(timeoutMs = 30000) {
    await this.page.locator('.editor-group-container .monaco-editor .debug-top-stack-frame-line').first().waitFor({ timeout: timeoutMs });
  }

  /** The line number (as the gutter shows it) with the top-stack-frame decoration, or null. */
  async pausedLine() {
    return this.page.evaluate(() => {
      const deco = document.querySelector('.editor-group-container .monaco-editor .view-overlays .debug-top-stack-frame-line');
      if (!deco) return null;
      const top = deco.parentElement.style.top;
      const ed = deco.closest('.monaco-editor');
      const m = [...ed.querySelectorAll('.margin-view-overlays > div')].find((d) => d.style.top === top);
      return m ? Number(m.textContent.trim()) : null;
    });
  }

  callStack() {
    return this.page.locator('.debug-call-stack');
  }
  async callStackText() {
    return norm(await this.callStack().innerText());
  }
  /** The Call Stack pane's header: the stop's description ("Paused on breakpoint", the exception...). */
  async callStackHeader() {
    return norm(await this.page.locator('.pane-header', { hasText: 'Call Stack' }).first().innerText());
  }
  variables() {
    return this.page.locator('.debug-variables');
  }
  /** The text of the Variables rows in sight (the tree renders only those). */
  async variablesText() {
    return norm(await this.variables().innerText());
  }
  /** The value of the variable `name` (its row revealed first). */
  async varValue(name) {
    const row = await this.revealRow(this.variables(), new RegExp(`^${escapeRe(name)}\\s*=`));
    return norm(await row.locator('.value').innerText()).trim();
  }

  /** State of a stop, to tell when the next one arrived. */
  async stopState() {
    return `${await this.pausedLine()}|${await this.callStackText().catch(() => '')}|${await this.callStackHeader().catch(() => '')}`;
  }

  /** Does `action` and waits for a stop that differs from the one before it. */
  async afterStop(what, action, timeoutMs = 20000) {
    const before = await this.stopState();
    await action();
    await waitUntil(async () => (await this.pausedLine()) !== null && (await this.stopState()) !== before, { timeoutMs, what: `a new stop after ${what}` });
  }

  async press(key) {
    await this.focusEditor();
    await this.page.keyboard.press(key);
  }

  async toolbar(label) {
    const b = this.page.locator(`.debug-toolbar .action-label[aria-label^="${label}"]`).first();
    await b.waitFor({ timeout: 10000 });
    await b.click();
  }

  /**
   * A row of a tree in a view (Variables, Breakpoints...), scrolled into
   * sight: the trees are virtual lists that render only the rows around the
   * visible part, and scroll by transform (not natively).
   */
  async revealRow(tree, hasText) {
    const p = this.page;
    const row = tree.locator('.monaco-list-row').filter({ hasText }).first();
    const frame = () => p.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(true))));
    const where = async () => {
      const t = await tree.boundingBox();
      if (!t) throw new Error('the tree is not visible');
      if (!(await row.count())) return 'absent';
      const b = await row.boundingBox();
      if (!b) return 'absent';
      if (b.y < t.y) return 'above';
      if (b.y + b.height > t.y + t.height) return 'below';
      return 'in';
    };
    let w = await where();
    if (w === 'in') return row;
    const t = await tree.boundingBox();
    await p.mouse.move(t.x + 12, t.y + Math.min(40, t.height / 2));
    if (w === 'absent') {
      for (let i = 0; i < 10; i++) await p.mouse.wheel(0, -400);
      await frame();
    }
    for (let i = 0; i < 100; i++) {
      w = await where();
      if (w === 'in') return row;
      await p.mouse.wheel(0, w === 'above' ? -22 : 22);
      await frame();
    }
    throw new Error(`no row ${hasText} in sight in the tree`);
  }

  /**
   * Expands or collapses a tree row by its twistie, until it stays so: right
   * after a stop the Variables view refreshes and may expand its first scope
   * again, so the state is checked after the refresh settles and redone.
   */
  async setRowExpanded(row, expanded) {
    const state = async () => (await row.getAttribute('aria-expanded', { timeout: 5000 })) === 'true';
    for (let i = 0; i < 6; i++) {
      if ((await state()) !== expanded) {
        await row.locator('.monaco-tl-twistie').click({ timeout: 5000 });
        const ok = await waitUntil(async () => (await state()) === expanded, { timeoutMs: 2000, what: 'the row to toggle' }).then(
          () => true,
          () => false,
        );
        if (!ok && expanded) {
          // A scope row: select it and expand it with the keyboard instead.
          await row.click({ timeout: 5000 });
          await this.page.keyboard.press('ArrowRight');
        }
      }
      // Settled: the same state over a few frames.
      let stable = true;
      for (let f = 0; f < 5 && stable; f++) {
        await this.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(true))));
        stable = (await state()) === expanded;
      }
      if (stable) return;
    }
    throw new Error(`the row would not ${expanded ? 'expand' : 'collapse'}`);
  }

  async expandRow(row) {
    await this.setRowExpanded(row, true);
  }

  async collapseRow(row) {
    await this.setRowExpanded(row, false);
  }

  /** Right-clicks a row and picks a context-menu entry. */
  async contextMenu(row, item) {
    const p = this.page;
    await row.click({ button: 'right' });
    const menu = p.locator('.context-view .monaco-menu');
    await menu.waitFor({ timeout: 10000 });
    const entry = menu.locator('.action-item:not(.disabled) .action-label', { hasText: item }).first();
    if (!(await entry.count())) {
      const offered = norm(await menu.innerText());
      await p.keyboard.press('Escape');
      throw Object.assign(new Error(`no "${item}" in the context menu (offered: ${offered.replace(/\n+/g, ' | ')})`), { offered });
    }
    // A menu ignores a click that comes too soon after it opened: point at the entry
    // first, and if the menu stays, choose the (now focused) entry with Enter.
    await entry.hover();
    await entry.click();
    if (!(await menu.waitFor({ state: 'hidden', timeout: 2000 }).then(() => true, () => false))) {
      await entry.hover();
      await p.keyboard.press('Enter');
      await menu.waitFor({ state: 'hidden', timeout: 5000 });
    }
  }
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
