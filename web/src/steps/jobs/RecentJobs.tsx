// The user's recent jobs, newest first, each linking to its job view.
import { useEffect, useState } from "react";
import { Link } from "react-router";
import { ApiError } from "../../api/client";
import type { Job } from "../../api/types";
import { useApp } from "../../app/context";
import { ErrorNotice } from "../../components/ErrorNotice";
import { recallJob } from "../../lib/history";
import { ago, describeApiError, statusLabel } from "../../lib/words";

export function RecentJobs({ limit, headingLevel = 2 }: { limit: number; headingLevel?: 1 | 2 }) {
  const { api } = useApp();
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  useEffect(() => {
    let live = true;
    api.list(limit).then(
      (list) => live && setJobs(list),
      (caught: unknown) => live && setError(caught instanceof ApiError ? caught : new ApiError(0, "network", String(caught))),
    );
    return () => {
      live = false;
    };
  }, [api, limit]);

  const Heading = headingLevel === 1 ? "h1" : "h2";
  const now = new Date();
  return (
    <section className="card" aria-labelledby="recent-jobs-title">
      <Heading id="recent-jobs-title">Your recent jobs</Heading>
      {error ? (
        <ErrorNotice described={describeApiError(error)} />
      ) : jobs === null ? (
        <p role="status">Loading your jobs…</p>
      ) : jobs.length === 0 ? (
        <p>No jobs yet. Load a draft to start one.</p>
      ) : (
        <ul className="job-list">
          {jobs.map((job) => (
            <li key={job.jobId} className="job-item">
              <Link to={`/jobs/${job.jobId}`}>{recallJob(job.jobId)?.title ?? `Project ${job.projectId.slice(0, 8)}`}</Link>
              <span className={`badge badge-${job.status}`}>{statusLabel(job.status)}</span>
              <span className="hint">
                started <time dateTime={job.createdAt}>{ago(job.createdAt, now)}</time>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
