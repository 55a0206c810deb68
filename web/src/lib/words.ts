// Errors, job failures and durations in words, each with what the user can do about it.
import type { ApiError } from "../api/client";
import type { Problem } from "../api/types";
import type { ProjectDraft } from "./draft";
import { describeFieldPath } from "./spec";

export interface Described {
  title: string;
  text: string;
  /** Field problems of a 400, one line each. */
  items: string[];
}

export interface DescribeContext {
  /** The draft of the spec that was sent, to name pages in field paths. */
  draft?: ProjectDraft | null;
  /** Now, for "the next slot opens at …". */
  now?: Date;
}

export function describeApiError(error: ApiError, context: DescribeContext = {}): Described {
  const now = context.now ?? new Date();
  const wait = error.retryAfter;
  switch (error.code) {
    case "quota_exceeded": {
      const when =
        wait !== null
          ? `The next slot opens ${clockTime(new Date(now.getTime() + wait * 1000), now)} (in ${duration(wait)}).`
          : "A slot opens 24 hours after your oldest counted job.";
      return {
        title: "Daily generation limit reached",
        // The API's message says the same with the seconds; its first clause names the limit.
        text:
          `You have used every generation of the last 24 hours (${error.message.split(";")[0]}). ${when} ` +
          "Jobs cancelled before they started and jobs that failed for appgen's own reasons do not count.",
        items: [],
      };
    }
    case "rate_limited":
      return {
        title: "Too many requests",
        text: `appgen asked this browser to slow down. Try again in ${duration(wait ?? 60)}.`,
        items: [],
      };
    case "invalid_spec":
      return {
        title: "The design was refused",
        text: "appgen cannot build from this draft as it is. Fix these fields in the draft, then load it again:",
        items: error.details.map((d) => `${describeFieldPath(d.path, context.draft ?? null)}: ${d.message}`),
      };
    case "invalid_request":
      return {
        title: "The request was refused",
        text: `${error.message}.`,
        items: error.details.map((d) => `${d.path}: ${d.message}`),
      };
    case "missing_token":
    case "invalid_token":
    case "token_expired":
      return { title: "Please sign in again", text: "Your session has ended or is not valid here. Sign in and try again.", items: [] };
    case "anonymous_user":
      return { title: "Sign in with an account", text: "Guest sessions may follow jobs but not start them.", items: [] };
    case "not_found":
      return { title: "Job not found", text: "There is no such job, or it belongs to another account.", items: [] };
    case "idempotency_conflict":
      return {
        title: "This submission was already used",
        text: "The same submission key went with a different selection. Go back to the review and submit again.",
        items: [],
      };
    case "not_ready":
      return { title: "Not ready yet", text: "The ZIP is not ready; wait until the job has finished.", items: [] };
    case "expired":
      return {
        title: "This ZIP was deleted",
        text: "appgen keeps the latest 5 ZIPs per project and this one is older. Generate the app again to get a new one.",
        items: [],
      };
    case "illegal_transition":
      return { title: "The job has already finished", text: "There is nothing left to cancel.", items: [] };
    case "payload_too_large":
      return {
        title: "The design is too large",
        text: "The request is over 3 MiB. Choose lighter previews (at most 300 kB each, 2 MB in all).",
        items: [],
      };
    case "unavailable":
      return {
        title: "appgen is briefly unavailable",
        text: `A service it depends on is down; nothing was half-done. Try again in ${duration(wait ?? 30)}.`,
        items: [],
      };
    case "network":
      return { title: "No connection", text: `${error.message} Check your connection and try again.`, items: [] };
    default:
      return {
        title: "Something went wrong",
        text: `appgen answered ${error.status || "nothing"} (${error.code}): ${error.message}. Try again in a moment.`,
        items: [],
      };
  }
}

