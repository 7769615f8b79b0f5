// 5. A line breakpoint with a condition (and one whose condition never holds);
//    a data breakpoint on the leaf guest pte from the Variables view's context
//    menu stops where the guest's fault handler writes that pte.
import { norm } from '../lib/workbench.mjs';
import { waitUntil } from '../lib/util.mjs';

async function conditionalBreakpoint(wb, line, condition) {
  const p = wb.page;
  await wb.gotoLine(line, 1);
  await wb.runCommand('Debug: Add Conditional Breakpoint...');
  const widget = p.locator('.breakpoint-widget');
  await widget.waitFor({ timeout: 10000 });
  // Type only once the widget's input has the keyboard, or the keys land in the trace.
  await wb.waitFocus('.breakpoint-widget', 'the breakpoint widget');
  await p.keyboard.type(condition);
  await p.keyboard.press('Enter');
  await widget.waitFor({ state: 'hidden', timeout: 10000 });
  await wb.expectClean(`after the condition on line ${line}`);
}

/** The line numbers that carry a breakpoint glyph of exactly `kind` (a codicon name) in the active editor. */
async function glyphLines(wb, kind) {
  return wb.editor().evaluate((ed, k) => {
    const out = [];
    for (const g of ed.querySelectorAll('.glyph-margin-widgets .codicon, .margin-view-overlays .codicon')) {
      if (![...g.classList].includes(`codicon-${k}`)) continue;
      const top = g.style.top || g.parentElement.style.top;
      const m = [...ed.querySelectorAll('.margin-view-overlays > div')].find((d) => d.style.top === top && /^\d+$/.test(d.textContent.trim()));
      if (m) out.push(Number(m.textContent.trim()));
    }
    return out.sort((a, b) => a - b);
  }, kind);
}

export default {
  id: 5,
  title: 'conditional line breakpoint, data breakpoint on the leaf guest pte',
  async run(wb) {
    const p = wb.page;
    await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
    await wb.openRunAndDebug();
    // Before line 15, one exit happened (line 13): this condition holds. Before line 19 never 99.
    await conditionalBreakpoint(wb, 15, 'exits.total == 1');
    await conditionalBreakpoint(wb, 19, 'exits.total == 99');
    await wb.expect('conditional breakpoint glyphs on lines 15 and 19', async () => JSON.stringify(await glyphLines(wb, 'debug-breakpoint-conditional')) === '[15,19]', {
      seen: async () => JSON.stringify(await glyphLines(wb, 'debug-breakpoint-conditional')),
    });
    const bps = p.locator('.debug-breakpoints');
    await wb.expect('the Breakpoints view lists both, with their conditions on hover', async () => (await bps.locator('.monaco-list-row', { hasText: 'demand-fault.mmutrace' }).count()) === 2, {
      seen: async () => norm(await bps.innerText()),
    });

    await wb.startDebugging();
    await wb.expect('stopped on entry at line 13', async () => (await wb.pausedLine()) === 13);
    await wb.afterStop('F5', () => wb.press('F5'));
    await wb.expect('continue: stopped at the conditional breakpoint on line 15', async () => (await wb.pausedLine()) === 15, {
      seen: async () => `line ${await wb.pausedLine()}; ${await wb.callStackHeader()}`,
      missing: 'conditional line breakpoints',
    });
    await wb.expect('the Call Stack says it paused on a breakpoint', async () => /breakpoint/i.test(await wb.callStackHeader()), { seen: () => wb.callStackHeader() });
    await wb.expect('the conditional breakpoint is verified (not greyed out)', async () => (await glyphLines(wb, 'debug-breakpoint-conditional-unverified')).length === 0);

    // The data breakpoint: the leaf entry of the guest walk of 0x400000.
    const vars = wb.variables();
    const scope = await wb.revealRow(vars, /^Guest walk of 0x400000/);
    await wb.expandRow(scope);
    const leaf = await wb.revealRow(vars, /^L1 \[0\]/);
    await wb.expect('the leaf guest pte L1 [0] is 0x0 (not present)', async () => /0x0 not present/.test(norm(await leaf.innerText())), { seen: async () => norm(await leaf.innerText()) });
    const dataBp = bps.locator(".monaco-list-row", { hasText: /L1 entry|0x10003000/ });
    let offered = true;
    for (let attempt = 1; attempt <= 3 && offered && !(await dataBp.count()); attempt++) {
      try {
        await wb.contextMenu(await wb.revealRow(vars, /^L1 \[0\]/), 'Break on Value Change');
      } catch (e) {
        offered = false;
        wb.check(false, 'the Variables context menu offers "Break on Value Change" on L1 [0]', { seen: e.offered ?? e.message, missing: 'data breakpoints on guest entries (dataBreakpointInfo)' });
        throw e;
      }
      // The variables refresh after a stop can make a first choice go to a stale item: check, and again if needed.
      await waitUntil(async () => (await dataBp.count()) > 0, { timeoutMs: 5000, what: 'the data breakpoint in the Breakpoints view' }).catch(() => {});
    }
    wb.check(true, 'the Variables context menu offers "Break on Value Change" on L1 [0]');
    await wb.expect('the Breakpoints view lists the data breakpoint', async () => (await dataBp.count()) > 0, {
      seen: async () => norm(await bps.innerText()),
    });
    await wb.shot('05-data-breakpoint-set');

    await wb.afterStop('F5', () => wb.press('F5'));
    await wb.expect("continue: the data breakpoint stops on line 17, the guest's fault handler writing the pte", async () => (await wb.pausedLine()) === 17, {
      seen: async () => `line ${await wb.pausedLine()}; ${await wb.callStackHeader()}; ${await wb.callStackText()}`,
      missing: 'data breakpoints that stop when a guest entry changes',
    });
    await wb.expect('… and says which guest entry changed: 0x0 → 0x200067', async () => /changed: 0x0 → 0x200067|data breakpoint/i.test(await wb.callStackHeader()), { seen: () => wb.callStackHeader() });
    await wb.expect('the leaf now holds the new pte 0x200067', async () => /^0x200067\b/.test(await wb.varValue('L1 [0]')), { seen: () => wb.varValue('L1 [0]') });
    await wb.shot('05-data-breakpoint');

    // The breakpoint on line 19 never holds: the replay runs to the end.
    await wb.afterStop('F5', () => wb.press('F5'));
    await waitUntil(async () => /end of the trace/.test(await wb.callStackText()) || (await wb.pausedLine()) === 19, { timeoutMs: 15000, what: 'the end or line 19' }).catch(() => {});
    wb.check(/end of the trace/.test(await wb.callStackText()), 'the false condition on line 19 does not stop: the trace runs to its end', {
      seen: `line ${await wb.pausedLine()}; ${await wb.callStackText()}`,
    });
    await wb.stopDebugging();
  },
};
