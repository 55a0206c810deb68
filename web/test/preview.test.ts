import { describe, expect, it } from "vitest";
import { classCandidates, previewDocument, PREVIEW_CSP, readTailwindConfig, themeCss, themeTokens } from "../src/lib/preview";
import { styledPreview } from "../src/lib/tailwind";
import { exampleDraft } from "./examples";

const draft = exampleDraft();
const home = draft.pages[0]!;
const teal = home.candidates.find((c) => c.id === "teal")!.html;

describe("preview documents", () => {
  it("drop every script and put the policy first in the head", () => {
    const doc = previewDocument(teal, "");
    expect(doc).not.toMatch(/<script/i);
    expect(doc).toMatch(new RegExp(`<head>\\s*<meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">`));
    expect(PREVIEW_CSP).toContain("default-src 'none'");
    expect(PREVIEW_CSP).not.toContain("script-src");
  });

  it("wrap a fragment in a document and keep a style from closing early", () => {
    const doc = previewDocument("<p>hi</p><script>alert(1)</script>", "a{}</style><script>x</script>");
    expect(doc).toBe(
      `<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">` +
        `<style data-appgen="tailwind">a{}<\\/style><script>x</script></style></head><body><p>hi</p></body></html>`,
    );
  });

  it("read tailwind.config as data, never running it", () => {
    expect(readTailwindConfig(teal)).toEqual({
      theme: {
        extend: {
          colors: { brand: "#0d9488", "brand-dark": "#115e59", ink: "#0f172a", cream: "#f0fdfa" },
          fontFamily: { sans: ["Inter", "sans-serif"], display: ["Space Grotesk", "sans-serif"] },
        },
      },
    });
    expect(readTailwindConfig("<script>tailwind.config = makeConfig()</script>")).toBeNull();
    expect(readTailwindConfig("<script>tailwind.config = { a: require('x') }</script>")).toBeNull();
  });

  it("turn the config and the draft's style into theme tokens, the preview's first", () => {
    const tokens = themeTokens(teal, draft.style);
    expect(tokens.get("color-brand")).toBe("#0d9488"); // the candidate's, not the style's indigo
    expect(tokens.get("font-display")).toBe('"Space Grotesk", sans-serif');
    expect(tokens.get("color-muted")).toBe("#64748b"); // only the style has it
    expect(themeCss(new Map([["color-brand", "red"]]))).toBe("@theme {\n  --color-brand: red;\n}\n");
    const hostile = themeTokens("<script>tailwind.config = {theme: {colors: {x: 'red; } body { display: none'}}}</script>");
    expect(hostile.size).toBe(0);
  });

  it("compile the preview's classes with its own colours", async () => {
    expect(classCandidates('<a class="bg-brand  px-4" CLASS=\'md:flex\'>')).toEqual(["bg-brand", "px-4", "md:flex"]);
    const doc = await styledPreview(teal, draft.style);
    expect(doc).toContain("--color-brand: #0d9488");
    expect(doc).toMatch(/\.bg-brand\s*\{/);
    expect(doc).toMatch(/\.md\\:flex/);
  });
});
