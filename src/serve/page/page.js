// The dashboard: polls this server's /watch twice a second while the tab is
// visible, shows the figures of both servers, draws the history each server
// keeps of itself (the whole of it on the first poll, what is new after),
// shows what the server read from it, and sends switches.
"use strict";

const POLL_EVERY_MS = 500;
// The chart spans the history it has, from half a minute up to five.
const WINDOW_SECONDS = 300;
const SHORTEST_SPAN_SECONDS = 30;

// Each server's samples, oldest first, as its history gave them, and the
// sequence number of the last one received (kept when the chart is cleared).
const samples = { server1: [], server2: [] };
const received = { server1: null, server2: null };
let marks = [];
let timer = null;
// One poll at a time: one asked for while another runs comes after it.
let polling = false;
let pollAgain = false;
let sending = false;
let lastWatch = null;
// The server's clock, in seconds, at the last poll: the chart's "now".
let now = Date.now() / 1000;

const byId = (id) => document.getElementById(id);

// The last sample of each server the page received: the server sends only
// the ones after it.
function watchUrl() {
  const [self, server1] = lastWatch && lastWatch.role === "server1"
    ? [received.server1, null] : [received.server2, received.server1];
  const query = new URLSearchParams();
  if (self !== null) query.set("since", self);
  if (server1 !== null) query.set("server1_since", server1);
  return `/watch?${query}`;
}

async function poll() {
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  clearTimeout(timer);
  try {
    const answer = await fetch(watchUrl(), { cache: "no-store" });
    if (!answer.ok) throw new Error(`/watch answered ${answer.status}`);
    const watch = await answer.json();
    if (lastWatch && lastWatch.role !== watch.role) {
      // The cursors were another role's: start again from the whole window.
      for (const side of ["server1", "server2"]) {
        samples[side] = [];
        received[side] = null;
      }
    }
    lastWatch = watch;
    show(watch);
    record(watch);
    draw();
  } catch (err) {
    byId("whoami").textContent = `Cannot read this server's figures: ${err.message}`;
  }
  polling = false;
  if (pollAgain) {
    pollAgain = false;
    poll();
  } else {
    schedule();
  }
}

function schedule() {
  clearTimeout(timer);
  if (document.visibilityState === "visible") timer = setTimeout(poll, POLL_EVERY_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") poll();
  else clearTimeout(timer);
});

// The figures of each server, by its name: null where unknown.
function figuresOf(watch) {
  if (watch.role === "server1") return { server1: watch.this, server2: null };
  return { server1: watch.server1 && watch.server1.figures, server2: watch.this };
}

// One figure of a server's, by its field's name: its task count, or one of
// its counters (a server 1 known only by its task count has none).
function figureOf(server, name) {
  if (!server) return null;
  if (name === "tasks") return server.tasks;
  return server.counters ? server.counters[name] : null;
}

const shown = (value) => (value === null || value === undefined ? "–" : String(value));

function show(watch) {
  const figures = figuresOf(watch);
  for (const element of document.querySelectorAll("[data-server][data-figure]")) {
    element.textContent = shown(figureOf(figures[element.dataset.server], element.dataset.figure));
  }
  for (const element of document.querySelectorAll("[data-server][data-outcome]")) {
    const forwards = figureOf(figures[element.dataset.server], "forwards");
    element.textContent = shown(forwards && forwards[element.dataset.outcome]);
  }
  for (const element of document.querySelectorAll("[data-bytes-of]")) {
    const bytes = figureOf(figures[element.dataset.bytesOf], "resident_bytes");
    element.textContent = bytes === null || bytes === undefined ? "–" : (bytes / 1048576).toFixed(1);
  }
  byId("whoami").textContent = watch.whoami;
  note("missing1", watch.role === "server2" ? watch.server1.missing : null);
  note("missing2", watch.role === "server1"
    ? "Not known from here: this page belongs to server 1." : watch.blind);
  // The controls stay whatever the role: any server can forward and be
  // switched, and one stray request must not take them off the page.

  const amounts = byId("amounts");
  amounts.textContent = watch.amounts_to;
  amounts.className = `prediction ${watch.amounts_to}`;

  const entries = byId("in-effect");
  entries.replaceChildren(...watch.in_effect.map((entry) => {
    const block = document.createElement("div");
    block.className = "entry";
    const title = document.createElement("b");
    title.textContent = `${entry.label}: ${entry.expectation}`;
    const go = document.createElement("p");
    go.textContent = `Go: ${entry.go}`;
    const rust = document.createElement("p");
    rust.textContent = `Here: ${entry.rust}`;
    block.append(title, go, rust);
    return block;
  }));
  byId("settings2").textContent = settingsOf("server 2", figures.server2);
  byId("settings1").textContent = settingsOf("server 1", figures.server1);
  showSwitches(watch);
}

function note(id, text) {
  const element = byId(id);
  element.hidden = !text;
  element.textContent = text || "";
}

