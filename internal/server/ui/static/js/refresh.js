// refresh.js reloads a wall-screen page every few seconds, and says so
// with a button to stop it (WCAG 2.2.1: a timed change the user can turn
// off). It waits while someone is typing in a form or the page is hidden.
export function start([seconds]) {
  const bar = document.createElement('p');
  bar.className = 'refresh-bar';
  bar.dataset.refreshBar = '';
  const text = document.createElement('span');
  text.setAttribute('role', 'status');
  text.textContent = `This page reloads every ${seconds} seconds.`;
  const stop = document.createElement('button');
  stop.type = 'button';
  stop.textContent = 'Stop reloading';
  stop.setAttribute('aria-pressed', 'false');
  bar.append(text, ' ', stop);
  document.querySelector('main h1')?.after(bar);

  let timer = 0;
  const arm = () => {
    timer = window.setTimeout(() => {
      const busy = document.activeElement?.closest?.('form') || document.hidden;
      if (busy) arm();
      else window.location.reload();
    }, seconds * 1000);
  };
  stop.addEventListener('click', () => {
    const stopped = stop.getAttribute('aria-pressed') !== 'true';
    stop.setAttribute('aria-pressed', String(stopped));
    window.clearTimeout(timer);
    if (stopped) {
      text.textContent = 'Reloading is stopped.';
    } else {
      text.textContent = `This page reloads every ${seconds} seconds.`;
      arm();
    }
  });
  arm();
}
