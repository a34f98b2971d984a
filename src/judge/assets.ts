/**
 * The rating page's stylesheet and script, served from /static (the Content-Security-Policy allows
 * no inline script or style). Plain JS: pages work without a build step, and the form works without
 * the script (radios, checkboxes and Tab); the script only adds shortcuts:
 *
 *   1-5  rate the highlighted scale (then the next one is highlighted); Tab/arrow keys also work
 *   a / s / d  answer 1 better / tie / answer 2 better
 *   z / x  toggle "repetitive" on answer 1 / answer 2
 *   c  write a comment (Esc leaves the box)      Enter (Ctrl+Enter in the box)  submit
 */
export const JUDGE_CSS = `
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; color: #1b1b1b; }
header { display: flex; gap: 1rem; align-items: center; justify-content: space-between; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; background: #f5f5f2; padding: .75rem; border-radius: .3rem; margin: 0; }
.answers { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
fieldset { border: 1px solid #ccc; border-radius: .3rem; margin: .5rem 0; }
fieldset.active { border-color: #2563eb; box-shadow: 0 0 0 2px #93c5fd; }
label { margin-right: .6rem; white-space: nowrap; }
textarea { width: 100%; min-height: 4rem; }
kbd { border: 1px solid #aaa; border-radius: .2rem; padding: 0 .25rem; font-size: .85em; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
td, th { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
.help { color: #555; font-size: .9rem; }
.error { color: #b91c1c; }
`;

export const JUDGE_JS = `
(function () {
  var form = document.getElementById('judge-form');
  if (!form) return;
  var groups = ['naturalness_left', 'helpfulness_left', 'naturalness_right', 'helpfulness_right'];
  var active = 0;
  function fieldset(name) { return document.querySelector('fieldset[data-group="' + name + '"]'); }
  function checked(name) { return form.querySelector('input[name="' + name + '"]:checked'); }
  function highlight() {
    groups.forEach(function (g, i) { var f = fieldset(g); if (f) f.classList.toggle('active', i === active); });
  }
  function nextUnfilled(from) {
    for (var k = 0; k < groups.length; k++) { var i = (from + k) % groups.length; if (!checked(groups[i])) return i; }
    return (from) % groups.length;
  }
  function pick(name, value) {
    var el = form.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (el) el.checked = true;
  }
  form.addEventListener('change', function (e) {
    var i = groups.indexOf(e.target.name);
    if (i >= 0) { active = nextUnfilled(i + 1); highlight(); }
  });
  form.addEventListener('submit', function () {
    var b = form.querySelector('button[type="submit"]');
    if (b) b.disabled = true;
  });
  var comment = form.querySelector('textarea[name="comment"]');
  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.metaKey) return;
    var inText = e.target === comment;
    if (e.key === 'Enter' && (e.ctrlKey || !inText)) {
      if (e.target && e.target.tagName === 'BUTTON') return;
      e.preventDefault(); form.requestSubmit(); return;
    }
    if (inText) { if (e.key === 'Escape') comment.blur(); return; }
    if (e.ctrlKey) return;
    var k = e.key;
    if (k >= '1' && k <= '5') { pick(groups[active], k); active = nextUnfilled(active + 1); highlight(); e.preventDefault(); return; }
    var map = { a: 'left', s: 'tie', d: 'right' };
    if (map[k]) { pick('preference', map[k]); e.preventDefault(); return; }
    if (k === 'z' || k === 'x') {
      var box = form.querySelector('input[name="repetitive_' + (k === 'z' ? 'left' : 'right') + '"]');
      if (box) box.checked = !box.checked;
      e.preventDefault(); return;
    }
    if (k === 'c' && comment) { e.preventDefault(); comment.focus(); }
  });
  highlight();
})();
`;
