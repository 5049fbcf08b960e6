// The dashboard's page: no framework, no build step. State comes from the daemon's feed (/ui/events: a
// snapshot, then changes); every action goes through the daemon's control API (/v1/...), the same routes
// the CLI uses, and shows its errors as the CLI does (message, then hint). Lists render only the rows in view.

const $ = (id) => document.getElementById(id);

const state = { csrf: "", shares: new Map(), downloads: [], status: null, filter: "", peersOf: null };

// ---- formatting (as the CLI's formatBytes: k = 1024) ----
function bytes(n) {
  if (n === null || n === undefined) return "?";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

// ---- the control API ----
async function api(method, path, body) {
  const headers = { "X-P2P-CSRF": state.csrf };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw (data && data.error) || { message: `the daemon answered HTTP ${res.status}` };
  return data;
}
/** An error as the CLI prints it: its message, then what to do about it. */
function showError(target, error) {
  const message = error && error.message ? error.message : String(error);
  $(target).textContent = error && error.hint ? `${message}\n${error.hint}` : message;
}
function clearError(target) {
  $(target).textContent = "";
}
async function act(target, button, work) {
  clearError(target);
  if (button) button.disabled = true;
  try {
    await work();
  } catch (error) {
    showError(target, error);
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- a list that renders only the rows in view (fixed row height) ----
function virtualList(container, rowHeight, renderRow) {
  let items = [];
  const spacer = el("div", { "aria-hidden": "true" });
  spacer.style.height = "0px";
  let drawn = new Map();
  function draw() {
    const height = container.clientHeight || 400;
    const first = Math.max(0, Math.floor(container.scrollTop / rowHeight) - 5);
    const last = Math.min(items.length, Math.ceil((container.scrollTop + height) / rowHeight) + 5);
    const next = new Map();
    for (let i = first; i < last; i++) {
      const item = items[i];
      const key = `${i}:${item.key}:${item.version}`;
      let row = drawn.get(key);
      if (row === undefined) {
        row = renderRow(item.value);
        row.classList.add("row");
        row.setAttribute("role", "listitem");
        row.style.top = `${i * rowHeight}px`;
        row.style.height = `${rowHeight}px`;
      }
      next.set(key, row);
    }
    // Rows that keep their key are kept as they are (and keep the focus of a button inside them).
    for (const [key, row] of drawn) if (!next.has(key)) row.remove();
    for (const row of next.values()) if (row.parentNode !== container) container.append(row);
    drawn = next;
  }
  container.append(spacer);
  container.addEventListener("scroll", () => requestAnimationFrame(draw), { passive: true });
  window.addEventListener("resize", () => requestAnimationFrame(draw));
  return {
    set(list) {
      items = list;
      spacer.style.height = `${items.length * rowHeight}px`;
      container.style.height = `${Math.min(items.length * rowHeight + 2, Math.max(window.innerHeight * 0.6, rowHeight * 3))}px`;
      container.hidden = items.length === 0;
      draw();
    },
  };
}

// ---- shares ----
const line = (...children) => el("div", { class: "line" }, ...children);
const shareList = virtualList($("share-list"), 100, (share) =>
  el(
    "div",
    { "data-sha1": share.sha1 },
    line(el("span", { class: "name", title: share.path, text: share.name }), el("span", { class: "side", text: bytes(share.size) })),
    line(el("span", { class: "meta mono", text: share.sha1 })),
    line(
      el("span", { class: "meta", text: `${share.intact ? "" : "changed since shared, not served · "}served ${bytes(share.servedBytes ?? 0)} · ${share.peers ?? 0} peers${share.announced ? "" : " · not announced"}` }),
      el(
        "span",
        { class: "actions" },
        el("button", { type: "button", class: "quiet", "aria-label": `Copy the SHA-1 of ${share.name}`, onclick: () => copy(share.sha1, `SHA-1 of ${share.name} copied`), text: "Copy SHA-1" }),
        el("button", { type: "button", class: "quiet", "aria-label": `Link and QR code of ${share.name}`, onclick: () => showLink(share), text: "Link" }),
        el("button", { type: "button", class: "quiet", "aria-label": `Stop sharing ${share.name}`, onclick: (event) => act("share-error", event.target, () => api("DELETE", `/v1/shares/${share.sha1}`)), text: "Unshare" }),
      ),
    ),
  ),
);
// A row is drawn again when its item is a new object (every change from the daemon is one): a version
// per object, not a JSON text of it, so that 10,000 shares cost nothing to re-list.
const versions = new WeakMap();
let lastVersion = 0;
function versionOf(item) {
  let version = versions.get(item);
  if (version === undefined) versions.set(item, (version = ++lastVersion));
  return version;
}
function renderShares() {
  const filter = state.filter.trim().toLowerCase();
  const all = [...state.shares.values()].reverse();
  const shown = filter === "" ? all : all.filter((s) => s.name.toLowerCase().includes(filter) || s.sha1.startsWith(filter));
  shareList.set(shown.map((s) => ({ key: s.sha1, version: versionOf(s), value: s })));
  $("shares-count").textContent = `(${state.shares.size})`;
  $("shares-empty").hidden = state.shares.size !== 0;
}
async function copy(text, said) {
  try {
    await navigator.clipboard.writeText(text);
    $("live").textContent = said;
  } catch {
    $("live").textContent = "could not copy: select the text and copy it";
  }
}
function showLink(share) {
  $("share-detail").hidden = false;
  $("detail-name").textContent = share.name;
  $("detail-link").value = share.link ?? "";
  $("detail-qr").src = `/ui/qr/${share.sha1}.svg`;
  $("detail-copy").onclick = () => copy(share.link ?? "", "share link copied");
  $("detail-link").focus();
}
$("detail-close").addEventListener("click", () => ($("share-detail").hidden = true));
$("share-filter").addEventListener("input", (event) => {
  state.filter = event.target.value;
  renderShares();
});
$("share-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("share-path");
  act("share-error", event.submitter, async () => {
    await api("POST", "/v1/shares", { path: input.value.trim() });
    input.value = "";
  });
});

// ---- downloads ----
const STATE_TEXT = { running: "downloading", waiting: "waiting for a peer", finishing: "finishing", paused: "paused", failed: "failed", done: "done" };
const downloadList = virtualList($("download-list"), 112, (d) => {
  const label = d.name ?? d.sha1;
  const done = d.size ? Math.min(100, (100 * d.verifiedBytes) / d.size) : d.state === "done" ? 100 : 0;
  const bar = el("span");
  bar.style.width = `${done.toFixed(1)}%`;
  const running = d.state === "running" || d.state === "waiting" || d.state === "finishing";
  const detail =
    d.state === "failed" && d.error ? d.error.message : d.state === "done" ? d.path : d.state === "waiting" && d.waiting ? d.waiting : `${bytes(d.verifiedBytes)} of ${bytes(d.size)} · ${bytes(d.rate)}/s · ETA ${duration(d.etaSeconds)} · ${d.peers.length} peers`;
  return el(
    "div",
    { "data-sha1": d.sha1, "data-state": d.state },
    line(el("span", { class: "name", title: d.sha1, text: label }), el("span", { class: "side", text: `${STATE_TEXT[d.state] ?? d.state} ${done.toFixed(0)}%` })),
    el("div", { class: "progress", role: "progressbar", "aria-label": `Progress of ${label}`, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": done.toFixed(0) }, bar),
    line(el("span", { class: "meta", title: detail ?? "", text: detail ?? "" })),
    line(
      el("span"),
      el(
        "span",
        { class: "actions" },
        running ? el("button", { type: "button", class: "quiet", "aria-label": `Pause ${label}`, onclick: (e) => act("download-error", e.target, () => api("POST", `/v1/downloads/${d.sha1}/pause`)), text: "Pause" }) : null,
        d.state === "paused" || d.state === "failed" ? el("button", { type: "button", class: "quiet", "aria-label": `Resume ${label}`, onclick: (e) => act("download-error", e.target, () => api("POST", `/v1/downloads/${d.sha1}/resume`)), text: "Resume" }) : null,
        el("button", { type: "button", class: "quiet", "aria-label": `Peers of ${label}`, onclick: () => showPeers(d.sha1), text: "Peers" }),
        el("button", { type: "button", class: "quiet", "aria-label": d.state === "done" ? `Remove ${label} from the list` : `Cancel ${label}`, onclick: (e) => act("download-error", e.target, () => api("DELETE", `/v1/downloads/${d.sha1}`)), text: d.state === "done" ? "Remove" : "Cancel" }),
      ),
    ),
  );
});
function renderDownloads() {
  downloadList.set(state.downloads.map((d) => ({ key: d.sha1, version: versionOf(d), value: d })));
  $("downloads-count").textContent = `(${state.downloads.length})`;
  $("downloads-empty").hidden = state.downloads.length !== 0;
  renderPeers();
}
function showPeers(sha1) {
  state.peersOf = sha1;
  $("peer-detail").hidden = false;
  renderPeers();
  $("peer-close").focus();
}
function renderPeers() {
  if (state.peersOf === null) return;
  const d = state.downloads.find((x) => x.sha1 === state.peersOf);
  $("peer-title").textContent = `Peers of ${d ? (d.name ?? d.sha1) : state.peersOf}`;
  const rows = (d ? d.peers : []).map((p) =>
    el("tr", {}, el("td", { class: "mono", text: p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}` }), el("td", { text: bytes(p.bytes) }), el("td", { text: String(p.strikes) }), el("td", { text: p.banned ? "yes" : "no" }), el("td", { text: (p.sources ?? [p.source]).join(", ") }), el("td", { text: p.path ?? "direct" })),
  );
  $("peer-rows").replaceChildren(...(rows.length === 0 ? [el("tr", {}, el("td", { colspan: "6", text: "no peers yet" }))] : rows));
}
$("peer-close").addEventListener("click", () => {
  state.peersOf = null;
  $("peer-detail").hidden = true;
});
$("download-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("download-file");
  const output = $("download-output").value.trim();
  act("download-error", event.submitter, async () => {
    await api("POST", "/v1/downloads", { file: file.value, detach: true, ...(output === "" ? {} : { output }) });
    file.value = "";
  });
});

// ---- the daemon ----
// What the home router does for the public port (docs/protocol.md §7), as `p2p status` says it.
function mapping(m) {
  if (!m) return "unknown";
  if (m.state === "off") return `off: ${m.detail}`;
  if (m.state === "searching") return "searching for a router";
  if (m.state === "none") return `none: ${m.detail}`;
  return `${m.protocol} via ${m.gateway}: ${m.externalIp}:${m.externalPort} -> port ${m.internalPort}, ${m.lifetimeSeconds === 0 ? "permanent" : `lease until ${m.expiresAt}`}`;
}
// Whether the trackers' dial-backs reached this daemon from outside, and at which address.
function reachability(trackers) {
  const seen = trackers.map((t) => t.seenAs).filter(Boolean);
  if (seen.length === 0) return "not known yet";
  const yes = seen.find((you) => you.reachable === true);
  if (yes) return `yes, at ${yes.ip.includes(":") ? `[${yes.ip}]` : yes.ip}:${yes.port}`;
  return seen.every((you) => you.reachable === false) ? `no: listed as ${seen[0].ip}:${seen[0].port}, which the tracker could not reach` : "not checked yet";
}
function renderStatus() {
  const s = state.status;
  if (!s) return;
  const facts = [
    ["pid", String(s.pid)],
    ["data dir", s.dataDir],
    ["public port", `${s.public.host}:${s.public.port}`],
    ["dashboard", s.ui ? `${s.ui.host}:${s.ui.port}` : "off"],
    ["shares", String(s.shares)],
    ["uploaded", bytes(s.uploadedBytes)],
    ["downloaded", bytes(s.downloadedBytes)],
    ["upload slots", `${s.uploadSlots.holders.length} of ${s.uploadSlots.slots} in use, ${s.uploadSlots.waiting} waiting`],
    ["limits", `upload ${s.limits.upload}, download ${s.limits.download}`],
    ["port mapping", mapping(s.portMapping)],
    ["reachable", reachability(s.trackers)],
    ["memory", `${bytes(s.memory.rssBytes)} resident, ${bytes(s.memory.heapUsedBytes)} heap`],
  ];
  $("daemon-facts").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })]));
  const sources = [
    ...s.trackers.map((t) => `tracker ${t.url}: ${t.ok === null ? "no announce yet" : t.ok ? "ok" : `FAILING: ${t.lastError ?? "?"}`}; gave ${t.peersGiven ?? 0} peers`),
    ...(s.sources ?? []).map((x) => `${x.name}: ${x.ok === null ? "starting" : x.ok ? "ok" : "FAILING"}${x.detail ? `, ${x.detail}` : ""}; gave ${x.peersGiven} peers`),
  ];
  $("daemon-sources").replaceChildren(...sources.map((text) => el("li", { text })));
  const up = $("limit-up");
  const down = $("limit-down");
  if (document.activeElement !== up && up.dataset.shown !== s.limits.upload) up.value = up.dataset.shown = s.limits.upload;
  if (document.activeElement !== down && down.dataset.shown !== s.limits.download) down.value = down.dataset.shown = s.limits.download;
}
$("limits-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("limits-error", event.submitter, async () => {
    const view = await api("PUT", "/v1/limits", { uploadRate: $("limit-up").value.trim(), downloadRate: $("limit-down").value.trim() });
    if (state.status) state.status.limits = view;
    renderStatus();
  });
});

// ---- the feed ----
function connect() {
  const feed = new EventSource("/ui/events");
  feed.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    state.shares = new Map(data.shares.map((s) => [s.sha1, s]));
    state.downloads = data.downloads;
    state.status = data.status;
    renderShares();
    renderDownloads();
    renderStatus();
    $("live").textContent = "live";
  });
  feed.addEventListener("shares", (event) => {
    const data = JSON.parse(event.data);
    for (const sha1 of data.removed) state.shares.delete(sha1);
    for (const share of data.changed) state.shares.set(share.sha1, share);
    renderShares();
  });
  feed.addEventListener("downloads", (event) => {
    state.downloads = JSON.parse(event.data);
    renderDownloads();
  });
  feed.addEventListener("status", (event) => {
    state.status = JSON.parse(event.data);
    renderStatus();
  });
  feed.addEventListener("error", () => {
    $("live").textContent = "reconnecting…";
  });
}

async function start() {
  const res = await fetch("/ui/session", { credentials: "same-origin" });
  if (res.status === 401) {
    $("signin").hidden = false;
    for (const id of ["shares", "downloads", "daemon"]) $(id).hidden = true;
    $("live").textContent = "not signed in";
    return;
  }
  const session = await res.json();
  state.csrf = session.csrf;
  if (session.downloadDir) $("download-output").value = session.downloadDir;
  connect();
}
start().catch((error) => {
  $("live").textContent = `cannot reach the daemon: ${error.message ?? error}`;
});
