// A refused request or a failure, in words: what happened, and what to do.
import { useEffect, useRef } from "react";
import type { Described } from "../lib/words";

export function ErrorNotice({ described, focus = false }: { described: Described; focus?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus, described]);
  return (
    <div className="notice notice-error" role="alert" tabIndex={-1} ref={ref}>
      <h2 className="notice-title">{described.title}</h2>
      <p>{described.text}</p>
      {described.items.length > 0 && (
        <ul>
          {described.items.map((item) => (
            <li key={item}>{item}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Problems found in the user's own input (a draft), as a list. */
export function ProblemList({ title, problems }: { title: string; problems: string[] }) {
  return <ErrorNotice described={{ title, text: "", items: problems }} focus />;
}
