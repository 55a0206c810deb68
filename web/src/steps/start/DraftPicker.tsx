// Loads a draft: a shipped example, or JSON pasted or uploaded, checked before the choose step opens.
import { useEffect, useId, useRef, useState, type ChangeEvent, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { ProblemList } from "../../components/ErrorNotice";
import { parseDraftText, type ProjectDraft } from "../../lib/draft";
import { examples, keepPastedDraft, loadDraft, PASTED } from "../../lib/drafts";

export function DraftPicker() {
  const navigate = useNavigate();
  const [text, setText] = useState("");
  const [problems, setProblems] = useState<string[]>([]);
  const textId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const hintId = useId();

  function applyDraft(raw: string) {
    const result = parseDraftText(raw);
    if (!result.ok) {
      setProblems(result.errors);
      return;
    }
    setProblems([]);
    keepPastedDraft(raw);
    void navigate(`/choose?draft=${PASTED}`);
  }

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    const raw = await file.text();
    setText(raw);
    applyDraft(raw);
  }

  return (
    <section className="card" aria-labelledby="draft-title">
      <h2 id="draft-title">Load a project draft</h2>
      <p>A draft holds the brief, the style, the notes and, for each page, the candidate previews to choose from.</p>
      <h3>Examples</h3>
      <ul className="example-list">
        {examples.map((example) => (
          <ExampleItem key={example.ref} example={example} onUse={() => void navigate(`/choose?draft=${encodeURIComponent(example.ref)}`)} />
        ))}
      </ul>
      <h3>Your own draft</h3>
      <form
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          applyDraft(text);
        }}
      >
        <div className="field">
          <label htmlFor={textId}>Paste a draft (JSON)</label>
          <textarea
            id={textId}
            rows={6}
            value={text}
            onChange={(event) => setText(event.target.value)}
            aria-describedby={hintId}
            spellCheck={false}
          />
          <p id={hintId} className="hint">
            The same shape as examples/projects/*.json: projectId, brief, style, globalNotes and pages, each page
            with its candidates (id, label, html).
          </p>
        </div>
        <div className="actions">
          <button type="submit" className="button-primary">
            Use this draft
          </button>
          <button type="button" className="button-secondary" onClick={() => fileInput.current?.click()}>
            Upload a draft file…
          </button>
          <input ref={fileInput} type="file" accept="application/json,.json" hidden onChange={(e) => void upload(e)} />
        </div>
      </form>
      {problems.length > 0 && <ProblemList title="This draft cannot be used" problems={problems} />}
    </section>
  );
}

function ExampleItem({ example, onUse }: { example: (typeof examples)[number]; onUse: () => void }) {
  const [draft, setDraft] = useState<ProjectDraft | null>(null);
  useEffect(() => {
    let live = true;
    void loadDraft(example.ref).then((result) => live && result.ok && setDraft(result.draft));
    return () => {
      live = false;
    };
  }, [example.ref]);
  const title = draft?.brief.title ?? example.name;
  return (
    <li className="example">
      <div>
        <strong className="example-title">{title}</strong>
        {draft && (
          <span className="hint">
            {" "}
            · {draft.pages.length} pages, {Math.max(...draft.pages.map((p) => p.candidates.length))} designs each
          </span>
        )}
      </div>
      <button type="button" className="button-secondary" onClick={onUse} aria-label={`Use this example: ${title}`}>
        Use this example
      </button>
    </li>
  );
}
