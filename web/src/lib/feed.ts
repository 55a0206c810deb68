// What the job view knows about one job, fed by the events stream (or, when it fails, by polling): the
// latest job object and the tail of its log. A pure reducer, so the rules are tested without a browser.
import { isTerminal, type Job, type LogEntry } from "../api/types";
import type { ApiError } from "../api/client";

export const LOG_TAIL = 300;

export type Transport = "connecting" | "stream" | "polling" | "done";

export interface FeedState {
  job: Job | null;
  logs: LogEntry[];
  /** The highest log id seen: where polling the logs resumes. */
  lastLogId: number;
  transport: Transport;
  error: ApiError | null;
}

export type FeedEvent =
  | { type: "job"; job: Job }
  | { type: "logs"; entries: LogEntry[] }
  | { type: "transport"; transport: Transport }
  | { type: "error"; error: ApiError };

export const initialFeed: FeedState = { job: null, logs: [], lastLogId: 0, transport: "connecting", error: null };

export function feedReducer(state: FeedState, event: FeedEvent): FeedState {
  switch (event.type) {
    case "job": {
      // A job that ended never starts again: a late answer of a poll cannot take it back.
      if (state.job && isTerminal(state.job.status) && !isTerminal(event.job.status)) return state;
      const done = isTerminal(event.job.status);
      return { ...state, job: event.job, error: null, transport: done ? "done" : state.transport };
    }
    case "logs": {
      const fresh = event.entries.filter((entry) => entry.id > state.lastLogId);
      if (fresh.length === 0) return state;
      const logs = [...state.logs, ...fresh].sort((a, b) => a.id - b.id).slice(-LOG_TAIL);
      return { ...state, logs, lastLogId: Math.max(state.lastLogId, ...fresh.map((entry) => entry.id)) };
    }
    case "transport":
      return state.transport === "done" ? state : { ...state, transport: event.transport };
    case "error":
      return { ...state, error: event.error };
  }
}

/**
 * One message of the events stream as a feed event: `job` carries the job object, `log` one log line.
 * Anything else (an unknown event type, a body that is not what it should be) is skipped.
 */
export function streamMessage(type: string, data: string): FeedEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const record = value as Record<string, unknown>;
  if (type === "job" && typeof record.jobId === "string" && typeof record.status === "string") {
    return { type: "job", job: value as Job };
  }
  if (type === "log" && typeof record.id === "number" && typeof record.message === "string") {
    return { type: "logs", entries: [value as LogEntry] };
  }
  return null;
}

/**
 * What to do when the browser gave up on the stream (EventSource closed: the server refused it, or it
 * went away for good). A stream that delivered something before it failed is opened again with a fresh
 * token (the old one may have expired); one that failed straight away twice means no stream here, so the
 * view polls.
 */
export function afterStreamClosed(receivedSomething: boolean, failuresInARow: number): "reopen" | "poll" {
  return receivedSomething || failuresInARow < 2 ? "reopen" : "poll";
}
