// Drives the real @permaweb/aoconnect 0.0.98 (mainnet mode) against a node.
// Usage: node aoconnect_flow.mjs <node url> <wallet.json> <module id>
// Prints one JSON object with what each client call returned; the Python test asserts on it.
import { readFileSync } from "node:fs";
import { connect, createSigner } from "@permaweb/aoconnect";

const [url, walletPath, moduleId] = process.argv.slice(2);
const jwk = JSON.parse(readFileSync(walletPath, "utf8"));
const signer = createSigner(jwk);
const ao = connect({ MODE: "mainnet", URL: url, signer });
const out = {};

async function evalIn(pid, code, action = "Eval") {
  const slot = await ao.message({ process: pid, tags: [{ name: "Action", value: action }], data: code, signer });
  const res = await ao.result({ process: pid, slot });
  return { slot, res };
}

async function step(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { thrown: String(e && e.message ? e.message : e) };
  }
}

await step("spawn", async () => ao.spawn({ module: moduleId, signer, tags: [{ name: "Name", value: "flow-a" }] }));
const pid = out.spawn;
await step("eval", async () => evalIn(pid, "return 1+1"));
await step("handler", async () =>
  evalIn(
    pid,
    'Handlers.add("ping", Handlers.utils.hasMatchingTag("Action", "Ping"), function (msg) print("pong " .. msg.Data) end)',
  ),
);
await step("ping", async () => evalIn(pid, "hi", "Ping"));
await step("spawn2", async () => ao.spawn({ module: moduleId, signer, tags: [{ name: "Name", value: "flow-b" }] }));
const pid2 = out.spawn2;
await step("handler2", async () =>
  evalIn(
    pid2,
    'Handlers.add("hello", Handlers.utils.hasMatchingTag("Action", "Hello"), function (msg) Received = msg.Data; From = msg.From end)',
  ),
);
await step("send", async () => evalIn(pid, `Send({Target = "${pid2}", Action = "Hello", Data = "from a"})`));
await step("received", async () => evalIn(pid2, "return tostring(Received) .. '|' .. tostring(From)"));
await step("boom", async () => evalIn(pid, 'error("boom")'));
await step("after", async () => evalIn(pid, "return 2+2"));
await step("results", async () => ao.results({ process: pid }));
await step("dryrun", async () =>
  ao.dryrun({ process: pid, tags: [{ name: "Action", value: "Eval" }], data: "DR = 1; return 40 + 2", signer }),
);
await step("after_dryrun", async () => evalIn(pid, "return tostring(DR)"));
out.pid = pid;
out.pid2 = pid2;
process.stdout.write(JSON.stringify(out));
