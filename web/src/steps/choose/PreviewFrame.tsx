// One candidate preview in a sandboxed iframe: `sandbox=""` (no scripts, forms, popups, top navigation or
// same origin), `srcdoc` (no request for the document itself), and the preview's policy in its head. The
// thumbnail renders the page at desktop width, scaled to its box, and is inert (a picture of the page: the
// radio button next to it is the control); the full view is a frame the user can scroll and read.
import { useEffect, useRef, useState } from "react";
import type { Style } from "../../api/types";

export const PREVIEW_WIDTH = 1280;

export function PreviewFrame({ html, style, title, mode }: { html: string; style?: Style; title: string; mode: "thumb" | "full" }) {
  const srcDoc = useStyledPreview(html, style);
  const box = useRef<HTMLSpanElement>(null);
  const [scale, setScale] = useState(0.25);

  useEffect(() => {
    if (mode !== "thumb" || !box.current) return;
    const element = box.current;
    const observer = new ResizeObserver(() => setScale(element.clientWidth / PREVIEW_WIDTH));
    observer.observe(element);
    return () => observer.disconnect();
  }, [mode]);

  const frame = srcDoc && (
    <iframe
      title={title}
      sandbox="" // every restriction: no allow-scripts, allow-forms, allow-popups or allow-same-origin
      srcDoc={srcDoc}
      referrerPolicy="no-referrer"
      style={mode === "thumb" ? { width: PREVIEW_WIDTH, height: PREVIEW_WIDTH * 0.75, transform: `scale(${scale})` } : undefined}
    />
  );
  return (
    <span ref={box} className={`preview preview-${mode}`} inert={mode === "thumb"}>
      {frame || <span className="preview-loading">Rendering preview…</span>}
    </span>
  );
}

/** The preview's srcdoc, with its Tailwind classes compiled (the compiler loads on first use). */
function useStyledPreview(html: string, style?: Style): string | null {
  const [doc, setDoc] = useState<{ html: string; srcDoc: string } | null>(null);
  useEffect(() => {
    let live = true;
    void import("../../lib/tailwind")
      .then(({ styledPreview }) => styledPreview(html, style))
      .then((srcDoc) => live && setDoc({ html, srcDoc }));
    return () => {
      live = false;
    };
  }, [html, style]);
  return doc?.html === html ? doc.srcDoc : null;
}
