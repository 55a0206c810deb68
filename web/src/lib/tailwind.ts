// Compiles a preview's Tailwind classes to CSS in the browser with Tailwind 4's own compiler (loaded
// lazily: only the choose step needs it). One compiler per distinct theme, reused across candidates.
import { compile } from "tailwindcss";
import tailwindIndex from "tailwindcss/index.css?raw";
import type { Style } from "../api/types";
import { classCandidates, previewDocument, themeCss, themeTokens } from "./preview";

type Compiler = Awaited<ReturnType<typeof compile>>;
const compilers = new Map<string, Promise<Compiler>>();

export async function styledPreview(html: string, style?: Style): Promise<string> {
  const theme = themeCss(themeTokens(html, style));
  let compiler = compilers.get(theme);
  if (!compiler) {
    compiler = compile(`${tailwindIndex}\n${theme}`);
    compilers.set(theme, compiler);
  }
  let css = "";
  try {
    css = (await compiler).build(classCandidates(html));
  } catch {
    // A preview Tailwind cannot compile still shows, with its own <style> only.
  }
  return previewDocument(html, css);
}
