// The MMU Map webview's script, as text (it runs in the webview, not in the
// extension host; html.ts puts it in the page under the CSP nonce). Plain
// DOM and SVG: the data it gets is already bounded by the adapter (capped
// tables and page lists with "N more"), the boxes use CSS content-visibility
// so that the browser lays out only what is on screen, and the lines between
// shadow pages and guest tables are drawn only for boxes near the viewport.
// It never runs the engine: it shows what the `mmuMap` request answered and
// asks the extension to `goto`, `expand` or `refresh`.
//
// Written without template literals so that it can live in one.

export const WEBVIEW_SCRIPT = String.raw`
(function () {
  'use strict';
  var vscode = acquireVsCodeApi();
  var saved = vscode.getState() || {};
  var state = { bounds: saved.bounds || {}, open: saved.open || {}, sel: -1 };
  var map = null;
  var shownKey = '';
  var asked = -1;
  var SVGNS = 'http://www.w3.org/2000/svg';
  function save() { vscode.setState({ bounds: state.bounds, open: state.open }); }
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, cls) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (cls) e.setAttribute('class', cls);
    return e;
  }
  function hx(n) { return '0x' + Number(n).toString(16); }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function markClasses(e, marks) {
    for (var i = 0; i < marks.length; i++) e.classList.add('m-' + marks[i]);
    if (marks.some(function (m) { return m === 'created' || m === 'zapped' || m === 'updated'; })) e.classList.add('flash');
  }
  function badges(parent, marks) {
    for (var i = 0; i < marks.length; i++) parent.appendChild(el('span', 'badge b-' + marks[i], marks[i]));
  }

  window.addEventListener('message', function (ev) {
    var msg = ev.data;
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'map') {
      // How long the user waited for this map since a click asked for it (goto, show more).
      if (asked >= 0) { document.body.dataset.waitMs = String(Math.round(performance.now() - asked)); asked = -1; }
      if (typeof msg.requestMs === 'number') document.body.dataset.requestMs = String(msg.requestMs);
      map = msg.map;
      render();
    }
    else if (msg.type === 'expanded') insertExpanded(msg.table);
    else if (msg.type === 'status') status(msg.text);
  });

  function status(text) {
    $('status').textContent = text;
    $('status').hidden = false;
    if (!map) { $('main').hidden = true; $('foot').hidden = true; }
  }

  // ---- header
  function renderHead() {
    var h = $('head');
    clear(h);
    h.appendChild(el('span', 'pos', map.position.text));
    if (map.position.step) h.appendChild(el('span', '', 'step ' + (map.position.step.index + 1) + ': ' + map.position.step.fn + ' — ' + map.position.step.text));
    h.appendChild(el('span', 'dim', 'mode ' + map.mode + ' · policy ' + map.policy + ' · vCPU ' + map.vcpu + ' · CR3 ' + map.cr3));
    if (map.lastEvent) h.appendChild(el('span', 'dim', 'last event: line ' + map.lastEvent.line + ' ' + map.lastEvent.text + ' → exit ' + map.lastEvent.exit));
    if (map.walk) h.appendChild(el('span', '', 'walk of ' + map.walk.va + ' (line ' + map.walk.line + '): ' + map.walk.result));
  }

  // ---- guest tree
  function pathKey(p) { return p.join('.'); }
  function renderTable(t) {
    var box = el('div', 'gtable');
    box.dataset.gfn = String(t.gfn);
    box.dataset.path = pathKey(t.path);
    var head = el('div', 'thead nav');
    head.tabIndex = -1;
    head.setAttribute('role', 'treeitem');
    head.appendChild(el('span', '', (t.level === 3 && map.mode === 'pae' ? 'PDPT' : 'L' + t.level + ' table') + ' gfn ' + hx(t.gfn)));
    head.appendChild(el('span', 'dim', t.present + ' present'));
    if (t.wp) head.appendChild(el('span', 'wp', 'write-protected'));
    if (t.shadows.length) head.appendChild(el('span', 'dim', 'shadowed by #' + t.shadows.join(', #')));
    box.appendChild(head);
    for (var i = 0; i < t.entries.length; i++) box.appendChild(renderGuestEntry(t, t.entries[i]));
    if (t.more > 0) {
      var more = el('div', 'more nav', t.more + ' more present entries (show more)');
      more.tabIndex = -1;
      more.addEventListener('click', function () { grow('tableEntries', 64, 1024); });
      box.appendChild(more);
    }
    return box;
  }
  function renderGuestEntry(t, e) {
    var wrap = el('div', '');
    var row = el('div', 'gent nav');
    row.tabIndex = -1;
    row.setAttribute('role', 'treeitem');
    row.dataset.gpa = String(e.gpa);
    if (e.kind === 'large') row.dataset.large = String(e.gfn);
    var tw = el('span', 'twisty', e.child ? '▾' : e.expandable ? '▸' : ' ');
    row.appendChild(tw);
    var target = e.kind === 'leaf' ? 'gfn ' + hx(e.gfn) : e.kind === 'large' ? 'large page at gfn ' + hx(e.gfn) : e.kind === 'pdpte' ? 'directory gfn ' + hx(e.gfn) : 'table gfn ' + hx(e.gfn);
    row.appendChild(document.createTextNode('[' + e.index + '] ' + e.va + '  ' + e.raw + '  ' + e.flags + (e.flags === 'not present' ? '' : ' → ' + target) + (e.was ? '  (was ' + e.was + ')' : '') + ' '));
    badges(row, e.marks);
    row.title = 'L' + e.level + ' entry at gpa ' + hx(e.gpa) + (e.shadows && e.shadows.length ? '; metaphysical shadow #' + e.shadows.join(', #') : '');
    markClasses(row, e.marks);
    var path = t.path.concat([e.index]);
    if (e.child) row.setAttribute('aria-expanded', 'true');
    if (e.expandable) {
      row.setAttribute('aria-expanded', 'false');
      row.dataset.expand = pathKey(path);
      var open = function () { expand(path); };
      tw.addEventListener('click', open);
      row.addEventListener('dblclick', open);
    }
    wrap.appendChild(row);
    if (e.child) wrap.appendChild(renderTable(e.child));
    return wrap;
  }
  function expand(path) {
    state.open[pathKey(path)] = true;
    save();
    vscode.postMessage({ type: 'expand', path: path });
  }
  function insertExpanded(table) {
    if (!table || !map) return;
    var key = pathKey(table.path);
    var row = document.querySelector('[data-expand="' + key + '"]');
    if (!row) return;
    row.removeAttribute('data-expand');
    row.setAttribute('aria-expanded', 'true');
    row.firstChild.textContent = '▾';
    row.parentNode.appendChild(renderTable(table));
    scheduleLines();
  }

  // ---- shadow pages
  function renderPage(p) {
    var box = el('div', 'spage' + (p.metaphysical ? ' meta' : ''));
    box.dataset.uid = String(p.uid);
    box.dataset.gfn = String(p.gfn);
    markClasses(box, p.marks.filter(function (m) { return m === 'created' || m === 'zapped'; }));
    var head = el('div', 'phead nav');
    head.tabIndex = -1;
    head.setAttribute('role', 'treeitem');
    head.appendChild(el('span', '', '#' + p.uid + ' L' + p.level + ' gfn ' + hx(p.gfn)));
    if (p.metaphysical) head.appendChild(el('span', 'meta-tag', 'metaphysical'));
    else if (p.wp) head.appendChild(el('span', 'wp', 'write-protected'));
    if (p.rootCount) head.appendChild(el('span', 'dim', 'root ×' + p.rootCount));
    head.appendChild(el('span', 'dim', p.present + ' present'));
    badges(head, p.marks);
    head.title = p.role + (p.bornLine ? '; allocated at line ' + p.bornLine : '; a root built before the first event') + (p.parents.length ? '; parents ' + p.parents.map(function (x) { return '#' + x.uid + '[' + x.index + ']'; }).join(', ') : '');
    box.appendChild(head);
    for (var i = 0; i < p.entries.length; i++) {
      var e = p.entries[i];
      var row = el('div', 'sent nav');
      row.tabIndex = -1;
      row.setAttribute('role', 'treeitem');
      var to = e.child !== undefined ? ' → #' + e.child : e.gfn !== undefined ? ' → gfn ' + hx(e.gfn) : '';
      row.appendChild(document.createTextNode('[' + e.index + '] ' + e.raw + '  ' + e.flags + to + (e.was ? '  (was ' + e.was + ')' : '') + ' '));
      badges(row, e.marks);
      markClasses(row, e.marks);
      if (e.child !== undefined) row.dataset.child = String(e.child);
      box.appendChild(row);
    }
    if (p.more > 0) box.appendChild(el('div', 'more dim', p.more + ' more entries'));
    return box;
  }
  function renderShadow() {
    var s = $('shadow');
    clear(s);
    s.appendChild(el('h2', '', 'Shadow pages (' + map.shadow.alive + ' alive) · write-protected frames: ' + (map.writeProtected.frames.length + map.writeProtected.more)));
    for (var g = 0; g < map.shadow.groups.length; g++) {
      var grp = map.shadow.groups[g];
      var sec = el('div', 'group' + (grp.current ? ' current' : ''));
      sec.appendChild(el('h3', '', grp.title + ' · ' + grp.total + ' page' + (grp.total === 1 ? '' : 's') + (grp.current ? ' (current)' : '')));
      for (var i = 0; i < grp.pages.length; i++) sec.appendChild(renderPage(grp.pages[i]));
      if (grp.more > 0) {
        var more = el('div', 'more nav', grp.more + ' more pages (show more)');
        more.tabIndex = -1;
        more.addEventListener('click', function () { grow('shadowPages', 300, 5000); });
        sec.appendChild(more);
      }
      s.appendChild(sec);
    }
    if (map.shadow.zappedPages.length) {
      var z = el('div', 'group');
      z.appendChild(el('h3', '', 'Freed by the last event'));
      for (var k = 0; k < map.shadow.zappedPages.length; k++) {
        var zp = map.shadow.zappedPages[k];
        var row = el('div', 'sent m-zapped flash', '#' + zp.uid + ' L' + zp.level + ' gfn ' + hx(zp.gfn) + ' (' + zp.role + ')');
        z.appendChild(row);
      }
      s.appendChild(z);
    }
  }
  function grow(key, def, cap) {
    state.bounds[key] = Math.min(cap, (state.bounds[key] || def) * 2);
    save();
    asked = performance.now();
    vscode.postMessage({ type: 'refresh', bounds: state.bounds });
  }

  // ---- lines from each shadow page to the guest table (or large entry) it shadows
  var linesPending = false;
  function scheduleLines() {
    if (linesPending) return;
    linesPending = true;
    requestAnimationFrame(function () { linesPending = false; drawLines(); });
  }
  function drawLines() {
    var svg = $('lines');
    var cols = $('cols');
    if (!svg || !cols || !map) return;
    clear(svg);
    var base = cols.getBoundingClientRect();
    var main = $('main').getBoundingClientRect();
    svg.setAttribute('width', String(cols.scrollWidth));
    svg.setAttribute('height', String(cols.scrollHeight));
    var near = function (r) { return r.bottom > main.top - main.height && r.top < main.bottom + main.height; };
    var walkUids = {};
    if (map.walk) map.walk.shadow.forEach(function (s) { walkUids[s.uid] = true; });
    var pages = document.querySelectorAll('.spage');
    // Every position is read first, then every path written: a write between two reads
    // would make the browser lay the whole panel out again for each line.
    // Boxes lay out their content only when near the screen (content-visibility): reading a
    // position inside a box that is not would make the browser lay that box out, so only the
    // boxes themselves are measured, and a line ends at the middle of the box's head row.
    var HEAD = 10;
    var boxes = {}, larges = {};
    document.querySelectorAll('.gtable').forEach(function (t) { if (!(t.dataset.gfn in boxes)) boxes[t.dataset.gfn] = t; });
    document.querySelectorAll('.gent[data-large]').forEach(function (g) { if (!(g.dataset.large in larges)) larges[g.dataset.large] = g; });
    var paths = [];
    for (var i = 0; i < pages.length && paths.length < 400; i++) {
      var p = pages[i];
      var ph = p.getBoundingClientRect();
      var meta = p.classList.contains('meta');
      var target = meta ? larges[p.dataset.gfn] : boxes[p.dataset.gfn];
      if (!target || !near(ph)) continue;
      var tr = target.getBoundingClientRect();
      var x1 = tr.right - base.left, y1 = tr.top + (meta ? tr.height / 2 : HEAD) - base.top;
      var x2 = ph.left - base.left, y2 = ph.top + HEAD - base.top;
      var dx = Math.max(24, (x2 - x1) / 2);
      paths.push({ d: 'M' + x1 + ',' + y1 + ' C' + (x1 + dx) + ',' + y1 + ' ' + (x2 - dx) + ',' + y2 + ' ' + x2 + ',' + y2, cls: (meta ? 'meta' : '') + (walkUids[p.dataset.uid] ? ' walk' : '') });
    }
    for (var k = 0; k < paths.length; k++) svg.appendChild(sv('path', { d: paths[k].d }, paths[k].cls));
  }

  // ---- timeline
  function renderTimeline() {
    var tl = map.timeline;
    var svg = $('timeline');
    clear(svg);
    var legend = $('legend');
    clear(legend);
    if (!tl || !tl.buckets.length) return;
    var W = Math.max(200, svg.getBoundingClientRect().width || 600), H = 90;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    var n = tl.buckets.length;
    var bw = W / n;
    var maxExits = 1;
    tl.buckets.forEach(function (b) { b.exits.forEach(function (x) { if (x > maxExits) maxExits = x; }); });
    if (state.sel < 0 || state.sel >= n) state.sel = tl.position;
    for (var i = 0; i < n; i++) {
      var b = tl.buckets[i];
      var h = b.outcome === 'none' ? 6 : b.outcome === 'unknown' ? 4 : 16;
      var r = sv('rect', { x: i * bw, y: H - h, width: Math.max(1, bw - (bw > 3 ? 1 : 0)), height: h }, 'bar ' + b.outcome + (i === state.sel ? ' sel' : ''));
      var t = sv('title', {});
      t.textContent = 'line ' + b.line + (b.events > 1 ? ' (+' + (b.events - 1) + ' events)' : '') + ': ' + b.outcome + ' · exits ' + tl.policies.map(function (p, k) { return p + ' ' + (b.exits[k] < 0 ? '…' : b.exits[k]); }).join(', ');
      r.appendChild(t);
      r.dataset.i = String(i);
      svg.appendChild(r);
    }
    for (var p = 0; p < tl.policies.length; p++) {
      var pts = [];
      for (var j = 0; j < n; j++) {
        var x = tl.buckets[j].exits[p];
        if (x < 0) break;
        pts.push(((j + 1) * bw).toFixed(1) + ',' + (H - 20 - (x / maxExits) * (H - 26)).toFixed(1));
      }
      if (pts.length) svg.appendChild(sv('polyline', { points: '0,' + (H - 20) + ' ' + pts.join(' ') }, 'cum p' + p));
    }
    if (tl.position >= 0) svg.appendChild(sv('line', { x1: tl.position * bw + bw / 2, x2: tl.position * bw + bw / 2, y1: 0, y2: H }, 'here'));
    var last = tl.buckets[n - 1].exits;
    legend.appendChild(el('span', '', tl.events + ' events' + (n < tl.events ? ' in ' + n + ' marks' : '') + (tl.complete ? '' : ' (counting…)')));
    ['fill', 'inject', 'emulate', 'cr3', 'npt'].forEach(function (o) { legend.appendChild(el('span', 'sw-' + o, '■ ' + o)); });
    tl.policies.forEach(function (p, k) { legend.appendChild(el('span', '', (k === 0 ? '— ' : '- - ') + p + ': ' + (last[k] < 0 ? '…' : last[k]) + ' exits')); });
    legend.appendChild(el('span', '', 'click a mark (or Left/Right, Enter) to go there'));
  }
  function gotoBucket(i) {
    if (!map || !map.timeline || i < 0 || i >= map.timeline.buckets.length) return;
    asked = performance.now();
    vscode.postMessage({ type: 'goto', row: map.timeline.buckets[i].row });
  }
  $('timeline').addEventListener('click', function (ev) {
    var t = ev.target;
    if (t && t.dataset && t.dataset.i !== undefined) { state.sel = Number(t.dataset.i); gotoBucket(state.sel); }
  });
  $('timeline').addEventListener('keydown', function (ev) {
    if (!map || !map.timeline) return;
    var n = map.timeline.buckets.length;
    var s = state.sel;
    if (ev.key === 'ArrowLeft') s = Math.max(0, s - 1);
    else if (ev.key === 'ArrowRight') s = Math.min(n - 1, s + 1);
    else if (ev.key === 'Home') s = 0;
    else if (ev.key === 'End') s = n - 1;
    else if (ev.key === 'Enter' || ev.key === ' ') { gotoBucket(s); ev.preventDefault(); return; }
    else return;
    ev.preventDefault();
    state.sel = s;
    renderTimeline();
  });

  // ---- keyboard in the trees: Up/Down/Home/End move, Right/Enter opens, Left goes to the table head.
  function treeKeys(pane) {
    pane.addEventListener('keydown', function (ev) {
      var items = Array.prototype.slice.call(pane.querySelectorAll('.nav'));
      var i = items.indexOf(document.activeElement);
      var to = -1;
      if (ev.key === 'ArrowDown') to = Math.min(items.length - 1, i + 1);
      else if (ev.key === 'ArrowUp') to = Math.max(0, i - 1);
      else if (ev.key === 'Home') to = 0;
      else if (ev.key === 'End') to = items.length - 1;
      else if ((ev.key === 'ArrowRight' || ev.key === 'Enter') && i >= 0) {
        var a = items[i];
        if (a.dataset.expand) expand(a.dataset.expand.split('.').map(Number));
        else if (a.classList.contains('more')) a.click();
        else if (a.dataset.child) { var c = document.querySelector('.spage[data-uid="' + a.dataset.child + '"] > .phead'); if (c) c.focus(); }
        ev.preventDefault();
        return;
      } else if (ev.key === 'ArrowLeft' && i >= 0) {
        var head = items[i].closest('.gtable, .spage');
        if (head && head.firstChild !== items[i]) head.firstChild.focus();
        ev.preventDefault();
        return;
      } else return;
      ev.preventDefault();
      if (to >= 0 && items[to]) { items.forEach(function (x) { x.tabIndex = -1; }); items[to].tabIndex = 0; items[to].focus(); }
    });
  }
  treeKeys($('guest'));
  treeKeys($('shadow'));

  // ---- all of it
  function render() {
    var t0 = performance.now();
    $('status').hidden = true;
    $('main').hidden = false;
    $('foot').hidden = false;
    var key = map.position.kind + ':' + map.position.row + ':' + (map.position.step ? map.position.step.index : '');
    var fresh = key !== shownKey;
    shownKey = key;
    renderHead();
    var g = $('guest');
    clear(g);
    g.appendChild(el('h2', '', 'Guest page tables of CR3 ' + map.cr3));
    if (map.guest) g.appendChild(renderTable(map.guest));
    renderShadow();
    var cols = $('cols');
    var old = $('lines');
    if (old) old.remove();
    var svg = sv('svg', {}, '');
    svg.id = 'lines';
    cols.appendChild(svg);
    ['guest', 'shadow'].forEach(function (id) { var f = $(id).querySelector('.nav'); if (f) f.tabIndex = 0; });
    renderTimeline();
    // Re-open what the user opened before (bounded).
    var n = 0;
    for (var k in state.open) {
      var row = document.querySelector('[data-expand="' + k + '"]');
      if (row && n++ < 16) vscode.postMessage({ type: 'expand', path: k.split('.').map(Number) });
    }
    if (fresh) {
      var w = document.querySelector('.gent.m-walk, .sent.m-walk');
      if (w && w.scrollIntoView) w.scrollIntoView({ block: 'nearest' });
    }
    scheduleLines();
    // How long the last drawing took (layout included), for whoever measures the panel.
    requestAnimationFrame(function () { document.body.dataset.renderMs = String(Math.round(performance.now() - t0)); });
    // The adapter counts the exits of each policy for the timeline a slice at a time: ask again until it is done.
    if (map.timeline && !map.timeline.complete && !pollTimer) {
      pollTimer = setTimeout(function () { pollTimer = 0; vscode.postMessage({ type: 'refresh', bounds: state.bounds }); }, 1000);
    }
  }
  var pollTimer = 0;
  $('main').addEventListener('scroll', scheduleLines, { passive: true });
  window.addEventListener('resize', function () { scheduleLines(); if (map) renderTimeline(); });
  vscode.postMessage({ type: 'ready' });
  if (Object.keys(state.bounds).length) vscode.postMessage({ type: 'refresh', bounds: state.bounds });
})();
`;
