// The dashboard: polls this server's /watch twice a second while the tab is
// visible, shows the figures of both servers, and keeps their history here,
// in the page, so that the servers run nothing for it.
"use strict";

const POLL_EVERY_MS = 500;
// The chart spans the history it has, from half a minute up to five.
const WINDOW_SECONDS = 300;
const SHORTEST_SPAN_SECONDS = 30;
// The slope is read over this many of the last requests.
const SLOPE_REQUESTS = 50;

let history = [];
let timer = null;
let sending = false;

const byId = (id) => document.getElementById(id);

async function poll() {
  try {
    const answer = await fetch("/watch", { cache: "no-store" });
    if (!answer.ok) throw new Error(`/watch answered ${answer.status}`);
    const watch = await answer.json();
    show(watch);
    record(watch);
    draw();
  } catch (err) {
    byId("whoami").textContent = `Cannot read this server's figures: ${err.message}`;
  }
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if (document.visibilityState === "visible") timer = setTimeout(poll, POLL_EVERY_MS);
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") poll();
  else clearTimeout(timer);
});

// What the server's expectations are called on the page, by their id.
const EXPECTATIONS = { leaks: "leaks", flat: "flat", "reclaimed-after-idle": "reclaimed after idle" };

// The figures of each server, by its number: null where unknown.
function figuresOf(watch) {
  if (watch.role === "server1") return { 1: watch.this, 2: null };
  return { 1: watch.upstream && watch.upstream.figures, 2: watch.this };
}

function show(watch) {
  const figures = figuresOf(watch);
  for (const element of document.querySelectorAll("[data-server][data-metric]")) {
    const server = figures[element.dataset.server];
    const value = server ? server.samples[element.dataset.metric] : undefined;
    element.textContent = value === undefined ? "–" : String(value);
  }
  for (const element of document.querySelectorAll("[data-bytes-of]")) {
    const server = figures[element.dataset.bytesOf];
    const bytes = server ? server.samples.process_resident_memory_bytes : undefined;
    element.textContent = bytes === undefined ? "–" : (bytes / 1048576).toFixed(1);
  }
  byId("whoami").textContent = watch.role === "server1"
    ? "This server plays server 1: its UPSTREAM_URL leads back to itself. Open server 2's page to watch both."
    : `This server plays server 2; server 1 is ${watch.upstream.url}`;
  note("missing1", watch.role === "server2" ? watch.upstream.missing : null);
  note("missing2", watch.role === "server1" ? "Not known from here: this page belongs to server 1." : null);
  byId("control").hidden = watch.role === "server1";

  const amounts = byId("amounts");
  amounts.textContent = EXPECTATIONS[watch.amounts_to];
  amounts.className = `verdict ${watch.amounts_to}`;

  const entries = byId("in-effect");
  entries.replaceChildren(...watch.in_effect.map((entry) => {
    const block = document.createElement("div");
    block.className = "entry";
    const title = document.createElement("b");
    title.textContent = `${entry.label}: ${EXPECTATIONS[entry.expectation]}`;
    const go = document.createElement("p");
    go.textContent = `Go: ${entry.go}`;
    const rust = document.createElement("p");
    rust.textContent = `Here: ${entry.rust}`;
    block.append(title, go, rust);
    return block;
  }));
  byId("settings2").textContent = figures[2] ? `server 2: ${figures[2].settings.join(" ")}` : "";
  byId("settings1").textContent = figures[1] && figures[1].settings.length
    ? `server 1: ${figures[1].settings.join(" ")}` : "";
}

function note(id, text) {
  const element = byId(id);
  element.hidden = !text;
  element.textContent = text || "";
}

function requestsOf(figures) {
  if (!figures) return null;
  return Object.entries(figures.samples)
    .filter(([name]) => name.startsWith("forward_requests_total{"))
    .reduce((sum, [, value]) => sum + value, 0);
}

function record(watch) {
  const figures = figuresOf(watch);
  const tasks = (server) => (figures[server] ? figures[server].samples.tokio_alive_tasks : null);
  const now = Date.now() / 1000;
  history.push({ at: now, server2: tasks(2), server1: tasks(1), requests: requestsOf(figures[2]) });
  history = history.filter((sample) => sample.at >= now - WINDOW_SECONDS);
  byId("slope").textContent = slope();
}

// Tasks gained per request on each side over the last requests.
function slope() {
  const last = history[history.length - 1];
  if (!last || last.requests === null) return "tasks gained per request: –";
  const first = history.find((sample) => sample.requests !== null
    && sample.requests >= last.requests - SLOPE_REQUESTS);
  const requests = last.requests - first.requests;
  if (requests === 0) return "tasks gained per request: – (no requests lately)";
  const per = (side) => (last[side] === null || first[side] === null
    ? "–" : ((last[side] - first[side]) / requests).toFixed(2));
  return `tasks gained per request, last ${requests}: server 2 ${per("server2")}, server 1 ${per("server1")}`;
}

const SVG = "http://www.w3.org/2000/svg";

function svgElement(name, attributes, text) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function draw() {
  const chart = byId("chart");
  const width = chart.clientWidth || 1200;
  const height = 300;
  const margin = { left: 56, right: 16, top: 12, bottom: 32 };
  const now = Date.now() / 1000;
  const span = Math.max(SHORTEST_SPAN_SECONDS, history.length ? now - history[0].at : 0);
  const values = history.flatMap((s) => [s.server2, s.server1]).filter((v) => v !== null);
  const top = Math.max(10, ...values) * 1.1;
  const x = (at) => margin.left + (1 - (now - at) / span) * (width - margin.left - margin.right);
  const y = (value) => height - margin.bottom - (value / top) * (height - margin.top - margin.bottom);
  const parts = [];
  for (let i = 0; i <= 4; i++) {
    const value = (top / 1.1) * (i / 4);
    parts.push(svgElement("line", { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value), class: "grid" }));
    parts.push(svgElement("text", { x: margin.left - 6, y: y(value) + 4, "text-anchor": "end", class: "title" }, Math.round(value)));
  }
  const step = [5, 10, 30, 60].find((seconds) => span / seconds <= 8) || 60;
  for (let ago = 0; ago <= span; ago += step) {
    parts.push(svgElement("text", { x: x(now - ago), y: height - 10, "text-anchor": "middle", class: "title" },
      ago === 0 ? "now" : `${ago} s ago`));
  }
  for (const side of ["server2", "server1"]) {
    const points = history.filter((s) => s[side] !== null).map((s) => `${x(s.at).toFixed(1)},${y(s[side]).toFixed(1)}`);
    if (points.length) parts.push(svgElement("polyline", { points: points.join(" "), class: `line ${side}` }));
  }
  const legend = [["server2", "server 2 live tasks"], ["server1", "server 1 live tasks"]];
  legend.forEach(([side, label], i) => {
    const left = margin.left + 12 + i * 180;
    parts.push(svgElement("rect", { x: left, y: margin.top + 4, width: 14, height: 14, class: `swatch ${side}` }));
    parts.push(svgElement("text", { x: left + 20, y: margin.top + 16, class: "title" }, label));
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
byId("clear").addEventListener("click", () => { history = []; draw(); });
poll();
