// live.js shows alerts as the node publishes them, through the API's
// Server-Sent Events stream (GET /api/v1/alerts/stream): new alerts go on
// top of the live table and into the group counts. The stream filters
// severity and category itself; the page's other filters (rule, address,
// threat tag) are applied here. An alert still going on is sent again as
// it grows: its row is updated, not repeated.
import { announce } from './announce.js';

const maxRows = 100;

function endpoint(e) {
  if (!e || !e.ip) return '—';
  return e.port ? (e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`) : e.ip;
}

function matches(a, f) {
  if (f.rule && a.rule !== f.rule) return false;
  if (f.ip && a.source?.ip !== f.ip && !(a.targets || []).some((t) => t.ip === f.ip)) return false;
  if (f.tag) {
    const [tax, id] = f.tag.split(':');
    if (!(a.tags || []).some((t) => t.taxonomy === tax && t.id === id)) return false;
  }
  return true;
}

function groupKey(a, by) {
  if (by === 'rule') return a.rule;
  if (by === 'source') return a.source?.ip || 'unknown';
  return a.category;
}

function cell(text, cls) {
  const td = document.createElement('td');
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

function row(a) {
  const tr = document.createElement('tr');
  tr.dataset.alertId = a.id;
  tr.className = 'new';
  const when = document.createElement('td');
  const t = document.createElement('time');
  t.dateTime = new Date().toISOString();
  t.textContent = new Date().toLocaleTimeString();
  when.append(t);
  const sev = document.createElement('td');
  const s = document.createElement('span');
  s.className = `sev sev-${a.severity}`;
  s.textContent = a.severity;
  sev.append(s);
  const title = document.createElement('td');
  const link = document.createElement('a');
  link.href = `/alerts/${encodeURIComponent(a.id)}`;
  link.textContent = a.title;
  title.append(link);
  tr.append(when, sev, title, cell(a.category), cell(endpoint(a.source)), cell(String(a.count || 0), 'n'));
  return tr;
}

export function start(section) {
  const rows = section.querySelector('[data-live-rows]');
  const status = section.querySelector('[data-live-status]');
  const toggle = section.querySelector('[data-live-toggle]');
  const filter = JSON.parse(section.dataset.filter || '{}');
  const groups = document.querySelector('[data-groups]');
  const counts = new Map(); // alert id → events already counted
  let es = null;
  let received = 0;

  const setStatus = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
    section.dataset.state = state;
  };

  const bumpGroup = (a, isNew, delta) => {
    if (!groups || filter.group === 'none') return;
    const key = groupKey(a, filter.group);
    let tr = groups.querySelector(`tr[data-group="${CSS.escape(key)}"]`);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.group = key;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = key;
      const sev = document.createElement('td');
      const s = document.createElement('span');
      s.className = `sev sev-${a.severity}`;
      s.textContent = a.severity;
      sev.append(s);
      const al = cell('0', 'n');
      al.dataset.alerts = '';
      const ev = cell('0', 'n');
      ev.dataset.events = '';
      const latest = cell('');
      latest.dataset.latest = '';
      tr.append(th, al, ev, sev, latest);
      groups.prepend(tr);
    }
    const al = tr.querySelector('[data-alerts]');
    const ev = tr.querySelector('[data-events]');
    if (isNew) al.textContent = String(Number(al.textContent) + 1);
    ev.textContent = String(Number(ev.textContent) + delta);
    tr.querySelector('[data-latest]').textContent = `${new Date(a.start).toLocaleString()} (live)`;
  };

  const onAlert = (msg) => {
    let a;
    try {
      a = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (!matches(a, filter)) return;
    const seen = counts.get(a.id);
    const isNew = seen === undefined;
    const delta = Math.max(0, (a.count || 0) - (seen || 0));
    counts.set(a.id, Math.max(a.count || 0, seen || 0));
    rows.querySelector('.placeholder')?.remove();
    rows.querySelector(`tr[data-alert-id="${CSS.escape(a.id)}"]`)?.remove();
    rows.prepend(row(a));
    while (rows.rows.length > maxRows) rows.lastElementChild.remove();
    bumpGroup(a, isNew, delta);
    received++;
    section.dataset.received = String(received);
    if (isNew) announce(`New ${a.severity} alert: ${a.title}`);
  };

  const connect = () => {
    es = new EventSource(section.dataset.stream, { withCredentials: true });
    setStatus('connecting', 'Connecting to the live alert stream…');
    es.addEventListener('open', () => setStatus('live', 'Live: new alerts appear below as they happen.'));
    es.addEventListener('alert', onAlert);
    es.addEventListener('dropped', () => {
      es.close();
      setStatus('down', 'The live stream fell behind and stopped. Reload the page to catch up.');
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        setStatus('down', 'The live stream is closed (signed out, or the node stopped). Reload the page.');
      } else {
        setStatus('down', 'Live stream interrupted; reconnecting…');
      }
    });
  };

  toggle.hidden = false;
  toggle.addEventListener('click', () => {
    const pause = toggle.getAttribute('aria-pressed') !== 'true';
    toggle.setAttribute('aria-pressed', String(pause));
    if (pause) {
      es?.close();
      setStatus('paused', 'Paused: new alerts are not shown until you resume.');
    } else {
      connect();
    }
  });
  connect();
}
