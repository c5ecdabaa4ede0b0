// triage.js sends triage decisions to the API without leaving the page:
// POST /api/v1/findings/{id}/triage with the session's CSRF token in the
// X-CSRF-Token header. The API checks the analyst's permission and
// records the decision in the audit trail; the form's own action (the
// plain-HTML path) is the fallback when script is off.
import { announce } from './announce.js';

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';

const stateNames = { open: 'Open', accepted: 'Accepted risk', 'false-positive': 'False positive', fixed: 'Fixed' };

function stateCell(f) {
  const frag = document.createDocumentFragment();
  const s = document.createElement('span');
  s.className = `state state-${f.state}`;
  s.textContent = stateNames[f.state] || f.state;
  frag.append(s);
  if (f.state_by) {
    const by = document.createElement('span');
    by.className = 'hint';
    by.textContent = `by ${f.state_by}, just now`;
    frag.append(document.createElement('br'), by);
  }
  if (f.comment) {
    const q = document.createElement('q');
    q.className = 'comment';
    q.textContent = f.comment;
    frag.append(document.createElement('br'), q);
  }
  return frag;
}

async function submit(form, ev) {
  ev.preventDefault();
  const id = form.dataset.finding;
  const status = form.querySelector('.triage-status');
  const button = form.querySelector('button[type="submit"]');
  const body = { state: form.elements.state.value, comment: form.elements.comment.value.trim() };
  status.classList.remove('error');
  status.textContent = 'Saving…';
  button.disabled = true;
  try {
    const res = await fetch(`/api/v1/findings/${encodeURIComponent(id)}/triage`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      throw new Error(data.detail || data.title || `the node answered ${res.status}`);
    }
    const msg = `Saved: ${data.title || 'finding'} is now ${stateNames[data.state] || data.state}.`;
    status.textContent = msg;
    announce(msg);
    const row = document.querySelector(`[data-finding-row="${CSS.escape(id)}"]`);
    const cell = row?.querySelector('[data-state-cell]');
    if (cell) {
      cell.replaceChildren(stateCell(data));
    }
    form.dataset.saved = data.state;
  } catch (err) {
    status.classList.add('error');
    status.textContent = `Not saved: ${err.message}`;
    announce(status.textContent);
  } finally {
    button.disabled = false;
  }
}

export function enhance(forms) {
  for (const f of forms) {
    f.addEventListener('submit', (ev) => submit(f, ev));
  }
}
