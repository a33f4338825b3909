// gatehouse dashboard: polls /metrics/summary and /metrics/series every two seconds and redraws. The page owns
// no state the server does not have; a reload loses nothing.

const Dash = (() => {
  const POLL_MS = 2000;
  // Provider colors: no reds, which mean errors here.
  const PALETTE = ['#5ab0ff', '#3ddc97', '#c792ea', '#4dd0e1', '#ffcb6b', '#82aaff', '#c3e88d', '#89ddff'];
  const GREY = '#7d8ba1';
  const RED = '#ff6b6b';
  const TOKEN_KINDS = [
    { key: 'input_tokens', sum: 'input_tokens', name: 'input', color: '#5ab0ff' },
    { key: 'output_tokens', sum: 'output_tokens', name: 'output', color: '#3ddc97' },
    { key: 'cache_read_input_tokens', sum: 'cache_read_input_tokens', name: 'cache read', color: '#c792ea' },
    { key: 'cache_creation_input_tokens', sum: 'cache_creation_input_tokens', name: 'cache write', color: '#ffb454' },
  ];
  const ERROR_COLORS = ['#ff6b6b', '#ffb454', '#f78c6c', '#ff8fb1', '#c792ea', '#ffcb6b', '#82aaff'];
  // Fixed colors for the error kinds the gateway knows, so each keeps its color; others hash into ERROR_COLORS.
  const KIND_COLORS = {
    upstream_status: '#ffb454', upstream_unreachable: '#ff6b6b', upstream_timeout: '#f78c6c',
    upstream_stream_error: '#ff8fb1', upstream_protocol: '#c792ea', client_disconnected: '#7d8ba1',
    keys_exhausted: '#e5a0ff', circuit_open: '#ff9e64',
    invalid_request: '#82aaff', authentication: '#89ddff', unknown_provider: '#4dd0e1', not_found: '#a6accd',
    payload_too_large: '#c3e88d', internal: '#ff5370', http_error: '#ffcb6b',
  };
  const kindColor = (k) => (Object.hasOwn(KIND_COLORS, k) ? KIND_COLORS[k] : colorOf(k, ERROR_COLORS));
  const $ = (id) => document.getElementById(id);
  const state = { window: 300, step: 2, summary: null, series: null, renders: 0, lastOk: 0, failures: 0 };

  // A stable color per name, so a provider keeps its color across refreshes.
  function colorOf(name, palette) {
    if (!palette && (name === 'none' || name === 'other')) return GREY;
    let h = 0;
    for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return (palette || PALETTE)[h % (palette || PALETTE).length];
  }

  async function getJson(path) {
    const res = await fetch(path, { cache: 'no-store' });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  async function poll() {
    try {
      const [summary, series] = await Promise.all([
        getJson('metrics/summary'),
        getJson(`metrics/series?${seriesQuery()}`),
      ]);
      state.summary = summary;
      state.series = series;
      state.lastOk = Date.now();
      state.failures = 0;
      render();
    } catch (e) {
      state.failures += 1;
      setStatus(false, `no answer from the gateway (${e.message})`);
    }
  }

  // A gateway up for less than the chosen range shows only its life so far (at least half a minute), so the
  // charts fill their width instead of squeezing everything against the right edge.
  function seriesQuery() {
    const up = state.summary ? state.summary.uptime_seconds : 0;
    const span = Math.min(state.window, Math.max(30, up + 2 * state.step));
    const step = span <= 120 ? 1 : state.step;
    return `window=${span}&step=${step}`;
  }

  function setStatus(ok, text) {
    $('live-dot').className = 'dot ' + (ok ? 'ok' : 'bad');
    $('status-text').textContent = text;
    $('dash').dataset.state = ok ? 'live' : 'stale';
  }

  function uptime(s) {
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
  }

  function perSecond(values, step) {
    return values.map((v) => (typeof v === 'number' ? v / step : v));
  }

  function render() {
    const sum = state.summary, ser = state.series;
    if (!sum || !ser) return;
    state.renders += 1;
    const main = $('dash');
    const t = sum.totals;
    Object.assign(main.dataset, {
      requests: t.requests, errors: t.errors, streamed: t.streamed,
      inputTokens: t.input_tokens, outputTokens: t.output_tokens,
      inFlight: sum.in_flight.requests, seriesRequests: ser.window.requests, renders: state.renders,
    });
    setStatus(true, `live · updated ${Charts.clock(Math.floor(sum.now_ms / 1000), true)}`);
    const models = Object.keys(sum.models).length, providers = Object.keys(sum.providers).length;
    const keys = Object.keys(sum.keys || {}).length;
    $('meta').textContent = `uptime ${uptime(sum.uptime_seconds)} · ${providers} provider${providers === 1 ? '' : 's'} · ` +
      `${models} model${models === 1 ? '' : 's'} · ${keys ? `${keys} key${keys === 1 ? '' : 's'} · ` : ''}` +
      `${Charts.compact(t.requests)} requests since start`;
    tiles(sum, ser);
    charts(sum, ser);
    modelBars(sum);
    modelTable(sum);
    keyTable(sum);
  }

  function tile(id, value, unit, sub, spark, color, bad) {
    const el = $(id);
    const v = el.querySelector('.value');
    v.replaceChildren(document.createTextNode(value));
    if (unit) { const u = document.createElement('span'); u.className = 'unit'; u.textContent = unit; v.appendChild(u); }
    el.querySelector('.sub').textContent = sub;
    el.classList.toggle('bad', !!bad);
    Charts.sparkline(el.querySelector('.spark'), spark, color);
  }

  function splitMs(v) {
    const text = Charts.ms(v);
    const m = /^([\d.]+)(\D+)$/.exec(text);
    return m ? [m[1], m[2]] : [text, ''];
  }

  function tiles(sum, ser) {
    const w = ser.window, secs = Math.max(1, w.seconds), step = ser.step;
    const span = secs >= 60 ? `${Math.round(secs / 60)}m` : `${secs}s`;
    tile('tile-rate', Charts.compact(w.requests / secs), '', `${w.requests} in ${span}`, ser.requests, '#5ab0ff');
    const rate = w.requests ? (100 * w.errors) / w.requests : 0;
    tile('tile-errors', w.requests ? rate.toFixed(rate >= 10 || rate === 0 ? 0 : 1) : '–', w.requests ? '%' : '',
      `${w.errors} errors in ${span}`, ser.errors, RED, rate >= 5);
    const [p50, p50u] = splitMs(w.p50_ms);
    tile('tile-p50', p50, p50u, `avg ${Charts.ms(sum.totals.avg_ms)} all time`, ser.p50_ms, '#3ddc97');
    const [p95, p95u] = splitMs(w.p95_ms);
    tile('tile-p95', p95, p95u, `p99 ${Charts.ms(w.p99_ms)}`, ser.p95_ms, '#ffb454');
    const [tt, ttu] = splitMs(w.ttfb_p95_ms);
    tile('tile-ttfb', tt, ttu, `p50 ${Charts.ms(w.ttfb_p50_ms)}`, ser.ttfb_p95_ms, '#c792ea');
    const live = sum.in_flight;
    tile('tile-inflight', String(live.requests), '', `${live.streams} streaming`, ser.in_flight, '#4dd0e1');
    const tokens = ser.t.map((_, i) => TOKEN_KINDS.reduce((a, k) => a + ser[k.key][i], 0));
    tile('tile-tokens', Charts.compact((w.tokens / secs) * 60), '',
      `${Charts.compact(sum.totals.input_tokens + sum.totals.output_tokens)} in+out all time`,
      tokens.map((v) => v / step), '#3ddc97');
  }

  function charts(sum, ser) {
    const step = ser.step;
    const providers = Object.keys(ser.requests_by_provider);
    const reqSeries = providers.map((p) => ({
      name: p, color: colorOf(p), style: 'area', values: perSecond(ser.requests_by_provider[p], step),
    }));
    reqSeries.push({ name: 'errors', color: RED, style: 'line', stack: false, values: perSecond(ser.errors, step), width: 1.4 });
    Charts.legend($('legend-requests'), reqSeries.map((s) => ({
      name: s.name, color: s.color,
      value: Charts.compact(s.name === 'errors' ? ser.window.errors : sum0(ser.requests_by_provider[s.name])),
    })));
    Charts.timeSeries($('chart-requests'), { name: 'requests', title: 'requests per second', t: ser.t,
      series: reqSeries, stacked: true, sum: ser.window.requests });

    const lat = [
      { name: 'p50', color: '#3ddc97', values: ser.p50_ms },
      { name: 'p95', color: '#ffb454', values: ser.p95_ms },
      { name: 'p99', color: '#ff6b6b', values: ser.p99_ms },
      { name: 'first byte p50', color: '#82aaff', values: ser.ttfb_p50_ms, dash: true },
      { name: 'first byte p95', color: '#c792ea', values: ser.ttfb_p95_ms, dash: true },
    ].map((s) => ({ ...s, style: 'line' }));
    const w = ser.window;
    const latestOf = { p50: w.p50_ms, p95: w.p95_ms, p99: w.p99_ms, 'first byte p50': w.ttfb_p50_ms, 'first byte p95': w.ttfb_p95_ms };
    Charts.legend($('legend-latency'), lat.map((s) => ({ name: s.name, color: s.color, dash: s.dash, value: Charts.ms(latestOf[s.name]) })));
    Charts.timeSeries($('chart-latency'), { name: 'latency', title: 'latency percentiles, ms', t: ser.t, series: lat,
      format: (v) => Charts.ms(v), axisFormat: Charts.msAxis, log: true, sum: w.requests });

    const tok = TOKEN_KINDS.map((k) => ({ name: k.name, color: k.color, style: 'bar', values: perSecond(ser[k.key], step) }));
    Charts.legend($('legend-tokens'), TOKEN_KINDS.map((k) => ({ name: k.name, color: k.color, value: Charts.compact(sum0(ser[k.key])) })));
    Charts.timeSeries($('chart-tokens'), { name: 'tokens', title: 'tokens per second', t: ser.t, series: tok,
      stacked: true, sum: w.tokens });

    const fl = [
      { name: 'requests', color: '#4dd0e1', style: 'area', values: ser.in_flight },
      { name: 'streams', color: '#c792ea', style: 'line', values: ser.in_flight_streams },
    ];
    Charts.legend($('legend-inflight'), [
      { name: 'requests', color: '#4dd0e1', value: String(sum.in_flight.requests) },
      { name: 'streams', color: '#c792ea', value: String(sum.in_flight.streams) },
    ]);
    Charts.timeSeries($('chart-inflight'), { name: 'in_flight', title: 'in-flight requests', t: ser.t, series: fl,
      sum: Math.max(0, ...ser.in_flight), empty: 'nothing in flight' });

    const kinds = Object.keys(ser.errors_by_kind);
    const errs = kinds.map((k) => ({ name: k, color: kindColor(k), style: 'bar', values: ser.errors_by_kind[k] }));
    const allTime = sum.totals.errors_by_kind || {};
    Charts.legend($('legend-errors'), kinds.length ? kinds.map((k) => ({
      name: k, color: kindColor(k), value: Charts.compact(sum0(ser.errors_by_kind[k])),
    })) : Object.keys(allTime).map((k) => ({ name: `${k} (earlier)`, color: kindColor(k), value: allTime[k] })));
    Charts.timeSeries($('chart-errors'), { name: 'errors', title: 'errors by kind', t: ser.t, series: errs,
      stacked: true, sum: w.errors, empty: 'no errors in this window' });
  }

  function sum0(values) {
    return (values || []).reduce((a, v) => a + (typeof v === 'number' ? v : 0), 0);
  }

  function modelBars(sum) {
    const rows = Object.entries(sum.models)
      .map(([name, m]) => ({ label: name, segments: TOKEN_KINDS.map((k) => ({ name: k.name, color: k.color, value: m[k.sum] })) }))
      .filter((r) => r.segments.some((s) => s.value > 0))
      .sort((a, b) => total(b) - total(a))
      .slice(0, 9);
    Charts.legend($('legend-models'), TOKEN_KINDS.map((k) => ({ name: k.name, color: k.color })));
    Charts.barList($('chart-models'), rows, { name: 'tokens_by_model', empty: 'no tokens yet' });
  }

  function total(row) {
    return row.segments.reduce((a, s) => a + s.value, 0);
  }

  function modelTable(sum) {
    const body = document.querySelector('#models tbody');
    const rows = Object.entries(sum.models).sort((a, b) => b[1].requests - a[1].requests);
    body.replaceChildren();
    for (const [name, m] of rows) {
      const tr = document.createElement('tr');
      tr.dataset.model = name;
      const provider = name.split(':')[0];
      const first = cell(tr, '', 'l');
      const sw = document.createElement('span');
      sw.className = 'sw';
      sw.style.background = colorOf(provider);
      first.append(sw, document.createTextNode(name));
      first.title = name;
      cell(tr, Charts.compact(m.requests));
      cell(tr, Charts.compact(m.errors), m.errors ? 'err' : '');
      cell(tr, Charts.compact(m.streamed));
      cell(tr, Charts.ms(m.avg_ms));
      cell(tr, Charts.ms(m.p50_ms));
      cell(tr, Charts.ms(m.p95_ms));
      cell(tr, Charts.ms(m.ttfb_p95_ms));
      cell(tr, Charts.compact(m.input_tokens));
      cell(tr, Charts.compact(m.output_tokens));
      cell(tr, Charts.compact(m.cache_read_input_tokens));
      cell(tr, Charts.compact(m.cache_creation_input_tokens));
      cell(tr, m.last_seen_ms ? ago(sum.now_ms - m.last_seen_ms) : '–');
      body.appendChild(tr);
    }
    if (!rows.length) {
      const tr = document.createElement('tr');
      const td = cell(tr, 'no requests yet', 'l');
      td.colSpan = 13;
      body.appendChild(tr);
    }
  }

  // One row per virtual key (the panel stays hidden until a keyed request is seen), dearest first.
  function keyTable(sum) {
    const keys = sum.keys || {};
    const rows = Object.entries(keys).sort((a, b) => b[1].spend_nanos - a[1].spend_nanos || b[1].requests - a[1].requests);
    const panel = $('keys-panel');
    panel.hidden = !rows.length;
    const spent = rows.reduce((a, [, k]) => a + k.spend_nanos, 0);
    Object.assign(panel.dataset, { keys: rows.length, spendNanos: spent });
    const body = document.querySelector('#keys tbody');
    body.replaceChildren();
    for (const [name, k] of rows) {
      const tr = document.createElement('tr');
      Object.assign(tr.dataset, {
        key: name, team: k.team, requests: k.requests, refused: k.refused, spendNanos: k.spend_nanos,
        inputTokens: k.input_tokens, outputTokens: k.output_tokens,
      });
      const first = cell(tr, '', 'l');
      const sw = document.createElement('span');
      sw.className = 'sw';
      sw.style.background = colorOf(name);
      first.append(sw, document.createTextNode(name));
      first.title = name;
      cell(tr, k.team === 'none' ? '–' : k.team, 'l');
      cell(tr, Charts.compact(k.requests));
      cell(tr, Charts.compact(k.refused), k.refused ? 'err' : '');
      const reasons = Object.entries(k.refusals || {}).map(([r, n]) => `${r} ${Charts.compact(n)}`).join(' · ');
      cell(tr, reasons || '–', 'l').dataset.refusals = Object.entries(k.refusals || {}).map(([r, n]) => `${r}=${n}`).join(',');
      cell(tr, Charts.compact(k.input_tokens));
      cell(tr, Charts.compact(k.output_tokens));
      cell(tr, Charts.compact(k.cache_read_input_tokens));
      cell(tr, Charts.compact(k.cache_creation_input_tokens));
      cell(tr, dollars(k.spend_usd)).title = `${k.spend_nanos} nano-dollars`;
      const left = k.remaining_budget_usd;
      cell(tr, typeof left === 'number' ? dollars(left) : '–', typeof left === 'number' && left <= 0 ? 'err' : '');
      cell(tr, k.last_seen_ms ? ago(sum.now_ms - k.last_seen_ms) : '–');
      body.appendChild(tr);
    }
  }

  // US dollars with as many decimals as the amount needs: cents for dollars, down to the nano-dollar below a cent.
  function dollars(v) {
    if (!v) return '$0';
    const a = Math.abs(v);
    const text = a >= 100 ? a.toFixed(0) : a >= 1 ? a.toFixed(2) : a >= 0.01 ? a.toFixed(3)
      : a.toFixed(9).replace(/0+$/, '');
    return `${v < 0 ? '-' : ''}$${text}`;
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
  }

  function start() {
    for (const b of document.querySelectorAll('#range button')) {
      b.addEventListener('click', () => {
        for (const o of document.querySelectorAll('#range button')) o.classList.toggle('on', o === b);
        state.window = Number(b.dataset.window);
        state.step = Number(b.dataset.step);
        poll();
      });
    }
    let resize = 0;
    window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(render, 150); });
    setInterval(() => {
      if (state.lastOk && Date.now() - state.lastOk > 3 * POLL_MS + 1000) setStatus(false, 'stale: no fresh data');
    }, 1000);
    poll();
    setInterval(poll, POLL_MS);
  }

  return { start };
})();

Dash.start();
