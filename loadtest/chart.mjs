// Renders a run's summary as an SVG chart (latency percentiles and throughput per scenario), a PNG
// when rsvg-convert (Debian librsvg2-bin) is present, and a self-contained HTML report that also
// carries each ghz report's histogram. ghz writes one output format per run, so the HTML is made
// from its JSON here instead of running every scenario twice.
//
//   node loadtest/chart.mjs loadtest/reports/summary-latest.json loadtest/results.png
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const num = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '—');

export function renderSvg(summary) {
  const rows = summary.results.filter((r) => Number.isFinite(r.rps));
  const W = 1100, H = 560, top = 70, panelH = 360, left = 70, gap = 60;
  const panelW = (W - left - gap - 40) / 2;
  const colors = { p50: '#4e79a7', p95: '#f28e2b', p99: '#e15759', rps: '#59a14f', ids: '#b07aa1' };
  const label = (r) => `${r.scenario}${r.generator === 'ghz' || r.generator === 'pg' ? '' : ` (${r.generator})`}`;
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`;
  s += `<rect width="100%" height="100%" fill="white"/>`;
  s += `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">ChittyID load test — ${esc(summary.duration)} per scenario, ${esc(summary.machine.nproc)} cores (${esc(summary.machine.cpu)})</text>`;
  s += `<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">${esc(summary.date)} · node ${esc(summary.machine.node)} · PostgreSQL ${esc(summary.pgVersion ?? '?')} · ghz and h2load against 127.0.0.1</text>`;

  const panel = (x0, title, series, unit, log10) => {
    const vals = rows.flatMap((r) => series.map((k) => r[k.key])).filter((v) => Number.isFinite(v) && v > 0);
    const max = Math.max(...vals) * 1.1;
    const min = log10 ? Math.max(Math.min(...vals) / 2, 0.01) : 0;
    const y = (v) => {
      if (!Number.isFinite(v) || v <= 0) return top + panelH;
      return log10 ? top + panelH - (Math.log10(v / min) / Math.log10(max / min)) * panelH : top + panelH - (v / max) * panelH;
    };
    let p = `<text x="${x0 + panelW / 2}" y="${top - 10}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`;
    p += `<line x1="${x0}" y1="${top + panelH}" x2="${x0 + panelW}" y2="${top + panelH}" stroke="#333"/><line x1="${x0}" y1="${top}" x2="${x0}" y2="${top + panelH}" stroke="#333"/>`;
    const ticks = log10
      ? Array.from({ length: 8 }, (_, i) => 10 ** (Math.floor(Math.log10(min)) + i)).filter((t) => t >= min && t <= max)
      : Array.from({ length: 6 }, (_, i) => (max / 5) * i);
    for (const t of ticks) {
      p += `<line x1="${x0}" y1="${y(t)}" x2="${x0 + panelW}" y2="${y(t)}" stroke="#ddd"/>`;
      p += `<text x="${x0 - 5}" y="${y(t) + 4}" text-anchor="end" font-size="10">${num(t, t < 1 ? 2 : 0)}</text>`;
    }
    p += `<text transform="translate(${x0 - 50},${top + panelH / 2}) rotate(-90)" text-anchor="middle" font-size="11">${esc(unit)}</text>`;
    const groupW = panelW / rows.length, barW = (groupW * 0.8) / series.length;
    rows.forEach((r, i) => {
      const gx = x0 + i * groupW + groupW * 0.1;
      series.forEach((k, j) => {
        const v = r[k.key];
        if (!Number.isFinite(v) || v <= 0) return;
        p += `<rect x="${gx + j * barW}" y="${y(v)}" width="${barW - 1}" height="${top + panelH - y(v)}" fill="${k.color}"><title>${esc(label(r))} ${k.name}: ${num(v, 2)}</title></rect>`;
        if (series.length <= 2) p += `<text x="${gx + j * barW + barW / 2}" y="${y(v) - 3}" text-anchor="middle" font-size="9">${num(v / (v >= 10_000 ? 1000 : 1), 0)}${v >= 10_000 ? 'k' : ''}</text>`;
      });
      p += `<text transform="translate(${gx + groupW * 0.4},${top + panelH + 12}) rotate(30)" font-size="10">${esc(label(r))}</text>`;
    });
    series.forEach((k, j) => {
      p += `<rect x="${x0 + 10 + j * 90}" y="${top + 5}" width="10" height="10" fill="${k.color}"/><text x="${x0 + 24 + j * 90}" y="${top + 14}" font-size="11">${esc(k.name)}</text>`;
    });
    return p;
  };
  s += panel(left, 'Latency percentiles (ms, log scale)', [
    { key: 'p50', name: 'p50', color: colors.p50 }, { key: 'p95', name: 'p95', color: colors.p95 }, { key: 'p99', name: 'p99', color: colors.p99 },
  ], 'milliseconds', true);
  s += panel(left + panelW + gap, 'Throughput (log scale)', [
    { key: 'rps', name: 'requests/s', color: colors.rps }, { key: 'idsPerSec', name: 'IDs (rows)/s', color: colors.ids },
  ], 'per second', true);
  s += `</svg>`;
  return s;
}