// The job error codes of the README's table, each with what the owner can do.
const JOB_ERRORS: Record<string, string> = {
  internal: "appgen hit an internal error. This job does not count against your quota; try again.",
  timeout: "The job ran out of time (45 minutes). It does not count against your quota; try again, maybe with fewer pages.",
  cancelled: "The job was cancelled.",
  dependency_unavailable: "A service appgen needs was unavailable. It does not count against your quota; try again later.",
  storage_failed: "The ZIP could not be stored. It does not count against your quota; try again.",
  storage_refused: "The storage refused the ZIP. It does not count against your quota; try again later.",
  unsafe_archive: "A workspace snapshot held a path leaving the workspace, so the job stopped.",
  agent_auth: "The Gemini API refused appgen's key. It does not count against your quota; tell the operator.",
  agent_config: "appgen's Gemini CLI configuration is not valid. It does not count against your quota; tell the operator.",
  agent_quota: "The Gemini API quota is used up. It does not count against your quota; try again later.",
  model_unavailable: "The Gemini API was unavailable. It does not count against your quota; try again later.",
  model_rejected: "The Gemini API rejected the request, often because of the previews' content. Simplify them and try again.",
  agent_input: "The Gemini CLI rejected its input. Simplify the previews or notes and try again.",
  agent_tool_error: "A tool call of an agent failed. Try again; if it repeats, simplify the page.",
  agent_untrusted_folder: "The Gemini CLI did not trust the workspace.",
  agent_failed: "The Gemini CLI failed. Try again.",
  command_timeout: "npm install, build or lint did not finish in time. Try again with fewer or simpler pages.",
  build_failed: "The app still failed to build after the fix rounds. Simplify the pages or their notes and try again.",
  guardrail_violation: "The generated app broke appgen's rules (a database layer or a secret).",
  missing_files: "The generated app lacked a required file.",
  artifact_too_large: "The ZIP was larger than 350 MB.",
  spec_unreadable: "The worker could not read this job's design. It does not count against your quota; try again.",
};

export function describeJobError(error: Problem | null): string {
  if (!error) return "The job failed without saying why.";
  const advice = JOB_ERRORS[error.code];
  return advice ? `${advice} (${error.code}: ${error.message})` : `${error.message} (${error.code})`;
}

/** 3725 → "1 h 2 min", 59 → "59 s", 86399 → "23 h 59 min". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return s % 60 && minutes < 10 ? `${minutes} min ${s % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** "at 14:05" today, "tomorrow at 14:05", or "on <date> at 14:05". */
export function clockTime(at: Date, now: Date): string {
  const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === now.toDateString()) return `at ${time}`;
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  if (at.toDateString() === tomorrow.toDateString()) return `tomorrow at ${time}`;
  return `on ${at.toLocaleDateString()} at ${time}`;
}

/** Seconds a job has run (or waited): from its start (or creation) to its end (or now). */
export function elapsedSeconds(job: { createdAt: string; startedAt: string | null; finishedAt: string | null }, now: Date): number {
  const from = Date.parse(job.startedAt ?? job.createdAt);
  const to = job.finishedAt ? Date.parse(job.finishedAt) : now.getTime();
  return Math.max(0, (to - from) / 1000);
}

const STATUS_LABELS: Record<string, string> = {
  queued: "Waiting to start",
  running: "Running",
  fixing: "Fixing build errors",
  completed: "Ready",
  completed_with_warnings: "Ready, with warnings",
  failed: "Failed",
  cancelled: "Cancelled",
  expired: "Expired (ZIP deleted)",
};

export function statusLabel(status: string): string {
  return STATUS_LABELS[status] ?? status;
}

/** The pipeline's stages in order, as the job view lists them (an unknown stage is shown as it is). */
export const STAGES: readonly { id: string; label: string }[] = [
  { id: "queued", label: "Queued" },
  { id: "scaffold", label: "Scaffold" },
  { id: "pages", label: "Page agents" },
  { id: "integrate", label: "Integration" },
  { id: "validate", label: "Build and lint" },
  { id: "fix", label: "Fix rounds" },
  { id: "package", label: "Package" },
  { id: "done", label: "Done" },
];

export function stageLabel(stage: string): string {
  return STAGES.find((s) => s.id === stage)?.label ?? stage;
}

/** 125 → "2:05", 3725 → "1:02:05": a running clock. */
export function stopwatch(seconds: number): string {
  const s = Math.floor(Math.max(0, seconds));
  const pad = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** "just now", "5 min ago", "3 h ago", or the date. */
export function ago(iso: string, now: Date): string {
  const seconds = (now.getTime() - Date.parse(iso)) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}
