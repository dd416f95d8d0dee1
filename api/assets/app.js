// The TFT Trader dashboard: reads the query API (/v1, docs/api.md) with the key kept in
// localStorage and draws the page. Plain JS, no framework; charts by Lightweight Charts.
'use strict';

const KEY_STORE = 'tft.apiKey';
const REFRESH_MS = 60_000;
let chart = null;

// ---- small helpers ---------------------------------------------------------------

/** An element with attributes and children (strings become text: never HTML). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

const money = (n) => (n == null ? '–' : n.toLocaleString('en-US', { style: 'currency', currency: 'USD' }));
const price = (n) => (n == null ? '–' : n.toFixed(2));
const pct = (n, digits = 1) => (n == null ? '–' : `${(n * 100).toFixed(digits)} %`);
const sign = (n) => (n > 0 ? 'up' : n < 0 ? 'down' : undefined);
const when = (t) => (t ? new Date(t).toLocaleString() : 'never');

function showMessage(text, kind = 'error') {
  const m = document.getElementById('message');
  m.textContent = text;
  m.className = kind;
  m.hidden = !text;
}

/** A table: headers (a trailing '#' marks a numeric column) and rows of cells. */
function fillTable(id, headers, rows, empty) {
  const table = document.getElementById(id);
  const head = el('tr', {}, headers.map((h) => el('th', { class: h.endsWith('#') ? 'num' : undefined }, h.replace(/#$/, ''))));
  const body = rows.length
    ? rows.map((cells) => el('tr', {}, cells.map((c, i) => {
      const numeric = headers[i].endsWith('#');
      const cell = c && typeof c === 'object' && !(c instanceof Node) ? c : { text: c };
      return el('td', { class: [numeric ? 'num' : '', cell.class || ''].join(' ').trim() || undefined }, cell.text);
    })))
    : [el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, empty))];
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, body));
}

// ---- the API -----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** GET a /v1 path (relative: works under any base path) with the key; problems throw. */
async function api(path) {
  const key = localStorage.getItem(KEY_STORE);
  const headers = { Accept: 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, { headers });
  if (response.ok) return response.json();
  let detail = `${response.status} ${response.statusText}`;
  try {
    detail = (await response.json()).detail || detail;
  } catch (_) { /* not a problem document */ }
  throw new ApiError(response.status, detail);
}

// ---- the sections ------------------------------------------------------------------

function renderStatus(health, portfolio) {
  const pills = [
    el('span', { class: `pill ${health.database === 'reachable' ? 'ok' : 'bad'}` }, `database ${health.database}`),
    el('span', { class: 'pill' }, `market ${health.market_open ? 'open' : 'closed'} (${health.trading_date})`),
    el('span', { class: 'pill' }, `model ${health.model_version || 'none yet'}`),
  ];
  if (portfolio) {
    pills.push(el('span', { class: `pill ${portfolio.breaker === 'armed' ? 'ok' : 'bad'}` },
      portfolio.breaker === 'armed' ? 'breaker armed'
        : `breaker locked since ${portfolio.breaker_tripped_on}${portfolio.breaker_locked_until ? ` until ${portfolio.breaker_locked_until}` : ''}`));
    const c = portfolio.control;
    pills.push(el('span', { class: `pill ${c.entries_paused ? 'bad' : 'ok'}` },
      c.entries_paused ? `entries paused by ${c.changed_by || '?'}${c.reason ? `: ${c.reason}` : ''}` : 'entries on'));
  }
  for (const s of health.steps) {
    pills.push(el('span', { class: 'pill', title: s.at || '' }, `${s.step}: ${s.trading_date || when(s.at)}`));
  }
  document.getElementById('status').replaceChildren(...pills);
}

function renderPortfolio(p) {
  const dl = document.getElementById('portfolio');
  if (!p) {
    dl.replaceChildren(el('div', {}, el('dd', { class: 'muted' }, 'No paper portfolio yet: generate-signals creates it on its first run.')));
    return;
  }
  const share = Math.min(1, p.drawdown / p.drawdown_limit);
  const meter = el('div', { class: `meter ${share >= 1 ? 'bad' : share >= 0.5 ? 'warn' : ''}` }, el('span'));
  meter.firstChild.style.width = `${Math.max(0, share) * 100}%`;
  // One <div> per figure (a <dl> may group its pairs so): one grid cell each.
  const figure = (field, label, value, cls, extra) => el('div', {},
    el('dt', {}, label), el('dd', { 'data-field': field, class: cls }, value), extra);
  dl.replaceChildren(
    figure('cash', 'Cash', money(p.cash)),
    figure('equity', 'Equity', money(p.equity)),
    figure('peak', 'Peak', money(p.peak_equity)),
    figure('drawdown', 'Drawdown / limit', `${pct(p.drawdown)} / ${pct(p.drawdown_limit, 0)}`, undefined, meter),
    figure('positions', 'Positions', `${p.positions_used} / ${p.positions_max}`),
    figure('realized', 'Realized P&L', money(p.realized_pnl), sign(p.realized_pnl)),
  );
}

function renderActive(positions, signals) {
  const byId = new Map(signals.map((s) => [s.id, s]));
  const rows = positions.map((p) => {
    const s = byId.get(p.signal_id) || {};
    return [
      p.ticker, p.status, price(p.entry_price), price(p.stop_loss), price(p.target_price), price(p.mark),
      { text: `${money(p.unrealized_pnl)} (${pct(p.unrealized_pct)})`, class: sign(p.unrealized_pnl) },
      p.status === 'pending' ? `fills ${p.entry_date}` : `${p.day} of ${p.max_days}`,
      pct(s.confidence, 0), s.risk_reward_ratio == null ? '–' : s.risk_reward_ratio.toFixed(2), pct(s.position_size_pct),
    ];
  });
  fillTable('active', ['Ticker', 'Status', 'Entry#', 'Stop#', 'Target#', 'Mark#', 'Unrealized#', 'Day', 'Conf.#', 'R:R#', 'Size#'],
    rows, 'No open position or pending entry.');
}

