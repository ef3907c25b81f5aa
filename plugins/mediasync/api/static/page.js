(() => {
  const base = location.pathname.replace(/\/+$/, "");          // "/mediasync"
  const api = (path) => `${base}/api/v1${path}`;
  let status = "active";
  const $ = (sel) => document.querySelector(sel);

  function toast(message) {
    const el = $("#toast"); el.textContent = message; el.style.display = "block";
    clearTimeout(toast.timer); toast.timer = setTimeout(() => el.style.display = "none", 4000);
  }

  const toLogin = () => { location.href = `/auth/login/?next=${encodeURIComponent(location.pathname)}`; };

  // What Airflow's auth manager lets this user do (GET /me). Until it answers, nothing that changes
  // state is shown; the API refuses those calls anyway (403) — this only spares a viewer the error.
  const can = { read: false, edit: false, start_reconciliation: false };
  async function loadPermissions() {
    const me = await call("/me");
    Object.assign(can, me.permissions);
    document.querySelectorAll("[data-needs]").forEach((el) => { el.hidden = !can[el.dataset.needs]; });
    $("#start-run-note").hidden = can.start_reconciliation;
    if (!can.edit) $("#empty").textContent = "No media yet.";
    const access = $("#access");
    access.hidden = can.edit;
    access.title = `Signed in as ${me.user}: ${Object.entries(me.missing).map(([k, v]) => `${k} needs ${v}`).join("; ")}`;
  }

  async function call(path, options = {}) {
    const response = await fetch(api(path), { credentials: "same-origin", ...options });
    if (response.status === 401) { toLogin(); throw new Error("login required"); }
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
    if (!response.ok) throw new Error(body?.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : response.statusText);
    return body;
  }

  const size = (n) => n == null ? "" : n < 1024 ? `${n} B` : n < 1048576 ? `${(n/1024).toFixed(1)} KB` : `${(n/1048576).toFixed(1)} MB`;
  const escape = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));

  function card(m) {
    const name = m.original_filename || m.public_id.split("/").pop();
    const context = m.context || {};
    const label = escape((m.format || m.resource_type).toUpperCase());
    // Delivered through the plugin from the current Cloudinary configuration, never the stored secure_url.
    // A row without a version never got its asset's facts from Cloudinary: nothing to deliver.
    const thumb = m.status === "deleted"
      ? placeholder(label, "deleted")
      : m.version == null ? placeholder(label, "missing")
      : m.resource_type === "image"
        ? `<img loading="lazy" src="${api(`/thumbnails/${m.id}`)}" alt="${escape(context.alt || name)}" data-thumb="${m.id}" data-name="${escape(name)}">`
        : `<span>${label}</span>`;
    const actions = !can.edit ? ""
      : m.status === "active"
      ? `<button data-action="soft">Delete</button><button class="hard" data-action="hard">Delete permanently</button>`
      : `<button class="hard" data-action="hard">Delete permanently</button>`;
    return `<article class="card ${m.status}" data-testid="media-card" data-id="${m.id}">
      <div class="thumb" title="${escape(context.alt || "")}">${thumb}</div>
      <div class="meta"><span class="name" title="${escape(m.public_id)}">${escape(name)}</span>
        ${context.caption ? `<span class="sub caption" data-testid="caption" title="${escape(context.caption)}">${escape(context.caption)}</span>` : ""}
        <span class="sub">${escape([m.format, size(m.bytes), m.width ? `${m.width}×${m.height}` : ""].filter(Boolean).join(" · "))}</span>
        <span class="sub"><span class="badge ${m.status}">${m.status}</span> ${new Date(m.created_at).toLocaleString()}</span></div>
      <div class="actions">${actions}</div></article>`;
  }

  function placeholder(label, flag) {
    return `<span class="placeholder" data-testid="placeholder"><span>${label}</span><span class="badge ${flag}" data-testid="thumb-badge">${flag}</span></span>`;
  }

  // A thumbnail that did not load: ask why (404: the asset is missing; anything else: unreadable).
  document.addEventListener("error", async (e) => {
    const img = e.target;
    if (!(img instanceof HTMLImageElement) || !img.dataset.thumb) return;
    const box = img.parentElement, label = ((img.dataset.name || img.alt).split(".").pop() || "").toUpperCase();
    let flag = "unreadable";
    try {
      const r = await fetch(img.src, { credentials: "same-origin" });
      if (r.status === 401) { toLogin(); return; }
      if (r.status === 404) flag = "missing";
    } catch (_) {}
    box.innerHTML = placeholder(escape(label), flag);
  }, true);

  // The grid shows the newest `wanted` records; "Load more" raises it, and live refreshes keep it.
  const PAGE_SIZE = 100;
  let wanted = PAGE_SIZE;

  async function loadMedia() {
    const items = [];
    let cursor = null;
    do {
      const limit = Math.min(500, wanted - items.length);
      const page = await call(`/media?status=${status}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < wanted);
    $("#grid").innerHTML = items.map(card).join("");
    $("#empty").hidden = items.length > 0;
    $("#more").hidden = !cursor;
    $("#count").textContent = `${items.length}${cursor ? "+" : ""} item(s)`;
  }

  async function loadStats() {
    const s = await call("/cleanup-queue");
    const rows = [["Pending", s.pending], ["Processing", s.processing], ["Held", s.held ?? 0], ["Completed", s.completed], ["Failed", s.failed],
                  ["Oldest pending", s.oldest_pending_age_seconds == null ? "—" : `${Math.round(s.oldest_pending_age_seconds)} s`]];
    $("#queue-stats").innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd data-stat="${k.toLowerCase()}">${v}</dd>`).join("");
    const failures = s.recent_errors || [];
    $("#failures").innerHTML = failures.map((f) => `<li data-testid="queue-failure"><strong>${escape(f.public_id)}</strong>
      <span class="sub">${escape(f.reason)} · ${f.attempts} attempts · ${escape(f.last_error || "")}</span></li>`).join("");
    $("#failures").hidden = failures.length === 0;
    $("#retry-failed").hidden = !s.failed;
  }

  // The drift kinds come from the API (/charts/drift); a kind gets the palette's colour of its place there.
  const PALETTE = ["#d64545", "#e8833a", "#c99a2e", "#017cee", "#7b5ea7", "#3e9e7e", "#8a94a6"];
  const colorOf = (kinds, k) => PALETTE[kinds.indexOf(k) % PALETTE.length] || "#999";
  const when = (t) => t ? new Date(t).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "…";

  async function loadRuns() {
    const { runs } = await call("/reconciliation/runs?limit=8");
    $("#runs").innerHTML = runs.length ? runs.map((r) => {
      const name = r.id == null ? "queued" : `#${r.id}`;
      const airflow = r.dag_run_id ? `<a href="/dags/${encodeURIComponent(r.dag_id)}/runs/${encodeURIComponent(r.dag_run_id)}" target="_blank" rel="noopener" title="the DAG run in Airflow">${name}</a>` : name;
      const reports = r.report_html ? `<br><a href="${escape(r.report_html)}" target="_blank" rel="noopener" data-testid="report-html">HTML</a> · <a href="${escape(r.report_csv)}" data-testid="report-csv">CSV</a>` : "";
      return `<tr data-testid="run-row" data-run-id="${r.id ?? ""}" data-dag-run-id="${escape(r.dag_run_id || "")}" title="${escape(r.message || "")}">
        <td>${airflow}<br><span class="sub">${r.mode === "apply" ? "apply" : "dry run"}</span><br><span class="sub" data-testid="run-kind">${escape(r.kind || "full")}</span></td>
        <td>${when(r.started_at)}<br><span class="sub">${r.finished_at ? when(r.finished_at) : (r.status === "running" || r.status === "requested" ? "running" : "")}</span>
          <br><span class="sub" data-testid="run-by">${escape(r.triggered_by || "—")}</span></td>
        <td data-testid="run-status">${escape(r.status)}</td><td data-testid="run-drift">${r.id == null ? "" : r.drift_total}${reports}</td></tr>`;
    }).join("") : `<tr><td colspan="4" class="sub">No runs yet</td></tr>`;
  }

  $("#start-run").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = new FormData(e.target), body = { apply: form.has("apply"), force: form.has("force") };
    if (form.get("folder")) body.folder = form.get("folder");
    if (form.get("max_delete_fraction")) body.max_delete_fraction = Number(form.get("max_delete_fraction"));
    if (form.get("kind") && form.get("kind") !== "auto") body.kind = form.get("kind");
    if (body.apply && !confirm(`Start a reconciliation that applies repairs${body.force ? " past the safety cap" : ""}?`)) return;
    const button = $("#start-run-button"); button.disabled = true;
    try {
      const run = await call("/reconciliation/runs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      toast(`Started ${run.dag_run_id} (${body.apply ? "apply" : "dry run"})`);
      loadRuns();
    } catch (err) { toast(err.message); } finally { button.disabled = false; }
  });

  // --- charts: plain SVG, drawn from /charts/* (the database), redrawn as things change ---
  const svgNS = "http://www.w3.org/2000/svg";
  function svgEl(tag, attrs, text) {
    const el = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text != null) { const t = document.createElementNS(svgNS, "title"); t.textContent = text; el.appendChild(t); }
    return el;
  }
  function frame(svg) {
    svg.innerHTML = ""; const w = svg.clientWidth || 400, h = svg.clientHeight || 150;
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`); return { w, h, pad: { l: 30, r: 6, t: 6, b: 16 } };
  }
  function axis(svg, f, max, labels) {
    const { w, h, pad } = f;
    svg.appendChild(svgEl("line", { x1: pad.l, y1: h - pad.b, x2: w - pad.r, y2: h - pad.b, stroke: "#cbd2d9" }));
    for (const v of [0, max]) {
      const y = h - pad.b - (h - pad.t - pad.b) * (v / max);
      const t = svgEl("text", { x: pad.l - 4, y: y + 3, "text-anchor": "end", "font-size": 9, fill: "#616e7c" }); t.textContent = v; svg.appendChild(t);
    }
    labels.forEach(([x, text]) => { const t = svgEl("text", { x, y: h - 4, "text-anchor": "middle", "font-size": 9, fill: "#616e7c" }); t.textContent = text; svg.appendChild(t); });
  }
  const legend = (el, items) => { el.innerHTML = items.map(([name, color]) => `<span><i style="background:${color}"></i>${name}</span>`).join(""); };

  async function loadCharts() {
    const [queue, drift] = await Promise.all([call("/charts/queue?hours=24"), call("/charts/drift?runs=30")]);
    const qs = $("#queue-chart"), q = frame(qs), hours = queue.hours;
    const qmax = Math.max(1, ...hours.map((p) => Math.max(p.completed, p.enqueued, p.backlog, p.failed)));
    const bw = (q.w - q.pad.l - q.pad.r) / Math.max(1, hours.length), ih = q.h - q.pad.t - q.pad.b;
    const y = (v) => q.h - q.pad.b - ih * v / qmax;
    hours.forEach((p, i) => {
      const x = q.pad.l + i * bw, hour = new Date(p.hour).getHours();
      if (p.completed) qs.appendChild(svgEl("rect", { x: x + 1, y: y(p.completed), width: Math.max(1, bw / 2 - 1), height: ih * p.completed / qmax, fill: "#2f8132", "data-series": "completed" }, `${hour}:00 completed ${p.completed}`));
      if (p.failed) qs.appendChild(svgEl("rect", { x: x + bw / 2, y: y(p.failed), width: Math.max(1, bw / 2 - 1), height: ih * p.failed / qmax, fill: "#d64545", "data-series": "failed" }, `${hour}:00 failed ${p.failed}`));
    });
    const line = hours.map((p, i) => `${q.pad.l + i * bw + bw / 2},${y(p.backlog)}`).join(" ");
    qs.appendChild(svgEl("polyline", { points: line, fill: "none", stroke: "#017cee", "stroke-width": 2, "data-series": "backlog" }, "backlog at the end of each hour"));
    axis(qs, q, qmax, hours.length ? [[q.pad.l + bw / 2, "-24 h"], [q.w - q.pad.r - bw / 2, "now"]] : []);
    legend($("#queue-legend"), [["completed / h", "#2f8132"], ["failed / h", "#d64545"], ["backlog", "#017cee"]]);

    const ds = $("#drift-chart"), d = frame(ds), runs = drift.runs;
    const totals = runs.map((r) => drift.kinds.reduce((t, k) => t + (r.drift[k] || 0), 0));
    const dmax = Math.max(1, ...totals), dbw = (d.w - d.pad.l - d.pad.r) / Math.max(1, runs.length), dh = d.h - d.pad.t - d.pad.b;
    runs.forEach((r, i) => {
      let base = d.h - d.pad.b;
      for (const k of drift.kinds) {
        const hgt = dh * (r.drift[k] || 0) / dmax; if (!hgt) continue;
        base -= hgt;
        ds.appendChild(svgEl("rect", { x: d.pad.l + i * dbw + 1, y: base, width: Math.max(1, dbw - 2), height: hgt, fill: colorOf(drift.kinds, k), "data-kind": k }, `run #${r.run_id} ${k}: ${r.drift[k]}`));
      }
    });
    axis(ds, d, dmax, runs.length ? [[d.pad.l + dbw / 2, `#${runs[0].run_id}`], [d.w - d.pad.r - dbw / 2, `#${runs[runs.length - 1].run_id}`]] : []);
    legend($("#drift-legend"), drift.kinds.map((k) => [k.replace("_", " "), colorOf(drift.kinds, k)]));
  }

  // --- deletion batches: the held ones as a banner with Release / Undo, the recent ones as a history ---
  const plural = (n, word) => `${Number(n).toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
  async function loadBatches() {
    const [held, recent] = await Promise.all([call("/deletions?status=held&limit=20"), call("/deletions?limit=10")]);
    $("#held-batches").innerHTML = held.items.map((b) => `<div class="held-batch" data-testid="held-batch" data-batch-id="${b.id}">
      <span class="what"><strong>Batch ${b.id}</strong>: ${escape(b.summary)}<span class="why">${escape(b.hold_reason || "")}</span></span>
      ${can.edit ? `<button class="release" data-batch-action="release" data-batch="${b.id}" data-assets="${b.assets}">Release</button>
      <button data-batch-action="undo" data-batch="${b.id}" data-assets="${b.assets}" data-rows="${b.rows_affected}">Undo</button>` : ""}</div>`).join("");
    $("#held-banner").hidden = held.items.length === 0;
    $("#batches").innerHTML = recent.items.length ? recent.items.map((b) => {
      const undoable = can.edit && b.status !== "undone" && b.undo_until && new Date(b.undo_until) > new Date();
      return `<tr data-testid="batch-row" data-batch-id="${b.id}"><td>#${b.id}<br><span class="sub">${when(b.created_at)}</span></td>
        <td>${escape(b.summary)}${b.decided_by ? `<br><span class="sub">${escape(b.status)} by ${escape(b.decided_by)}</span>` : ""}</td>
        <td class="batch-status ${escape(b.status)}" data-testid="batch-status">${escape(b.status)}</td>
        <td>${undoable ? `<button data-batch-action="undo" data-batch="${b.id}" data-assets="${b.assets}" data-rows="${b.rows_affected}">Undo</button>` : ""}</td></tr>`;
    }).join("") : `<tr><td colspan="4" class="sub">No deletions yet</td></tr>`;
  }

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-batch-action]"); if (!button) return;
    const id = button.dataset.batch, assets = Number(button.dataset.assets), rows = Number(button.dataset.rows || 0);
    const release = button.dataset.batchAction === "release";
    const question = release
      ? `Release batch ${id}? ${plural(assets, "asset")} will be deleted from Cloudinary.`
      : `Undo batch ${id}? ${plural(rows, "row")} come back as they were and its ${plural(assets, "deletion")} are cancelled (assets already deleted are restored from Cloudinary's backups where it keeps them).`;
    if (!confirm(question)) return;
    button.disabled = true;
    try {
      const r = await call(`/deletions/${id}/${release ? "release" : "undo"}`, { method: "POST" });
      toast(release ? `Batch ${id} released: ${plural(r.released_entries, "deletion")} flow to Cloudinary`
        : `Batch ${id} undone: ${plural(r.rows_restored, "row")} restored, ${r.assets_restored} from backups` +
          (r.not_restorable.length ? `, ${r.not_restorable.length} not restorable` : ""));
    } catch (err) { toast(err.message); }
    refreshSoon();
  });

  const refreshAll = () => Promise.all([loadMedia(), loadStats(), loadRuns(), loadCharts(), loadBatches()]).catch((e) => toast(e.message));
  let pending;
  const refreshSoon = () => { clearTimeout(pending); pending = setTimeout(() => Promise.all([loadMedia(), loadStats(), loadBatches()]).catch((e) => toast(e.message)), 100); };

  // Two phases: the browser sends the file (a bar with bytes and percent), then the server sends it
  // on to Cloudinary (in parts when it is large) and saves the record (a moving bar until it answers).
  function upload(file, context) {
    if (!can.edit) { toast("Your Airflow role may not upload here"); return; }
    const row = document.createElement("div");
    row.className = "upload-row"; row.dataset.testid = "upload-row";
    row.innerHTML = `<span>${escape(file.name)}</span><span class="phase" data-testid="upload-phase">starting…</span><progress max="100" value="0"></progress>`;
    $("#uploads").prepend(row);
    const form = new FormData(); form.append("file", file);
    for (const [key, value] of Object.entries(context)) if (value) form.append(key, value);
    const bar = row.querySelector("progress"), phase = row.querySelector(".phase");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", api("/media"));
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      bar.value = 100 * e.loaded / e.total;
      phase.textContent = `${Math.floor(100 * e.loaded / e.total)}% of ${size(e.total)} sent`;
    };
    xhr.upload.onload = () => { bar.removeAttribute("value"); phase.textContent = `saving to Cloudinary (${size(file.size)})…`; };
    xhr.onload = () => {
      if (xhr.status === 201) { row.remove(); refreshSoon(); return; }
      let detail = xhr.statusText; try { detail = JSON.parse(xhr.responseText).detail; } catch (_) {}
      row.classList.add("error"); row.textContent = `${file.name}: ${detail}`; setTimeout(() => row.remove(), 8000);
    };
    xhr.onerror = () => { row.classList.add("error"); row.textContent = `${file.name}: network error`; };
    xhr.send(form);
  }

  // Alt text and caption typed above apply to the files chosen next (then the fields clear).
  function uploadAll(files) {
    const context = { alt: $("#upload-alt").value.trim(), caption: $("#upload-caption").value.trim() };
    [...files].forEach((file) => upload(file, context));
    $("#upload-alt").value = ""; $("#upload-caption").value = "";
  }
  $("#file-input").addEventListener("change", (e) => { uploadAll(e.target.files); e.target.value = ""; });
  const zone = $("#dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("dragging"); uploadAll(e.dataTransfer.files); });

  $("#grid").addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-action]"); if (!button) return;
    const id = button.closest("[data-id]").dataset.id, hard = button.dataset.action === "hard";
    if (hard && !confirm("Delete permanently? The record, its tags and usage, and the Cloudinary asset are removed.")) return;
    button.disabled = true;
    try {
      const outcome = await call(`/media/${id}${hard ? "?permanent=true" : ""}`, { method: "DELETE" });
      toast(outcome.cloudinary === "queued" ? `Deleted; ${outcome.message}` : `Deleted (${outcome.message})`);
      refreshSoon();
    } catch (err) { toast(err.message); button.disabled = false; }
  });

  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
    status = b.dataset.status; wanted = PAGE_SIZE; loadMedia().catch((e) => toast(e.message));
  }));

  $("#more").addEventListener("click", () => { wanted += PAGE_SIZE; loadMedia().catch((e) => toast(e.message)); });

  async function processQueue(retryFailed) {
    try {
      const r = await call("/cleanup-queue/process", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ retryFailed }) });
      toast(`Processed ${r.claimed}: ${r.deleted} deleted, ${r.not_found} already gone, ${r.retrying} to retry, ${r.failed} failed`);
      loadStats();
    } catch (err) { toast(err.message); }
  }
  $("#process-now").addEventListener("click", () => processQueue(false));
  $("#retry-failed").addEventListener("click", () => processQueue(true));

  function connect() {
    const events = new EventSource(api("/events"));
    events.addEventListener("media", () => { clearTimeout(connect.charts); connect.charts = setTimeout(() => Promise.all([loadRuns(), loadCharts()]).catch(() => {}), 1000); });
    events.onopen = () => { $("#live").classList.add("on"); $("#live-text").textContent = "live"; refreshSoon(); };
    events.addEventListener("media", refreshSoon);
    events.addEventListener("deletion", refreshSoon);  // a batch the brake just held
    // EventSource hides the status: a plain call tells an expired session (→ login) from a network blip.
    events.onerror = () => { $("#live").classList.remove("on"); $("#live-text").textContent = "reconnecting…"; loadStats().catch(() => {}); };
  }

  loadPermissions().catch((e) => toast(e.message)).finally(() => { refreshAll(); connect(); });
  setInterval(() => Promise.all([loadStats(), loadBatches()]).catch(() => {}), 15000);
  // Runs and charts live: a running reconciliation every 5 s, otherwise every 15 s and on every change.
  setInterval(() => {
    const running = [...document.querySelectorAll("[data-testid=run-status]")].some((e) => ["running", "requested"].includes(e.textContent));
    if (running || Date.now() - (connect.lastFull || 0) > 15000) {
      connect.lastFull = Date.now();
      Promise.all([loadRuns(), loadCharts()]).catch(() => {});
    }
  }, 5000);
})();
