// charts.js draws the charts the server describes in data-chart
// attributes (see internal/server/ui/charts.go) with Apache ECharts, and
// makes them usable from the keyboard: each chart is focusable, the arrow
// keys (and Home/End) move between bars or points, the value is shown
// and spoken through a live region, and Enter opens the bar's page. The
// data table beside each chart holds the same numbers.
import { init } from '../vendor/echarts.js';
import { announce } from './announce.js';

const root = document.documentElement;
const css = (name) => getComputedStyle(root).getPropertyValue(name).trim();
const remPx = () => parseFloat(getComputedStyle(root).fontSize) || 16;
const reducedMotion = window.matchMedia('(prefers-reduced-motion: reduce)').matches;

function palette() {
  const out = [];
  for (let i = 1; i <= 8; i++) out.push(css(`--series-${i}`) || '#0072b2');
  return out;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

// summary is the chart's accessible description: what it shows and its
// largest values, so a screen-reader user need not walk every bar.
function summary(spec) {
  const n = spec.categories.length;
  const totals = spec.categories.map((_, i) => spec.series.reduce((s, x) => s + (x.data[i] || 0), 0));
  const sum = totals.reduce((a, b) => a + b, 0);
  let text = `${spec.label}. ${n} ${spec.kind === 'line' ? 'points' : 'bars'}`;
  if (spec.kind === 'line') {
    const d = spec.series[0]?.data || [];
    if (d.length) {
      text += `, from ${fmt(d[0])} on ${spec.categories[0]} to ${fmt(d[d.length - 1])} on ${spec.categories[d.length - 1]}`;
      text += `, lowest ${fmt(Math.min(...d))}, highest ${fmt(Math.max(...d))}`;
    }
  } else {
    text += `, ${fmt(sum)} ${spec.unit} in all`;
    const top = totals.map((v, i) => [v, i]).filter(([v]) => v > 0).sort((a, b) => b[0] - a[0]).slice(0, 3);
    if (top.length) text += '. Most: ' + top.map(([v, i]) => `${spec.categories[i]} ${fmt(v)}`).join('; ');
  }
  if (spec.series.length > 1) text += `. Series: ${spec.series.map((s) => s.name).join(', ')}`;
  return text + '.';
}

function tooltip(spec) {
  return (params) => {
    const list = Array.isArray(params) ? params : [params];
    if (!list.length) return '';
    const i = list[0].dataIndex;
    let html = `<strong>${esc(spec.categories[i])}</strong>`;
    for (const p of list) {
      if (spec.series.length > 1 && !p.value) continue;
      html += `<br>${esc(p.seriesName)}: ${esc(fmt(p.value))}`;
    }
    return html;
  };
}

function option(spec) {
  const fs = Math.round(remPx() * 0.8);
  const colors = palette();
  const text = css('--fg') || '#1b1f24';
  const line = css('--line') || '#d0d7de';
  const horizontal = spec.kind === 'hbar';
  const many = spec.series.length > 1;
  const cat = {
    type: 'category',
    data: spec.categories,
    axisLabel: { color: text, fontSize: fs, hideOverlap: true, ...(horizontal ? { width: Math.max(120, fs * 16), overflow: 'truncate' } : {}) },
    axisLine: { lineStyle: { color: text } },
    axisTick: { alignWithLabel: true },
    ...(horizontal ? { inverse: true } : {}),
  };
  const val = {
    type: 'value',
    minInterval: spec.unit === 'RAMA score' ? 10 : 1,
    max: spec.max || null,
    min: 0,
    axisLabel: { color: text, fontSize: fs },
    splitLine: { lineStyle: { color: line } },
  };
  const series = spec.series.map((s, k) => {
    const out = {
      name: s.name,
      type: spec.kind === 'line' ? 'line' : 'bar',
      data: s.data.map((v, i) => (s.tones ? { value: v, itemStyle: { color: css(`--band-${s.tones[i]}`) } } : v)),
      emphasis: { focus: 'none', itemStyle: { borderColor: text, borderWidth: 2 } },
    };
    if (spec.kind === 'stack') out.stack = 'total';
    if (spec.kind === 'line') {
      Object.assign(out, { symbol: 'circle', symbolSize: fs * 0.6, lineStyle: { width: 3, color: colors[0] }, itemStyle: { color: colors[0] } });
    } else if (!s.tones) {
      out.itemStyle = { color: colors[k % colors.length] };
    }
    if ((spec.kind === 'bar' || spec.kind === 'hbar') && !many) {
      out.label = { show: true, position: horizontal ? 'right' : 'top', color: text, fontSize: fs };
    }
    if (k === 0 && spec.marks?.length) {
      out.markLine = {
        silent: true,
        symbol: 'none',
        lineStyle: { type: 'dashed', color: css('--muted') || '#57606a' },
        label: { formatter: '{b}', position: 'insideEndTop', color: text, fontSize: fs * 0.9 },
        data: spec.marks.map((m) => ({ yAxis: m.value, name: `${m.label} ${m.value}` })),
      };
    }
    return out;
  });
  return {
    animation: !reducedMotion,
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily, fontSize: fs, color: text },
    aria: { enabled: true, label: { description: summary(spec) }, decal: { show: many } },
    color: colors,
    legend: many ? { top: 0, textStyle: { color: text, fontSize: fs }, type: 'scroll' } : undefined,
    grid: { left: 8, right: horizontal ? fs * 3 : 16, top: many ? fs * 2.5 : fs * 1.5, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis', axisPointer: { type: spec.kind === 'line' ? 'line' : 'shadow' }, formatter: tooltip(spec), className: 'chart-tip', confine: true },
    xAxis: horizontal ? val : cat,
    yAxis: horizontal ? cat : val,
    series,
  };
}

// describe says one category's values in words.
function describe(spec, i) {
  const parts = spec.series.map((s) => (spec.series.length > 1 ? `${s.name} ${fmt(s.data[i] || 0)}` : fmt(s.data[i] || 0)));
  let t = `${spec.categories[i]}: ${parts.join(', ')} ${spec.unit}`;
  if (spec.links?.[i]) t += '. Press Enter to open.';
  return t;
}

function keyboard(el, chart, spec) {
  const n = spec.categories.length;
  let at = -1;
  const say = document.createElement('p');
  say.className = 'visually-hidden';
  say.setAttribute('aria-live', 'polite');
  (document.getElementById(`${el.id}-hint`) || el).after(say);
  const select = (i) => {
    if (at >= 0) chart.dispatchAction({ type: 'downplay', dataIndex: at });
    at = i;
    chart.dispatchAction({ type: 'highlight', dataIndex: i });
    chart.dispatchAction({ type: 'showTip', seriesIndex: 0, dataIndex: i });
    el.dataset.selected = String(i);
    say.textContent = describe(spec, i);
  };
  el.addEventListener('keydown', (e) => {
    if (!n) return;
    let i = at;
    switch (e.key) {
      case 'ArrowRight':
      case 'ArrowDown':
        i = at < 0 ? 0 : Math.min(n - 1, at + 1);
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        i = at < 0 ? 0 : Math.max(0, at - 1);
        break;
      case 'Home':
        i = 0;
        break;
      case 'End':
        i = n - 1;
        break;
      case 'Enter':
      case ' ':
        if (at >= 0 && spec.links?.[at]) {
          e.preventDefault();
          window.location.assign(spec.links[at]);
        }
        return;
      case 'Escape':
        chart.dispatchAction({ type: 'hideTip' });
        if (at >= 0) chart.dispatchAction({ type: 'downplay', dataIndex: at });
        at = -1;
        delete el.dataset.selected;
        return;
      default:
        return;
    }
    e.preventDefault();
    select(i);
  });
  el.addEventListener('blur', () => chart.dispatchAction({ type: 'hideTip' }));
}

function draw(el) {
  let spec;
  try {
    spec = JSON.parse(el.dataset.chart);
  } catch (err) {
    console.error('heir: bad chart description', err);
    return;
  }
  const chart = init(el, null, { renderer: 'svg' });
  chart.setOption(option(spec));
  el.setAttribute('aria-label', summary(spec));
  // For the browser tests and for anyone curious: how many values the
  // chart holds.
  el.dataset.points = String(spec.series.reduce((s, x) => s + x.data.length, 0));
  if (spec.links?.length) {
    chart.on('click', (p) => {
      const link = spec.links[p.dataIndex];
      if (link) window.location.assign(link);
    });
    el.classList.add('linked');
  }
  keyboard(el, chart, spec);
  new ResizeObserver(() => chart.resize()).observe(el);
  el.dataset.rendered = 'true';
}

export function drawAll(nodes) {
  for (const el of nodes) {
    try {
      draw(el);
    } catch (err) {
      console.error('heir: chart failed', err);
      announce('A chart could not be drawn; its data table is below it.');
    }
  }
}
