// The draft the URL names (`draft=`), for the choose and review steps.
import { useEffect, useState } from "react";
import { useSearchParams } from "react-router";
import type { DraftResult } from "../lib/draft";
import { loadDraft } from "../lib/drafts";

export type DraftState = { state: "loading" } | ({ state: "loaded" } & DraftResult);

export function useDraft(): DraftState {
  const [params] = useSearchParams();
  const ref = params.get("draft");
  const [loaded, setLoaded] = useState<{ ref: string; result: DraftResult } | null>(null);

  useEffect(() => {
    if (!ref) return;
    let live = true;
    void loadDraft(ref).then((result) => live && setLoaded({ ref, result }));
    return () => {
      live = false;
    };
  }, [ref]);

  if (!ref) return { state: "loaded", ok: false, errors: ["No draft is named in this address. Load one first."] };
  if (loaded?.ref !== ref) return { state: "loading" };
  return { state: "loaded", ...loaded.result };
}
