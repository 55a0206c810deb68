// Step 2: the brief, the style, and per page its chosen design, actions and notes; "Generate" sends the
// generation_spec with this review's Idempotency-Key (in the URL: a retried or reloaded submit is the
// same job) and opens the job's own page.
import { useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "../../api/client";
import { useApp } from "../../app/context";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Steps } from "../../components/Steps";
import type { ProjectDraft } from "../../lib/draft";
import { rememberJob } from "../../lib/history";
import { readSelection, selectionProblem } from "../../lib/selection";
import { buildSpec } from "../../lib/spec";
import { describeApiError } from "../../lib/words";
import { DraftGate } from "../DraftGate";
import { useDraft } from "../useDraft";
import { BriefSummary, PageSummary, StyleSummary } from "./Summaries";

export function ReviewPage() {
  const draft = useDraft();
  return <DraftGate draft={draft}>{(loaded) => <Review draft={loaded} />}</DraftGate>;
}

function Review({ draft }: { draft: ProjectDraft }) {
  const { api } = useApp();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const selection = readSelection(params, draft);
  const problem = selectionProblem(draft, selection);
  const key = params.get("key");
  const back = new URLSearchParams(params);
  back.delete("key");
  const chooseUrl = `/choose?${back}`;

  useEffect(() => {
    if (problem || !key) void navigate(chooseUrl, { replace: true }); // nothing to review yet
  }, [problem, key, navigate, chooseUrl]);
  if (problem || !key) return null;
  const idempotencyKey = key;

  async function generate() {
    setBusy(true);
    setError(null);
    try {
      const jobId = await api.submit(buildSpec(draft, selection), idempotencyKey);
      rememberJob(jobId, { title: draft.brief.title, choose: back.toString() });
      void navigate(`/jobs/${jobId}`);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, "network", String(caught)));
      setBusy(false);
    }
  }

  return (
    <>
      <Steps current={2} />
      <h1>Review and generate</h1>
      <p className="lead">Check what appgen will build from. Each page is built from the design you chose.</p>
      <BriefSummary draft={draft} />
      <StyleSummary draft={draft} />
      <section className="card" aria-labelledby="pages-title">
        <h2 id="pages-title">Pages, their actions and notes</h2>
        <ul className="page-summaries">
          {draft.pages.map((page) => (
            <PageSummary key={page.pageId} page={page} style={draft.style} candidateId={selection[page.pageId] ?? ""} />
          ))}
        </ul>
      </section>
      <div className="submit-bar">
        <p id="generate-hint" className="hint">
          Generating uses one of your daily generations and takes a few minutes.
        </p>
        <div className="actions">
          <Link to={chooseUrl} className="button-secondary">
            Change designs
          </Link>
          <button type="button" className="button-primary" onClick={() => void generate()} disabled={busy} aria-describedby="generate-hint">
            {busy ? "Starting…" : "Generate app"}
          </button>
        </div>
      </div>
      {error && <ErrorNotice described={describeApiError(error, { draft })} focus />}
    </>
  );
}
