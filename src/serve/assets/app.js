// cachesim serve's page: controls → POST /api/models/ID/simulate → redraw.
// Plain JavaScript, no libraries, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const client = Math.random().toString(36).slice(2) + Date.now().toString(36);
let model = null;      // GET /api/models/ID
let latest = 0;        // the number of the newest simulation asked for
let current = null;    // the newest result shown: {sets, result}
let pinned = null;     // A: {sets, result, values}
let timer = null;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtS(v) {
  if (v === null || v === undefined) return "–";
  return v >= 1 ? v.toFixed(2) + " s" : (v * 1000).toFixed(1) + " ms";
}
function fmtPct(v) { return v === null || v === undefined ? "–" : (v * 100).toFixed(2) + "%"; }
function fmtNum(v, d) { return v === null || v === undefined ? "–" : Number(v).toFixed(d === undefined ? 1 : d); }
function withCi(e, f) {
  if (!e || e.mean === null) return "–";
  return f(e.mean) + (e.ci95 === null ? "" : " ± " + f(e.ci95));
}

const REFRESH = {
  None: null, SingleFlight: null,
  XFetch: ["beta", "1", (p) => `XFetch(beta: ${p})`],
  StaleWhileRevalidate: ["window", "10s", (p) => `StaleWhileRevalidate(window: "${p}")`],
  Background: ["ahead", "30s", (p) => `Background(ahead: "${p}")`],
};

// One control per knob; `read()` gives its --set value (or null if unset).
function buildKnobs() {
  const box = $("knobs");
  box.textContent = "";
  for (const k of model.knobs) {
    const div = el("div", { class: "knob", id: "knob-" + k.path });
    const id = "in-" + k.path;
    div.appendChild(el("label", { for: id }, k.label));
    let input;
    if (k.kind === "toggle") {
      input = el("select", { id });
      for (const v of ["off", "on"]) input.appendChild(el("option", { value: v }, v));
      input.value = k.value;
      k.read = () => (input.value === k.value ? null : input.value === "on" ? "()" : "None");
    } else if (k.kind === "refresh") {
      input = el("select", { id });
      const param = el("input", { class: "param", id: id + "-param" });
      const name = k.value === null ? "None" : k.value.split("(")[0];
      const names = Object.keys(REFRESH);
      if (!names.includes(name)) names.push(name);
      for (const v of names) input.appendChild(el("option", { value: v }, v));
      input.value = name;
      const m = k.value && k.value.match(/\((?:beta|window|ahead): "?([^",)]*)"?/);
      const showParam = () => {
        const r = REFRESH[input.value];
        param.style.display = r ? "" : "none";
        if (r) param.title = r[0];
        if (r && !param.value) param.value = r[1];
      };
      if (m) param.value = m[1];
      showParam();
      input.addEventListener("change", showParam);
      param.addEventListener("change", changed);
      k.read = () => {
        const r = REFRESH[input.value];
        const text = r ? r[2](param.value.trim()) : input.value;
        if (!REFRESH.hasOwnProperty(input.value)) return null;  // kept as in the file
        return text === k.value || (!r && input.value === k.value) ? null : text;
      };
      div.appendChild(input);
      div.appendChild(param);
    } else {
      input = el("input", { id, type: k.kind === "duration" ? "text" : "number", step: k.kind === "integer" ? "1" : "any" });
      input.value = k.value === null ? "" : k.value;
      if (k.value === null) { input.disabled = true; div.classList.add("absent"); input.placeholder = "not in this model"; }
      k.read = () => (input.value.trim() === (k.value || "") ? null : input.value.trim());
    }
    if (!div.contains(input)) div.appendChild(input);
    input.addEventListener("change", changed);
    div.appendChild(el("div", { class: "error", id: "err-" + k.path }));
    box.appendChild(div);
    k.input = input;
  }
  const sk = $("sweep-knob");
  sk.textContent = "";
  for (const k of model.knobs) {
    if ((k.kind === "number" || k.kind === "integer") && k.value !== null) sk.appendChild(el("option", { value: k.path }, k.label));
  }
  sweepRange();
}

function sweepRange() {
  const k = model.knobs.find((k) => k.path === $("sweep-knob").value);
  if (!k) return;
  const v = Number(k.read() || k.value);
  $("sweep-from").value = k.kind === "integer" ? Math.max(1, Math.round(v / 2)) : v / 2;
  $("sweep-to").value = k.kind === "integer" ? Math.round(v * 2) : v * 2;
}

// The overrides of the current settings, `--set` style.
function sets() {
  const out = [];
  for (const k of model.knobs) {
    const v = k.read();
    document.getElementById("knob-" + k.path).classList.toggle("changed", v !== null);
    if (v !== null) out.push(`${k.path}=${v}`);
  }
  for (const line of $("extra").value.split("\n")) if (line.trim()) out.push(line.trim());
  return out;
}

