// 4. The `vmexit` exception filter from the Breakpoints view: continue stops
//    on the exit and names it; step in shows KVM's handler frames; step back
//    makes the previous line current again.
import { norm } from '../lib/workbench.mjs';

export default {
  id: 4,
  title: 'vmexit filter, step in to the handler, step back',
  async run(wb) {
    const p = wb.page;
    await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
    await wb.startDebugging();
    await wb.expect('stopped on entry at line 13', async () => (await wb.pausedLine()) === 13);

    const bps = p.locator('.debug-breakpoints');
    const row = await wb.revealRow(bps, /VM exits/);
    const box = row.locator('.monaco-checkbox');
    const wasOn = (await box.getAttribute('aria-checked')) === 'true';
    wb.check(!wasOn, 'the VM exits filter is listed in the Breakpoints view, off by default', { missing: 'the `vmexit` exception breakpoint filter' });
    if (!wasOn) await box.click();
    await wb.expect('the VM exits filter is on', async () => (await box.getAttribute('aria-checked')) === 'true');

    try {
      // Continue: the first event (line 13) exits to fill the shadow.
      await wb.afterStop('F5', () => wb.press('F5'));
      const exc = p.locator('.exception-widget');
      await wb.expect('the stop names the exit: "VM exit: page fault (fill)"', async () => /VM exit\W+page.fault\W+fill/i.test(`${await wb.callStackHeader()} ${(await exc.count()) ? norm(await exc.innerText()) : ''}`), {
        seen: async () => `header ${await wb.callStackHeader()}; widget ${(await exc.count()) ? norm(await exc.innerText()) : '(none)'}`,
        missing: 'a stop on the `vmexit` filter that names the exit',
      });
      await wb.expect('… on line 13', async () => (await wb.pausedLine()) === 13);

      // Continue: the fault on line 15 is injected into the guest.
      await wb.afterStop('F5', () => wb.press('F5'));
      await wb.expect('the next exit is named: "VM exit: page fault (inject)" on line 15', async () => (await wb.pausedLine()) === 15 && /VM exit\W+page.fault\W+inject/i.test(`${await wb.callStackHeader()} ${(await exc.count()) ? norm(await exc.innerText()) : ''}`), {
        seen: async () => `line ${await wb.pausedLine()}; header ${await wb.callStackHeader()}`,
      });

      // Step in: the hypervisor's handler steps, named after KVM's functions.
      await wb.afterStop('F11', () => wb.press('F11'));
      await wb.expect('step in: the Call Stack shows the page_fault handler frame above the event', async () => /page_fault[\s\S]*read 0x400000 @fault/.test(await wb.callStackText()), {
        seen: () => wb.callStackText(),
        missing: 'stepIn into the handler steps',
      });
      await wb.afterStop('F11', () => wb.press('F11'));
      await wb.expect('step in again: walk_addr over page_fault', async () => /walk_addr[\s\S]*page_fault/.test(await wb.callStackText()), { seen: () => wb.callStackText() });
      // The picture: handler frames over the trace line, the event, the guest walk and the shadow walk.
      const vars = wb.variables();
      try {
        await wb.setViewExpanded('Breakpoints', false);
        await wb.collapseRow(await wb.revealRow(vars, /^Event$/));
        await wb.expandRow(await wb.revealRow(vars, /^Guest walk of /));
        await wb.expandRow(await wb.revealRow(vars, /^Shadow walk of /));
        await wb.revealRow(vars, /^Event$/);
      } catch (e) {
        wb.check(false, 'the Variables view arranged for the picture (walks expanded)', { seen: e.message.split('\n')[0] });
      }
      await wb.shot('04-vmexit-step-in');
      await wb.setViewExpanded('Breakpoints', true);

      // Step back until the previous event line is current again.
      let line = await wb.pausedLine();
      for (let i = 0; i < 8 && line !== 13; i++) {
        await wb.afterStop('Step Back', () => wb.toolbar('Step Back'));
        line = await wb.pausedLine();
      }
      wb.check(line === 13, 'step back: line 13, the event before, is current again', { seen: `paused line ${line}`, missing: 'stepBack' });
      await wb.expect('… with its single frame `read 0x401000`', async () => /^read 0x401000(?![\s\S]*page_fault)/.test((await wb.callStackText()).trim()), {
        seen: () => wb.callStackText(),
      });
      await wb.shot('04-step-back');
    } finally {
      // The next scenario's reset puts the filters back to their defaults; end the session here.
      await wb.setViewExpanded('Breakpoints', true).catch(() => {});
      if (await wb.debugging()) await wb.stopDebugging().catch(() => {});
    }
  },
};
