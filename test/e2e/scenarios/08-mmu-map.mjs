// 8. The MMU Map during the seed's demand fault, under each policy.
//
// What the panel must show, from engine.md and the seed (examples/demand-fault.mmutrace,
// events on lines 13, 15, 17, 19; the expects are not stops):
// - before line 15 (the fault): the guest tree of CR3 is one table per level, L4..L1,
//   each shadowed and so write-protected; four shadow pages (the root and the three
//   the first read built), a line from each to the guest table it shadows; the walk
//   of 0x400000 marked on both sides, four entries each.
// - update, after the pte write (line 17), before 19: kvm_mmu_pte_write found no spte
//   at L1 index 0 (the fault was injected, nothing was built) and the seed's update
//   installed one from the new gpte: one shadow entry `updated`, [0] → gfn 0x200, was
//   0x0; the guest entry [0] of the L1 table `changed`; nothing created or zapped.
//   The refault (line 19) then costs nothing: exit none, no mark.
// - zap, at the same place: no shadow entry changed (there was none to zap); the
//   guest entry changed. The refault (line 19) is a fill: page_fault → fetch builds
//   the leaf, one shadow entry `created`, [0] → gfn 0x200.
// - the timeline: four marks (fill, inject, emulate, none/fill); the exits of the
//   whole trace are 3 under update and 4 under zap (as `compare` says: VM exits 4 vs 3).
//   A click on a mark moves the session there (DAP goto), backwards too; so do
//   Left/Right and Enter.
// - after the session ends the panel says so, and after a reload of the window it
//   comes back (its serializer) and waits for a session.
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../lib/util.mjs';
import { norm } from '../lib/workbench.mjs';

/** What the panel shows, read from its DOM; null while it is being (re)loaded. */
async function look(wb) {
  return wb.inWebview('#timeline', () => {
    const q = (s) => [...document.querySelectorAll(s)];
    const txt = (e) => (e.innerText ?? e.textContent ?? '').replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim();
    // An entry: its text without the badges, then its badges (shown apart, written one after the other).
    const entry = (e) => {
      const own = [...e.childNodes].filter((n) => !(n.classList && n.classList.contains('badge'))).map((n) => n.textContent).join('');
      const marks = [...e.querySelectorAll('.badge')].map((b) => b.textContent);
      return `${own.replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim()}${marks.length ? ` {${marks.join(',')}}` : ''}`;
    };
    const st = document.getElementById('status');
    return {
      status: st && !st.hidden ? txt(st) : '',
      head: txt(document.getElementById('head')),
      pos: document.querySelector('#head .pos')?.textContent ?? '',
      guestTitle: txt(document.querySelector('#guest h2') ?? document.createElement('i')),
      // textContent: a table box scrolled out of view (content-visibility: auto) has no innerText.
      gtables: q('#guest .gtable').map((t) => (t.querySelector('.thead')?.textContent ?? '').replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim()),
      spages: q('#shadow .spage').map((p) => txt(p.querySelector('.phead'))),
      lines: q('#lines path').length,
      walkG: q('#guest .gent.m-walk').map(entry),
      walkS: q('#shadow .sent.m-walk').map(entry),
      changed: q('#guest .gent.m-changed').map(entry),
      stepG: q('#guest .gent.m-step').map(entry),
      stepS: q('#shadow .sent.m-step').map(entry),
      updated: q('#shadow .sent.m-updated').map(entry),
      created: q('#shadow .sent.m-created').map(entry),
      zapped: q('#shadow .m-zapped').map(entry),
      pagesCreated: q('#shadow .spage.m-created').length,
      legend: txt(document.getElementById('legend')),
      bars: q('#timeline rect.bar').map((r) => ({ cls: r.getAttribute('class'), title: r.querySelector('title')?.textContent ?? '' })),
      bg: getComputedStyle(document.body).backgroundColor,
      themeBg: getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-background').trim(),
    };
  });
}

