// The client of the Personvern HTTP API: typed from the server's OpenAPI document
// (openapi-fetch over types openapi-typescript generates), bounded retries, typed errors.
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";

import { errorFor, PersonvernAPIError, ServerUnavailable } from "./errors.js";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
export type SubjectIn = Schemas["SubjectIn"];
export type Subject = Schemas["SubjectOut"] & { created: boolean };
export type Decision = Schemas["DecisionOut"];
export type Event = Schemas["personvern__web__schemas__EventOut"] & { replayed: boolean };
export type Consents = Schemas["ConsentsOut"];
export type EventType = Schemas["ConsentIn"]["type"];
export type Actor = Schemas["Actor"];
export type Channel = Schemas["Channel"];

export interface ClientOptions {
  /** Milliseconds one attempt may take (default 10 000). */
  timeoutMs?: number;
  /** More attempts after one that got no answer or a 502-504 (default 2). */
  retries?: number;
  /** Milliseconds before the first retry; doubled for each next one (default 200). */
  backoffMs?: number;
}

export interface ConsentOptions {
  type?: EventType;
  actor?: Actor;
  actorSubjectId?: string;
  channel?: Channel;
  /** The words the person saw on the app's form. */
  textShown?: string;
  /** The person's own IP address and browser; stored only as a salted hash. */
  ip?: string;
  userAgent?: string;
  evidence?: Record<string, unknown>;
  /** Sent as Idempotency-Key; a fresh one by default, so a retry never appends twice. */
  idempotencyKey?: string;
}

// Answers worth another try: the server is restarting or its database is away for a moment.
const RETRY_STATUSES = new Set([502, 503, 504]);

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { code?: string; message?: string } | undefined;
  const why = cause ? ` (${cause.code ?? cause.message})` : "";
  return `${err.name}: ${err.message}${why}`;
}

/** Every call this client makes is safe to repeat: writes carry idempotency keys or are
 * find-or-create. A server that does not answer is a ServerUnavailable, never a hang. */
export class PersonvernClient {
  readonly baseUrl: string;
  private readonly api: ReturnType<typeof createClient<paths>>;

  constructor(baseUrl: string, apiKey: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const timeoutMs = options.timeoutMs ?? 10_000;
    const retries = Math.max(options.retries ?? 2, 0);
    const backoffMs = options.backoffMs ?? 200;
    const base = this.baseUrl;

    const retrying = async (request: Request): Promise<Response> => {
      // Read once: a Request's body can be sent only once, and each attempt sends it.
      const body = request.body ? await request.arrayBuffer() : undefined;
      const started = performance.now();
      let last = "";
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt) await new Promise((done) => setTimeout(done, backoffMs * 2 ** (attempt - 1)));
        try {
          const response = await fetch(request.url, {
            method: request.method, headers: request.headers, body,
            signal: AbortSignal.timeout(timeoutMs),
          });
          if (RETRY_STATUSES.has(response.status) && attempt < retries) {
            last = `HTTP ${response.status}`;
            continue;
          }
          return response;
        } catch (err) {
          last = describe(err);
        }
      }
      const took = ((performance.now() - started) / 1000).toFixed(1);
      throw new ServerUnavailable({
        type: "", title: "Server unavailable", status: 0,
        detail: `no answer from ${base} after ${retries + 1} attempts in ${took} s (${last}); ` +
          "is `personvern serve` running there?",
      });
    };

    this.api = createClient<paths>({
      baseUrl: this.baseUrl, fetch: retrying,
      headers: { Authorization: `Bearer ${apiKey}`, Accept: "application/json" },
    });
  }

  /** The subject with these identities, created if none has them (`created` says which). */
  async ensureSubject(identities: SubjectIn): Promise<Subject> {
    const { data, error, response } = await this.api.POST("/api/v1/subjects", { body: identities });
    if (!data) throw errorFor(error, response);
    return { ...data, created: response.status === 201 };
  }

  /** A subject by id, e-mail, +phone or `ext:ID`; UnknownSubjectError when none. */
  async subject(ref: string): Promise<Subject> {
    const { data, error, response } = await this.api.GET("/api/v1/subjects/{ref}",
      { params: { path: { ref } } });
    if (!data) throw errorFor(error, response);
    return { ...data, created: false };
  }

  /** Note that the subject was active now (retention counts from it); the time noted. */
  async recordActivity(subject: string): Promise<string> {
    const { data, error, response } = await this.api.POST("/api/v1/subjects/{ref}/activity",
      { params: { path: { ref: subject } } });
    if (!data) throw errorFor(error, response);
    return data.last_activity;
  }

  /** Append a consent or objection event, e.g. from the app's own sign-up form. */
  async recordConsent(subject: string, purpose: string, options: ConsentOptions = {}):
  Promise<Event> {
    const evidence: Record<string, unknown> = { ...(options.evidence ?? {}) };
    if (options.textShown !== undefined) evidence["text_shown"] = options.textShown;
    if (options.ip !== undefined) evidence["ip"] = options.ip;
    if (options.userAgent !== undefined) evidence["user_agent"] = options.userAgent;
    const { data, error, response } = await this.api.POST("/api/v1/consents", {
      params: { header: { "Idempotency-Key": options.idempotencyKey ?? randomUUID() } },
      body: {
        subject, purpose, type: options.type ?? "consent_given", actor: options.actor ?? "self",
        channel: options.channel ?? "api", evidence,
        ...(options.actorSubjectId ? { actor_subject_id: options.actorSubjectId } : {}),
      },
    });
    if (!data) throw errorFor(error, response);
    return { ...data, replayed: response.headers.get("Idempotent-Replayed") === "true" };
  }

  /** Withdraw consent: as easy as giving it (GDPR Art. 7(3)). */
  async withdraw(subject: string, purpose: string, options: ConsentOptions = {}): Promise<Event> {
    return this.recordConsent(subject, purpose, { ...options, type: "consent_withdrawn" });
  }

  /** May `purpose` be carried out for `subject` now? `gpc`: the browser sent Sec-GPC: 1.
   * A purpose the manifest lacks throws UnknownPurposeError, never a quiet false. */
  async decide(subject: string, purpose: string, options: { gpc?: boolean } = {}):
  Promise<Decision> {
    const { data, error, response } = await this.api.GET("/api/v1/decisions", {
      params: { query: { subject, purpose } },
      ...(options.gpc ? { headers: { "Sec-GPC": "1" } } : {}),
    });
    if (!data) throw errorFor(error, response);
    return data;
  }

  /** Every purpose's decision for `subject` now, with the events behind each. */
  async consents(subject: string): Promise<Consents> {
    const { data, error, response } = await this.api.GET("/api/v1/subjects/{ref}/consents",
      { params: { path: { ref: subject } } });
    if (!data) throw errorFor(error, response);
    return data;
  }
}

export { PersonvernAPIError };
