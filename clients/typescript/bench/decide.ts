// Run by benchmarks/consent.py against its `personvern serve`: one decision at a time, as an
// app asks, through the client and as a bare fetch of the same URL, alternating so that
// drift of the machine falls on both alike. Prints {"client": [ms...], "bare": [ms...]}.
import { PersonvernClient } from "../src/index.js";

const url = process.env["PERSONVERN_URL"] ?? "";
const key = process.env["PERSONVERN_KEY"] ?? "";
const purpose = process.env["PERSONVERN_PURPOSE"] ?? "";
const ids = JSON.parse(process.env["PERSONVERN_IDS"] ?? "[]") as string[];
const calls = Number(process.env["PERSONVERN_CALLS"] ?? "0");
if (!url || !key || !purpose || ids.length === 0 || !calls) {
  throw new Error("run through benchmarks/consent.py, which sets PERSONVERN_URL and the rest");
}

const pv = new PersonvernClient(url, key);
const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };

async function bare(subject: string): Promise<void> {
  const query = new URLSearchParams({ subject, purpose });
  const response = await fetch(`${url}/api/v1/decisions?${query}`, { headers });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  await response.json();
}

const client: number[] = [];
const plain: number[] = [];
for (let i = 0; i < 50; i++) {  // warm the connections and the server's cache
  await pv.decide(ids[i % ids.length]!, purpose);
  await bare(ids[i % ids.length]!);
}
async function timed(ask: () => Promise<unknown>, into: number[]): Promise<void> {
  const started = performance.now();
  await ask();
  into.push(performance.now() - started);
}

for (let i = 0; i < calls; i++) {
  const subject = ids[(i * 7919) % ids.length]!;
  const viaClient = () => timed(() => pv.decide(subject, purpose), client);
  const viaFetch = () => timed(() => bare(subject), plain);
  // Who goes first alternates: the first to ask for a subject may warm the server's cache.
  if (i % 2) {
    await viaClient();
    await viaFetch();
  } else {
    await viaFetch();
    await viaClient();
  }
}
console.log(JSON.stringify({ client, bare: plain }));
