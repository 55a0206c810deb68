// Where a draft comes from: a shipped example (examples/projects/*.json, bundled as static files) or one
// the user pasted or uploaded (kept in this tab's sessionStorage, so a reload of the choose or review step
// still finds it). The URL names it: `draft=example:<name>` or `draft=pasted`.
import { parseDraftText, type DraftResult } from "./draft";

const exampleUrls = import.meta.glob<string>("../../../examples/projects/*.json", {
  query: "?url",
  import: "default",
  eager: true,
});

export interface Example {
  name: string;
  ref: string;
  url: string;
}

export const examples: Example[] = Object.entries(exampleUrls)
  .map(([path, url]) => {
    const name = path.replace(/^.*\//, "").replace(/\.json$/, "");
    return { name, ref: `example:${name}`, url };
  })
  .sort((a, b) => a.name.localeCompare(b.name));

export const PASTED = "pasted";
const PASTED_KEY = "appgen.draft.pasted";

export function keepPastedDraft(text: string): void {
  sessionStorage.setItem(PASTED_KEY, text);
}

const cache = new Map<string, Promise<DraftResult>>();

/** The draft a `draft=` param names, read and checked. */
export function loadDraft(ref: string): Promise<DraftResult> {
  if (ref === PASTED) {
    const text = sessionStorage.getItem(PASTED_KEY);
    return Promise.resolve(
      text === null
        ? { ok: false, errors: ["The pasted draft is gone: it is kept only in the tab it was pasted in. Paste it again."] }
        : parseDraftText(text),
    );
  }
  let result = cache.get(ref);
  if (!result) {
    result = fetchExample(ref);
    cache.set(ref, result);
    result.then((r) => r.ok || cache.delete(ref), () => cache.delete(ref));
  }
  return result;
}

async function fetchExample(ref: string): Promise<DraftResult> {
  const example = examples.find((e) => e.ref === ref);
  if (!example) return { ok: false, errors: [`There is no example draft “${ref.replace(/^example:/, "")}”.`] };
  try {
    const response = await fetch(example.url);
    if (!response.ok) return { ok: false, errors: [`The example could not be loaded (HTTP ${response.status}).`] };
    return parseDraftText(await response.text());
  } catch {
    return { ok: false, errors: ["The example could not be loaded: the server is not reachable."] };
  }
}
