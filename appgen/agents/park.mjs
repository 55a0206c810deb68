// Loaded before the Gemini CLI with `node --import park.mjs?fd=N <gemini.js> …` (appgen/agents/warm.py):
// loads the CLI's modules, which is most of its start-up, then waits for the runner's go on pipe N before
// the CLI's own code runs. The go is one JSON line, {"cwd": "<workspace>"}: the CLI starts in that
// directory with the environment, home and stdin it was spawned with. End of file instead of a go (the
// runner closed the pipe or died) exits at once, before the CLI did anything.
import { closeSync, readFileSync, readSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const NO_GO = 75; // EX_TEMPFAIL: parked and never released

const fd = Number(new URL(import.meta.url).searchParams.get("fd"));
const entry = process.argv[1];
// The modules the entry imports, statically and dynamically (`./chunk-….js`, `./gemini-….js`): loading
// them now is the work a parked process saves. A name this misses is simply loaded after the go.
const source = readFileSync(entry, "utf8");
const specifiers = new Set(Array.from(source.matchAll(/\b(?:from|import)\s*\(?\s*"(\.\/[\w.-]+\.js)"/g), (m) => m[1]));
for (const specifier of specifiers) {
  await import(pathToFileURL(join(dirname(entry), specifier)).href);
}

const bytes = [];
const one = Buffer.alloc(1);
for (;;) {
  if (readSync(fd, one, 0, 1, null) === 0) process.exit(NO_GO);
  if (one[0] === 0x0a) break;
  bytes.push(one[0]);
}
closeSync(fd);
process.chdir(JSON.parse(Buffer.from(bytes).toString("utf8")).cwd);
