// gatehouse dashboard charts: small hand-written SVG charts (time series as areas, lines or bars, optionally
// stacked; sparklines; horizontal stacked bar lists). No dependencies. Every text that may come from a client
// (model names) is set with textContent, never as markup.
'use strict';

const Charts = (() => {
  const SVG = 'http://www.w3.org/2000/svg';

  function svgEl(tag, attrs, parent) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (parent) parent.appendChild(e);
    return e;
  }

  function htmlEl(tag, cls, parent, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  // A "nice" axis from 0 to at least `max` with about `count` steps (1, 2, 2.5, 5 × 10^n).
  function niceScale(max, count) {
    if (!(max > 0)) max = 1;
    const raw = max / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
    const top = Math.ceil(max / step - 1e-9) * step;
    const ticks = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);
    return { top, ticks };
  }

  // A log axis in whole decades around [min, max] (values at or below the bottom sit on the baseline).
  function logScale(min, max) {
    if (!(max > 0)) return { bottom: 1, top: 10, ticks: [1, 10] };
    let lo = Math.floor(Math.log10(Number.isFinite(min) ? min : max));
    let hi = Math.ceil(Math.log10(max) + 1e-9);
    if (hi <= lo) hi = lo + 1;
    const ticks = [];
    for (let e = lo; e <= hi; e++) ticks.push(Math.pow(10, e));
    return { bottom: ticks[0], top: ticks[ticks.length - 1], ticks };
  }

  function compact(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
    if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  function ms(v) {
    if (v === null || v === undefined) return '–';
    if (v >= 60000) return (v / 60000).toFixed(1) + 'm';
    if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 1 : 2) + 's';
    return v.toFixed(v >= 100 ? 0 : 1) + 'ms';
  }

  // Milliseconds on an axis: round numbers without trailing zeros (0, 250ms, 1.5s, 2m).
  function msAxis(v) {
    if (v === 0) return '0';
    if (v >= 60000) return +(v / 60000).toFixed(1) + 'm';
    if (v >= 1000) return +(v / 1000).toFixed(2) + 's';
    return +v.toFixed(2) + 'ms';
  }

  function clock(t, withSeconds) {
    const d = new Date(t * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + (withSeconds ? ':' + p(d.getSeconds()) : '');
  }

  // Draws a time series chart into `host` (replacing what was there).
  // opts: { name, t: [unix seconds], series: [{ name, color, values, style: 'area'|'line'|'bar', dash, stack }],
  //         stacked, format(v) for axis and tooltip, sum (recorded as data-sum), empty (text when no data) }
  function timeSeries(host, opts) {
    const width = Math.max(200, host.clientWidth || 400);
    const height = Math.max(120, host.clientHeight || 196);
    const m = { l: 46, r: 8, t: 8, b: 20 };
    const w = width - m.l - m.r;
    const h = height - m.t - m.b;
    const n = opts.t.length;
    const fmt = opts.format || compact;
    const axisFmt = opts.axisFormat || fmt;
    const series = opts.series.filter((s) => s.values && s.values.length === n);

    // Stack (when asked) into [base, top] per point.
    const base = new Array(n).fill(0);
    const layers = series.map((s) => {
      const lo = [], hi = [];
      for (let i = 0; i < n; i++) {
        const v = s.values[i];
        if (v === null || v === undefined) { lo.push(null); hi.push(null); continue; }
        const stack = opts.stacked && s.stack !== false;
        const b = stack ? base[i] : 0;
        lo.push(b); hi.push(b + v);
        if (stack) base[i] = b + v;
      }
      return { s, lo, hi };
    });
    let max = 0, minPositive = Infinity;
    for (const l of layers) {
      for (const v of l.hi) {
        if (v !== null && v > max) max = v;
        if (v !== null && v > 0 && v < minPositive) minPositive = v;
      }
    }
    const scale = opts.log ? logScale(minPositive, max) : niceScale(max * 1.08, 4);
    const x = (i) => m.l + (w * (i + 0.5)) / Math.max(1, n);
    const y = opts.log
      ? (v) => m.t + h - (h * (Math.log10(Math.max(v, scale.bottom)) - Math.log10(scale.bottom))) /
          (Math.log10(scale.top) - Math.log10(scale.bottom))
      : (v) => m.t + h - (h * v) / scale.top;
    const slot = w / Math.max(1, n);

    const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, 'data-chart': opts.name, 'data-points': n,
      'data-sum': opts.sum === undefined ? '' : opts.sum, role: 'img' });
    svgEl('title', {}, svg).textContent = opts.title || opts.name;
    for (const v of scale.ticks) {
      const yy = Math.round(y(v)) + 0.5;
      svgEl('line', { class: v === scale.ticks[0] ? 'baseline' : 'gridline', x1: m.l, x2: m.l + w, y1: yy, y2: yy }, svg);
      svgEl('text', { class: 'axis', x: m.l - 6, y: yy + 3, 'text-anchor': 'end' }, svg).textContent = axisFmt(v);
    }
    if (n > 1) {
      const span = (opts.t[n - 1] - opts.t[0]) || 1;
      const labels = Math.max(2, Math.min(7, Math.floor(w / 90)));
      for (let k = 0; k < labels; k++) {
        const i = Math.round(((n - 1) * k) / (labels - 1));
        const anchor = k === 0 ? 'start' : k === labels - 1 ? 'end' : 'middle';
        const tx = k === 0 ? m.l : k === labels - 1 ? m.l + w : x(i);
        svgEl('text', { class: 'axis', x: tx, y: height - 5, 'text-anchor': anchor }, svg).textContent =
          clock(opts.t[i], span <= 180);
      }
    }

    const drawn = layers.some((l) => l.hi.some((v) => v !== null && v > 0));
    if (!drawn) {
      svgEl('text', { class: 'empty', x: m.l + w / 2, y: m.t + h / 2, 'text-anchor': 'middle' }, svg).textContent =
        opts.empty || 'waiting for traffic…';
    }

    for (const { s, lo, hi } of layers) {
      const g = svgEl('g', { class: 'series', 'data-series': s.name, 'data-total': sum(s.values) }, svg);
      if (s.style === 'bar') {
        const bw = Math.max(1, slot - (slot > 4 ? 1.5 : 0.5));
        let d = '';
        for (let i = 0; i < n; i++) {
          if (hi[i] === null || hi[i] === lo[i]) continue;
          const top = y(hi[i]);
          const bh = Math.max(1, y(lo[i]) - top);
          d += `M${(x(i) - bw / 2).toFixed(1)},${top.toFixed(1)}h${bw.toFixed(1)}v${bh.toFixed(1)}h${(-bw).toFixed(1)}Z`;
        }
        if (d) svgEl('path', { d, fill: s.color, opacity: 0.9 }, g);
        continue;
      }
      for (const run of runs(hi)) {
        const top = run.map((i) => `${x(i).toFixed(1)},${y(hi[i]).toFixed(1)}`);
        if (s.style === 'area') {
          const bottom = run.slice().reverse().map((i) => `${x(i).toFixed(1)},${y(lo[i]).toFixed(1)}`);
          svgEl('path', { d: 'M' + top.join('L') + 'L' + bottom.join('L') + 'Z', fill: s.color, 'fill-opacity': 0.22 }, g);
        }
        const line = run.length === 1 ? `M${x(run[0]) - 2},${y(hi[run[0]])}h4` : 'M' + top.join('L');
        svgEl('path', { d: line, fill: 'none', stroke: s.color, 'stroke-width': s.width || 1.6,
          'stroke-linejoin': 'round', 'stroke-dasharray': s.dash ? '4 3' : 'none' }, g);
      }
    }

    host.replaceChildren(svg);
    hover(host, svg, { opts, layers, x, m, w, h, n, fmt });
  }

  // Index runs of non-null values (gaps break lines).
  function runs(values) {
    const out = [];
    let cur = [];
    values.forEach((v, i) => {
      if (v === null) { if (cur.length) out.push(cur); cur = []; } else cur.push(i);
    });
    if (cur.length) out.push(cur);
    return out;
  }

  function sum(values) {
    let s = 0;
    for (const v of values) if (typeof v === 'number') s += v;
    return Math.round(s * 1000) / 1000;
  }

  // Crosshair and tooltip with every series' value at the pointer.
  function hover(host, svg, c) {
    const tip = htmlEl('div', 'tip', host);
    const cross = svgEl('line', { class: 'cross', y1: c.m.t, y2: c.m.t + c.h, x1: 0, x2: 0, visibility: 'hidden' }, svg);
    const hit = svgEl('rect', { x: c.m.l, y: c.m.t, width: c.w, height: c.h, fill: 'transparent' }, svg);
    hit.addEventListener('mouseleave', () => { tip.style.display = 'none'; cross.setAttribute('visibility', 'hidden'); });
    hit.addEventListener('mousemove', (ev) => {
      const box = svg.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / box.width) * svg.viewBox.baseVal.width;
      const i = Math.max(0, Math.min(c.n - 1, Math.floor(((px - c.m.l) / c.w) * c.n)));
      if (!c.n) return;
      cross.setAttribute('x1', c.x(i)); cross.setAttribute('x2', c.x(i)); cross.setAttribute('visibility', 'visible');
      tip.replaceChildren();
      htmlEl('div', 't', tip, clock(c.opts.t[i], true));
      for (const { s } of c.layers) {
        const row = htmlEl('div', '', tip);
        const sw = htmlEl('i', '', row);
        sw.style.background = s.color;
        row.appendChild(document.createTextNode(`${s.name}  ${c.fmt(s.values[i])}`));
      }
      tip.style.display = 'block';
      const left = (c.x(i) / svg.viewBox.baseVal.width) * box.width;
      tip.style.left = (left + 12 + tip.offsetWidth > box.width ? left - tip.offsetWidth - 12 : left + 12) + 'px';
      tip.style.top = '6px';
    });
  }

  // A tiny area chart filling an existing <svg> (tile backgrounds).
  function sparkline(svg, values, color) {
    const width = 200, height = 34;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.replaceChildren();
    const vals = values.map((v) => (typeof v === 'number' ? v : 0));
    const max = Math.max(...vals, 0);
    if (vals.length < 2 || max <= 0) return;
    const pts = vals.map((v, i) => `${((i / (vals.length - 1)) * width).toFixed(1)},${(height - 2 - (v / max) * (height - 6)).toFixed(1)}`);
    svgEl('path', { d: `M0,${height}L${pts.join('L')}L${width},${height}Z`, fill: color, 'fill-opacity': 0.16 }, svg);
    svgEl('path', { d: 'M' + pts.join('L'), fill: 'none', stroke: color, 'stroke-width': 1.2, 'stroke-opacity': 0.8,
      'vector-effect': 'non-scaling-stroke' }, svg);
  }

  // Horizontal stacked bars, one row per item: rows = [{ label, color, segments: [{ name, value, color }] }].
  function barList(host, rows, opts) {
    host.replaceChildren();
    host.setAttribute('data-chart', opts.name);
    host.setAttribute('data-rows', rows.length);
    if (!rows.length) { htmlEl('div', 'none', host, opts.empty || 'no data yet'); return; }
    const totals = rows.map((r) => r.segments.reduce((a, s) => a + s.value, 0));
    const max = Math.max(...totals, 1);
    rows.forEach((r, k) => {
      const row = htmlEl('div', 'bar-row', host);
      row.setAttribute('data-total', totals[k]);
      const name = htmlEl('div', 'name', row, r.label);
      name.title = r.label;
      const track = htmlEl('div', 'track', row);
      for (const s of r.segments) {
        if (s.value <= 0) continue;
        const seg = htmlEl('span', '', track);
        seg.style.width = ((100 * s.value) / max).toFixed(2) + '%';
        seg.style.background = s.color;
        seg.title = `${s.name}: ${s.value}`;
      }
      htmlEl('div', 'num', row, compact(totals[k]));
    });
  }

  // Legend entries: [{ name, color, value, dash }].
  function legend(host, items) {
    host.replaceChildren();
    for (const it of items) {
      const span = htmlEl('span', '', host);
      const sw = htmlEl('i', it.dash ? 'dash' : '', span);
      sw.style.background = it.color;
      sw.style.color = it.color;
      span.appendChild(document.createTextNode(it.name));
      if (it.value !== undefined) htmlEl('b', '', span, it.value);
    }
  }

  return { timeSeries, sparkline, barList, legend, compact, ms, msAxis, clock };
})();
