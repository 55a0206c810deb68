import { describe, expect, it } from "vitest";
import { parseDraftText, readDraft } from "../src/lib/draft";
import { exampleDraft, exampleNames, exampleText } from "./examples";

const page = (overrides: Record<string, unknown> = {}) => ({
  pageId: "home",
  route: "/",
  name: "Home",
  candidates: [{ id: "a", label: "A", html: "<p>a</p>" }],
  ...overrides,
});
const draft = (overrides: Record<string, unknown> = {}) => ({
  projectId: "3f6c2a9e-8b41-4d7a-9c55-0e2b7f1d4a63",
  brief: { title: "Shop" },
  pages: [page()],
  ...overrides,
});

describe("reading a draft", () => {
  it("accepts every shipped example, each page with two or three candidates", () => {
    expect(exampleNames.length).toBeGreaterThanOrEqual(2);
    for (const name of exampleNames) {
      const result = parseDraftText(exampleText(name));
      expect(result.ok, name).toBe(true);
      if (!result.ok) continue;
      for (const p of result.draft.pages) expect(p.candidates.length).toBeGreaterThanOrEqual(2);
    }
  });

  it("fills the spec's defaults in", () => {
    const result = readDraft(draft());
    expect(result).toEqual({
      ok: true,
      draft: {
        projectId: "3f6c2a9e-8b41-4d7a-9c55-0e2b7f1d4a63",
        brief: { title: "Shop", details: "", audience: "", goals: "" },
        style: { name: "", palette: [], typography: [], notes: "" },
        globalNotes: "",
        pages: [
          {
            pageId: "home",
            route: "/",
            name: "Home",
            treeNode: {},
            actions: [],
            notes: "",
            candidates: [{ id: "a", label: "A", html: "<p>a</p>" }],
          },
        ],
      },
    });
  });

  it("names an unlabelled candidate by its position", () => {
    const result = readDraft(draft({ pages: [page({ candidates: [{ id: "x", html: "<p>x</p>" }] })] }));
    expect(result.ok && result.draft.pages[0]?.candidates[0]?.label).toBe("Design 1");
  });

  it("says in words when the text is not JSON, or not a draft", () => {
    expect(parseDraftText("")).toEqual({
      ok: false,
      errors: ["The draft is empty: paste or upload a project draft (a JSON file)."],
    });
    const broken = parseDraftText("{ nope");
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.errors[0]).toMatch(/^This is not valid JSON \(.+\)\.$/);
    expect(parseDraftText("[1, 2]")).toEqual({
      ok: false,
      errors: ["A draft is a JSON object with projectId, brief, style and pages; this is a list."],
    });
  });

  it("lists every problem, naming pages by number and name", () => {
    const result = readDraft({
      projectId: "not-a-uuid",
      brief: { title: " " },
      pages: [
        page(),
        page({ name: "Pricing", candidates: [] }),
        page({ pageId: undefined, name: "About", candidates: [{ id: "a", html: "" }, { id: "a", html: "<p/>" }] }),
        page({ name: "Home again" }),
      ],
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        "projectId “not-a-uuid” is not a UUID.",
        "brief.title is empty: give the app a title.",
        "Pages 1 and 2 both use pageId “home”; each page needs its own.",
        "Page 2 (“Pricing”) has no candidate previews: give it at least one under candidates.",
        "Page 3 (“About”): pageId is missing.",
        "Page 3 (“About”), candidate 1: html is missing or empty.",
        "Page 3 (“About”), candidate 2: id “a” is used twice on this page.",
        "Pages 1 and 4 both use pageId “home”; each page needs its own.",
      ],
    });
  });

  it("refuses a draft without pages or brief", () => {
    expect(readDraft({ projectId: "3f6c2a9e-8b41-4d7a-9c55-0e2b7f1d4a63" })).toEqual({
      ok: false,
      errors: [
        "brief is missing: a draft needs at least a brief with a title.",
        "pages is missing or empty: a draft needs at least one page.",
      ],
    });
  });

  it("keeps the example's spec fields as they are", () => {
    const example = exampleDraft();
    expect(example.pages.map((p) => p.pageId)).toEqual(["home", "pricing", "signup", "about"]);
    expect(example.pages[1]?.actions).toEqual(["contact-sales"]);
  });
});
