// Checking the engine's signed calls to the app: dataset callbacks (access, erase) and
// Art. 19 notices (rectification, erasure, restriction). Verify the exact body bytes
// before parsing them; answer 401 to an InvalidSignature.
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "X-Personvern-Signature";
export const TIMESTAMP_HEADER = "X-Personvern-Timestamp";
/** A call signed longer ago (or further ahead) than this is refused: a replay. */
export const MAX_AGE_S = 300;

export type Action = "access" | "erase" | "rectification" | "erasure" | "restriction";
const ACTIONS: readonly string[] = ["access", "erase", "rectification", "erasure", "restriction"];

/** A call that is not provably the engine's (no, wrong or stale signature): refuse it. */
export class InvalidSignature extends Error {
  readonly status = 401;
  constructor(message: string) {
    super(message);
    this.name = "InvalidSignature";
  }
}

/** A verified call: what to do, for which request, to whom (their identities). */
export interface Callback {
  action: Action;
  request: string;
  identities: Record<string, string[]>;
  dataset?: string;
  notice?: number;
  recipient?: string;
  raw: Record<string, unknown>;
}

/** The signature header's value for `body` sent at `timestamp` (Unix seconds). */
export function sign(secret: string, timestamp: number, body: string | Uint8Array): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.`).update(body);
  return `v1=${mac.digest("hex")}`;
}

type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string {
  if (headers instanceof Headers) return headers.get(name) ?? "";
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  const value = key === undefined ? undefined : headers[key];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

/** The call in `body` if its signature holds; throws InvalidSignature otherwise. */
export function verifyCallback(secret: string, body: string | Uint8Array, headers: HeaderSource,
  now: number = Date.now() / 1000): Callback {
  if (!secret) {
    throw new InvalidSignature("no secret to check the signature with: set the same secret " +
      "as the manifest's secret_env names");
  }
  const stamp = header(headers, TIMESTAMP_HEADER);
  const signature = header(headers, SIGNATURE_HEADER);
  if (!signature) throw new InvalidSignature(`the call has no ${SIGNATURE_HEADER} header`);
  if (!/^\d+$/.test(stamp)) {
    throw new InvalidSignature(`the call has no ${TIMESTAMP_HEADER} header (Unix seconds)`);
  }
  const skew = Math.abs(now - Number(stamp));
  if (skew > MAX_AGE_S) {
    throw new InvalidSignature(`the call was signed ${Math.floor(skew)} s from now; more ` +
      `than ${MAX_AGE_S} s is refused as a replay`);
  }
  const expected = Buffer.from(sign(secret, Number(stamp), body));
  const given = Buffer.from(signature);
  // timingSafeEqual: the time taken does not tell how much of a guess was right.
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new InvalidSignature("the signature does not match the body: another secret, or " +
      "the body was changed (verify the raw bytes, before parsing)");
  }
  return parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8"));
}

function parse(text: string): Callback {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new InvalidSignature("a signed call that is not JSON");
  }
  const action = data["action"];
  if (typeof action !== "string" || !ACTIONS.includes(action)) {
    throw new InvalidSignature(`a signed call with an unknown action ${String(action)}`);
  }
  const callback: Callback = {
    action: action as Action,
    request: String(data["request"] ?? ""),
    identities: (data["identities"] ?? {}) as Record<string, string[]>,
    raw: data,
  };
  if (typeof data["dataset"] === "string") callback.dataset = data["dataset"];
  if (typeof data["notice"] === "number") callback.notice = data["notice"];
  if (typeof data["recipient"] === "string") callback.recipient = data["recipient"];
  return callback;
}
