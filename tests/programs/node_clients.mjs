// Clients and a server on Node's built-in http and http2, for inspect's
// cases: a leak over HTTP/2 and the healthy shapes of a shared pool.
//
//     node node_clients.mjs SHAPE URL [--count N] [--rate R] [--ca PEM]
//                           [--concurrency C] [--burst B] [--seconds S]
//                           [--ping P]
//
// Prints "ready PID" at once ("ready PID PORT" for the server), then:
//   h2-server  an h2c server on URL's host (port 0): /hello, sessions kept
//   h2-leak    COUNT sessions (http2.connect), RATE a second, each one
//              request, every session kept: the leak; with --ping, each
//              then sends a PING every P seconds, as a gRPC channel with
//              keepalive does
//   h2-streams one session, CONCURRENCY streams at a time for SECONDS
//   https-leak COUNT keep-alive agents (https.Agent), RATE a second, each
//              one request over TLS trusting the PEM at --ca, every agent
//              kept: the leak
//   fetch      the global fetch (its shared pool), CONCURRENCY callers
//              for SECONDS
//   pool       one keep-alive agent, CONCURRENCY callers for SECONDS
//   burst      one keep-alive agent: BURST calls at once, then
//              CONCURRENCY callers for SECONDS
// and "done" once its calls are over; it then holds what it has.
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import https from "node:https";
import { parseArgs } from "node:util";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    count: { type: "string", default: "30" },
    rate: { type: "string", default: "20" },
    concurrency: { type: "string", default: "4" },
    burst: { type: "string", default: "50" },
    seconds: { type: "string", default: "3" },
    ping: { type: "string", default: "0" },
    ca: { type: "string" },
  },
});
const [shape, address] = positionals;
const url = new URL(address);
const [count, rate, concurrency, burst, seconds, ping] = [
  values.count, values.rate, values.concurrency, values.burst, values.seconds, values.ping,
].map(Number);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const kept = [];

function h2Call(session) {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": "/hello" });
    stream.on("data", () => {});
    stream.on("end", resolve);
    stream.on("error", reject);
  });
}

function http1Call(agent, client = http) {
  return new Promise((resolve, reject) => {
    const request = client.get(new URL("/hello", url), { agent }, (answer) => {
      answer.on("data", () => {});
      answer.on("end", resolve);
    });
    request.on("error", reject);
  });
}

// `callers` loops of `call`, until `seconds` have passed.
async function callers(call, callers) {
  const until = Date.now() + seconds * 1000;
  const loop = async () => {
    while (Date.now() < until) await call();
  };
  await Promise.all(Array.from({ length: callers }, loop));
}

const shapes = {
  "h2-server": async () => {
    const server = http2.createServer((request, answer) => answer.end("hello\n"));
    server.listen(0, url.hostname, () => {
      console.log(`ready ${process.pid} ${server.address().port}`);
    });
  },
  "h2-leak": async () => {
    const started = Date.now();
    for (let n = 0; n < count; n++) {
      await sleep(Math.max(0, started + (n * 1000) / rate - Date.now()));
      const session = http2.connect(url);
      await h2Call(session);
      if (ping > 0) setInterval(() => session.ping(() => {}), ping * 1000);
      kept.push(session);
    }
  },
  "h2-streams": async () => {
    const session = http2.connect(url);
    kept.push(session);
    await callers(() => h2Call(session), concurrency);
  },
  "https-leak": async () => {
    const ca = readFileSync(values.ca);
    const started = Date.now();
    for (let n = 0; n < count; n++) {
      await sleep(Math.max(0, started + (n * 1000) / rate - Date.now()));
      const agent = new https.Agent({ keepAlive: true, ca });
      await http1Call(agent, https);
      kept.push(agent);
    }
  },
  fetch: async () => {
    await callers(async () => (await fetch(new URL("/hello", url))).text(), concurrency);
  },
  pool: async () => {
    const agent = new http.Agent({ keepAlive: true });
    kept.push(agent);
    await callers(() => http1Call(agent), concurrency);
  },
  burst: async () => {
    const agent = new http.Agent({ keepAlive: true });
    kept.push(agent);
    await Promise.all(Array.from({ length: burst }, () => http1Call(agent)));
    await callers(() => http1Call(agent), concurrency);
  },
};

if (!shapes[shape]) {
  console.error(`unknown shape ${shape}; expected one of ${Object.keys(shapes).join(", ")}`);
  process.exit(2);
}
if (shape !== "h2-server") console.log(`ready ${process.pid}`);
await shapes[shape]();
if (shape !== "h2-server") console.log("done");
setInterval(() => {}, 1 << 30);
