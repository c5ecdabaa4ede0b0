// announce speaks a short message through the page's polite live region
// (#announcer in the layout) for screen-reader users.
export function announce(msg) {
  const el = document.getElementById('announcer');
  if (!el) return;
  // Clearing first makes the same message be spoken again.
  el.textContent = '';
  window.setTimeout(() => {
    el.textContent = msg;
  }, 50);
}
