// Overview: delivery health over the last hour, day or week, from GET /api/v1/webhooks/metrics
// (rollups, so the same cost at any traffic): tiles, three charts, failures and event types.
import * as api from './api.js';
import { el, ms, percent, show, table } from './dom.js';

/** Range → [seconds, bucket]. */
const RANGES = { '1h': [3600, '1m'], '24h': [86400, '1h'], '7d': [7 * 86400, '1h'] };

export async function overview(params) {
  const range = RANGES[params.get('range')] ? params.get('range') : '24h';
  const [seconds, bucket] = RANGES[range];
  const since = new Date(Date.now() - seconds * 1000).toISOString();
  const [report, hooks] = await Promise.all([
    api.get('api/v1/webhooks/metrics', { since, bucket }),
    api.get('api/v1/webhooks', { limit: 100 }),
  ]);
  const names = new Map(hooks.data.map((hook) => [hook.id, hook.name]));
  const t = report.totals;
  const charts = el('div', { class: 'charts' });
  show(
    el('h1', {}, 'Overview'),
    el(
      'div',
      { class: 'toolbar' },
      Object.keys(RANGES).map((name) =>
        el('button', { type: 'button', 'aria-pressed': String(name === range), onclick: () => { window.location.hash = `#/overview?range=${name}`; } }, `Last ${name}`),
      ),
      el('span', { class: 'spacer' }),
      el('span', { class: 'muted' }, `${bucket} buckets`),
    ),
    el(
      'div',
      { class: 'tiles', id: 'tiles' },
      tile('Success rate', percent(t.success_rate)),
      tile('Delivered', t.succeeded),
      tile('Dead', t.dead),
      tile('Attempts', t.attempts),
      tile('Failed attempts', t.failed_attempts),
      tile('Delivery latency p50', ms(t.delivery_latency.p50_ms)),
      tile('Delivery latency p95', ms(t.delivery_latency.p95_ms)),
      tile('Delivery latency p99', ms(t.delivery_latency.p99_ms)),
      tile('Attempt duration p95', ms(t.attempt_duration.p95_ms)),
    ),
    charts,
    el('h2', {}, 'Failures by webhook'),
    table(
      [
        ['Webhook', (row) => el('a', { href: `#/webhooks/${row.webhook_id}` }, names.get(row.webhook_id) || row.webhook_id)],
        ['Failed attempts', (row) => row.failed_attempts],
        ['Dead deliveries', (row) => row.dead_deliveries],
      ],
      report.failures_by_webhook,
    ),
    el('h2', {}, 'Event types'),
    table(
      [
        ['Event type', (row) => el('a', { href: `#/deliveries?event_type=${encodeURIComponent(row.event_type)}` }, row.event_type)],
        ['Deliveries finished', (row) => row.deliveries],
        ['Attempts', (row) => row.attempts],
      ],
      report.event_types,
    ),
  );
  drawCharts(charts, report.series);
}

function tile(label, value) {
  return el('div', { class: 'tile' }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, String(value)));
}

function drawCharts(container, series) {
  const x = series.map((point) => Date.parse(point.at) / 1000);
  const pick = (f) => series.map((point) => f(point));
  const charts = [
    ['Deliveries and failed attempts per bucket', null, [
      ['Delivered', '#1a7f37', pick((p) => p.succeeded)],
      ['Dead', '#c0262d', pick((p) => p.dead)],
      ['Failed attempts', '#9a6700', pick((p) => p.failed_attempts)],
    ]],
    ['Success rate (%)', [0, 100], [['Success rate', '#2457c5', pick((p) => (p.success_rate === null ? null : p.success_rate * 100))]]],
    ['Delivery latency (ms)', null, [
      ['p50', '#1a7f37', pick((p) => p.delivery_latency.p50_ms)],
      ['p95', '#9a6700', pick((p) => p.delivery_latency.p95_ms)],
      ['p99', '#c0262d', pick((p) => p.delivery_latency.p99_ms)],
    ]],
  ];
  // Every box first, so the grid has its final columns before a chart measures its width.
  const boxes = charts.map(([title]) => {
    const box = el('div', { class: 'card chart' }, el('h3', {}, title));
    container.append(box);
    return box;
  });
  charts.forEach(([, range, lines], n) => chart(boxes[n], x, range, lines));
}

function chart(box, x, range, lines) {
  if (typeof window.uPlot !== 'function') {
    box.append(el('p', { class: 'muted' }, 'The chart library did not load.'));
    return;
  }
  const options = {
    width: Math.max(box.clientWidth - 34, 280),
    height: 220,
    // Points where a line has few values, or a lone value would not show at all.
    series: [{}, ...lines.map(([label, stroke, values]) => ({ label, stroke, width: 2, points: { show: values.filter((v) => v !== null).length < 30 } }))],
    scales: range ? { y: { range } } : {},
    axes: [{}, { size: 56 }],
  };
  // eslint-disable-next-line new-cap
  new window.uPlot(options, [x, ...lines.map(([, , values]) => values)], box);
}
