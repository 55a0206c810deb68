// The appgen API as this app calls it: openapi-fetch over the paths generated from openapi.yaml, the
// caller's access token on every request, and every failure turned into one ApiError.
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import type { FieldError, GenerationSpec, Job, LogEntry, SignedUrl } from "./types";

/** A refused or failed request: the API's error object, its HTTP status and Retry-After (seconds). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: FieldError[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type TokenSource = () => Promise<string>;

export interface JobSnapshot {
  job: Job;
  etag: string | null;
}

export class Api {
  private readonly client;

  constructor(
    readonly baseUrl: string,
    private readonly token: TokenSource,
  ) {
    this.client = createClient<paths>({ baseUrl });
    this.client.use({
      onRequest: async ({ request }) => {
        request.headers.set("Authorization", `Bearer ${await this.token()}`);
        return request;
      },
    });
  }

  async submit(spec: GenerationSpec, idempotencyKey: string): Promise<string> {
    const result = await this.call(() =>
      this.client.POST("/api/agentic/jobs", {
        body: spec,
        params: { header: { "Idempotency-Key": idempotencyKey } },
      }),
    );
    return result.jobId;
  }

  /** The job, or null when it has not changed since `etag` (304). */
  async status(jobId: string, etag: string | null = null): Promise<JobSnapshot | null> {
    const { data, error, response } = await this.send(() =>
      this.client.GET("/api/agentic/jobs/{jobId}", {
        params: { path: { jobId }, header: etag ? { "If-None-Match": etag } : {} },
      }),
    );
    if (response.status === 304) return null;
    if (!data) throw toApiError(response, error);
    return { job: data, etag: response.headers.get("ETag") };
  }

  async list(limit = 10): Promise<Job[]> {
    const result = await this.call(() => this.client.GET("/api/agentic/jobs", { params: { query: { limit } } }));
    return result.jobs;
  }

  async logs(jobId: string, after: number): Promise<{ logs: LogEntry[]; nextCursor: string | null }> {
    return this.call(() =>
      this.client.GET("/api/agentic/jobs/{jobId}/logs", {
        params: { path: { jobId }, query: { after, limit: 200 } },
      }),
    );
  }

  async download(jobId: string): Promise<SignedUrl> {
    return this.call(() => this.client.POST("/api/agentic/jobs/{jobId}/download", { params: { path: { jobId } } }));
  }

  async cancel(jobId: string): Promise<Job> {
    return this.call(() => this.client.POST("/api/agentic/jobs/{jobId}/cancel", { params: { path: { jobId } } }));
  }

  /**
   * The job's events stream. EventSource cannot send headers, so the token travels as `access_token`.
   * openapi-fetch does not read streams; the path is still checked against the generated contract.
   */
  async eventsUrl(jobId: string): Promise<string> {
    const path: keyof paths = "/api/agentic/jobs/{jobId}/events";
    const url = new URL(this.baseUrl + path.replace("{jobId}", encodeURIComponent(jobId)), location.href);
    url.searchParams.set("access_token", await this.token());
    return url.toString();
  }

  private async call<T>(request: () => Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    const { data, error, response } = await this.send(request);
    if (data === undefined) throw toApiError(response, error);
    return data;
  }

  private async send<R>(request: () => Promise<R>): Promise<R> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(0, "network", `Could not reach appgen at ${this.baseUrl || location.origin}.`);
    }
  }
}

/** An error answer as an ApiError; bodies that are not the API's error object still get a code. */
export function toApiError(response: Response, body: unknown): ApiError {
  const retryAfter = parseRetryAfter(response.headers.get("Retry-After"));
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
  if (typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string") {
    const { code, message, details } = error as { code: string; message?: string; details?: FieldError[] };
    return new ApiError(response.status, code, message ?? code, details ?? [], retryAfter);
  }
  return new ApiError(response.status, "http_" + response.status, response.statusText || "unexpected answer", [], retryAfter);
}

/** Retry-After as seconds: delta-seconds, or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.round((at - now) / 1000));
}
