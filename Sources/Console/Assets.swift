/// The console's stylesheet and script (served from memory: no front-end build step).
enum ConsoleAssets {
    static let css = """
    * { box-sizing: border-box; }
    body { font-family: "Noto Sans CJK SC", "Noto Sans", system-ui, sans-serif; margin: 0; color: #222; background: #f6f5f2; }
    header { display: flex; gap: 1em; align-items: center; flex-wrap: wrap; background: #8b0000; color: #fff; padding: .5em 1em; }
    header a, header button { color: #fff; }
    header nav a { margin-right: .8em; text-decoration: none; padding: .2em .4em; border-radius: 3px; }
    header nav a.active { background: rgba(255,255,255,.25); }
    .brand { font-weight: bold; }
    .who { margin-left: auto; font-size: .9em; }
    header button { background: transparent; border: 1px solid #fff; border-radius: 3px; cursor: pointer; }
    main { padding: 1em 2em; }
    table { border-collapse: collapse; background: #fff; margin: .5em 0 1.5em; }
    th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; font-size: .9em; vertical-align: top; }
    th { background: #eee; }
    .hash { font-family: monospace; font-size: .8em; word-break: break-all; }
    .card { background: #fff; border: 1px solid #ddd; padding: 1em; margin: 1em 0; display: flex; flex-direction: column; gap: .6em; max-width: 46em; }
    .card label { display: flex; flex-direction: column; gap: .2em; }
    form.inline { display: inline; }
    .filters { display: flex; flex-wrap: wrap; gap: .6em; align-items: end; }
    .filters label { display: flex; flex-direction: column; font-size: .85em; }
    .flash { background: #e8f5e9; border: 1px solid #81c784; padding: .5em; }
    .error { background: #fdecea; border: 1px solid #e57373; padding: .5em; }
    .note { color: #555; }
    .live { color: #2e7d32; font-size: .8em; }
    .o-refused, .o-failed { color: #b71c1c; }
    button.danger { color: #b71c1c; }
    pre { background: #fff; border: 1px solid #ddd; padding: 1em; white-space: pre-wrap; }
    .pages { display: flex; flex-wrap: wrap; gap: 1em; }
    .pages figure { margin: 0; }
    .pages img { border: 1px solid #aaa; background: #fff; max-width: 100%; }
    img.clickable { cursor: crosshair; }
    .request { flex-direction: row; max-width: 70em; }
    .request .thumb { width: 240px; border: 1px solid #aaa; }
    code { background: #eee; padding: .1em .3em; word-break: break-all; }
    """

    static let js = """
    'use strict';
    (function () {
      const csrf = () => (document.querySelector('meta[name=csrf]') || {}).content || '';
      async function upload(url, file) {
        const r = await fetch(url, { method: 'POST', body: file, credentials: 'same-origin',
          headers: { 'X-CSRF-Token': csrf(), 'X-File-Name': encodeURIComponent(file.name), 'Content-Type': 'application/octet-stream' } });
        let body = null;
        try { body = await r.json(); } catch (e) { body = { error: r.status + ' ' + r.statusText }; }
        return { ok: r.ok, status: r.status, body: body };
      }
      function show(el, text) { if (el) { el.textContent = text; el.hidden = !text; } }
      function errText(res) { return res.status + ': ' + (res.body.error || '') + (res.body.detail ? ' (' + res.body.detail + ')' : ''); }

      const vf = document.getElementById('verify-form');
      if (vf) vf.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const f = document.getElementById('verify-file').files[0]; if (!f) return;
        show(document.getElementById('verify-error'), ''); show(document.getElementById('verify-report'), '');
        const res = await upload('/verify', f);
        if (!res.ok) { show(document.getElementById('verify-error'), errText(res)); return; }
        show(document.getElementById('verify-report'), res.body.text);
        const a = document.getElementById('verify-json');
        a.href = URL.createObjectURL(new Blob([JSON.stringify(res.body.report, null, 2)], { type: 'application/json' }));
        a.hidden = false;
      });

      const sf = document.getElementById('stamp-upload');
      if (sf) sf.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const f = document.getElementById('stamp-file').files[0]; if (!f) return;
        const res = await upload('/stamp/upload', f);
        if (!res.ok) { show(document.getElementById('stamp-error'), errText(res)); return; }
        location.href = res.body.url;
      });

      document.querySelectorAll('form.approve-form').forEach((form) => form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const f = form.querySelector('.manifest-file').files[0]; if (!f) return;
        const res = await upload(form.dataset.upload, f);
        const err = form.parentElement.querySelector('.approve-error');
        if (!res.ok) { show(err, errText(res)); return; }
        location.reload();
      }));

      const place = document.getElementById('place-form');
      document.querySelectorAll('img.page-img.clickable').forEach((img) => img.addEventListener('click', (ev) => {
        if (!place) return;
        const r = img.getBoundingClientRect();
        const px = (ev.clientX - r.left) * img.naturalWidth / r.width, py = (ev.clientY - r.top) * img.naturalHeight / r.height;
        const mm = (v) => (v * 25.4 / 72).toFixed(1);
        document.getElementById('place-page').value = img.dataset.page;
        document.getElementById('place-x').value = mm(px);
        document.getElementById('place-y').value = mm(py);
        place.submit();
      }));

      if (document.body.dataset.page === 'dashboard' && window.EventSource) {
        const es = new EventSource('/events');
        const live = document.getElementById('live');
        es.addEventListener('open', () => { if (live) live.dataset.state = 'open'; });
        es.addEventListener('use', (ev) => {
          const u = JSON.parse(ev.data);
          const tbody = document.querySelector('#uses tbody'); if (!tbody) return;
          if (tbody.querySelector('tr[data-seq="' + u.seq + '"]')) return;
          const tr = document.createElement('tr'); tr.dataset.seq = u.seq; tr.className = 'new';
          for (const k of ['time', 'seal', 'actor', 'outcome', 'sha', 'detail']) {
            const td = document.createElement('td'); td.textContent = u[k]; if (k === 'sha') td.className = 'hash'; tr.appendChild(td);
          }
          tbody.insertBefore(tr, tbody.firstChild);
        });
        es.addEventListener('counts', (ev) => {
          for (const p of JSON.parse(ev.data)) {
            const tr = document.querySelector('#counts tr[data-pipeline="' + CSS.escape(p.name) + '"]'); if (!tr) continue;
            for (const k of ['inbox', 'work', 'outbox', 'quarantine']) { const td = tr.querySelector('.n-' + k); if (td) td.textContent = p[k]; }
          }
        });
      }
    })();
    """
}
