// Run by tests/client/test_typescript.py against a real `personvern serve`:
// PERSONVERN_URL and PERSONVERN_KEY name it, PERSONVERN_PROBLEM_TYPES lists the server's
// problem types, PERSONVERN_SIGNED_CALL holds a call the engine itself signed.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";

import {
  ERRORS, InvalidSignature, MissingScopeError, NotFoundError, PersonvernAPIError,
  PersonvernClient, ServerUnavailable, UnauthorizedError, UnknownPurposeError,
  UnknownSubjectError, sign, verifyCallback,
} from "../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through pytest (tests/client/test_typescript.py)`);
  return value;
}

const url = env("PERSONVERN_URL");
const pv = new PersonvernClient(url, env("PERSONVERN_KEY"));

test("a day in the life of an app", async () => {
  const kari = await pv.ensureSubject({ email: "kari.ts@example.no", phone: "912 34 567" });
  assert.equal(kari.created, true);
  assert.deepEqual(kari.identities.find((i) => i.kind === "phone")?.value, "+4791234567");
  assert.equal((await pv.ensureSubject({ email: "KARI.TS@example.no" })).id, kari.id);

  assert.equal((await pv.decide(kari.id, "newsletter")).allowed, false);
  const given = await pv.recordConsent(kari.id, "newsletter", {
    textShown: "Vil du ha nyhetsbrev?", ip: "203.0.113.7", userAgent: "Mozilla/5.0",
    idempotencyKey: "ts-k1",
  });
  assert.equal(given.type, "consent_given");
  assert.equal(given.replayed, false);
  const replay = await pv.recordConsent(kari.id, "newsletter", { idempotencyKey: "ts-k1" });
  assert.equal(replay.replayed, true);
  assert.equal(replay.id, given.id);

  const decision = await pv.decide("kari.ts@example.no", "newsletter");
  assert.equal(decision.allowed, true);
  assert.equal(decision.basis, "consent");
  const gpc = await pv.decide(kari.id, "newsletter", { gpc: true });
  assert.equal(gpc.allowed, false);
  assert.equal(gpc.code, "gpc");

  await pv.withdraw(kari.id, "newsletter", { channel: "portal" });
  assert.equal((await pv.decide(kari.id, "newsletter")).allowed, false);
  assert.equal(await pv.recordActivity(kari.id), "2027-03-01T11:00:00Z");
  const consents = await pv.consents(kari.id);
  const newsletter = consents.purposes.find((p) => p.purpose === "newsletter");
  assert.deepEqual(newsletter?.events.map((e) => e.type), ["consent_given", "consent_withdrawn"]);
});

test("a decision for an unknown purpose is a typed error, not false", async () => {
  const ola = await pv.ensureSubject({ email: "ola.ts@example.no" });
  const err = await pv.decide(ola.id, "newsleter").then(
    () => assert.fail("an unknown purpose must not be answered"), (e: unknown) => e);
  assert.ok(err instanceof UnknownPurposeError, String(err));
  assert.ok(err instanceof NotFoundError && err instanceof PersonvernAPIError);
  assert.equal(err.status, 404);
  assert.equal(err.type, "urn:personvern:problem:unknown-purpose");
  assert.match(err.detail, /the manifest declares: account, newsletter/);
  await assert.rejects(pv.decide("ext:nobody", "newsletter"), UnknownSubjectError);
});

test("a wrong key and a key without the scope", async () => {
  await assert.rejects(new PersonvernClient(url, "pv_wrong").decide("ext:1", "newsletter"),
    UnauthorizedError);
  await assert.rejects(
    new PersonvernClient(url, env("PERSONVERN_READER_KEY")).ensureSubject({ email: "x@example.no" }),
    (err: unknown) => err instanceof MissingScopeError && /subjects:write/.test(err.detail));
});

test("every problem type the server documents has its own class", () => {
  const types = JSON.parse(env("PERSONVERN_PROBLEM_TYPES")) as string[];
  assert.deepEqual(Object.keys(ERRORS).sort(), [...types].sort());
  assert.equal(new Set(Object.values(ERRORS)).size, types.length);
});

test("a server that is down is a clear error after bounded retries", async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
  const down = new PersonvernClient(`http://127.0.0.1:${port}`, "pv_x",
    { retries: 2, backoffMs: 100 });
  const started = performance.now();
  const err = await down.decide("ext:1", "newsletter").then(
    () => assert.fail("nothing listens there"), (e: unknown) => e);
  const took = performance.now() - started;
  assert.ok(err instanceof ServerUnavailable && err instanceof PersonvernAPIError, String(err));
  assert.equal(err.status, 0);
  assert.match(err.message, new RegExp(`no answer from http://127.0.0.1:${port} after 3 attempts`));
  assert.match(err.message, /ECONNREFUSED/);
  assert.ok(took >= 300 && took < 3000, `took ${took} ms`);
});

test("a server that accepts but never answers does not hang", async () => {
  const sockets: import("node:net").Socket[] = [];
  const silent = createServer((socket) => { sockets.push(socket); });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const address = silent.address();
  const port = typeof address === "object" && address ? address.port : 0;
  try {
    const client = new PersonvernClient(`http://127.0.0.1:${port}`, "pv_x",
      { timeoutMs: 300, retries: 1, backoffMs: 50 });
    const started = performance.now();
    await assert.rejects(client.decide("ext:1", "newsletter"),
      (err: unknown) => err instanceof ServerUnavailable && /after 2 attempts .*TimeoutError/.test(err.message));
    assert.ok(performance.now() - started < 3000);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test("the engine's signed call is accepted; a wrong or missing signature is rejected", () => {
  const call = JSON.parse(env("PERSONVERN_SIGNED_CALL")) as
    { secret: string; body: string; timestamp: number; signature: string };
  const headers = { "X-Personvern-Timestamp": String(call.timestamp),
    "x-personvern-signature": call.signature };
  assert.equal(sign(call.secret, call.timestamp, call.body), call.signature);
  const got = verifyCallback(call.secret, call.body, headers, call.timestamp + 10);
  assert.equal(got.action, "erase");
  assert.equal(got.dataset, "chat");
  assert.deepEqual(got.identities, { email: ["kari@example.no"], external_id: ["23"] });
  // Bytes work as well as text; Headers as well as a plain object.
  verifyCallback(call.secret, Buffer.from(call.body), new Headers(headers), call.timestamp);

  assert.throws(() => verifyCallback("another secret", call.body, headers, call.timestamp),
    (err: unknown) => err instanceof InvalidSignature && /does not match/.test(err.message));
  assert.throws(() => verifyCallback(call.secret, call.body.replace("kari", "kare"), headers,
    call.timestamp), InvalidSignature);
  assert.throws(() => verifyCallback(call.secret, call.body,
    { "X-Personvern-Timestamp": String(call.timestamp) }, call.timestamp),
  (err: unknown) => err instanceof InvalidSignature && /no X-Personvern-Signature/.test(err.message));
  assert.throws(() => verifyCallback(call.secret, call.body, headers, call.timestamp + 301),
    (err: unknown) => err instanceof InvalidSignature && /replay/.test(err.message));
});
