// Drives the legacy-mode GraphQL users against a hyperpeer node on loopback:
// @permaweb/ao-scheduler-utils (locate / validate / raw / getProcess, the version aoconnect 0.0.98
// installs) and @permaweb/aoconnect 0.0.98 in legacy mode (spawn's module check through GraphQL,
// with MU_URL pointed at the node's bundler ingress `POST /tx`, and message through the same door).
// Usage: node legacy_graphql.mjs <job.json> ; prints one JSON object, the Python test asserts on it.
//
// No network: scheduler-utils' `locate` first asks the hard-coded https://su-router.ao-testnet.xyz;
// that one host is answered 404 here (the router does not know the process), which is exactly the
// case where scheduler-utils falls back to GraphQL. Every other non-loopback request fails loudly.
import { readFileSync } from "node:fs";

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { url, wallet } = job;
const realFetch = globalThis.fetch;
const seen = [];
globalThis.fetch = async (input, init) => {
  const target = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
  const body = init && typeof init.body === "string" ? init.body : undefined;
  seen.push({ host: target.host, path: target.pathname, query: body ? JSON.parse(body).query : undefined });
  if (target.host === "su-router.ao-testnet.xyz") return new Response("not found", { status: 404 });
  if (target.hostname !== "127.0.0.1") throw new Error(`refusing non-loopback request to ${target.host}`);
  return realFetch(input, init);
};
// aoconnect's legacy `message` / `getMessages` use scheduler-utils' module-level `locate`, which reads
// GRAPHQL_URL from the environment when the package is first imported.
process.env.GRAPHQL_URL = `${url}/graphql`;
const su = await import("@permaweb/ao-scheduler-utils");
const { connect, createDataItemSigner } = await import("@permaweb/aoconnect");

const out = { versions: {} };
for (const name of ["@permaweb/aoconnect", "@permaweb/ao-scheduler-utils"]) {
  const pkg = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  out.versions[name] = JSON.parse(readFileSync(pkg, "utf8")).version;
}

async function step(name, fn) {
  try {
    out[name] = (await fn()) ?? null;
  } catch (e) {
    out[name] = { thrown: String(e && e.message ? e.message : e), error: e && e.name };
  }
}

const sched = su.connect({ GRAPHQL_URL: `${url}/graphql`, HB_GRAPHQL_URL: url, cacheSize: 100 });
await step("validate", () => sched.validate(job.scheduler));
await step("validate_no_url", () => sched.validate(job.bad_scheduler));
await step("validate_unknown", () => sched.validate(job.unknown));
await step("raw", () => sched.raw(job.scheduler));
await step("raw_no_url", () => sched.raw(job.bad_scheduler));
await step("locate", () => sched.locate(job.process));
await step("locate_hint", () => sched.locate(job.process2, job.scheduler));
await step("locate_no_tag", () => sched.locate(job.module));
await step("locate_missing", () => sched.locate(job.unknown));
// getProcess asks a HyperBEAM node first (`GET {HB_GRAPHQL_URL}/{id}?require-codec=application/json`,
// here the node itself), and falls back to GraphQL (its GET_PROCESS_QUERY) when that fails; a second
// instance whose HyperBEAM URL refuses connections (loopback port 9) takes the GraphQL path.
await step("get_process_hb", () => sched.getProcess(job.process));
await step("get_process_gql", async () => {
  const viaGql = su.connect({ GRAPHQL_URL: `${url}/graphql`, HB_GRAPHQL_URL: "http://127.0.0.1:9" });
  return viaGql.getProcess(job.process);
});

const signer = createDataItemSigner(JSON.parse(readFileSync(wallet, "utf8")));
const ao = connect({
  MODE: "legacy",
  GATEWAY_URL: url,
  MU_URL: `${url}/tx`,
  CU_URL: "http://127.0.0.1:9", // never called: nothing below needs a CU
  noLog: true,
});
out.mode = ao.MODE;
await step("spawn", () =>
  ao.spawn({ module: job.module, scheduler: job.scheduler, signer, tags: [{ name: "Name", value: "legacy" }] }),
);
await step("spawn_not_module", () => ao.spawn({ module: job.process, scheduler: job.scheduler, signer }));
await step("spawn_missing_module", () => ao.spawn({ module: job.unknown, scheduler: job.scheduler, signer }));
if (typeof out.spawn === "string") {
  await step("locate_spawned", () => sched.locate(out.spawn));
  await step("message", () =>
    ao.message({ process: out.spawn, signer, tags: [{ name: "Action", value: "Ping" }], data: "hi" }),
  );
  // sign first, send later (sendSignedMessage verifies the item before it POSTs it to MU_URL)
  await step("send_signed", async () => {
    const signed = await ao.signMessage({ process: out.spawn, signer, tags: [{ name: "Action", value: "Later" }] });
    return { id: signed.id, sent: await ao.sendSignedMessage(signed) };
  });
  // followRedirects: scheduler-utils asks the located scheduler `GET {url}?process-id=…` (manual
  // redirects) and keeps the URL when the answer is not a 3xx
  await step("locate_follow", () =>
    su.connect({ GRAPHQL_URL: `${url}/graphql`, followRedirects: true }).locate(out.spawn),
  );
  // a fresh scheduler-utils instance (empty cache) resolves the spawned process again, and the
  // message is queryable by recipient through the same GraphQL endpoint
  await step("locate_spawned_fresh", () => su.connect({ GRAPHQL_URL: `${url}/graphql`, cacheSize: 0 }).locate(out.spawn));
  await step("by_recipient", async () => {
    const res = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        query: `query ($r: [String!]) { transactions(recipients: $r, sort: HEIGHT_ASC) {
          edges { node { id recipient tags { name value } } } } }`,
        variables: { r: [out.spawn] },
      }),
    });
    return res.json();
  });
}
out.requests = seen;
console.log(JSON.stringify(out));
