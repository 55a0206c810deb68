// A project draft as a host app holds it: the generation_spec's brief, style and notes, and per page
// several candidate previews instead of the one selected preview. Reading one checks its shape and says
// what is wrong in words; the limits of the spec itself (route syntax, sizes) stay the API's to enforce,
// and its 400 answer is shown with the same page names.
import type { GenerationSpec, SpecPage } from "../api/types";

export interface Candidate {
  id: string;
  label: string;
  html: string;
}

export type DraftPage = Omit<SpecPage, "selectedPreviewHtml"> & { candidates: Candidate[] };
export type ProjectDraft = Omit<GenerationSpec, "pages"> & { pages: DraftPage[] };

export type DraftResult = { ok: true; draft: ProjectDraft } | { ok: false; errors: string[] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_ERRORS = 20;

/** Reads a draft from text (a pasted or uploaded file). */
export function parseDraftText(text: string): DraftResult {
  if (!text.trim()) {
    return { ok: false, errors: ["The draft is empty: paste or upload a project draft (a JSON file)."] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, errors: [`This is not valid JSON (${reason}).`] };
  }
  return readDraft(value);
}

/** Checks a parsed value and returns the draft with the spec's defaults filled in. */
export function readDraft(value: unknown): DraftResult {
  const errors: string[] = [];
  if (!isObject(value)) {
    return {
      ok: false,
      errors: [`A draft is a JSON object with projectId, brief, style and pages; this is ${kind(value)}.`],
    };
  }
  const projectId = value.projectId;
  if (typeof projectId !== "string" || !projectId) {
    errors.push("projectId is missing: a draft names its project with a UUID (the host app's project id).");
  } else if (!UUID.test(projectId)) {
    errors.push(`projectId “${projectId}” is not a UUID.`);
  }

  const brief = value.brief;
  if (!isObject(brief)) {
    errors.push("brief is missing: a draft needs at least a brief with a title.");
  } else {
    if (typeof brief.title !== "string" || !brief.title.trim()) {
      errors.push("brief.title is empty: give the app a title.");
    }
    for (const field of ["details", "audience", "goals"] as const) {
      if (brief[field] !== undefined && typeof brief[field] !== "string") {
        errors.push(`brief.${field} must be text.`);
      }
    }
  }
  if (value.style !== undefined && !isObject(value.style)) {
    errors.push("style must be an object (name, palette, typography, notes).");
  }
  if (value.globalNotes !== undefined && typeof value.globalNotes !== "string") {
    errors.push("globalNotes must be text.");
  }

  const pages = value.pages;
  if (!Array.isArray(pages) || pages.length === 0) {
    errors.push("pages is missing or empty: a draft needs at least one page.");
  } else {
    const seen = new Map<string, number>();
    pages.forEach((page, index) => {
      errors.push(...pageProblems(page, index, seen));
    });
  }

  if (errors.length > 0) {
    const shown = errors.slice(0, MAX_ERRORS);
    if (errors.length > MAX_ERRORS) shown.push(`…and ${errors.length - MAX_ERRORS} more problems.`);
    return { ok: false, errors: shown };
  }
  return { ok: true, draft: normalize(value) };
}

/** How a page is named in messages: its number and, when it has one, its name. */
export function pageLabel(index: number, name?: unknown): string {
  return typeof name === "string" && name.trim() ? `Page ${index + 1} (“${name.trim()}”)` : `Page ${index + 1}`;
}

function pageProblems(page: unknown, index: number, seen: Map<string, number>): string[] {
  if (!isObject(page)) return [`${pageLabel(index)} must be an object, not ${kind(page)}.`];
  const label = pageLabel(index, page.name);
  const problems: string[] = [];
  for (const field of ["pageId", "route", "name"] as const) {
    if (typeof page[field] !== "string" || !(page[field] as string).trim()) {
      problems.push(`${label}: ${field} is missing.`);
    }
  }
  if (typeof page.pageId === "string" && page.pageId) {
    const first = seen.get(page.pageId);
    if (first !== undefined) {
      problems.push(`Pages ${first + 1} and ${index + 1} both use pageId “${page.pageId}”; each page needs its own.`);
    } else {
      seen.set(page.pageId, index);
    }
  }
  if (page.actions !== undefined && !(Array.isArray(page.actions) && page.actions.every((a) => typeof a === "string"))) {
    problems.push(`${label}: actions must be a list of action names.`);
  }
  if (page.notes !== undefined && typeof page.notes !== "string") problems.push(`${label}: notes must be text.`);
  if (page.treeNode !== undefined && !isObject(page.treeNode)) problems.push(`${label}: treeNode must be an object.`);

  const candidates = page.candidates;
  if (!Array.isArray(candidates) || candidates.length === 0) {
    problems.push(`${label} has no candidate previews: give it at least one under candidates.`);
    return problems;
  }
  const ids = new Set<string>();
  candidates.forEach((candidate, c) => {
    const where = `${label}, candidate ${c + 1}`;
    if (!isObject(candidate)) {
      problems.push(`${where} must be an object with id, label and html.`);
      return;
    }
    if (typeof candidate.id !== "string" || !candidate.id.trim()) {
      problems.push(`${where}: id is missing.`);
    } else if (ids.has(candidate.id)) {
      problems.push(`${where}: id “${candidate.id}” is used twice on this page.`);
    } else {
      ids.add(candidate.id);
    }
    if (candidate.label !== undefined && typeof candidate.label !== "string") {
      problems.push(`${where}: label must be text.`);
    }
    if (typeof candidate.html !== "string" || !candidate.html.trim()) {
      problems.push(`${where}: html is missing or empty.`);
    }
  });
  return problems;
}

function normalize(value: Record<string, unknown>): ProjectDraft {
  const brief = value.brief as Record<string, string | undefined>;
  const style = (value.style ?? {}) as NonNullable<ProjectDraft["style"]>;
  return {
    projectId: value.projectId as string,
    brief: {
      title: brief.title as string,
      details: brief.details ?? "",
      audience: brief.audience ?? "",
      goals: brief.goals ?? "",
    },
    style: {
      name: style.name ?? "",
      palette: style.palette ?? [],
      typography: style.typography ?? [],
      notes: style.notes ?? "",
    },
    globalNotes: (value.globalNotes as string | undefined) ?? "",
    pages: (value.pages as Record<string, unknown>[]).map((page) => ({
      pageId: page.pageId as string,
      route: page.route as string,
      name: page.name as string,
      treeNode: (page.treeNode as DraftPage["treeNode"]) ?? {},
      actions: (page.actions as string[] | undefined) ?? [],
      notes: (page.notes as string | undefined) ?? "",
      candidates: (page.candidates as Record<string, string>[]).map((candidate, c) => ({
        id: candidate.id as string,
        label: candidate.label?.trim() || `Design ${c + 1}`,
        html: candidate.html as string,
      })),
    })),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "string") return "text";
  return `a ${typeof value}`;
}
