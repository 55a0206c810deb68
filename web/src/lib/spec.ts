// The generation_spec sent to `POST /api/agentic/jobs`: the draft with each page's chosen candidate as
// its selectedPreviewHtml, shaped exactly as openapi.yaml's GenerationSpec (no extra keys: the schema
// refuses them).
import type { GenerationSpec } from "../api/types";
import type { ProjectDraft } from "./draft";
import { selectionProblem, type Selection } from "./selection";

export function buildSpec(draft: ProjectDraft, selection: Selection): GenerationSpec {
  const problem = selectionProblem(draft, selection);
  if (problem) throw new Error(problem);
  return {
    projectId: draft.projectId,
    brief: { ...draft.brief },
    style: draft.style && { ...draft.style },
    globalNotes: draft.globalNotes,
    pages: draft.pages.map((page) => {
      const chosen = page.candidates.find((c) => c.id === selection[page.pageId]);
      return {
        pageId: page.pageId,
        route: page.route,
        name: page.name,
        treeNode: page.treeNode ?? {},
        selectedPreviewHtml: chosen?.html ?? "",
        actions: [...(page.actions ?? [])],
        notes: page.notes,
      };
    }),
  };
}

/** A field path of the API's 400 answer (`pages[1].route`) in words, with the page's name. */
export function describeFieldPath(path: string, draft: ProjectDraft | null): string {
  const match = /^pages\[(\d+)\](?:\.(.+))?$/.exec(path);
  if (!match) return path;
  const index = Number(match[1]);
  const page = draft?.pages[index];
  const where = page ? `Page ${index + 1} (“${page.name}”)` : `Page ${index + 1}`;
  if (!match[2]) return where;
  const field = match[2] === "selectedPreviewHtml" ? "chosen preview" : match[2];
  return `${where}, ${field}`;
}
