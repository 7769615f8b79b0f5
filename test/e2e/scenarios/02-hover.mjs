// 2. Hover an address and a PTE value: the decoded text appears.
import { norm } from '../lib/workbench.mjs';
import { waitUntil } from '../lib/util.mjs';

/** Hovers a token and waits for a hover that contains `want`; moves away and back if the first hover does not come. */
async function hoverFor(wb, token, want) {
  const p = wb.page;
  const hover = p.locator('.monaco-hover:not(.hidden)');
  for (let attempt = 1; attempt <= 3; attempt++) {
    await p.mouse.move(5, 5);
    await hover.first().waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
    await token.hover();
    try {
      await waitUntil(async () => norm(await hover.first().innerText()).includes(want), { timeoutMs: 5000, what: `a hover with ${want}` });
      return norm(await hover.first().innerText());
    } catch {
      // moved too early or the provider was not registered yet: again
    }
  }
  return (await hover.count()) ? norm(await hover.first().innerText()) : '(no hover)';
}

export default {
  id: 2,
  title: 'hover: an address split per level, a PTE decoded',
  async run(wb) {
    await wb.runCommand('View: Show Explorer');
    await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
    const addr = await hoverFor(wb, wb.token('read 0x400000 @fault', '0x400000'), 'PML4 0, PDPT 0, PD 2, PT 0, offset 0');
    wb.check(addr.includes('PML4 0, PDPT 0, PD 2, PT 0, offset 0'), 'hover on 0x400000 splits it: PML4 0, PDPT 0, PD 2, PT 0, offset 0', {
      seen: addr,
      missing: 'the hover provider (addresses)',
    });
    wb.check(/mode 64/.test(addr), 'the address hover names the mode', { seen: addr });
    await wb.shot('02-hover-address', { keepMouse: true });

    const pte = await hoverFor(wb, wb.token('pte 0x400000 = 0x200000', '0x200000'), 'Maps the 4 KiB page at guest-physical 0x200000');
    wb.check(pte.includes('Maps the 4 KiB page at guest-physical 0x200000'), 'hover on the PTE value: "Maps the 4 KiB page at guest-physical 0x200000"', {
      seen: pte,
      missing: 'the hover provider (PTE values)',
    });
    wb.check(/PTE\s+0x200067/.test(pte) && pte.includes('P W U A D'), 'the PTE hover gives the whole entry 0x200067 and its flags P W U A D', { seen: pte });
    await wb.shot('02-hover-pte', { keepMouse: true });
    await wb.page.mouse.move(5, 5);
  },
};
