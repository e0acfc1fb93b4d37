/// The review pages' stylesheet and script, served by the listener itself (no CDN, works offline, and the
/// Content-Security-Policy allows scripts and styles from this origin only — nothing inline).
enum ReviewAssets {
    static let css = #"""
    body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
    header.top { display: flex; gap: 1.5em; align-items: center; padding: .5em 1em; background: #1f2d3d; color: #fff; }
    header.top a { color: #cfe3ff; }
    header.top .brand { font-weight: 600; }
    header.top .who { margin-left: auto; }
    form.inline { display: inline; margin: 0; }
    main { padding: 1em; max-width: 1200px; }
    footer { padding: 1em; color: #666; font-size: 13px; }
    .alert-banner { background: #fde2e1; border-bottom: 2px solid #b00020; padding: .5em 1em; }
    .alert-banner ul { margin: .3em 0; }
    .flash { background: #e3f3e3; padding: .5em 1em; margin: 0; }
    .error { color: #b00020; font-weight: 600; }
    .counts, .tiles { display: flex; gap: 1em; flex-wrap: wrap; margin-bottom: 1em; }
    .count, .tile { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: .5em 1em; min-width: 10em; }
    .count .n, .tile .value { font-size: 1.6em; font-weight: 600; display: block; }
    .tile .label, .tile .detail { color: #555; font-size: 13px; }
    .filters { display: flex; gap: .8em; flex-wrap: wrap; align-items: end; margin-bottom: .5em; }
    table { border-collapse: collapse; background: #fff; }
    th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    tr.case-row { cursor: pointer; }
    tr.case-row.selected { outline: 3px solid #1f4e9c; background: #e8f0ff; }
    .decision-manual_review .decision, span.decision-manual_review { color: #8a5a00; font-weight: 600; }
    .decision-blocked .decision, span.decision-blocked { color: #b00020; font-weight: 600; }
    .decision-patent .decision, span.decision-patent { color: #1b6e20; }
    h1 .decision { font-size: .7em; margin-left: .5em; }
    .case-grid { display: flex; gap: 2em; flex-wrap: wrap; }
    .case-grid img { max-width: 512px; width: 100%; image-rendering: auto; border: 1px solid #ccc; background: #000; }
    .disagreement { color: #b00020; font-weight: 600; }
    .verdict-form fieldset { border: 1px solid #ccc; margin: .5em 0; }
    .verdict-form input[type=text] { width: 40em; max-width: 100%; }
    kbd { border: 1px solid #aaa; border-radius: 3px; padding: 0 .3em; font-size: 12px; background: #f4f4f4; }
    .keys, .legend, .hint { color: #555; font-size: 13px; }
    .login { display: grid; grid-template-columns: max-content 18em; gap: .5em 1em; }
    .login button { grid-column: 2; }
    .key-0 { color: #1f4e9c; } .key-1 { color: #b00020; } .key-2 { color: #1b6e20; } .key-3 { color: #8a5a00; }

    """#

    static let javascript = #"""
    // Keyboard operation of the review pages: a reviewer clears a worklist without the mouse.
    (function () {
      'use strict';
      function typing(target) {
        if (!target) { return false; }
        var tag = target.tagName;
        if (tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable) { return true; }
        return tag === 'INPUT' && target.type !== 'radio' && target.type !== 'checkbox' && target.type !== 'submit';
      }
      function plain(e) { return !(e.ctrlKey || e.metaKey || e.altKey); }

      function worklist() {
        var rows = Array.prototype.slice.call(document.querySelectorAll('#worklist tbody tr[data-href]'));
        if (!rows.length) { return; }
        var index = 0;
        function select(next) {
          rows[index].classList.remove('selected');
          rows[index].removeAttribute('aria-selected');
          index = Math.max(0, Math.min(rows.length - 1, next));
          rows[index].classList.add('selected');
          rows[index].setAttribute('aria-selected', 'true');
          rows[index].scrollIntoView({ block: 'nearest' });
        }
        select(0);
        rows.forEach(function (row) {
          row.addEventListener('click', function () { window.location.href = row.getAttribute('data-href'); });
        });
        document.addEventListener('keydown', function (e) {
          if (!plain(e) || typing(e.target)) { return; }
          if (e.key === 'j') { select(index + 1); e.preventDefault(); }
          else if (e.key === 'k') { select(index - 1); e.preventDefault(); }
          else if (e.key === 'Enter' && !(e.target && e.target.tagName === 'A')) {
            window.location.href = rows[index].getAttribute('data-href');
            e.preventDefault();
          }
        });
      }

      function casePage() {
        var form = document.getElementById('verdict-form');
        if (!form) { return; }
        var keys = { p: 'patent', b: 'blocked', n: 'non_diagnostic' };
        var hint = document.getElementById('verdict-hint');
        function chosen() { return form.querySelector('input[name=verdict]:checked'); }
        function submit() {
          if (!chosen()) { hint.hidden = false; return; }
          if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        }
        form.addEventListener('submit', function (e) {
          if (!chosen()) { e.preventDefault(); hint.hidden = false; }
        });
        document.addEventListener('keydown', function (e) {
          if (!plain(e)) { return; }
          if (typing(e.target)) {
            if (e.key === 'Escape') { e.target.blur(); }
            return;
          }
          if (Object.prototype.hasOwnProperty.call(keys, e.key)) {
            var radio = form.querySelector('input[name=verdict][value=' + keys[e.key] + ']');
            radio.checked = true;
            radio.focus();
            hint.hidden = true;
            e.preventDefault();
          } else if (e.key === 'c') {
            document.getElementById('comment').focus();
            e.preventDefault();
          } else if (e.key === 'Enter' && !(e.target && (e.target.tagName === 'A' || e.target.tagName === 'BUTTON'))) {
            submit();
            e.preventDefault();
          }
        });
      }

      document.addEventListener('DOMContentLoaded', function () {
        var page = document.body.getAttribute('data-page');
        if (page === 'worklist') { worklist(); }
        if (page === 'case') { casePage(); }
      });
    })();

    """#
}
