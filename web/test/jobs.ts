// A job object as the API returns it, for tests.
import type { Job, LogEntry } from "../src/api/types";

export function job(overrides: Partial<Job> = {}): Job {
  return {
    jobId: "11111111-1111-4111-8111-111111111111",
    projectId: "3f6c2a9e-8b41-4d7a-9c55-0e2b7f1d4a63",
    status: "running",
    stage: "pages",
    progress: { percent: 40, pagesDone: 1, pagesTotal: 4, fixRound: 0, maxFixRounds: 4 },
    warnings: [],
    error: null,
    createdAt: "2026-01-01T10:00:00Z",
    startedAt: "2026-01-01T10:00:02Z",
    finishedAt: null,
    artifact: null,
    fidelity: [],
    ...overrides,
  };
}

export function log(id: number, message = `line ${id}`): LogEntry {
  return { id, at: "2026-01-01T10:00:03Z", level: "info", stage: "pages", message };
}
