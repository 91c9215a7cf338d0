// Drives @dha-team/arbundles (the library aoconnect uses) for hyperpeer's interop tests.
//
//   node arbundles_verify.mjs verify <item file>...   -> JSON [{file, id, signatureType, verifies, error?}]
//   node arbundles_verify.mjs bundle <bundle file>... -> JSON [{file, verifies, ids, error?}]
//   node arbundles_verify.mjs sign <out dir>          -> signs one item of types 1, 2 and 3 with fresh
//                                                        keys, writes js-type<N>.bin, prints
//                                                        JSON [{file, id, signatureType, owner}]
//   node arbundles_verify.mjs bench <item file> <n>   -> JSON {verify_per_s, sign_per_s}
//
// Output is one JSON document on stdout; failures to read or parse become an `error` field.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import bs58 from "bs58";
import {
  ArweaveSigner,
  DataItem,
  EthereumSigner,
  SolanaSigner,
  createData,
  unbundleData,
} from "@dha-team/arbundles";

async function verifyItems(files) {
  const out = [];
  for (const file of files) {
    const entry = { file };
    try {
      const buf = readFileSync(file);
      entry.verifies = await DataItem.verify(buf);
      const item = new DataItem(buf);
      entry.id = item.id;
      entry.signatureType = item.signatureType;
    } catch (err) {
      entry.verifies = false;
      entry.error = String(err && err.message ? err.message : err);
    }
    out.push(entry);
  }
  return out;
}

async function verifyBundles(files) {
  const out = [];
  for (const file of files) {
    const entry = { file };
    try {
      const bundle = unbundleData(readFileSync(file));
      entry.ids = bundle.getIds();
      entry.verifies = await bundle.verify();
    } catch (err) {
      entry.verifies = false;
      entry.error = String(err && err.message ? err.message : err);
    }
    out.push(entry);
  }
  return out;
}

function freshSigners() {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 4096, publicExponent: 65537 });
  const arweave = new ArweaveSigner(rsa.privateKey.export({ format: "jwk" }));
  const ed = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  const edSecret = Buffer.concat([Buffer.from(ed.d, "base64url"), Buffer.from(ed.x, "base64url")]);
  const solana = new SolanaSigner(bs58.encode(edSecret));
  const ethereum = new EthereumSigner(randomBytes(32).toString("hex"));
  return [arweave, solana, ethereum];
}

async function signItems(dir) {
  const out = [];
  for (const signer of freshSigners()) {
    const opts = {
      target: Buffer.alloc(32, 7).toString("base64url"),
      anchor: "interop-anchor-00000000000000042",
      tags: [
        { name: "Data-Protocol", value: "ao" },
        { name: "Action", value: "Eval" },
        { name: "Ünïcødé", value: "✓ 世界" },
      ],
    };
    const item = createData(`signed by arbundles, type ${signer.signatureType}`, signer, opts);
    await item.sign(signer);
    const file = join(dir, `js-type${signer.signatureType}.bin`);
    writeFileSync(file, item.getRaw());
    out.push({ file, id: item.id, signatureType: item.signatureType, owner: item.owner });
  }
  return out;
}

async function bench(file, n) {
  const buf = readFileSync(file);
  let start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (!(await DataItem.verify(buf))) throw new Error("verification failed while benchmarking");
  }
  const verifySeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const parsed = new DataItem(buf);
  const rsa = generateKeyPairSync("rsa", { modulusLength: 4096, publicExponent: 65537 });
  const signer = new ArweaveSigner(rsa.privateKey.export({ format: "jwk" }));
  const data = parsed.rawData;
  start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const item = createData(data, signer, { tags: parsed.tags });
    await item.sign(signer);
  }
  const signSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { verify_per_s: n / verifySeconds, sign_per_s: n / signSeconds };
}

const [mode, ...args] = process.argv.slice(2);
let result;
if (mode === "verify") result = await verifyItems(args);
else if (mode === "bundle") result = await verifyBundles(args);
else if (mode === "sign") result = await signItems(args[0]);
else if (mode === "bench") result = await bench(args[0], Number(args[1] || "50"));
else {
  process.stderr.write("usage: arbundles_verify.mjs verify|bundle|sign|bench ...\n");
  process.exit(2);
}
process.stdout.write(JSON.stringify(result) + "\n");
