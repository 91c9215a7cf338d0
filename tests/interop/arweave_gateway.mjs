// Drive arweave-js (npm `arweave`, pinned) against a hyperpeer gateway on loopback.
// Usage: node arweave_gateway.mjs <port> <item id> ; prints one JSON line.
import Arweave from "arweave";

const [port, id] = process.argv.slice(2);
const arweave = Arweave.init({ host: "127.0.0.1", port: Number(port), protocol: "http", logging: false });

const info = await arweave.api.get("info");
const data = await arweave.transactions.getData(id, { decode: true });
const query = `query($ids: [ID!]!) { transactions(ids: $ids) { edges { cursor node { id owner { address key }
  tags { name value } data { size type } block { height } bundledIn { id } } } pageInfo { hasNextPage } } }`;
const gql = await arweave.api.post("graphql", { query, variables: { ids: [id] } });
const single = await arweave.api.post("graphql", {
  query: '{ transactions(tags: {name: "Data-Protocol", values: ["ao"]}, first: 5) { edges { node { id } } } }',
});
const bad = await arweave.api.post("graphql", { query: "{ transactions { nope } }" });
console.log(
  JSON.stringify({
    info_status: info.status,
    info: info.data,
    data_hex: Buffer.from(data).toString("hex"),
    gql_status: gql.status,
    gql: gql.data,
    single: single.data,
    bad_status: bad.status,
    bad: bad.data,
  }),
);
