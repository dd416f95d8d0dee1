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
const count = (n) => (n == null ? '–' : String(n));
const ratio = (n) => (n == null ? '–' : n.toFixed(2));
const signed = (n, digits = 2) => (n == null ? '–' : `${n > 0 ? '+' : ''}${n.toFixed(digits)}`);

/** The New York trading date (YYYY-MM-DD) of an RFC 3339 time. */
const NY_DATE = new Intl.DateTimeFormat('en-CA', { timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit' });
const nyDate = (t) => (t ? NY_DATE.format(new Date(t)) : null);

/** A ticker that opens the ticker view (through the URL's hash: a reload keeps it). */
const tickerLink = (t) => ({ text: el('a', { href: `#ticker=${encodeURIComponent(t)}`, class: 'ticker' }, t) });

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
      tickerLink(p.ticker), p.status, price(p.entry_price), price(p.stop_loss), price(p.target_price), price(p.mark),
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
    r.refusals.map((x) => [tickerLink(x.ticker), x.rule, { text: x.reason, class: 'wrap' }]), 'No refused candidate.');
}

function renderRecent(page) {
  fillTable('recent', ['Date', 'Ticker', 'Status', 'Conf.#', 'Entry#', 'Exit#', 'Reason', 'P&L#'],
    page.items.map((s) => [
      s.trading_date, tickerLink(s.ticker), s.status, pct(s.confidence, 0), price(s.fill_price ?? s.entry_price),
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

// ---- trending sentiment with sparklines -------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

const DAY_MS = 86_400_000;
const dayNumber = (d) => Math.round(Date.parse(`${d}T00:00:00Z`) / DAY_MS);

/** A small line over a window of calendar days: x by date (a gap stays a gap), y by
 *  value; `zero` draws the zero line and keeps it in range. Presentation attributes only
 *  (no inline style: the page's CSP). */
function sparkline(points, { firstDay, days, colour, zero = false, label }) {
  const w = 96;
  const h = 24;
  const s = svg('svg', { class: 'spark', width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': label });
  s.dataset.points = String(points.length);
  if (!points.length) return s;
  const values = points.map((p) => p.value);
  const lo = Math.min(...values, ...(zero ? [0] : []));
  const hi = Math.max(...values, ...(zero ? [0] : []));
  const span = hi - lo || 1;
  const x = (p) => 2 + ((p.day - firstDay) / Math.max(1, days - 1)) * (w - 4);
  const y = (v) => h - 2 - ((v - lo) / span) * (h - 4);
  if (zero) s.append(svg('line', { x1: 0, x2: w, y1: y(0), y2: y(0), stroke: '#d9dee5', 'stroke-width': 1 }));
  s.append(svg('polyline', {
    points: points.map((p) => `${x(p).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '),
    fill: 'none', stroke: colour, 'stroke-width': 1.5, 'stroke-linejoin': 'round',
  }));
  const last = points[points.length - 1];
  s.append(svg('circle', { cx: x(last), cy: y(last.value), r: 2, fill: colour }));
  return s;
}

function renderTrending(t) {
  document.getElementById('trending-date').textContent = t.trading_date ? `(${t.trading_date})` : '';
  const days = t.history_days || 30;
  const lastDay = t.trading_date ? dayNumber(t.trading_date) : 0;
  const firstDay = lastDay - days + 1;
  const history = new Map((t.history || []).map((h) => [h.ticker, h.days]));
  const rows = t.tickers.map((x) => {
    const past = (history.get(x.ticker) || []).map((d) => ({ day: dayNumber(d.trading_date), d }));
    const mentions = past.map((p) => ({ day: p.day, value: p.d.mentions }));
    const sentiment = past.map((p) => ({ day: p.day, value: p.d.sentiment }));
    return [
      tickerLink(x.ticker), count(x.mentions),
      { text: x.mentions_change == null ? '–' : signed(x.mentions_change, 0), class: sign(x.mentions_change) },
      count(x.unique_authors),
      { text: signed(x.sentiment), class: sign(x.sentiment) },
      pct(x.bullish_share, 0),
      { text: sparkline(mentions, { firstDay, days, colour: '#2962ff', label: `${x.ticker} mentions, ${days} days` }) },
      { text: sparkline(sentiment, { firstDay, days, colour: '#137a3f', zero: true, label: `${x.ticker} sentiment, ${days} days` }) },
    ];
  });
  fillTable('trending', ['Ticker', 'Mentions#', 'Δ#', 'Authors#', 'Sentiment#', 'Bullish#', `Mentions ${days} d`, `Sentiment ${days} d`],
    rows, 'No Reddit sentiment stored yet.');
}

// ---- closed trades and their breakdowns -------------------------------------------

function renderClosed(page, byReason, byMonth) {
  fillTable('closed', ['Closed', 'Ticker', 'Entry day', 'Fill#', 'Exit#', 'Reason', 'Shares#', 'P&L#'],
    page.items.map((s) => [
      nyDate(s.closed_at), tickerLink(s.ticker), s.entry_date || '–', price(s.fill_price), price(s.exit_price),
      s.exit_reason || '', count(s.shares), { text: money(s.realized_pnl), class: sign(s.realized_pnl) },
    ]), 'No closed trade yet.');
  const t = byReason.total;
  document.getElementById('closed-total').textContent = t.trades
    ? `${t.trades} trades, ${t.wins} won (${pct(t.win_rate, 0)}), net P&L ${money(t.total_pnl)}, `
      + `profit factor ${ratio(t.profit_factor)}, expectancy ${money(t.expectancy)} a trade`
      + (page.next_cursor ? ` (the ${page.items.length} latest listed)` : '')
    : '';
  const headers = (first) => [first, 'Trades#', 'Wins#', 'Win rate#', 'P&L#', 'Avg return#', 'Profit factor#', 'Avg days#'];
  const row = (g) => [
    g.key, count(g.trades), count(g.wins), pct(g.win_rate, 0), { text: money(g.total_pnl), class: sign(g.total_pnl) },
    { text: pct(g.avg_return, 2), class: sign(g.avg_return) }, ratio(g.profit_factor),
    g.avg_days_held == null ? '–' : g.avg_days_held.toFixed(1),
  ];
  fillTable('by-exit-reason', headers('Exit reason'), byReason.groups.map(row), 'No closed trade yet.');
  // Newest month first.
  fillTable('by-month', headers('Month'), [...byMonth.groups].reverse().map(row), 'No closed trade yet.');
}

// ---- the ticker view ---------------------------------------------------------------

const CANDLE_UP = '#26a69a';
const CANDLE_DOWN = '#ef5350';
const ENTRY_COLOUR = '#2563eb';
const EXIT_COLOUR = '#db2777';
const OVERLAYS = [
  { field: 'sma_50', colour: '#f59e0b', width: 2, style: 0 },
  { field: 'sma_200', colour: '#7c3aed', width: 2, style: 0 },
  { field: 'bb_upper', colour: '#94a3b8', width: 1, style: 2 },
  { field: 'bb_lower', colour: '#94a3b8', width: 1, style: 2 },
];
let tickerChart = null;
let tickerShown = null;
let tickerRequest = 0;

function tickerFromHash() {
  const m = /^#ticker=([^&]{1,20})$/.exec(window.location.hash);
  return m ? decodeURIComponent(m[1]).trim().toUpperCase() : null;
}

/** The bar a marker belongs on: that day's, else the next bar's; none outside the bars. */
function barDay(days, d) {
  if (!d || !days.length || d < days[0] || d > days[days.length - 1]) return null;
  return days.find((x) => x >= d);
}

/** Entries (filled) below the bar, exits above it, pending entries on their signal day. */
function tradeMarkers(signals, days) {
  const markers = [];
  for (const s of signals) {
    if (s.fill_price != null) {
      const time = barDay(days, s.entry_date);
      if (time) markers.push({ time, position: 'belowBar', color: ENTRY_COLOUR, shape: 'arrowUp', text: `BUY ${price(s.fill_price)}` });
    } else if (s.status === 'pending') {
      const time = barDay(days, s.trading_date);
      if (time) markers.push({ time, position: 'belowBar', color: ENTRY_COLOUR, shape: 'circle', text: 'BUY signal' });
    }
    if (s.exit_price != null && s.closed_at) {
      const time = barDay(days, nyDate(s.closed_at));
      if (time) markers.push({ time, position: 'aboveBar', color: EXIT_COLOUR, shape: 'arrowDown', text: `${s.exit_reason || 'exit'} ${price(s.exit_price)}` });
    }
  }
  return markers.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

function renderTicker(ticker, view, sentimentDays) {
  const box = document.getElementById('ticker-chart');
  const note = document.getElementById('ticker-note');
  if (tickerChart) tickerChart.remove();
  tickerChart = null;
  const bars = view ? view.bars : [];
  const signals = view ? view.signals : [];
  const days = bars.map((b) => b.date);
  const onBars = new Set(days);
  // On the bars' days only (a day without a bar would open a gap in the candles).
  const sentiment = sentimentDays.filter((d) => !bars.length || onBars.has(d.trading_date));
  document.getElementById('ticker-title').textContent = `${ticker}${bars.length ? ` ${days[0]} → ${days[days.length - 1]}` : ''}`;
  const parts = [];
  parts.push(bars.length ? `${bars.length} daily bars` : 'no bars stored');
  parts.push(`${signals.length} signal${signals.length === 1 ? '' : 's'}`);
  parts.push(sentiment.length ? `${sentiment.length} days of Reddit sentiment` : 'no Reddit sentiment');
  note.textContent = parts.join(', ');
  const drawn = bars.length > 0 || sentiment.length > 0;
  box.hidden = !drawn;
  document.getElementById('ticker-legend').hidden = !drawn;
  box.dataset.ticker = ticker;
  box.dataset.markers = '0';
  if (drawn) {
    tickerChart = LightweightCharts.createChart(box, {
      autoSize: true,
      layout: { background: { color: '#ffffff' }, textColor: '#5f6b7a', attributionLogo: false },
      grid: { vertLines: { color: '#eef0f3' }, horzLines: { color: '#eef0f3' } },
      // Candles in the top 72 %, the sentiment band below them.
      rightPriceScale: { borderVisible: false, scaleMargins: { top: 0.06, bottom: 0.3 } },
      timeScale: { borderVisible: false },
    });
    if (bars.length) {
      const candles = tickerChart.addCandlestickSeries({
        upColor: CANDLE_UP, downColor: CANDLE_DOWN, wickUpColor: CANDLE_UP, wickDownColor: CANDLE_DOWN, borderVisible: false,
      });
      candles.setData(bars.map((b) => ({ time: b.date, open: b.open, high: b.high, low: b.low, close: b.close })));
      for (const o of OVERLAYS) {
        const data = bars.filter((b) => b[o.field] != null).map((b) => ({ time: b.date, value: b[o.field] }));
        if (!data.length) continue;
        tickerChart.addLineSeries({
          color: o.colour, lineWidth: o.width, lineStyle: o.style, priceLineVisible: false,
          lastValueVisible: false, crosshairMarkerVisible: false,
        }).setData(data);
      }
      const markers = tradeMarkers(signals, days);
      candles.setMarkers(markers);
      box.dataset.markers = String(markers.length);
    }
    if (sentiment.length) {
      const band = tickerChart.addHistogramSeries({
        priceScaleId: 'sentiment', priceLineVisible: false, lastValueVisible: false,
        priceFormat: { type: 'price', precision: 2, minMove: 0.01 },
      });
      tickerChart.priceScale('sentiment').applyOptions({ scaleMargins: { top: 0.76, bottom: 0 } });
      band.setData(sentiment.map((d) => ({
        time: d.trading_date, value: d.sentiment,
        color: d.sentiment >= 0 ? 'rgba(38, 166, 154, 0.55)' : 'rgba(239, 83, 80, 0.55)',
      })));
    }
    tickerChart.timeScale().fitContent();
  }
  const table = document.getElementById('ticker-trades');
  table.hidden = signals.length === 0;
  fillTable('ticker-trades', ['Signal day', 'Status', 'Entry day', 'Fill#', 'Closed', 'Exit#', 'Reason', 'P&L#'],
    signals.map((s) => [
      s.trading_date, s.status, s.entry_date || '–', price(s.fill_price), nyDate(s.closed_at) || '–',
      price(s.exit_price), s.exit_reason || '', { text: money(s.realized_pnl), class: sign(s.realized_pnl) },
    ]), 'No signal for this ticker.');
}

/** Loads and draws a ticker: its bars, indicators and signals, then its sentiment over
 *  the same days (two requests). A later pick wins over a slower earlier one. */
async function showTicker(raw) {
  const ticker = raw.trim().toUpperCase();
  if (!ticker || !localStorage.getItem(KEY_STORE)) return;
  const request = ++tickerRequest;
  tickerShown = ticker;
  const note = document.getElementById('ticker-note');
  note.textContent = `loading ${ticker}…`;
  try {
    let view = null;
    try {
      view = await api(`v1/tickers/${encodeURIComponent(ticker)}`);
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    const bars = view ? view.bars : [];
    const range = bars.length ? `?from=${bars[0].date}&to=${bars[bars.length - 1].date}` : '';
    const sentiment = await api(`v1/sentiment/${encodeURIComponent(ticker)}${range}`);
    if (request !== tickerRequest) return;
    renderTicker(view ? view.ticker : sentiment.ticker, view, sentiment.days);
  } catch (e) {
    if (request !== tickerRequest) return;
    tickerShown = null;
    note.textContent = e.status === 400 ? e.message : `could not load ${ticker}: ${e.message}`;
  }
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
    const [portfolio, positions, open, pending, rejections, recent, equity, trending, closed, byReason, byMonth] = await Promise.all([
      api('v1/portfolio').catch(noPortfolio),
      api('v1/positions'),
      api('v1/signals?status=open&limit=200'),
      api('v1/signals?status=pending&limit=200'),
      api('v1/rejections'),
      api('v1/signals?limit=20'),
      // Not served by an older API: 404, and the chart falls back to the positions.
      api('v1/portfolio/equity').catch(noPortfolio),
      // One request for the rows and their sparklines (history), not one per row.
      api('v1/sentiment/trending?limit=20'),
      api('v1/signals?status=closed&limit=50'),
      api('v1/performance?group_by=exit_reason'),
      api('v1/performance?group_by=month'),
    ]);
    renderStatus(health, portfolio);
    renderPortfolio(portfolio);
    renderActive(positions.positions, [...open.items, ...pending.items]);
    renderRejections(rejections);
    renderRecent(recent);
    renderChart(equity, positions, portfolio && portfolio.marked_on);
    renderTrending(trending);
    renderClosed(closed, byReason, byMonth);
    showMessage('');
    const picked = tickerFromHash();
    if (picked && picked !== tickerShown) showTicker(picked);
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

document.getElementById('ticker-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('ticker-input');
  const ticker = input.value.trim().toUpperCase();
  if (!ticker) return;
  if (tickerFromHash() === ticker) showTicker(ticker);
  else window.location.hash = `ticker=${encodeURIComponent(ticker)}`;
});

window.addEventListener('hashchange', () => {
  const ticker = tickerFromHash();
  if (!ticker) return;
  document.getElementById('ticker-input').value = ticker;
  showTicker(ticker);
  document.getElementById('ticker-view').scrollIntoView({ block: 'start' });
});

document.getElementById('forget').addEventListener('click', () => {
  localStorage.removeItem(KEY_STORE);
  refresh();
});

refresh();
setInterval(refresh, REFRESH_MS);
