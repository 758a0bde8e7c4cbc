"use strict";
// The OrleansDiffusion web page: submits through POST /v1/jobs, follows /v1/jobs/{id}/events, lists and cancels jobs,
// and shows the result from /v1/jobs/{id}/dzi in OpenSeadragon (bundled with the page at build time).
const $ = (id) => document.getElementById(id);
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("odiff-api-key") || "";
keyInput.addEventListener("change", () => { localStorage.setItem("odiff-api-key", keyInput.value); refreshJobs(); });

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (keyInput.value) h["Authorization"] = "Bearer " + keyInput.value;
  return h;
}

async function api(method, path, body) {
  const response = await fetch(path, { method, headers: headers(body ? { "Content-Type": "application/json" } : {}), body: body ? JSON.stringify(body) : undefined });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const fields = json && json.errors ? Object.entries(json.errors).map(([f, m]) => f + ": " + m.join(", ")).join("; ") : "";
    throw new Error((json && (json.title || json.detail)) + (fields ? " — " + fields : ""));
  }
  return json;
}

let watching = null;
let viewer = null;

$("submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("submit-error").textContent = "";
  const spec = {
    prompt: $("prompt").value,
    width: Number($("width").value), height: Number($("height").value),
    sync: $("sync").value, steps: Number($("steps").value), seed: Number($("seed").value),
  };
  // Left empty, the server picks a tile that fits the canvas and an overlap that fits the tile.
  if ($("tile").value) spec.tile = Number($("tile").value);
  if ($("overlap").value) spec.overlap = Number($("overlap").value);
  if ($("model").value) spec.model = $("model").value;
  try {
    const status = await api("POST", "/v1/jobs", spec);
    watch(status.job_id);
    refreshJobs();
  } catch (e) {
    $("submit-error").textContent = e.message;
  }
});

// Server-Sent Events through fetch (EventSource cannot send the Authorization header).
async function watch(jobId) {
  if (watching) watching.abort();
  const controller = new AbortController();
  watching = controller;
  $("progress-job").textContent = jobId;
  // How this job's events arrived: the state of the first one and how many times the tile grid was redrawn.
  delete $("progress-text").dataset.firstState;
  $("tile-grid").dataset.updates = "0";
  try {
    const response = await fetch("/v1/jobs/" + encodeURIComponent(jobId) + "/events", { headers: headers(), signal: controller.signal });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (data) showProgress(JSON.parse(data));
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") $("progress-text").textContent = "Lost the event stream: " + e.message;
  }
}

function showProgress(s) {
  $("progress-text").textContent = `${s.state} · step ${s.step}/${s.steps} · ${s.tiles} tiles · ${s.seconds.toFixed(1)} s` +
    (s.step > 0 ? ` · last step: denoise ${s.last_step_denoise_seconds.toFixed(2)} s, sync ${s.last_step_sync_seconds.toFixed(3)} s` : "");
  $("progress-text").dataset.state = s.state;
  if (!$("progress-text").dataset.firstState) $("progress-text").dataset.firstState = s.state;
  $("progress-text").dataset.step = s.step;
  $("progress-bar").value = s.steps ? s.step / s.steps : 0;
  if (s.preview) { $("preview").src = "data:image/png;base64," + s.preview; $("preview").hidden = false; $("preview").dataset.step = s.step; }
  showTiles(s);
  if (s.state === "completed") openResult(s.job_id);
  if (["completed", "failed", "cancelled"].includes(s.state)) refreshJobs();
}

function showTiles(s) {
  const grid = $("tile-grid");
  const tiles = s.tile_details || [];
  let columns = Math.max(0, ...tiles.map((t) => (t.column ?? -1) + 1));
  if (!columns) {
    const spec = s.spec, stride = spec.tile - spec.overlap;
    columns = spec.width <= spec.tile ? 1 : Math.ceil((spec.width - spec.tile) / stride) + 1;
  }
  grid.style.gridTemplateColumns = `repeat(${columns}, auto)`;
  grid.dataset.updates = String(Number(grid.dataset.updates || 0) + 1);
  grid.replaceChildren(...tiles.map((t) => {
    const cell = document.createElement("div");
    cell.className = "tile " + t.state;
    cell.dataset.state = t.state;
    cell.title = `tile ${t.index} on ${t.silo || "?"}/${t.device || "?"}`;
    cell.textContent = `${t.index} ${t.state}` + (t.last_step_seconds != null ? ` ${t.last_step_seconds.toFixed(2)} s` : "") + (t.silo ? ` @${t.silo}` : "");
    return cell;
  }));
}

function openResult(jobId) {
  const base = "/v1/jobs/" + encodeURIComponent(jobId);
  if (viewer) viewer.destroy();
  viewer = OpenSeadragon({
    id: "viewer", tileSources: base + "/dzi", showNavigationControl: false, crossOriginPolicy: false,
    loadTilesWithAjax: true, ajaxHeaders: headers(), maxZoomPixelRatio: 4,
    // The 2D canvas drawer: no GPU needed, and no seams between the pyramid's tiles (its Overlap is 0) at fractional zooms.
    drawer: "canvas",
  });
  window.odiffViewer = viewer;
  // How many tiles arrived and the deepest pyramid level among them (what zooming in changes).
  const view = $("viewer");
  view.dataset.tilesLoaded = "0";
  view.dataset.maxLevel = "-1";
  viewer.addHandler("tile-loaded", (e) => {
    view.dataset.tilesLoaded = String(Number(view.dataset.tilesLoaded) + 1);
    view.dataset.maxLevel = String(Math.max(Number(view.dataset.maxLevel), e.tile.level));
  });
  viewer.addHandler("open", () => { $("viewer").dataset.opened = jobId; $("zoom-in").disabled = false; $("zoom-out").disabled = false; });
  $("download").href = base + "/image";
  $("download").hidden = !!keyInput.value;
}

$("zoom-in").addEventListener("click", () => { viewer.viewport.zoomBy(2); viewer.viewport.applyConstraints(); });
$("zoom-out").addEventListener("click", () => { viewer.viewport.zoomBy(0.5); viewer.viewport.applyConstraints(); });

async function refreshJobs() {
  let list;
  try { list = await api("GET", "/v1/jobs?max=50"); } catch (e) { return; }
  const body = $("jobs").querySelector("tbody");
  body.replaceChildren(...list.jobs.map((j) => {
    const row = document.createElement("tr");
    row.dataset.jobId = j.job_id;
    for (const text of [j.job_id, j.state, `${j.step}/${j.steps}`, `${j.width}×${j.height}`, j.tiles]) {
      const cell = document.createElement("td"); cell.textContent = text; row.appendChild(cell);
    }
    const actions = document.createElement("td");
    const show = document.createElement("button"); show.textContent = "Show"; show.onclick = () => watch(j.job_id); actions.appendChild(show);
    if (!["completed", "failed", "cancelled"].includes(j.state)) {
      const cancel = document.createElement("button"); cancel.textContent = "Cancel"; cancel.className = "cancel";
      cancel.onclick = async () => { await api("DELETE", "/v1/jobs/" + encodeURIComponent(j.job_id)); refreshJobs(); };
      actions.appendChild(cancel);
    }
    row.appendChild(actions);
    return row;
  }));
}
$("refresh").addEventListener("click", refreshJobs);
refreshJobs();
