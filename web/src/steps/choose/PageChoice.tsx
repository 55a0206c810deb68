// One page's candidates as a radio group: each a label with its thumbnail, exactly one can be chosen.
import type { Style } from "../../api/types";
import type { Candidate, DraftPage } from "../../lib/draft";
import { PreviewFrame } from "./PreviewFrame";

interface Props {
  page: DraftPage;
  style?: Style;
  chosen: string | undefined;
  missing: boolean;
  onChoose: (candidateId: string) => void;
  onView: (candidate: Candidate) => void;
}

export function PageChoice({ page, style, chosen, missing, onChoose, onView }: Props) {
  const errorId = `missing-${page.pageId}`;
  return (
    <fieldset
      className={`page-choice${missing ? " page-choice-missing" : ""}`}
      data-page={page.pageId}
      aria-describedby={missing ? errorId : undefined}
    >
      <legend>
        <span className="page-name">{page.name}</span> <code className="route">{page.route}</code>
      </legend>
      {missing && (
        <p id={errorId} className="field-error">
          Choose one of these {page.candidates.length} designs.
        </p>
      )}
      <div className="candidates">
        {page.candidates.map((candidate) => {
          const checked = chosen === candidate.id;
          const nameId = `candidate-${page.pageId}-${candidate.id}`;
          return (
            <div key={candidate.id} className={`candidate${checked ? " candidate-chosen" : ""}`}>
              <label className="candidate-label">
                <span className="candidate-head">
                  <input
                    type="radio"
                    name={`pick-${page.pageId}`}
                    value={candidate.id}
                    checked={checked}
                    onChange={() => onChoose(candidate.id)}
                    aria-labelledby={nameId}
                  />
                  <span className="candidate-name" id={nameId}>
                    {candidate.label}
                  </span>
                  {checked && <span className="chosen-mark">Chosen</span>}
                </span>
                <PreviewFrame html={candidate.html} style={style} title={`${page.name}: ${candidate.label}`} mode="thumb" />
              </label>
              <button
                type="button"
                className="button-quiet"
                onClick={() => onView(candidate)}
                aria-label={`View larger: ${page.name}, ${candidate.label}`}
              >
                View larger
              </button>
            </div>
          );
        })}
      </div>
    </fieldset>
  );
}
