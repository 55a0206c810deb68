// A candidate preview as the document of a sandboxed iframe. The preview is the tenant's HTML: it runs no
// script (the iframe's sandbox has no allow-scripts, and the scripts are dropped besides), may load only
// images, styles and fonts (a Content-Security-Policy in its head), and cannot submit forms or navigate
// its parent. Design tools render previews with the Tailwind CDN, a script; so that a preview still
// looks as designed, its classes are compiled here, by this app, with the tokens of its
// `tailwind.config` read as data (JSON5, never executed) — as appgen's scaffold does on the server.
import JSON5 from "json5";
import type { Style } from "../api/types";

export const PREVIEW_CSP = [
  "default-src 'none'",
  "img-src https: data: blob:",
  "style-src 'unsafe-inline' https:",
  "font-src https: data:",
  "media-src https: data:",
  "form-action 'none'",
  "base-uri 'none'",
].join("; ");

const SCRIPT = /<script\b[^>]*>[\s\S]*?<\/script\s*>|<script\b[^>]*\/>/gi;
const HEAD = /<head\b[^>]*>/i;
const HTML = /<html\b[^>]*>/i;

/** The iframe's srcdoc: the preview without scripts, with the policy and the compiled CSS in its head. */
export function previewDocument(html: string, css: string): string {
  const withoutScripts = html.replace(SCRIPT, "");
  const inject =
    `<meta http-equiv="Content-Security-Policy" content="${PREVIEW_CSP}">` +
    (css ? `<style data-appgen="tailwind">${css.replace(/<\/style/gi, "<\\/style")}</style>` : "");
  if (HEAD.test(withoutScripts)) return withoutScripts.replace(HEAD, (head) => head + inject);
  if (HTML.test(withoutScripts)) return withoutScripts.replace(HTML, (tag) => `${tag}<head>${inject}</head>`);
  return `<!doctype html><html><head>${inject}</head><body>${withoutScripts}</body></html>`;
}

/** Every word of the preview that could be a Tailwind class (Tailwind ignores the rest). */
export function classCandidates(html: string): string[] {
  const found = new Set<string>();
  for (const match of html.matchAll(/\bclass\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    for (const token of (match[1] ?? match[2] ?? "").split(/\s+/)) if (token) found.add(token);
  }
  return [...found];
}

// tailwind.config section -> Tailwind 4 theme variable namespace (as appgen/scaffold/theme.py maps them)
const NAMESPACES: Record<string, string> = {
  colors: "color",
  fontFamily: "font",
  borderRadius: "radius",
  boxShadow: "shadow",
  screens: "breakpoint",
  letterSpacing: "tracking",
  maxWidth: "container",
  spacing: "spacing",
  animation: "animate",
};
const GENERIC_FONTS = new Set(["serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "ui-sans-serif"]);
const UNSAFE_VALUE = /[;{}\n\r<>]|\*\/|\/\*/;

/**
 * The theme tokens (`--color-brand: #4f46e5`) of the preview's `tailwind.config = {…}` and, where the
 * preview does not define them, of the draft's style. A config that is not a plain literal is skipped.
 */
export function themeTokens(html: string, style?: Style): Map<string, string> {
  const tokens = new Map<string, string>();
  const config = readTailwindConfig(html);
  const theme = isRecord(config?.theme) ? config.theme : {};
  for (const source of [isRecord(theme.extend) ? theme.extend : {}, theme]) {
    for (const [key, namespace] of Object.entries(NAMESPACES)) {
      const values = source[key];
      if (isRecord(values)) addSection(tokens, namespace, values);
    }
  }
  for (const [index, color] of (style?.palette ?? []).entries()) {
    if (typeof color === "object") addToken(tokens, `color-${slug(color.name) || `palette-${index + 1}`}`, color.value);
  }
  for (const font of style?.typography ?? []) {
    if (typeof font === "object") addToken(tokens, `font-${slug(font.role) || slug(font.family)}`, fontStack([font.family]));
  }
  return tokens;
}

export function themeCss(tokens: Map<string, string>): string {
  if (tokens.size === 0) return "";
  return `@theme {\n${[...tokens].map(([name, value]) => `  --${name}: ${value};`).join("\n")}\n}\n`;
}

/** The object literal assigned to `tailwind.config` in the preview's scripts, read as JSON5. */
export function readTailwindConfig(html: string): Record<string, unknown> | null {
  const match = /\btailwind\.config\s*=\s*/.exec(html);
  if (!match) return null;
  const literal = balancedObject(html, match.index + match[0].length);
  if (literal === null) return null;
  try {
    const value: unknown = JSON5.parse(literal);
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/** The text of the `{…}` starting at `start`, skipping strings and comments, or null if unbalanced. */
function balancedObject(text: string, start: number): string | null {
  if (text[start] !== "{") return null;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"' || ch === "'" || ch === "`") {
      for (i++; i < text.length && text[i] !== ch; i++) if (text[i] === "\\") i++;
    } else if (ch === "/" && text[i + 1] === "/") {
      i = text.indexOf("\n", i);
      if (i < 0) return null;
    } else if (ch === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2) + 1;
      if (i <= 0) return null;
    } else if (ch === "{") {
      depth++;
    } else if (ch === "}" && --depth === 0) {
      return text.slice(start, i + 1);
    }
  }
  return null;
}

function addSection(tokens: Map<string, string>, namespace: string, values: Record<string, unknown>, path: string[] = []) {
  for (const [key, value] of Object.entries(values)) {
    const part = key === "DEFAULT" ? "" : key.trim().replace(/\./g, "_").replace(/[^A-Za-z0-9_-]+/g, "-");
    if (key !== "DEFAULT" && !part) continue;
    const next = part ? [...path, part] : path;
    if (isRecord(value)) {
      addSection(tokens, namespace, value, next);
      continue;
    }
    const name = [namespace, ...next].join("-");
    if (namespace === "font") {
      const fonts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
      if (fonts.length) addToken(tokens, name, fontStack(fonts));
    } else if (typeof value === "string" || typeof value === "number") {
      addToken(tokens, name, String(value));
    }
  }
}

/** First definition wins, and only plain CSS values are written into the stylesheet. */
function addToken(tokens: Map<string, string>, name: string, value: string) {
  if (!value.trim() || UNSAFE_VALUE.test(value) || UNSAFE_VALUE.test(name) || tokens.has(name)) return;
  tokens.set(name, value);
}

function fontStack(fonts: string[]): string {
  return fonts
    .map((font) => {
      const trimmed = font.trim();
      const bare = trimmed.replace(/^['"]|['"]$/g, "");
      if (/^['"]/.test(trimmed) || GENERIC_FONTS.has(bare) || /^[A-Za-z-]+$/.test(bare)) return trimmed;
      return `"${bare.replace(/"/g, "")}"`;
    })
    .join(", ");
}

function slug(text: string): string {
  return text.trim().toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
