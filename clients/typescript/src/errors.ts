// The client's errors: one class per problem `type` the server documents (docs/api.md).
// Branch on the class (`err instanceof UnknownPurposeError`), never on `title` or `detail`.

import type { components } from "./schema.js";

export const TYPE_PREFIX = "urn:personvern:problem:";

/** RFC 9457 problem details, as the server sends them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: { field: string; message: string; type: string }[];
  [extra: string]: unknown;
}

/** An error answer from the server, or no answer at all (status 0). */
export class PersonvernAPIError extends Error {
  static readonly slug: string = "";
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly problem: Problem;
  readonly headers: Headers;

  constructor(problem: Problem, headers: Headers = new Headers()) {
    super(problem.status ? `${problem.status} ${problem.title}: ${problem.detail}`
      : `${problem.title}: ${problem.detail}`);
    this.name = new.target.name;
    this.status = problem.status;
    this.title = problem.title;
    this.detail = problem.detail;
    this.type = problem.type;
    this.problem = problem;
    this.headers = headers;
  }
}

/** No answer from the server after the bounded retries (down, wrong URL, timed out). */
export class ServerUnavailable extends PersonvernAPIError {}

export class NotFoundError extends PersonvernAPIError { static override readonly slug: string = "not-found"; }
/** No subject has this id or identity: register the person first. */
export class UnknownSubjectError extends NotFoundError { static override readonly slug: string = "unknown-subject"; }
/** The manifest declares no such purpose: a typo in the app, or the manifest lacks it. */
export class UnknownPurposeError extends NotFoundError { static override readonly slug: string = "unknown-purpose"; }
export class RouteNotFoundError extends NotFoundError { static override readonly slug: string = "route-not-found"; }
export class MethodNotAllowedError extends PersonvernAPIError { static override readonly slug: string = "method-not-allowed"; }
export class MalformedJSONError extends PersonvernAPIError { static override readonly slug: string = "malformed-json"; }
export class InvalidRequestError extends PersonvernAPIError { static override readonly slug: string = "invalid-request"; }
export class InvalidInputError extends PersonvernAPIError { static override readonly slug: string = "invalid-input"; }
export class IncompletePolicyError extends PersonvernAPIError { static override readonly slug: string = "incomplete-policy"; }
export class CheckErrorsError extends PersonvernAPIError { static override readonly slug: string = "check-errors"; }
export class UnauthorizedError extends PersonvernAPIError { static override readonly slug: string = "unauthorized"; }
export class ForbiddenError extends PersonvernAPIError { static override readonly slug: string = "forbidden"; }
export class MissingScopeError extends ForbiddenError { static override readonly slug: string = "missing-scope"; }
export class ConflictError extends PersonvernAPIError { static override readonly slug: string = "conflict"; }
export class BodyTooLargeError extends PersonvernAPIError { static override readonly slug: string = "body-too-large"; }
export class RateLimitedError extends PersonvernAPIError {
  static override readonly slug: string = "rate-limited";
  /** The seconds the server's Retry-After asks to wait. */
  get retryAfter(): number | undefined {
    const value = this.headers.get("retry-after");
    return value && /^\d+$/.test(value) ? Number(value) : undefined;
  }
}
export class InvalidManifestError extends PersonvernAPIError { static override readonly slug: string = "invalid-manifest"; }
export class ServerConfigurationError extends PersonvernAPIError { static override readonly slug: string = "configuration"; }
export class StorageUnavailableError extends PersonvernAPIError { static override readonly slug: string = "storage-unavailable"; }
export class ServerError extends PersonvernAPIError { static override readonly slug: string = "server-error"; }
export class EngineError extends PersonvernAPIError { static override readonly slug: string = "error"; }
export class HTTPProblemError extends PersonvernAPIError { static override readonly slug: string = "http-error"; }

type ErrorClass = typeof PersonvernAPIError;
/** The problem types the server's OpenAPI document lists, without the URN prefix. */
export type ProblemSlug = components["schemas"]["Problem"]["type"] extends infer T
  ? T extends `${typeof TYPE_PREFIX}${infer S}` ? S : never : never;

/** slug -> class. Typed by the OpenAPI document: a type without its class fails tsc. */
export const ERRORS: Readonly<Record<ProblemSlug, ErrorClass>> = {
  "unknown-subject": UnknownSubjectError, "unknown-purpose": UnknownPurposeError,
  "not-found": NotFoundError, "route-not-found": RouteNotFoundError,
  "method-not-allowed": MethodNotAllowedError, "malformed-json": MalformedJSONError,
  "invalid-request": InvalidRequestError, "invalid-input": InvalidInputError,
  "incomplete-policy": IncompletePolicyError, "check-errors": CheckErrorsError,
  "unauthorized": UnauthorizedError,
  "missing-scope": MissingScopeError, "forbidden": ForbiddenError, "conflict": ConflictError,
  "body-too-large": BodyTooLargeError, "rate-limited": RateLimitedError,
  "invalid-manifest": InvalidManifestError, "configuration": ServerConfigurationError,
  "storage-unavailable": StorageUnavailableError, "server-error": ServerError,
  "error": EngineError, "http-error": HTTPProblemError,
};

const BY_STATUS: Readonly<Record<number, ErrorClass>> = {
  401: UnauthorizedError, 403: ForbiddenError, 404: NotFoundError, 405: MethodNotAllowedError,
  409: ConflictError, 413: BodyTooLargeError, 422: InvalidInputError, 429: RateLimitedError,
  500: ServerError, 503: StorageUnavailableError,
};

/** The error for a non-2xx response whose body was `body` (parsed JSON, or its text). */
export function errorFor(body: unknown, response: Response): PersonvernAPIError {
  const fallback = BY_STATUS[response.status] ?? HTTPProblemError;
  if (body && typeof body === "object" && "title" in body) {
    const problem = body as Problem;
    const slug = String(problem.type ?? "").replace(TYPE_PREFIX, "") as ProblemSlug;
    // A type newer than this client: typed by its status instead.
    const kind = (ERRORS as Partial<Record<string, ErrorClass>>)[slug] ?? fallback;
    return new kind({ ...problem, status: problem.status ?? response.status }, response.headers);
  }
  // Not ours (a proxy's HTML page, say): typed by its status alone.
  return new fallback({ type: "about:blank", title: response.statusText || "Error",
    status: response.status, detail: String(body ?? "").slice(0, 500) }, response.headers);
}
