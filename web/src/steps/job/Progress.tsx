// Where the job is: overall progress, the stage among the pipeline's, pages done, fix round, warnings and
// the time it has run.
import { useEffect, useState } from "react";
import type { Job } from "../../api/types";
import { elapsedSeconds, STAGES, stageLabel, stopwatch } from "../../lib/words";
import { Warnings } from "./Warnings";

export function Progress({ job }: { job: Job }) {
  const now = useNow(1000);
  const { progress } = job;
  const known = STAGES.some((stage) => stage.id === job.stage);
  const current = STAGES.findIndex((stage) => stage.id === job.stage);
  return (
    <section className="card" aria-labelledby="progress-title">
      <h2 id="progress-title">Progress</h2>
      <div className="progress-row">
        <progress id="job-progress" max={100} value={progress.percent} aria-labelledby="progress-label" />
        <span id="progress-label">{progress.percent}% done</span>
      </div>
      <dl className="facts facts-inline">
        <dt>Stage</dt>
        <dd data-testid="stage">{stageLabel(job.stage)}</dd>
        <dt>Pages</dt>
        <dd data-testid="pages">
          {progress.pagesDone} of {progress.pagesTotal} done
        </dd>
        <dt>Fix round</dt>
        <dd data-testid="fix-round">{progress.fixRound ? `${progress.fixRound} of ${progress.maxFixRounds}` : "none needed so far"}</dd>
        <dt>{job.startedAt ? "Running for" : "Waiting for"}</dt>
        <dd data-testid="elapsed">
          <time>{stopwatch(elapsedSeconds(job, now))}</time>
        </dd>
      </dl>
      {known && (
        <ol className="stages" aria-label="Stages">
          {STAGES.map((stage, index) => (
            <li
              key={stage.id}
              className={index < current ? "stage-done" : index === current ? "stage-current" : "stage-todo"}
              aria-current={index === current ? "step" : undefined}
            >
              {stage.label}
            </li>
          ))}
        </ol>
      )}
      <Warnings job={job} />
    </section>
  );
}

function useNow(everyMs: number): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
