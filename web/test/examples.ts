// The shipped example drafts, read from ../examples/projects as the app's draft loader reads them.
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseDraftText, type ProjectDraft } from "../src/lib/draft";

const DIR = fileURLToPath(new URL("../../examples/projects/", import.meta.url));

export const exampleNames = readdirSync(DIR).filter((name) => name.endsWith(".json"));

export function exampleText(name: string): string {
  return readFileSync(DIR + name, "utf8");
}

export function exampleDraft(name = "launchpad-saas.json"): ProjectDraft {
  const result = parseDraftText(exampleText(name));
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.draft;
}
