import { describe, expect, it } from "vitest";
import { listInWords, missingPages, pick, readSelection, selectionProblem, writeSelection } from "../src/lib/selection";
import { buildSpec, describeFieldPath } from "../src/lib/spec";
import { exampleDraft } from "./examples";

const draft = exampleDraft();

describe("choosing one candidate per page", () => {
  it("starts with nothing chosen and says which pages are missing", () => {
    expect(missingPages(draft, {}).map((p) => p.pageId)).toEqual(["home", "pricing", "signup", "about"]);
    expect(selectionProblem(draft, {})).toBe(
      "Choose a design for 4 more pages to continue: Home, Pricing, Sign up and About.",
    );
  });

  it("keeps exactly one pick per page: picking again replaces it", () => {
    let selection = pick({}, "home", "teal");
    selection = pick(selection, "home", "midnight");
    expect(selection).toEqual({ home: "midnight" });
  });

  it("names the last missing page on its own", () => {
    const selection = { home: "teal", pricing: "indigo", signup: "midnight" };
    expect(selectionProblem(draft, selection)).toBe("Choose a design for the About page to continue.");
    expect(selectionProblem(draft, { ...selection, about: "teal" })).toBeNull();
  });

  it("round-trips through the URL and ignores picks that name nothing of this draft", () => {
    const params = writeSelection(new URLSearchParams("draft=example:launchpad-saas&pick.old=x"), {
      home: "teal",
      pricing: "midnight",
    });
    expect(params.toString()).toBe("draft=example%3Alaunchpad-saas&pick.home=teal&pick.pricing=midnight");
    params.set("pick.about", "no-such-candidate");
    params.set("pick.nowhere", "teal");
    expect(readSelection(params, draft)).toEqual({ home: "teal", pricing: "midnight" });
  });

  it("lists names the way people write them", () => {
    expect(listInWords([])).toBe("");
    expect(listInWords(["A"])).toBe("A");
    expect(listInWords(["A", "B"])).toBe("A and B");
    expect(listInWords(["A", "B", "C"])).toBe("A, B and C");
  });
});

describe("building the generation_spec", () => {
  const selection = { home: "teal", pricing: "indigo", signup: "midnight", about: "indigo" };

  it("sends each page's chosen preview and exactly the schema's fields", () => {
    const spec = buildSpec(draft, selection);
    expect(Object.keys(spec)).toEqual(["projectId", "brief", "style", "globalNotes", "pages"]);
    expect(spec.projectId).toBe(draft.projectId);
    for (const [index, page] of spec.pages.entries()) {
      const source = draft.pages[index]!;
      expect(Object.keys(page)).toEqual(["pageId", "route", "name", "treeNode", "selectedPreviewHtml", "actions", "notes"]);
      const chosen = source.candidates.find((c) => c.id === selection[source.pageId as keyof typeof selection]);
      expect(page.selectedPreviewHtml).toBe(chosen?.html);
    }
    expect(spec.pages[0]?.selectedPreviewHtml).toContain("'#0d9488'"); // the teal home page
  });

  it("refuses to build while a page has no pick", () => {
    expect(() => buildSpec(draft, { home: "teal" })).toThrow("Choose a design for 3 more pages");
  });

  it("names pages in the API's field paths", () => {
    expect(describeFieldPath("pages[1].route", draft)).toBe("Page 2 (“Pricing”), route");
    expect(describeFieldPath("pages[0].selectedPreviewHtml", draft)).toBe("Page 1 (“Home”), chosen preview");
    expect(describeFieldPath("pages[7]", draft)).toBe("Page 8");
    expect(describeFieldPath("brief.title", draft)).toBe("brief.title");
  });
});
