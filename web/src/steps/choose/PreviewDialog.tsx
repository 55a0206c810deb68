// A candidate at full size in a modal dialog (Escape closes it), where it can also be chosen.
import { useEffect, useRef } from "react";
import type { Style } from "../../api/types";
import type { Candidate, DraftPage } from "../../lib/draft";
import { PreviewFrame } from "./PreviewFrame";

interface Props {
  page: DraftPage;
  candidate: Candidate;
  style?: Style;
  chosen: boolean;
  onChoose: () => void;
  onClose: () => void;
}

export function PreviewDialog({ page, candidate, style, chosen, onChoose, onClose }: Props) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const element = dialog.current;
    element?.showModal();
    return () => element?.close();
  }, []);
  const title = `${page.name}: ${candidate.label}`;
  return (
    <dialog ref={dialog} className="preview-dialog" aria-labelledby="preview-dialog-title" onClose={onClose}>
      <div className="dialog-head">
        <h2 id="preview-dialog-title">{title}</h2>
        <div className="actions">
          <button type="button" className="button-primary" onClick={onChoose} disabled={chosen}>
            {chosen ? "Chosen" : "Choose this design"}
          </button>
          <button type="button" className="button-secondary" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </div>
      </div>
      <PreviewFrame html={candidate.html} style={style} title={`Preview of ${title}`} mode="full" />
    </dialog>
  );
}
