// What the review shows: the brief, the style, and each page with its chosen design.
import type { Style } from "../../api/types";
import type { DraftPage, ProjectDraft } from "../../lib/draft";
import { PreviewFrame } from "../choose/PreviewFrame";

export function BriefSummary({ draft }: { draft: ProjectDraft }) {
  const { brief } = draft;
  return (
    <section className="card" aria-labelledby="brief-title">
      <h2 id="brief-title">Brief</h2>
      <dl className="facts">
        <dt>Title</dt>
        <dd>{brief.title}</dd>
        <Fact term="Details" value={brief.details} />
        <Fact term="Audience" value={brief.audience} />
        <Fact term="Goals" value={brief.goals} />
        <Fact term="Notes for every page" value={draft.globalNotes} />
      </dl>
    </section>
  );
}

export function StyleSummary({ draft }: { draft: ProjectDraft }) {
  const style = draft.style;
  if (!style) return null;
  return (
    <section className="card" aria-labelledby="style-title">
      <h2 id="style-title">Style{style.name ? `: ${style.name}` : ""}</h2>
      {(style.palette ?? []).length > 0 && (
        <>
          <h3>Palette</h3>
          <ul className="palette">
            {(style.palette ?? []).map((color, index) => {
              const name = typeof color === "string" ? color : color.name;
              const value = typeof color === "string" ? color : color.value;
              return (
                <li key={index}>
                  <span className="swatch" style={{ background: value }} aria-hidden="true" />
                  {name}
                  {name !== value && <code>{value}</code>}
                </li>
              );
            })}
          </ul>
        </>
      )}
      {(style.typography ?? []).length > 0 && (
        <>
          <h3>Typography</h3>
          <ul className="plain-list">
            {(style.typography ?? []).map((font, index) => (
              <li key={index}>{typeof font === "string" ? font : `${font.role}: ${font.family}`}</li>
            ))}
          </ul>
        </>
      )}
      {style.notes && <p>{style.notes}</p>}
    </section>
  );
}

export function PageSummary({ page, style, candidateId }: { page: DraftPage; style?: Style; candidateId: string }) {
  const candidate = page.candidates.find((c) => c.id === candidateId);
  if (!candidate) return null;
  const actions = page.actions ?? [];
  return (
    <li className="page-summary">
      <div className="page-summary-text">
        <h3>
          {page.name} <code className="route">{page.route}</code>
        </h3>
        <dl className="facts">
          <dt>Design</dt>
          <dd>{candidate.label}</dd>
          <dt>Actions</dt>
          <dd>
            {actions.length ? (
              <ul className="chips">
                {actions.map((action) => (
                  <li key={action}>
                    <code>{action}</code>
                  </li>
                ))}
              </ul>
            ) : (
              "None"
            )}
          </dd>
          <dt>Notes</dt>
          <dd>{page.notes || "None"}</dd>
        </dl>
      </div>
      <PreviewFrame html={candidate.html} style={style} title={`${page.name}: ${candidate.label}`} mode="thumb" />
    </li>
  );
}

function Fact({ term, value }: { term: string; value: string | undefined }) {
  if (!value) return null;
  return (
    <>
      <dt>{term}</dt>
      <dd>{value}</dd>
    </>
  );
}