export function svgToPng(svgFile, pngFile) {
  const r = spawnSync('rsvg-convert', ['-o', pngFile, svgFile], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.error(`[loadtest] no PNG (${r.error ? 'rsvg-convert missing: apt-get install librsvg2-bin' : r.stderr.trim()}); the SVG is at ${svgFile}`);
    return false;
  }
  return true;
}

export function renderHtml(summary, svg, ghzReports) {
  const rows = summary.results.map((r) => `<tr><td>${esc(r.scenario)}</td><td>${esc(r.generator)}</td><td>${num(r.rps)}</td><td>${num(r.idsPerSec)}</td><td>${num(r.p50, 2)}</td><td>${num(r.p95, 2)}</td><td>${num(r.p99, 2)}</td><td>${r.errors}</td><td>${num(r.ratioToCheck, 2)}</td><td>${num(r.peakRssMb)}</td></tr>`).join('');
  const checks = summary.checks.map((c) => `<tr class="${c.pass ? 'ok' : 'miss'}"><td>${esc(c.name)}</td><td>${num(c.value, 2)}</td><td>${esc(c.op)} ${num(c.limit, 2)}</td><td>${c.pass ? 'pass' : 'MISS'}</td></tr>`).join('');
  const hists = ghzReports.map((g) => {
    const max = Math.max(...(g.histogram ?? []).map((b) => b.count), 1);
    const bars = (g.histogram ?? []).map((b) => `<tr><td>${num(b.mark * 1000, 2)} ms</td><td><div style="background:#4e79a7;height:10px;width:${(b.count / max) * 400}px"></div></td><td>${b.count}</td></tr>`).join('');
    const dist = (g.latencyDistribution ?? []).map((d) => `p${d.percentage} ${num(d.latency / 1e6, 2)} ms`).join(' · ');
    return `<h3>${esc(g.name)} (ghz)</h3><p>${num(g.count)} calls in ${num(g.total / 1e9, 2)} s, ${num(g.rps)} req/s · ${dist} · status ${esc(JSON.stringify(g.statusCodeDistribution))}</p><table>${bars}</table>`;
  }).join('');
  return `<!doctype html><meta charset="utf-8"><title>ChittyID load test ${esc(summary.date)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}td:first-child{text-align:left}.miss{color:#b00}</style>
<h1>ChittyID load test</h1><p>${esc(summary.date)} · ${esc(summary.machine.nproc)} × ${esc(summary.machine.cpu)} · ${esc(summary.machine.memGiB)} GiB · node ${esc(summary.machine.node)} · PostgreSQL ${esc(summary.pgVersion ?? '?')} · ${esc(summary.duration)} per scenario · ready in ${num(summary.readyMs)} ms</p>
<table><tr><th>scenario</th><th>generator</th><th>req/s</th><th>IDs/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th><th>× Check</th><th>peak RSS MB</th></tr>${rows}</table>
<h2>Thresholds</h2><table>${checks}</table><h2>Chart</h2>${svg}<h2>ghz latency histograms</h2>${hists}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [, , input, output] = process.argv;
  if (!input || !output) throw new Error('usage: node loadtest/chart.mjs summary.json out.png|out.svg');
  const svg = renderSvg(JSON.parse(readFileSync(input, 'utf8')));
  if (output.endsWith('.svg')) writeFileSync(output, svg);
  else {
    writeFileSync(`${output}.svg`, svg);
    if (!svgToPng(`${output}.svg`, output)) process.exit(1);
    spawnSync('rm', ['-f', `${output}.svg`]);
  }
}