// Every setting of one server, as a shell would set them: its knobs now,
// then the settings no switch changes; nothing for a server that tells none.
function settingsOf(name, figures) {
  if (!figures) return "";
  const all = [...Object.entries(figures.knobs), ...Object.entries(figures.fixed)];
  return all.length ? `${name}: ${all.map(([env, value]) => `${env}=${value}`).join(" ")}` : "";
}

// One row per registry entry, made once: where it acts, its value now, and
// a button that switches it on, or back to the default when it is on. Each
// poll updates the rows in place, so that a click spanning a poll lands and
// keyboard focus stays where it is.
function showSwitches(watch) {
  const panel = byId("switches");
  for (const entry of watch.switchable) {
    const row = panel.querySelector(`[data-switch="${entry.name}"]`) || panel.appendChild(switchRow(entry));
    const on = entry.on === true;
    const button = row.querySelector("button");
    row.querySelector(".now").textContent = entry.now === null ? "?" : entry.now;
    button.textContent = on ? `back to ${entry.default}` : `switch to ${entry.value}`;
    button.dataset.to = on ? entry.default : entry.value;
    button.disabled = entry.on === null;
  }
}

function switchRow(entry) {
  const row = document.createElement("div");
  row.className = "switch";
  row.dataset.switch = entry.name;
  const label = document.createElement("span");
  label.textContent = `${entry.side === "server1" ? "server 1" : "server 2"} · ${entry.setting} = `;
  const value = document.createElement("b");
  value.className = "now";
  const button = document.createElement("button");
  button.addEventListener("click", () => switchTo(entry.side, { [entry.setting]: button.dataset.to }));
  row.append(label, value, " ", button);
  return row;
}

// Sends a switch to this server, or, for server 1, through it.
async function switchTo(side, settings) {
  const path = side === "server1" ? "/upstream/settings" : "/settings";
  const said = byId("switch-said");
  try {
    const answer = await fetch(path, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(settings),
    });
    const body = await answer.json();
    said.textContent = answer.ok
      ? `switched: ${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(" ")}`
      : `refused (${answer.status}): ${body.error}`;
  } catch (err) {
    said.textContent = `not sent: ${err.message}`;
  }
  poll();
}

// Every registry setting of both servers back to its default.
async function backToDefaults() {
  if (!lastWatch) return;
  const bySide = { server1: {}, server2: {} };
  for (const entry of lastWatch.switchable) bySide[entry.side][entry.setting] = entry.default;
  await switchTo("server2", bySide.server2);
  await switchTo("server1", bySide.server1);
}

// Adds each server's new samples; samples that do not follow on (the
// server restarted) replace the ones kept.
function record(watch) {
  const figures = figuresOf(watch);
  now = watch.now_ms / 1000;
  for (const side of ["server1", "server2"]) {
    const fresh = (figures[side] && figures[side].history) || [];
    if (!fresh.length) continue;
    if (received[side] !== null && fresh[0].seq <= received[side]) samples[side] = [];
    received[side] = fresh[fresh.length - 1].seq;
    samples[side].push(...fresh);
    samples[side] = samples[side].filter((sample) => sample.at_ms / 1000 >= now - WINDOW_SECONDS);
  }
  for (const side of ["server1", "server2"]) {
    for (const s of (figures[side] && figures[side].switches) || []) {
      // Two switches can come within one millisecond: each has its number.
      const key = `${side} ${s.seq} ${s.at_ms}`;
      if (!marks.some((mark) => mark.key === key)) {
        marks.push({ key, at: s.at_ms / 1000, label: `${s.setting}=${s.value}`, side });
      }
    }
  }
  marks = marks.filter((mark) => mark.at >= now - WINDOW_SECONDS);
  showSeen(watch.seen);
}

// The badge and the per-request figures: what the server read from both
// histories, by the same rule as the demo's table.
function showSeen(seen) {
  byId("window").textContent = seen ? String(seen.requests) : "–";
  for (const element of document.querySelectorAll("[data-per-request]")) {
    const value = seen && seen.per_request[element.dataset.perRequest === "server2" ? 0 : 1];
    element.textContent = seen ? value.toFixed(2) : "–";
  }
  const badge = byId("seen");
  badge.textContent = seen ? (seen.verdict || "measuring") : "not measured yet";
  badge.className = `verdict ${(seen && seen.verdict) || "unmeasured"}`;
}

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

// A whole-number step for about `count` ticks up to `top`: 1, 2 or 5 times
// a power of ten.
function tickStep(top, count) {
  const rough = Math.max(1, top / count);
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough);
}

