// Opens a page in headless Chromium, lets it run for some seconds of real
// time, and saves a screenshot: what `chromium --screenshot` cannot do,
// since it shoots as soon as the page has loaded. It speaks the DevTools
// protocol over the WebSocket Chromium opens, with Node's own WebSocket
// (node --experimental-websocket on Node 20): nothing from npm.
//
//   node --experimental-websocket screenshot.mjs URL PNG SECONDS WIDTH HEIGHT PROFILE
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";

const [url, png, seconds, width, height, profile] = process.argv.slice(2);
const browser = spawn("chromium", [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--hide-scrollbars", `--user-data-dir=${profile}`, "--remote-debugging-port=0", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });

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
  const call = (method, params, sessionId) => new Promise((resolve, reject) => {
    lastId += 1;
    waiting.set(lastId, { resolve, reject });
    socket.send(JSON.stringify({ id: lastId, method, params, sessionId }));
  });
  const { targetId } = await call("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await call("Target.attachToTarget", { targetId, flatten: true });
  await call("Emulation.setDeviceMetricsOverride", {
    width: Number(width), height: Number(height), deviceScaleFactor: 1, mobile: false,
  }, sessionId);
  await call("Page.navigate", { url }, sessionId);
  await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
  const { data } = await call("Page.captureScreenshot", { format: "png" }, sessionId);
  writeFileSync(png, Buffer.from(data, "base64"));
  socket.close();
} finally {
  browser.kill();
}