const show = (m) => (m ? JSON.stringify(m).slice(0, 1500) : '(no panel)');

/** Waits until the panel shows the position `pos` (the start of its header). */
async function follows(wb, pos) {
  return wb.expect(`the map follows the session: "${pos}"`, async () => (await look(wb))?.pos.startsWith(pos), { seen: async () => show(await look(wb)) });
}

async function step(wb) {
  await wb.afterStop('Step Over', () => wb.toolbar('Step Over'));
}

/** Clicks the timeline's mark `i` near its foot (the exit lines run above the marks). */
async function clickMark(wb, i) {
  const f = await wb.webviewFrame('#timeline');
  const bar = f.locator('#timeline rect.bar').nth(i);
  const box = await bar.boundingBox();
  await bar.click({ position: { x: box.width / 2, y: Math.max(1, box.height - 2) } });
}

/** A screenshot with room for the map: the side bar hidden for it. */
async function mapShot(wb, name) {
  await wb.runCommand('View: Close Primary Side Bar', { optional: true });
  // The trace on the left 40 % of the editor area, the map on the rest (drag the sash between the groups).
  const part = await wb.page.locator('.part.editor').boundingBox();
  const sash = wb.page.locator('.part.editor .monaco-sash.vertical').first();
  const sb = (await sash.count()) ? await sash.boundingBox() : null;
  if (part && sb && Math.abs(sb.x - (part.x + part.width * 0.4)) > 20) {
    const y = sb.y + Math.min(200, sb.height / 2);
    await wb.page.mouse.move(sb.x + sb.width / 2, y);
    await wb.page.mouse.down();
    await wb.page.mouse.move(part.x + part.width * 0.4, y, { steps: 6 });
    await wb.page.mouse.up();
  }
  // The panel grows; its lines are redrawn after the resize: wait until its width stays put.
  const f = await wb.webviewFrame('#cols');
  let last = -1;
  await waitUntil(
    async () => {
      const w = await f.evaluate(() => document.getElementById('cols').getBoundingClientRect().width).catch(() => -2);
      const same = w === last;
      last = w;
      return same && (await look(wb))?.lines > 0;
    },
    { timeoutMs: 5000, interval: 300, what: 'the panel to settle' },
  ).catch(() => {});
  await wb.shot(name);
  await wb.openRunAndDebug();
}