// Each switch's label, placed in the first row of the band above the plot
// where it meets no other: a label starts at its mark (or ends there, near
// the right edge), and its width is measured, not guessed. The marks'
// dotted lines start below the band, so none crosses a label.
function placeLabels(chart, x, left, right) {
  const LABEL_GAP = 6;
  const rows = [];
  const placed = [];
  for (const mark of [...marks].sort((a, b) => a.at - b.at)) {
    const at = x(mark.at);
    if (at < left) continue;
    const label = svgElement("text", { x: 0, y: 0, class: "mark-label" }, mark.label);
    chart.append(label);
    const width = label.getBBox().width;
    label.remove();
    const start = at + 4 + width <= right ? at + 4 : at - 4 - width;
    const row = rows.findIndex((taken) => taken.every(([from, to]) =>
      start + width + LABEL_GAP <= from || to + LABEL_GAP <= start));
    const chosen = row === -1 ? rows.push([]) - 1 : row;
    rows[chosen].push([start, start + width]);
    placed.push({ mark, at, label, start, row: chosen });
  }
  return { placed, rows: rows.length };
}

function draw() {
  const chart = byId("chart");
  const width = chart.clientWidth || 1200;
  const LABEL_ROW = 16;
  const margin = { left: 56, right: 16, top: 30, bottom: 32 };
  const oldest = Math.min(...["server1", "server2"].filter((side) => samples[side].length)
    .map((side) => samples[side][0].at_ms / 1000));
  const span = Math.max(SHORTEST_SPAN_SECONDS, Number.isFinite(oldest) ? now - oldest : 0);
  const x = (at) => margin.left + (1 - (now - at) / span) * (width - margin.left - margin.right);
  const labels = placeLabels(chart, x, margin.left, width - margin.right);
  // The band of labels sits between the legend and the plot.
  const band = labels.rows * LABEL_ROW;
  margin.top += band;
  const height = 300 + band;
  chart.setAttribute("height", String(height));
  const values = [...samples.server2, ...samples.server1].map((sample) => sample.tasks);
  const step = tickStep(Math.max(10, ...values), 4);
  const top = Math.ceil(Math.max(10, ...values) * 1.05 / step) * step;
  const y = (value) => height - margin.bottom - (value / top) * (height - margin.top - margin.bottom);
  const parts = [];
  for (let value = 0; value <= top; value += step) {
    parts.push(svgElement("line", { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), class: "grid" }));
    parts.push(svgElement("text", { x: margin.left - 6, y: y(value) + 4, "text-anchor": "end", class: "title" }, String(value)));
  }
  const secondsStep = [5, 10, 30, 60].find((seconds) => span / seconds <= 8) || 60;
  for (let ago = 0; ago <= span; ago += secondsStep) {
    parts.push(svgElement("text", { x: x(now - ago), y: height - 10, "text-anchor": "middle", class: "title" },
      ago === 0 ? "now" : `${ago} s ago`));
  }
  for (const { mark, at, label, start, row } of labels.placed) {
    parts.push(svgElement("line", { x1: at, x2: at, y1: margin.top + 2, y2: height - margin.bottom, class: `switch-mark ${mark.side}` }));
    label.setAttribute("x", String(start));
    label.setAttribute("y", String(30 + (row + 1) * LABEL_ROW - 4));
    parts.push(label);
  }
  // Server 2 wide and pale below, server 1 thin and dashed on top: where
  // the two counts are the same, as in the leak, both still show.
  for (const side of ["server2", "server1"]) {
    const points = samples[side].map((s) => `${x(s.at_ms / 1000).toFixed(1)},${y(s.tasks).toFixed(1)}`);
    if (points.length) parts.push(svgElement("polyline", { points: points.join(" "), class: `line ${side}` }));
  }
  const legend = [["server2", "server 2 live tasks"], ["server1", "server 1 live tasks"]];
  legend.forEach(([side, label], i) => {
    const left = margin.left + 12 + i * 180;
    parts.push(svgElement("rect", { x: left, y: 6, width: 14, height: 14, class: `swatch ${side}` }));
    parts.push(svgElement("text", { x: left + 20, y: 18, class: "title" }, label));
  });
  chart.replaceChildren(...parts);
}

async function send() {
  const count = Math.max(1, Math.min(100000, Number(byId("count").value) || 400));
  const progress = byId("progress");
  progress.max = count;
  sending = true;
  byId("send").disabled = true;
  byId("stop").disabled = false;
  let failed = 0;
  for (let done = 1; done <= count && sending; done++) {
    try {
      const answer = await fetch("/forward", { cache: "no-store" });
      if (!answer.ok) failed++;
      await answer.arrayBuffer();
    } catch (err) {
      failed++;
    }
    progress.value = done;
    byId("progress-text").textContent = `${done} / ${count}` + (failed ? `, ${failed} failed` : "");
  }
  sending = false;
  byId("send").disabled = false;
  byId("stop").disabled = true;
}

byId("send").addEventListener("click", send);
byId("stop").addEventListener("click", () => { sending = false; });
byId("clear").addEventListener("click", () => {
  samples.server1.length = 0;
  samples.server2.length = 0;
  marks = [];
  draw();
});
byId("defaults").addEventListener("click", backToDefaults);
poll();
