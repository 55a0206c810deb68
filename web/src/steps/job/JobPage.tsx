// Steps 3 and 4 at the job's own URL (/build/jobs/<jobId>): live progress while it runs, then only
// "Download ZIP" — or, when it failed, why and the way back. A reload resumes from the stream.
import { Link, useParams } from "react-router";
import type { Job } from "../../api/types";
import { useApp } from "../../app/context";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Steps } from "../../components/Steps";
import { recallJob } from "../../lib/history";
import { describeApiError, describeJobError, statusLabel } from "../../lib/words";
import { CancelButton } from "./CancelButton";
import { DownloadButton } from "./DownloadButton";
import { LogTail } from "./LogTail";
import { Progress } from "./Progress";
import { useJobFeed } from "./useJobFeed";
import { Warnings } from "./Warnings";

export function JobPage() {
  const { jobId = "" } = useParams();
  return <JobView key={jobId} jobId={jobId} />;
}

function JobView({ jobId }: { jobId: string }) {
  const { api } = useApp();
  const [feed, dispatch] = useJobFeed(api, jobId);
  const origin = recallJob(jobId);
  const job = feed.job;

  if (!job) {
    return (
      <>
        <Steps current={3} />
        <h1>{origin?.title ?? "Your job"}</h1>
        {feed.error ? <ErrorNotice described={describeApiError(feed.error)} focus /> : <p role="status">Connecting to the job…</p>}
        <BackLinks chooseQuery={origin?.choose} />
      </>
    );
  }

  const done = job.status === "completed" || job.status === "completed_with_warnings";
  const ended = done || ["failed", "cancelled", "expired"].includes(job.status);
  return (
    <>
      <Steps current={done ? 4 : 3} />
      <h1>{origin?.title ?? `Project ${job.projectId.slice(0, 8)}`}</h1>
      <p className="job-status" role="status">
        <span className={`badge badge-${job.status}`}>{statusLabel(job.status)}</span>{" "}
        <Transport transport={feed.transport} />
      </p>
      {feed.error && !ended && <ErrorNotice described={describeApiError(feed.error)} />}
      {done ? (
        <Done job={job} />
      ) : ended ? (
        <Ended job={job} chooseQuery={origin?.choose} />
      ) : (
        <>
          <Progress job={job} />
          <CancelButton jobId={job.jobId} status={job.status} onCancelled={(next) => dispatch({ type: "job", job: next })} />
        </>
      )}
      <LogTail logs={feed.logs} />
    </>
  );
}

function Transport({ transport }: { transport: string }) {
  if (transport === "stream") return <span className="hint">· live</span>;
  if (transport === "polling") return <span className="hint">· live updates unavailable, checking every 2 s</span>;
  if (transport === "connecting") return <span className="hint">· reconnecting…</span>;
  return null;
}

function Done({ job }: { job: Job }) {
  return (
    <section className="card done" aria-labelledby="done-title">
      <h2 id="done-title">Your app is ready</h2>
      {job.artifact && <p className="hint">A ZIP of {(job.artifact.sizeBytes / 1024).toFixed(0)} KB with the whole Next.js app.</p>}
      <Warnings job={job} />
      <DownloadButton jobId={job.jobId} />
    </section>
  );
}

function Ended({ job, chooseQuery }: { job: Job; chooseQuery?: string }) {
  const text =
    job.status === "cancelled"
      ? "You cancelled this job."
      : job.status === "expired"
        ? "This job's ZIP was deleted: appgen keeps the latest 5 per project. Generate the app again to get a new one."
        : describeJobError(job.error);
  return (
    <section className="card" aria-labelledby="ended-title">
      <h2 id="ended-title">{job.status === "failed" ? "The job failed" : statusLabel(job.status)}</h2>
      <p>{text}</p>
      <Warnings job={job} />
      <BackLinks chooseQuery={chooseQuery} />
    </section>
  );
}

function BackLinks({ chooseQuery }: { chooseQuery?: string }) {
  return (
    <p className="actions">
      {chooseQuery && (
        <Link to={`/choose?${chooseQuery}`} className="button-secondary">
          Back to your designs
        </Link>
      )}
      <Link to="/" className="button-secondary">
        Start a new build
      </Link>
    </p>
  );
}
