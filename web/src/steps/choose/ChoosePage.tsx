// Step 1: one design per page. The picks live in the URL; "Review" explains what is still missing.
import { useRef, useState } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { newUuid } from "../../auth/session";
import { Steps } from "../../components/Steps";
import type { Candidate, DraftPage, ProjectDraft } from "../../lib/draft";
import { missingPages, pick, readSelection, selectionProblem, writeSelection } from "../../lib/selection";
import { DraftGate } from "../DraftGate";
import { useDraft } from "../useDraft";
import { PageChoice } from "./PageChoice";
import { PreviewDialog } from "./PreviewDialog";

export function ChoosePage() {
  const draft = useDraft();
  return <DraftGate draft={draft}>{(loaded) => <Choose draft={loaded} />}</DraftGate>;
}

function Choose({ draft }: { draft: ProjectDraft }) {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const [tried, setTried] = useState(false);
  const [viewing, setViewing] = useState<{ page: DraftPage; candidate: Candidate } | null>(null);
  const form = useRef<HTMLFormElement>(null);
  const selection = readSelection(params, draft);
  const problem = selectionProblem(draft, selection);

  function choose(pageId: string, candidateId: string) {
    setParams(writeSelection(params, pick(selection, pageId, candidateId)), { replace: true });
  }

  function review() {
    if (problem) {
      setTried(true);
      const first = missingPages(draft, selection)[0];
      form.current?.querySelector<HTMLInputElement>(`fieldset[data-page="${first?.pageId}"] input`)?.focus();
      return;
    }
    const next = new URLSearchParams(params);
    next.set("key", newUuid()); // the Idempotency-Key of this review's submit
    void navigate(`/review?${next}`);
  }

  return (
    <>
      <Steps current={1} />
      <h1>Choose one design per page</h1>
      <p className="lead">
        {draft.brief.title}: {draft.pages.length} pages. Each page needs exactly one design; appgen builds the app
        from the designs you choose.
      </p>
      <form
        ref={form}
        onSubmit={(event) => {
          event.preventDefault();
          review();
        }}
      >
        {draft.pages.map((page) => (
          <PageChoice
            key={page.pageId}
            page={page}
            style={draft.style}
            chosen={selection[page.pageId]}
            missing={tried && !selection[page.pageId]}
            onChoose={(candidateId) => choose(page.pageId, candidateId)}
            onView={(candidate) => setViewing({ page, candidate })}
          />
        ))}
        <div className="submit-bar submit-bar-sticky">
          <p id="choose-status" className={problem && tried ? "field-error" : "hint"} role="status">
            {problem ?? "Every page has its design. Next, review the notes and actions."}
          </p>
          {/* Never disabled: pressing it while a page lacks its design says which and moves there. */}
          <button type="submit" className={`button-primary${problem ? " button-waiting" : ""}`} aria-describedby="choose-status">
            Review
          </button>
        </div>
      </form>
      {viewing && (
        <PreviewDialog
          page={viewing.page}
          candidate={viewing.candidate}
          style={draft.style}
          chosen={selection[viewing.page.pageId] === viewing.candidate.id}
          onChoose={() => choose(viewing.page.pageId, viewing.candidate.id)}
          onClose={() => setViewing(null)}
        />
      )}
    </>
  );
}
