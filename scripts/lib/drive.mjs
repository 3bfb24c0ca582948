// Drives the dashboard in headless Chromium in real time, as a person
// would: opens the page, waits, may click an element (a real mouse click
// at its place on the screen) and wait again, may take a screenshot, and
// prints what the page then shows as one JSON line, with the page's frames.
// It speaks the DevTools protocol over the WebSocket Chromium opens, with
// Node's own WebSocket (node --experimental-websocket on Node 20): nothing
// from npm.
//
//   node --experimental-websocket drive.mjs URL
//       [--until JS-EXPRESSION | --wait SECONDS]
//       [--click CSS-SELECTOR [--hold SECONDS]
//        [--then-until JS-EXPRESSION | --then SECONDS]]
//       [--deadline SECONDS] [--png FILE] [--size WIDTHxHEIGHT] [--profile DIR]
//
// --until and --then-until wait for what a test waits for: an expression
// evaluated in the page every 100 ms until it is true, failing after
// --deadline seconds (60 by default). --wait and --then wait fixed times,
// for scripts that show the page for as long as a person would watch.
// --hold keeps the mouse button down that long before letting it go, as a
// slow click does.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, ...rest] = process.argv.slice(2);
const options = { wait: "3", then: "2", hold: "0", deadline: "60", size: "1400x1250" };
for (let i = 0; i < rest.length; i += 2) options[rest[i].replace(/^--/, "")] = rest[i + 1];
const [width, height] = options.size.split("x").map(Number);
const profile = options.profile || mkdtempSync(join(tmpdir(), "leak-dashboard-"));
const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));

const browser = spawn("chromium", [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--hide-scrollbars", `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });

// What the page shows, read in the page.
const READ = `(() => {
  const text = (selector) => { const e = document.querySelector(selector); return e ? e.textContent : null; };
  const perRequest = {};
  for (const e of document.querySelectorAll("[data-per-request]")) perRequest[e.dataset.perRequest] = e.textContent;
  const switches = {};
  for (const e of document.querySelectorAll("[data-switch]")) switches[e.dataset.switch] = e.querySelector(".now").textContent;
  return JSON.stringify({
    seen: text("#seen"), predicted: text("#amounts"), per_request: perRequest, switches,
    marks: [...document.querySelectorAll("#chart .mark-label")].map((e) => e.textContent),
    label_boxes: [...document.querySelectorAll("#chart .mark-label")].map((e) => {
      const b = e.getBBox();
      return [b.x, b.y, b.width, b.height];
    }),
    mark_lines: [...document.querySelectorAll("#chart .switch-mark")].map((e) =>
      ["x1", "y1", "y2"].map((name) => Number(e.getAttribute(name)))),
    said: text("#switch-said"),
  });
})()`;

try {
  const address = await new Promise((resolve, reject) => {
    let said = "";
    browser.stderr.on("data", (data) => {
      said += data;
      const found = said.match(/DevTools listening on (ws:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
    browser.on("exit", () => reject(new Error(`chromium exited: ${said}`)));
    setTimeout(() => reject(new Error("chromium opened no DevTools socket in 10 s")), 10000);
  });
  const socket = new WebSocket(address);
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve);
    socket.addEventListener("error", reject);
  });
  const waiting = new Map();
  let lastId = 0;
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    const call = waiting.get(message.id);
    if (!call) return;
    waiting.delete(message.id);
    if (message.error) call.reject(new Error(message.error.message));
    else call.resolve(message.result);
  });
  let sessionId;
  const call = (method, params) => new Promise((resolve, reject) => {
    lastId += 1;
    waiting.set(lastId, { resolve, reject });
    socket.send(JSON.stringify({ id: lastId, method, params, sessionId }));
  });
  const evaluate = async (expression) =>
    (await call("Runtime.evaluate", { expression, returnByValue: true })).result.value;

  const { targetId } = await call("Target.createTarget", { url: "about:blank" });
  ({ sessionId } = await call("Target.attachToTarget", { targetId, flatten: true }));
  await call("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
  // Until `expression` is true in the page (false while it navigates).
  const until = async (expression) => {
    const deadline = Date.now() + Number(options.deadline) * 1000;
    for (;;) {
      const held = await evaluate(`(() => { try { return Boolean(${expression}); } catch { return false; } })()`)
        .catch(() => false);
      if (held) return;
      if (Date.now() > deadline) throw new Error(`not true within ${options.deadline} s: ${expression}`);
      await sleep(0.1);
    }
  };
  await call("Page.navigate", { url });
  await (options.until ? until(options.until) : sleep(options.wait));
  if (options.click) {
    const box = await evaluate(`(() => {
      const e = document.querySelector(${JSON.stringify(options.click)});
      if (!e) return null;
      e.scrollIntoView({ block: "center" });
      const r = e.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    })()`);
    if (!box) throw new Error(`nothing to click at ${options.click}`);
    const press = (type) =>
      call("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: "left", clickCount: 1 });
    await press("mousePressed");
    await sleep(options.hold);
    await press("mouseReleased");
    await (options["then-until"] ? until(options["then-until"]) : sleep(options.then));
    await evaluate("window.scrollTo(0, 0)");
  }
  if (options.png) {
    const { data } = await call("Page.captureScreenshot", { format: "png" });
    writeFileSync(options.png, Buffer.from(data, "base64"));
  }
  const shown = JSON.parse(await evaluate(READ));
  const { frameTree } = await call("Page.getFrameTree", {});
  shown.frames = (frameTree.childFrames || []).map(({ frame }) => ({
    url: frame.url, unreachable: frame.unreachableUrl || null,
  }));
  console.log(JSON.stringify(shown));
  socket.close();
} finally {
  browser.kill();
}