function body(extra) {
  return Object.assign({
    sets: sets(),
    seed: Number($("seed").value) || 0,
    replications: Number($("replications").value) || 1,
    slo: { p99_s: Number($("slo-p99").value) || null, error_rate: Number($("slo-errors").value) },
    client,
  }, extra || {});
}

function status(state, text) {
  const s = $("status");
  s.dataset.state = state;
  s.dataset.seq = String(latest);
  s.textContent = text;
}

function changed() {
  clearTimeout(timer);
  timer = setTimeout(simulate, 30);
}

function clearErrors() {
  for (const e of document.querySelectorAll(".error")) if (e.id !== "sweep-error") e.textContent = "";
}

// Shows an error beside the control its `--set` names, or under the field.
function showError(message) {
  const m = message.match(/^--set ([^=]+)=/);
  const k = m && model.knobs.find((k) => k.path === m[1].trim());
  (k ? $("err-" + k.path) : $("extra-error")).textContent = message;
}

async function post(path, payload) {
  const r = await fetch(`/api/models/${encodeURIComponent(model.id)}/${path}`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload),
  });
  let data;
  try { data = await r.json(); } catch (e) { data = { error: `HTTP ${r.status}` }; }
  return { ok: r.ok, status: r.status, data };
}

async function simulate() {
  const seq = ++latest;
  const payload = body();
  status("running", "simulating…");
  $("results").classList.add("stale");
  let r;
  try { r = await post("simulate", payload); } catch (e) { r = { ok: false, data: { error: String(e) } }; }
  if (seq !== latest) return;  // a newer change took its place
  $("results").classList.remove("stale");
  clearErrors();
  if (!r.ok) {
    if (r.status === 409) return;
    showError(r.data.error);
    status("error", "not run: see the message beside the control");
    return;
  }
  current = { sets: payload.sets, result: r.data, values: knobValues() };
  show(r.data);
  compare();
  exportView(payload.sets, payload.seed, seq);
  status("done", `updated (${r.data.replications} replications)`);
}

function knobValues() {
  const v = {};
  for (const k of model.knobs) v[k.label] = k.read() === null ? (k.value === null ? "–" : k.value) : k.read();
  return v;
}

// Puts an SVG from the server into `box`, scaled to fit its column.
function putSvg(box, svg) {
  box.innerHTML = svg || "";
  const e = box.querySelector("svg");
  if (e && e.getAttribute("width")) {
    if (!e.getAttribute("viewBox")) {
      e.setAttribute("viewBox", `0 0 ${parseFloat(e.getAttribute("width"))} ${parseFloat(e.getAttribute("height"))}`);
    }
    e.removeAttribute("width");
    e.removeAttribute("height");
  }
}

function table(t, head, rows) {
  t.textContent = "";
  const tr = el("tr");
  for (const h of head) tr.appendChild(el("th", {}, h));
  t.appendChild(tr);
  for (const row of rows) {
    const r = el("tr");
    for (const c of row) {
      const td = el("td", {}, typeof c === "object" ? c.text : c);
      if (typeof c === "object" && c.diff) td.className = "diff";
      r.appendChild(td);
    }
    t.appendChild(r);
  }
}

function show(d) {
  const v = $("verdict");
  v.className = "verdict " + d.verdict.level;
  v.textContent = d.verdict.level + (d.verdict.cause ? ": " + d.verdict.cause : " against the SLO");
  const b = d.latency_breakdown && d.latency_breakdown.above_p99;
  $("breakdown").textContent = b ? "Time of the requests above the p99, by phase: " +
    Object.entries(b).filter(([, x]) => typeof x === "number" && x > 0).map(([k, x]) => `${k} ${fmtS(x)}`).join(", ") : "";
  const p = d.percentiles;
  table($("percentiles"), ["percentile", "latency"], [
    ["p50", fmtS(p.p50_s)], ["p95", fmtS(p.p95_s)],
    ["p99", fmtS(p.p99_s) + (p.p99_ci95_s ? ` (95%: ${fmtS(p.p99_ci95_s[0])} – ${fmtS(p.p99_ci95_s[1])})` : "")],
    ["p99.9", fmtS(p.p999_s)], ["pool wait p99", fmtS(p.pool_wait_p99_s)],
  ]);
  const errs = d.errors.filter((e) => e.count > 0 || (e.share && e.share.mean > 0));
  table($("errors"), ["cause", "rep. 0", "share (mean ± 95%)"],
    errs.length ? errs.map((e) => [e.cause, String(e.count), withCi(e.share, fmtPct)]) : [["none", "0", "0%"]]);
  $("summary").textContent = d.summary;
  putSvg($("svg-backend"), d.svg.backend_calls);
  putSvg($("svg-pool"), d.svg.pool_in_use);
}

