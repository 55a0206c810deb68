// What this browser remembers about the jobs it submitted: the app's title and the choose step's URL,
// so the job view and the recent jobs can name a job and offer the way back to its draft.
export interface JobOrigin {
  title: string;
  /** The query string of the choose step that led to the job (draft and picks). */
  choose: string;
}

const KEY = "appgen.jobs";
const KEEP = 50;

function all(): Record<string, JobOrigin> {
  try {
    return (JSON.parse(localStorage.getItem(KEY) ?? "{}") as Record<string, JobOrigin>) ?? {};
  } catch {
    return {};
  }
}

export function rememberJob(jobId: string, origin: JobOrigin): void {
  const entries = Object.entries({ ...all(), [jobId]: origin }).slice(-KEEP);
  localStorage.setItem(KEY, JSON.stringify(Object.fromEntries(entries)));
}

export function recallJob(jobId: string): JobOrigin | null {
  return all()[jobId] ?? null;
}
