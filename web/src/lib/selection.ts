// Which candidate the user picked on each page. The selection lives in the URL (`pick.<pageId>=<id>`), so
// a reload or a shared link keeps it; this module is the one place that reads and writes those params.
import type { DraftPage, ProjectDraft } from "./draft";

export type Selection = Readonly<Record<string, string>>;

const PREFIX = "pick.";

/** The picks in `params` that name a page and a candidate of this draft (anything else is ignored). */
export function readSelection(params: URLSearchParams, draft: ProjectDraft): Selection {
  const selection: Record<string, string> = {};
  for (const page of draft.pages) {
    const picked = params.get(PREFIX + page.pageId);
    if (picked !== null && page.candidates.some((c) => c.id === picked)) selection[page.pageId] = picked;
  }
  return selection;
}

/** `params` with the picks replaced by `selection` (other params, such as the draft, are kept). */
export function writeSelection(params: URLSearchParams, selection: Selection): URLSearchParams {
  const next = new URLSearchParams();
  for (const [key, value] of params) if (!key.startsWith(PREFIX)) next.append(key, value);
  for (const [pageId, candidateId] of Object.entries(selection)) next.set(PREFIX + pageId, candidateId);
  return next;
}

/** Picking a candidate replaces the page's earlier pick: exactly one per page. */
export function pick(selection: Selection, pageId: string, candidateId: string): Selection {
  return { ...selection, [pageId]: candidateId };
}

/** Pages without a pick, in the draft's order. */
export function missingPages(draft: ProjectDraft, selection: Selection): DraftPage[] {
  return draft.pages.filter((page) => !page.candidates.some((c) => c.id === selection[page.pageId]));
}

/** What stops the user from going on, in words, or null when every page has its pick. */
export function selectionProblem(draft: ProjectDraft, selection: Selection): string | null {
  const missing = missingPages(draft, selection);
  if (missing.length === 0) return null;
  const names = listInWords(missing.map((page) => page.name));
  return missing.length === 1
    ? `Choose a design for the ${names} page to continue.`
    : `Choose a design for ${missing.length} more pages to continue: ${names}.`;
}

/** "A", "A and B", "A, B and C". */
export function listInWords(items: string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
