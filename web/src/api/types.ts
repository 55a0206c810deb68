// The API's types, all taken from the client generated from openapi.yaml (src/api/schema.d.ts).
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Job = Schemas["Job"];
export type JobStatus = Schemas["JobStatus"];
export type Problem = Schemas["Problem"];
export type FieldError = Schemas["FieldError"];
export type GenerationSpec = Schemas["GenerationSpec"];
export type SpecPage = Schemas["Page"];
export type Brief = Schemas["Brief"];
export type Style = Schemas["Style"];
export type LogEntry = Schemas["LogPage"]["logs"][number];
export type SignedUrl = Schemas["SignedUrl"];

/** Statuses after which a job never changes again (the events stream ends there). */
export const TERMINAL_STATUSES: readonly JobStatus[] = [
  "completed",
  "completed_with_warnings",
  "failed",
  "cancelled",
  "expired",
];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Statuses in which the owner may still cancel the job. */
export function isCancellable(status: JobStatus): boolean {
  return status === "queued" || status === "running" || status === "fixing";
}