function renderRejections(r) {
  document.getElementById('rejections-date').textContent = r.trading_date ? `(${r.trading_date})` : '';
  fillTable('rejections', ['Ticker', 'Rule', 'Reason'],
    r.refusals.map((x) => [x.ticker, x.rule, { text: x.reason, class: 'wrap' }]), 'No refused candidate.');
}

function renderRecent(page) {
  fillTable('recent', ['Date', 'Ticker', 'Status', 'Conf.#', 'Entry#', 'Exit#', 'Reason', 'P&L#'],
    page.items.map((s) => [
      s.trading_date, s.ticker, s.status, pct(s.confidence, 0), price(s.fill_price ?? s.entry_price),
      price(s.exit_price), s.exit_reason || '', { text: money(s.realized_pnl), class: sign(s.realized_pnl) },
    ]), 'No signal yet.');
}

// ---- the chart ---------------------------------------------------------------------

const COLORS = ['#2962ff', '#e91e63', '#ff9800', '#00897b', '#8e24aa', '#6d4c41'];

/** The equity curve (and the benchmark, rebased to the first equity), or, without one,
 *  each position from its entry to its last mark (a pending entry: its planned price on
 *  its fill day). Returns false when there is no data. */
function renderChart(equity, positions, markedOn) {
  const box = document.getElementById('chart');
  if (chart) chart.remove();
  chart = null;
  const title = document.getElementById('chart-title');
  const points = equity ? equity.points : [];
  const lines = [];
  if (points.length) {
    title.textContent = `Equity${equity.benchmark ? ` vs ${equity.benchmark}` : ''}`;
    lines.push({ title: 'equity', data: points.map((p) => ({ time: p.date, value: p.equity })) });
    const base = points.find((p) => p.benchmark != null);
    if (base) {
      const k = base.equity / base.benchmark;
      lines.push({
        title: equity.benchmark || 'benchmark',
        data: points.filter((p) => p.benchmark != null).map((p) => ({ time: p.date, value: p.benchmark * k })),
      });
    }
  } else if (positions.positions.length) {
    title.textContent = 'Open positions: entry → mark';
    for (const p of positions.positions) {
      const data = [{ time: p.entry_date, value: p.entry_price }];
      if (p.status === 'open' && markedOn > p.entry_date) data.push({ time: markedOn, value: p.mark });
      lines.push({ title: p.ticker, data });
    }
  }
  document.getElementById('chart-empty').hidden = lines.length > 0;
  box.hidden = lines.length === 0;
  if (!lines.length) return false;
  chart = LightweightCharts.createChart(box, {
    autoSize: true,
    // The attribution is in the page's footer (the logo's inline <style> breaks the CSP).
    layout: { background: { color: '#ffffff' }, textColor: '#5f6b7a', attributionLogo: false },
    grid: { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } },
    rightPriceScale: { borderVisible: false },
    timeScale: { borderVisible: false },
  });
  lines.forEach((line, i) => {
    const series = chart.addLineSeries({
      color: COLORS[i % COLORS.length], lineWidth: 2, title: line.title, pointMarkersVisible: line.data.length < 3,
    });
    series.setData(line.data);
  });
  chart.timeScale().fitContent();
  return true;
}

// ---- loading -----------------------------------------------------------------------

async function load() {
  const health = await api('v1/health');
  const key = localStorage.getItem(KEY_STORE);
  if (!key) {
    renderStatus(health, null);
    showMessage('Paste an API key above (create one with `tft api-keys create --name NAME`); it is kept in this browser only.', 'info');
    return;
  }
  try {
    const noPortfolio = (e) => { if (e.status === 404) return null; throw e; };
    const [portfolio, positions, open, pending, rejections, recent, equity] = await Promise.all([
      api('v1/portfolio').catch(noPortfolio),
      api('v1/positions'),
      api('v1/signals?status=open&limit=200'),
      api('v1/signals?status=pending&limit=200'),
      api('v1/rejections'),
      api('v1/signals?limit=20'),
      // Not served by an older API: 404, and the chart falls back to the positions.
      api('v1/portfolio/equity').catch(noPortfolio),
    ]);
    renderStatus(health, portfolio);
    renderPortfolio(portfolio);
    renderActive(positions.positions, [...open.items, ...pending.items]);
    renderRejections(rejections);
    renderRecent(recent);
    renderChart(equity, positions, portfolio && portfolio.marked_on);
    showMessage('');
  } catch (e) {
    renderStatus(health, null);
    if (e.status === 401) {
      showMessage(`the API key was refused: ${e.message}. Paste a valid key above.`);
      document.getElementById('key').focus();
    } else {
      showMessage(`could not load the dashboard: ${e.message}`);
    }
  }
}

function refresh() {
  load().catch((e) => showMessage(`the API is not reachable: ${e.message}`));
}

document.getElementById('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('key');
  const key = input.value.trim();
  if (key) localStorage.setItem(KEY_STORE, key);
  input.value = '';
  refresh();
});

document.getElementById('forget').addEventListener('click', () => {
  localStorage.removeItem(KEY_STORE);
  refresh();
});

refresh();
setInterval(refresh, REFRESH_MS);
