// Drives @ar.io/wayfinder-core (pinned) against one hyperpeer node on loopback, configured the way it
// applies without the ar.io network: a static gateway list and static routing (no ar.io gateway
// registry), and hash verification with the node itself as the trusted gateway (its X-AR-IO-Digest).
// Usage: node wayfinder_gateway.mjs <node url> <item id> ; prints one JSON object.
import { readFileSync } from "node:fs";
import {
  HashVerificationStrategy,
  StaticGatewaysProvider,
  StaticRoutingStrategy,
  Wayfinder,
} from "@ar.io/wayfinder-core";

const [url, id] = process.argv.slice(2);
const realFetch = globalThis.fetch;
const hosts = new Set();
globalThis.fetch = async (input, init) => {
  const target = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  hosts.add(target.host);
  if (target.hostname !== "127.0.0.1") throw new Error(`refusing non-loopback request to ${target.host}`);
  return realFetch(input, init);
};

const pkg = new URL("./node_modules/@ar.io/wayfinder-core/package.json", import.meta.url);
const out = { version: JSON.parse(readFileSync(pkg, "utf8")).version };

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function wayfinder({ tamper = false } = {}) {
  const events = [];
  const wf = new Wayfinder({
    logger: quiet,
    // the data fetch goes through this; `tamper` flips one byte of the body the node sent
    fetch: async (input, init) => {
      const res = await globalThis.fetch(input, init);
      if (!tamper) return res;
      const body = new Uint8Array(await res.arrayBuffer());
      body[0] ^= 1;
      return new Response(body, { status: res.status, headers: res.headers });
    },
    gatewaysProvider: new StaticGatewaysProvider({ gateways: [url] }),
    routingSettings: { strategy: new StaticRoutingStrategy({ gateway: url, logger: quiet }) },
    verificationSettings: {
      enabled: true,
      strict: true,
      strategy: new HashVerificationStrategy({ trustedGateways: [new URL(url)], logger: quiet }),
      events: {
        onVerificationSucceeded: (e) => events.push({ ok: true, txId: e.txId }),
        onVerificationFailed: (e) => events.push({ ok: false, error: String(e && e.message ? e.message : e) }),
      },
    },
    telemetrySettings: { enabled: false },
  });
  return { wf, events };
}

async function step(name, fn) {
  try {
    out[name] = (await fn()) ?? null;
  } catch (e) {
    out[name] = { thrown: String(e && e.message ? e.message : e) };
  }
}

await step("resolve", async () => String(await wayfinder().wf.resolveUrl({ originalUrl: `ar://${id}` })));
await step("request", async () => {
  const { wf, events } = wayfinder();
  const res = await wf.request(`ar://${id}`);
  const text = await res.text();
  return { status: res.status, text, digest: res.headers.get("x-ar-io-digest"), events };
});
await step("tampered", async () => {
  const { wf, events } = wayfinder({ tamper: true });
  const res = await wf.request(`ar://${id}`);
  const text = await res.text();
  return { status: res.status, text, events };
});
out.hosts = [...hosts];
console.log(JSON.stringify(out));
