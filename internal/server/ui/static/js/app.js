// app.js is the only script a page loads: it marks the page as scripted
// (the stylesheet then shows charts) and loads the modules the page needs.
// Every page works without it; it adds charts, live alerts, in-place
// triage and the wall screen's reload.
document.documentElement.classList.add('js');

const load = (name, nodes, fn) => {
  if (!nodes || (nodes.length !== undefined && nodes.length === 0)) return;
  import(name)
    .then((m) => m[fn](nodes))
    .catch((err) => console.error(`heir: ${name} failed to load`, err));
};

load('./charts.js', document.querySelectorAll('[data-chart]'), 'drawAll');
load('./triage.js', document.querySelectorAll('form.triage'), 'enhance');
load('./live.js', document.querySelector('[data-live-alerts]'), 'start');

const every = Number(document.body.dataset.refresh || 0);
if (every > 0) load('./refresh.js', [every], 'start');
