// DataSphere Jobs pages: follow Airflow's theme, show times locally, stream the log, run the actions.
"use strict";
(function () {
  const root = document.documentElement;
  const body = document.body;
  const base = body.dataset.root || "";
  const connId = body.dataset.connId || "dsjobs_default";
  const MAX_LOG_LINES = 20000; // the page keeps at most this many log lines, whatever the log's size

  // -- theme: Airflow's own when shown inside its UI (same origin), else the system's ----------------------
  function parentTheme() {
    try {
      if (window.parent !== window) {
        const doc = window.parent.document.documentElement;
        if (doc.classList.contains("dark") || doc.style.colorScheme === "dark") return "dark";
        if (doc.classList.contains("light") || doc.style.colorScheme === "light") return "light";
      }
    } catch (e) { /* another origin: fall through */ }
    try {
      const stored = window.localStorage.getItem("chakra-ui-color-mode");
      if (stored === "dark" || stored === "light") return stored;
    } catch (e) { /* storage blocked */ }
    return null;
  }
  const media = window.matchMedia("(prefers-color-scheme: dark)");
  function applyTheme() {
    root.dataset.theme = parentTheme() || (media.matches ? "dark" : "light");
  }
  applyTheme();
  media.addEventListener("change", applyTheme);
  try {
    if (window.parent !== window) {
      new MutationObserver(applyTheme).observe(window.parent.document.documentElement,
        { attributes: true, attributeFilter: ["class", "style", "data-theme"] });
    }
  } catch (e) { /* another origin */ }

  // -- times in the viewer's zone ---------------------------------------------------------------------------
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  document.querySelectorAll("time[datetime]").forEach((el) => {
    const d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) { el.title = el.textContent; el.textContent = fmt.format(d); }
  });

  const job = document.getElementById("job");
  const active = body.hasAttribute("data-active");

  // -- the log: streamed as NDJSON, followed while the job runs ---------------------------------------------
  const logEl = document.getElementById("log");
  const logState = document.getElementById("log-state");
  function appendLines(items) {
    const atBottom = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 24;
    const frag = document.createDocumentFragment();
    for (const item of items) {
      const span = document.createElement("span");
      if (item.stream === "stderr") span.className = "err";
      else if (item.stream === "system") span.className = "sys";
      span.textContent = item.line + "\n";
      frag.appendChild(span);
    }
    logEl.appendChild(frag);
    while (logEl.childElementCount > MAX_LOG_LINES) logEl.removeChild(logEl.firstChild);
    if (atBottom) logEl.scrollTop = logEl.scrollHeight;
  }
  // How a stream ended: "ended" (the job stopped, or the server ended a long follow), "busy" (429: the server
  // streams as many live logs as it allows) or "failed".
  async function streamLog(follow) {
    logState.textContent = follow ? "· live" : "";
    const url = logEl.dataset.url + (follow ? "&follow=true&tail=" + MAX_LOG_LINES : "");
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.status === 429) { logState.textContent = "· live log busy, retrying soon"; return "busy"; }
    if (!response.ok) { logState.textContent = "· " + response.status + " " + (await response.text()); return "failed"; }
    logEl.textContent = ""; // a reconnect brings the last lines again: they replace what was shown
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop();
      appendLines(parts.filter(Boolean).map((p) => JSON.parse(p)));
    }
    logState.textContent = "";
    return "ended";
  }
  async function statusNow() {
    const r = await fetch(base + "/api/jobs/" + job.dataset.jobId + "?conn_id=" + encodeURIComponent(connId),
      { credentials: "same-origin" });
    return r.ok ? (await r.json()).status : null;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  async function followJob() {
    // Follow while the job is active; reload once its status moves on. A stream the server ended after a long
    // while is resumed at once; a refused (429), failed or short one is retried later and later (up to 15 s).
    let delay = 1000;
    for (;;) {
      const started = Date.now();
      const outcome = await streamLog(true).catch(() => "failed");
      const now = await statusNow().catch(() => null);
      if (now && now !== job.dataset.status) { window.location.reload(); return; }
      const long = outcome === "ended" && Date.now() - started > 10000;
      delay = long ? 500 : Math.min(delay * 2, 15000);
      await sleep(delay * (0.75 + Math.random() / 2));
    }
  }
  if (logEl && job) {
    (active ? followJob() : streamLog(false)).catch((e) => { logState.textContent = "· " + e; });
  }

  // -- actions ------------------------------------------------------------------------------------------------
  const errorLine = document.getElementById("action-error");
  async function act(action, payload) {
    const url = base + "/api/jobs/" + job.dataset.jobId + "/" + action + "?conn_id=" + encodeURIComponent(connId);
    const r = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload),
    });
    if (r.ok) { window.location.reload(); return; }
    let detail = r.status + "";
    try { detail = (await r.json()).detail || detail; } catch (e) { /* not JSON */ }
    errorLine.textContent = action + " failed: " + detail;
    errorLine.hidden = false;
  }
  document.querySelectorAll("button[data-action]").forEach((btn) => {
    btn.addEventListener("click", () => {
      if (btn.dataset.confirm && !window.confirm(btn.dataset.confirm)) return;
      btn.disabled = true;
      act(btn.dataset.action, {}).finally(() => { btn.disabled = false; });
    });
  });
  document.querySelectorAll("form[data-action]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const days = form.elements.days.value;
      act(form.dataset.action, { days: days === "infinity" ? null : Number(days) });
    });
  });

  // -- the list refreshes itself while any job on it is active ----------------------------------------------
  if (!job && active) {
    setInterval(() => { if (!document.hidden) window.location.reload(); }, 5000);
  }
})();
