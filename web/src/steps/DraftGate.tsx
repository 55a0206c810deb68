// Shows the step once its draft is loaded, or why it cannot be.
import type { ReactNode } from "react";
import { Link } from "react-router";
import { ProblemList } from "../components/ErrorNotice";
import type { ProjectDraft } from "../lib/draft";
import type { DraftState } from "./useDraft";

export function DraftGate({ draft, children }: { draft: DraftState; children: (draft: ProjectDraft) => ReactNode }) {
  if (draft.state === "loading") return <p role="status">Loading the draft…</p>;
  if (!draft.ok) {
    return (
      <>
        <h1>This draft cannot be used</h1>
        <ProblemList title="What is wrong" problems={draft.errors} />
        <p>
          <Link to="/">Load another draft</Link>
        </p>
      </>
    );
  }
  return children(draft.draft);
}