function metrics(d) {
  return [
    ["verdict", d.verdict.level],
    ["p99 latency", fmtS(d.percentiles.p99_s)],
    ["p50 latency", fmtS(d.percentiles.p50_s)],
    ["error rate", withCi(d.stats.error_rate, fmtPct)],
    ["throughput (req/s)", withCi(d.stats.throughput_rps, (x) => fmtNum(x))],
    ["cache hit ratio", withCi(d.stats.hit_ratio, fmtPct)],
    ["backend calls", withCi(d.stats.backend_calls, (x) => fmtNum(x, 0))],
  ];
}

// A beside B, differences marked.
function compare() {
  const box = $("compare");
  box.textContent = "";
  if (!pinned || !current) return;
  const t = el("table", { id: "compare-table" });
  const rows = [];
  for (const [name, a] of Object.entries(pinned.values)) {
    const b = current.values[name];
    rows.push([name, { text: a, diff: a !== b }, { text: b, diff: a !== b }]);
  }
  const ma = metrics(pinned.result), mb = metrics(current.result);
  ma.forEach(([name, a], i) => {
    const b = mb[i][1];
    rows.push([name, { text: a, diff: a !== b }, { text: b, diff: a !== b }]);
  });
  table(t, ["", "A (pinned)", "B (now)"], rows);
  box.appendChild(t);
  const charts = el("div", { class: "charts" });
  for (const [who, r] of [["A", pinned.result], ["B", current.result]]) {
    const f = el("figure", { id: "compare-" + who });
    putSvg(f, r.svg.backend_calls);
    f.appendChild(el("figcaption", {}, who + ": " + (r.command || "")));
    charts.appendChild(f);
  }
  box.appendChild(charts);
}

let download = null;
async function exportView(s, seed, seq) {
  const r = await post("export", { sets: s, seed });
  if (seq !== latest || !r.ok) return;
  $("command").textContent = r.data.command;
  if (download) URL.revokeObjectURL(download);
  const a = $("download");
  if (r.data.ron !== null) {
    download = URL.createObjectURL(new Blob([r.data.ron], { type: "text/plain" }));
    a.href = download;
    a.download = r.data.file;
    a.style.display = "";
    $("ron-error").textContent = "";
  } else {
    a.style.display = "none";
    $("ron-error").textContent = r.data.ron_error;
  }
}

async function sweep() {
  const from = Number($("sweep-from").value), to = Number($("sweep-to").value);
  const steps = Math.min(15, Math.max(2, Number($("sweep-steps").value) || 6));
  const k = model.knobs.find((k) => k.path === $("sweep-knob").value);
  let values = Array.from({ length: steps }, (_, i) => from + (to - from) * i / (steps - 1));
  if (k.kind === "integer") values = [...new Set(values.map(Math.round))];
  const knobSet = `${k.path}=`;
  const b = body({ knob: k.path, values, metric: $("sweep-metric").value });
  b.sets = b.sets.filter((s) => !s.startsWith(knobSet));
  b.replications = Math.min(b.replications, Math.floor(100 / values.length));
  $("sweep-error").textContent = "";
  $("sweep-crossings").textContent = "sweeping…";
  const r = await post("sweep", b);
  if (!r.ok) {
    $("sweep-crossings").textContent = "";
    if (r.status !== 409) $("sweep-error").textContent = r.data.error;
    return;
  }
  putSvg($("sweep-svg"), r.data.svg);
  const c = r.data.crossings;
  $("sweep-crossings").textContent = r.data.bound === null ? "" : c.length
    ? `crosses the SLO (${r.data.bound}) at ${k.label} ≈ ${c.map((x) => x.toPrecision(3)).join(", ")}`
    : `does not cross the SLO (${r.data.bound}) between ${from} and ${to}`;
}

async function load(id) {
  const r = await fetch(`/api/models/${encodeURIComponent(id)}`);
  model = await r.json();
  $("description").textContent = model.description;
  $("extra").value = "";
  pinned = null;
  $("unpin").disabled = true;
  buildKnobs();
  simulate();
}

async function start() {
  const r = await fetch("/api/models");
  const list = (await r.json()).models;
  const sel = $("model");
  for (const m of list) sel.appendChild(el("option", { value: m.id }, m.id));
  sel.addEventListener("change", () => load(sel.value));
  for (const id of ["extra", "slo-p99", "slo-errors", "seed", "replications"]) $(id).addEventListener("change", changed);
  $("pin").addEventListener("click", () => {
    if (!current) return;
    pinned = current;
    $("unpin").disabled = false;
    compare();
  });
  $("unpin").addEventListener("click", () => { pinned = null; $("unpin").disabled = true; compare(); });
  $("sweep-knob").addEventListener("change", sweepRange);
  $("sweep-run").addEventListener("click", sweep);
  if (list.length) load(list[0].id);
}

start();
