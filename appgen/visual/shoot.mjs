// Runs INSIDE a sandbox box (appgen/visual/render.py starts it): renders each page's preview and built
// HTML in Chromium at every width and writes full-page PNGs to /out. It reaches nothing but the files
// bound under /site: every request goes through one route that serves /site, the npm mirror of CDN
// assets, or the shared image placeholder, and aborts anything else (the box has no network anyway).
//
// argv: <playwright-core dir> <request.json>
// request: {chromium, out, maxHeight, widths: [[w, h], …],
//           roots: {preview, built, static, public, mirror}: directories inside the box,
//           mirror: [[url regex, file under roots.mirror], …],
//           fonts: {Google Fonts stylesheet URL: [CSS file under roots.mirror, …]},
//           pages: [{name, preview?: "/preview/<file>.html", built?: "/built/<file>.html"}]}
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";

const [coreDir, requestPath] = process.argv.slice(2);
const { chromium } = createRequire(import.meta.url)(coreDir);
const request = JSON.parse(readFileSync(requestPath, "utf8"));
const ORIGIN = "http://appgen.render";
// Keys as the browser requests them (`&amp;` already unescaped by the HTML parser, the URL normalised).
const fontFiles = new Map(
  Object.entries(request.fonts || {}).flatMap(([href, files]) => {
    try {
      return [[new URL(href).href, files]];
    } catch {
      return [];
    }
  }),
);
const TYPES = {
  ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
  ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
};
// The same flat grey image stands for every image that cannot load, on both sides.
const PLACEHOLDER = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" preserveAspectRatio="none">' +
    '<rect width="100%" height="100%" fill="#c8c8c8"/></svg>',
);

function inside(root, rel) {
  if (!root) return null;
  const path = normalize(join(root, rel));
  if (!path.startsWith(root + "/")) return null;
  try {
    return statSync(path).isFile() ? path : null;
  } catch {
    return null;
  }
}

// Our own origin: the page files, the mirror (/_mirror, what font stylesheets import), the app's static CSS
// (/_next/static) and its public/ files.
function localFile(url) {
  const path = decodeURIComponent(url.pathname);
  if (path.startsWith("/_mirror/")) return inside(request.roots.mirror, path.slice("/_mirror/".length));
  for (const side of ["preview", "built"]) {
    if (path.startsWith(`/${side}/`)) return inside(request.roots[side], path.slice(side.length + 2));
  }
  if (path.startsWith("/_next/static/")) return inside(request.roots.static, path.slice("/_next/static/".length));
  return inside(request.roots.public, path.slice(1));
}

async function route(route) {
  const req = route.request();
  let url;
  try {
    url = new URL(req.url());
  } catch {
    return route.abort();
  }
  // A font stylesheet: the mirror's CSS files that stand for it, whose relative font URLs stay in /_mirror.
  const fonts = fontFiles.get(url.href);
  if (fonts) {
    const body = fonts.map((f) => `@import url("${ORIGIN}/_mirror/${f}");`).join("\n");
    return route.fulfill({ status: 200, body, contentType: "text/css" });
  }
  let file = null;
  if (url.origin === ORIGIN) file = localFile(url);
  else {
    const entry = request.mirror.find(([pattern]) => new RegExp(pattern).test(url.href));
    if (entry) file = inside(request.roots.mirror, entry[1]);
  }
  if (file) return route.fulfill({ status: 200, body: readFileSync(file), contentType: TYPES[extname(file)] });
  if (req.resourceType() === "image") return route.fulfill({ status: 200, body: PLACEHOLDER, contentType: "image/svg+xml" });
  return route.abort();
}

// Fonts and images loaded, two frames painted; at most a few seconds (a page may never go idle). With
// JavaScript off (the built side) animation frames never run, so only the preview waits for them: the
// screenshot itself waits for the next paint.
async function settle(page, scripted) {
  await page.waitForLoadState("networkidle", { timeout: 10000 }).catch(() => {});
  const settled = page.evaluate(async (frames) => {
    await document.fonts.ready;
    await Promise.all(
      [...document.images].filter((i) => !i.complete).map((i) => new Promise((r) => { i.onload = i.onerror = r; })),
    );
    if (frames) await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  }, scripted);
  await Promise.race([settled.catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
}

const browser = await chromium.launch({
  executablePath: request.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--font-render-hinting=none", "--hide-scrollbars"],
});
const errors = {};
try {
  for (const side of ["preview", "built"]) {
    // The preview runs its own scripts (the Tailwind CDN, Alpine…) as the design tool does; the built
    // page is its prerendered HTML and CSS without JavaScript.
    const context = await browser.newContext({ javaScriptEnabled: side === "preview", reducedMotion: "reduce" });
    await context.route("**/*", route);
    const page = await context.newPage();
    for (const entry of request.pages) {
      if (!entry[side]) continue;
      for (const [width, height] of request.widths) {
        const name = `${entry.name}@${width}.${side}.png`;
        try {
          await page.setViewportSize({ width, height });
          await page.goto(ORIGIN + entry[side], { waitUntil: "load", timeout: 20000 });
          await settle(page, side === "preview");
          const full = await page.evaluate(() => Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0));
          const clip = { x: 0, y: 0, width, height: Math.max(height, Math.min(full, request.maxHeight)) };
          writeFileSync(join(request.out, name), await page.screenshot({ fullPage: true, clip, animations: "disabled", caret: "hide" }));
        } catch (err) {
          errors[name] = String(err && err.message ? err.message : err).slice(0, 300);
        }
      }
    }
    await context.close();
  }
} finally {
  await browser.close();
}
writeFileSync(join(request.out, "errors.json"), JSON.stringify(errors));