export default {
  id: 8,
  title: 'MMU Map: the demand fault under update and zap, timeline goto',
  timeoutMs: 240000,
  async run(wb) {
    const p = wb.page;
    const vscodeDir = join(wb.workspace, '.vscode');
    try {
      // ---- update (the default policy, F5 without launch.json)
      await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
      await wb.startDebugging();
      await wb.expect('stopped on entry at line 13', async () => (await wb.pausedLine()) === 13);
      const button = p.locator('.debug-toolbar .action-label[aria-label^="Open MMU Map"]');
      await wb.expect('the debug toolbar has "Open MMU Map"', async () => (await button.count()) > 0, { missing: 'the mmutrace.openMmuMap command in debug/toolBar' });
      await button.first().click();
      await wb.expect('the MMU Map panel opens beside the trace', async () => (await p.locator('.tabs-container .tab', { hasText: 'MMU Map' }).count()) > 0, {
        seen: async () => (await p.locator('.tabs-container .tab').allInnerTexts()).join(' | '),
      });
      await follows(wb, 'before line 13');
      let m = await look(wb);
      wb.check(/policy update/.test(m.head) && /mode 64/.test(m.head) && /vCPU 0/.test(m.head), 'its header names mode 64, policy update, vCPU 0', { seen: m.head });
      wb.check(m.themeBg !== '' && m.bg !== 'rgba(0, 0, 0, 0)', 'its colours come from the theme (--vscode-editor-background is set)', { seen: `${m.themeBg} / ${m.bg}` });

      await step(wb);
      await follows(wb, 'before line 15');
      m = await look(wb);
      wb.check(/^Guest page tables of CR3 0x/.test(m.guestTitle), 'left: the guest page tables of CR3', { seen: m.guestTitle });
      wb.check(
        m.gtables.length === 4 && m.gtables.every((t, i) => t.startsWith(`L${4 - i} table`) && /write-protected/.test(t) && /shadowed by #\d+/.test(t)),
        'the guest tree: one table per level, L4 to L1, each shadowed and write-protected',
        { seen: m.gtables.join(' | ') },
      );
      wb.check(m.spages.length === 4 && m.spages.map((s) => s.match(/ L(\d) /)?.[1]).join('') === '4321', 'right: four shadow pages, L4 to L1', { seen: m.spages.join(' | ') });
      wb.check(m.lines === 4, 'a line joins each shadow page to the guest table it shadows (4)', { seen: `${m.lines} lines` });
      wb.check(m.walkG.length === 4 && m.walkG[3].startsWith('[0] 0x400000 0x0 not present'), 'the walk of 0x400000 on the guest side: 4 entries, ending at the empty leaf [0]', { seen: m.walkG.join(' | ') });
      wb.check(m.walkS.length === 4 && m.walkS[3].startsWith('[0] 0x0 not present'), 'and on the shadow side: 4 entries, ending at the empty shadow leaf [0]', { seen: m.walkS.join(' | ') });
      wb.check(/walk of 0x400000 \(line 15\)/.test(m.head), 'the header names the walk of 0x400000', { seen: m.head });
      await mapShot(wb, '08-mmu-map-fault');

      await step(wb); // the fault is injected
      await follows(wb, 'before line 17');
      await step(wb); // the guest writes the pte
      await follows(wb, 'before line 19');
      m = await look(wb);
      wb.check(/last event: line 17 .*→ exit emulate/.test(m.head), 'update: the pte write was an emulated exit', { seen: m.head });
      wb.check(
        m.updated.length === 1 && /^\[0\] 0x[0-9a-f]+ P W U A D → gfn 0x200 \(was 0x0\) \{.*\bupdated\b.*\}$/.test(m.updated[0]),
        'update: the new shadow pte appears at the pte write, marked updated: [0] → gfn 0x200 (was 0x0)',
        { seen: m.updated.join(' | ') || show(m) },
      );
      wb.check(m.changed.length === 1 && /^\[0\] 0x400000 0x200067 P W U A D → gfn 0x200 \(was 0x0\) \{.*\bchanged\b.*\}$/.test(m.changed[0]), 'the guest entry the line wrote is marked changed: [0] 0x400000 = 0x200067 (was 0x0)', {
        seen: m.changed.join(' | '),
      });
      wb.check(m.created.length === 0 && m.zapped.length === 0 && m.pagesCreated === 0, 'nothing created or zapped', { seen: `created ${m.created} zapped ${m.zapped}` });
      // The editor's inline values say the same (the adapter's lineEffects): the fault and the update.
      const lineText = async (start) => norm(await p.locator('.editor-group-container .monaco-editor .view-line', { hasText: new RegExp(`^${start}`) }).first().innerText()).replace(/\s+/g, ' ');
      // (VS Code cuts a long inline value with "...".)
      await wb.expect('inline values: line 15 "1 exit (inject) · #PF 0x4 (not present, read, user)"', async () => (await lineText('read.0x400000.@fault')).includes('1 exit (inject) · #PF 0x4 (not present,'), {
        seen: () => lineText('read.0x400000.@fault'),
        missing: 'inline values from the lineEffects request',
      });
      await wb.expect('inline values: line 17 "1 exit (emulate) · updated 1"', async () => (await lineText('pte.0x400000')).includes('1 exit (emulate) · updated 1'), { seen: () => lineText('pte.0x400000') });
      await mapShot(wb, '08-mmu-map-update');

      await step(wb); // the retry
      await follows(wb, 'end of the trace');
      m = await look(wb);
      wb.check(/last event: line 19 .*→ exit none/.test(m.head), 'update: the retry costs no exit', { seen: m.head });
      wb.check(m.created.length + m.updated.length + m.zapped.length === 0, '… and changes no shadow entry', { seen: show(m) });

      // The timeline: four marks, 3 exits under update and 4 under zap.
      await wb.expect('the timeline: 4 marks, cumulative exits update 3, zap 4', async () => {
        const t = await look(wb);
        return t && t.bars.length === 4 && /update: 3 exits/.test(t.legend) && /zap: 4 exits/.test(t.legend);
      }, { seen: async () => { const t = await look(wb); return t ? `${t.bars.length} marks; ${t.legend}` : '(no panel)'; } });
      m = await look(wb);
      wb.check(
        m.bars.map((b) => b.cls.split(' ')[1]).join(' ') === 'fill inject emulate none' && m.bars.map((b) => b.title.match(/^line (\d+)/)?.[1]).join(' ') === '13 15 17 19',
        'the marks: line 13 fill, 15 inject, 17 emulate, 19 none',
        { seen: m.bars.map((b) => `${b.cls} "${b.title}"`).join(' | ') },
      );
      // Back to the fault with a click.
      await wb.afterStop('a click on the timeline', () => clickMark(wb, 1));
      await wb.expect('a click on the mark of line 15 moves the session back there', async () => (await wb.pausedLine()) === 15, { seen: async () => `paused line ${await wb.pausedLine()}` });
      await follows(wb, 'before line 15');
      // Into the handler: the step's entry is highlighted (on the walk of 0x400000).
      let stepped = null;
      for (let i = 0; i < 6 && !stepped; i++) {
        await wb.afterStop('Step Into', () => wb.toolbar('Step Into'));
        await wb.expect(`step in ${i + 1}: the map shows the handler step`, async () => /step \d+: \S+/.test((await look(wb))?.head ?? ''), { seen: async () => (await look(wb))?.head });
        const s = await look(wb);
        if (s.stepG.length + s.stepS.length) stepped = s;
      }
      wb.check(!!stepped && /step \d+: paging64_\w+ — /.test(stepped.head), 'stepping into the handler names the step, after KVM (paging64_…)', { seen: stepped?.head });
      wb.check(!!stepped && [...stepped.stepG, ...stepped.stepS].every((e) => /\{.*\bwalk\b.*\}/.test(e)), "the step's entries are highlighted, on the walk of 0x400000", {
        seen: stepped ? [...stepped.stepG, ...stepped.stepS].join(' | ') : '(no step with entries)',
      });
      await wb.stopDebugging();
      await wb.expect('with no session the panel says so', async () => /No mmutrace debug session/.test((await look(wb))?.status ?? ''), { seen: async () => show(await look(wb)) });

      // ---- from the command palette: closed, then opened again with no session
      await p.locator('.tabs-container .tab', { hasText: 'MMU Map' }).first().click();
      await wb.runCommand('View: Close Editor');
      await wb.expect('the panel is closed', async () => (await p.locator('.tabs-container .tab', { hasText: 'MMU Map' }).count()) === 0);
      await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
      await wb.runCommand('mmutrace: Open MMU Map');
      await wb.expect('"mmutrace: Open MMU Map" from the palette opens it, waiting for a session', async () => /No mmutrace debug session/.test((await look(wb))?.status ?? ''), {
        seen: async () => show(await look(wb)),
      });

      // ---- zap, from a launch configuration
      mkdirSync(vscodeDir, { recursive: true });
      writeFileSync(
        join(vscodeDir, 'launch.json'),
        JSON.stringify(
          {
            version: '0.2.0',
            configurations: [{ type: 'mmutrace', request: 'launch', name: 'Demand fault under zap', program: '${workspaceFolder}/demand-fault.mmutrace', policy: 'zap', stopOnEntry: true }],
          },
          null,
          2,
        ),
      );
      await wb.openRunAndDebug();
      let started = false;
      for (let i = 0; i < 10 && !started; i++) {
        await wb.runCommand('Debug: Select and Start Debugging');
        const row = p.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'Demand fault under zap' }).first();
        if (await row.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
          await row.click();
          started = true;
        } else await p.keyboard.press('Escape');
      }
      wb.check(started, 'the launch configuration "Demand fault under zap" is offered', { missing: 'launch.json configurations for mmutrace' });
      await wb.waitPaused();
      await follows(wb, 'before line 13');
      m = await look(wb);
      wb.check(/policy zap/.test(m.head), 'the panel follows the new session: policy zap', { seen: m.head });
      await step(wb);
      await step(wb);
      await step(wb);
      await follows(wb, 'before line 19');
      m = await look(wb);
      wb.check(m.updated.length + m.created.length + m.zapped.length === 0, 'zap: the pte write changes no shadow entry (none was there to zap)', { seen: show(m) });
      wb.check(m.changed.length === 1, '… the guest entry is changed', { seen: m.changed.join(' | ') });
      await wb.expect('inline values under zap: line 17 "1 exit (emulate)", nothing updated', async () => / 1 exit \(emulate\)(?! ·)/.test(await lineText('pte.0x400000')), { seen: () => lineText('pte.0x400000') });
      await step(wb); // the refault
      await follows(wb, 'end of the trace');
      m = await look(wb);
      wb.check(/last event: line 19 .*→ exit fill/.test(m.head), 'zap: the retry faults again and fills the shadow', { seen: m.head });
      wb.check(m.created.length === 1 && /^\[0\] 0x[0-9a-f]+ P W U A D → gfn 0x200 \(was 0x0\) \{.*\bcreated\b.*\}$/.test(m.created[0]), 'zap: the shadow pte reappears at the refault, marked created: [0] → gfn 0x200', {
        seen: m.created.join(' | ') || show(m),
      });
      wb.check(m.updated.length === 0 && m.zapped.length === 0, '… nothing updated or zapped', { seen: show(m) });
      await mapShot(wb, '08-mmu-map-zap-refault');
      await wb.expect('the zap timeline ends with a fill', async () => (await look(wb))?.bars.map((b) => b.cls.split(' ')[1]).join(' ') === 'fill inject emulate fill', {
        seen: async () => show(await look(wb)),
      });

      // Back with a click, then with the keyboard: Left, Enter.
      await wb.afterStop('a click on the timeline', () => clickMark(wb, 2));
      await wb.expect('a click on the mark of line 17 moves the session back there', async () => (await wb.pausedLine()) === 17, { seen: async () => `paused line ${await wb.pausedLine()}` });
      await follows(wb, 'before line 17');
      const f = await wb.webviewFrame('#timeline');
      await f.locator('#timeline').focus();
      await p.keyboard.press('ArrowLeft');
      await wb.afterStop('Enter on the timeline', () => p.keyboard.press('Enter'));
      await wb.expect('Left and Enter on the timeline go to the mark before: line 15', async () => (await wb.pausedLine()) === 15, { seen: async () => `paused line ${await wb.pausedLine()}` });
      await follows(wb, 'before line 15');
      await wb.stopDebugging();

      // ---- the panel after a reload of the window (open for a while: VS Code saves the open
      // editors some time after a change, and a reload right after opening may come first)
      await p.reload();
      await p.waitForSelector('.monaco-workbench', { timeout: 90000 });
      await wb.expect('after a reload the panel is restored and waits for a session', async () => /No mmutrace debug session/.test((await look(wb))?.status ?? ''), {
        timeoutMs: 60000,
        seen: async () => `${(await p.locator('.tabs-container .tab').allInnerTexts()).join(' | ')}; ${show(await look(wb))}`,
        missing: 'the panel serializer (onWebviewPanel activation)',
      });
    } finally {
      if (await wb.debugging().catch(() => false)) await wb.stopDebugging().catch(() => {});
      rmSync(vscodeDir, { recursive: true, force: true });
    }
  },
};
