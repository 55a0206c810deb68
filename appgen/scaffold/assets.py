"""Stylesheets a preview links from a CDN → the starter's pinned npm packages, imported once by the layout.

The starter (`worker_container/starter/package.json`) carries a fixed set of design packages: Bootstrap 5,
Bulma, Font Awesome (with the v4 shims), Material Icons, the `@tailwindcss/forms` plugin and the most used
Google Fonts as `@fontsource/<family>`. Its dependencies are protected (agents cannot change them) and
installed with `npm ci --ignore-scripts` from its lockfile, so the set is chosen here, not per job: one
lockfile means one tree in the install cache shared by every job, installs that need no network once
that tree exists, and no lockfile to resolve at scaffold time (which would need the registry). A job only
*imports* what its previews link; unused packages cost install space, never bundle size.

A stylesheet this table does not know (another CDN, a different major version, a font family the starter
does not carry) stays a runtime `<link>` in the page, with the `external_stylesheet` warning: the app
needs the network to look like the preview.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote_plus, urlsplit

# Font families the starter carries: Google Fonts name → (@fontsource package, the weights it has, each
# also in italic). A weight a package lacks is served by the nearest one, as the browser would pick.
_ALL = (100, 200, 300, 400, 500, 600, 700, 800, 900)
FONTSOURCE = {
    "Inter": ("inter", _ALL),
    "Roboto": ("roboto", _ALL),
    "Open Sans": ("open-sans", (300, 400, 500, 600, 700, 800)),
    "Poppins": ("poppins", _ALL),
    "Lato": ("lato", (100, 300, 400, 700, 900)),
    "Montserrat": ("montserrat", _ALL),
    "Source Sans Pro": ("source-sans-pro", (200, 300, 400, 600, 700, 900)),
    "Nunito": ("nunito", (200, 300, 400, 500, 600, 700, 800, 900)),
    "Raleway": ("raleway", _ALL),
    "Plus Jakarta Sans": ("plus-jakarta-sans", (200, 300, 400, 500, 600, 700, 800)),
}
_WEIGHTS = range(100, 1000, 100)
_BOOTSTRAP_5 = re.compile(r"bootstrap@?/?5(?:\.\d+)*[^/]*/(?:dist/)?css/bootstrap(?:\.min)?\.css$", re.I)
_BULMA = re.compile(r"bulma@?/?(?:0\.9|1)(?:\.\d+)*[^/]*/css/bulma(?:\.min)?\.css$", re.I)
_FONT_AWESOME_4 = re.compile(r"font-awesome[@/]4(?:\.\d+)*/css/font-awesome(?:\.min)?\.css$", re.I)
_FONT_AWESOME = re.compile(
    r"(?:fontawesome-free@|font-awesome/|/releases/v)[56](?:\.\d+)*(?:/[\w-]+)*/css/(?:all|fontawesome)(?:\.min)?\.css$",
    re.I,
)
_FA_CSS = "@fortawesome/fontawesome-free/css/all.min.css"


def package_imports(href: str) -> list[str] | None:
    """The CSS modules to import for a linked stylesheet, or None when no starter package provides it."""
    url = urlsplit(href.strip())
    path = url.path
    if url.hostname in {"fonts.googleapis.com", "fonts.bunny.net"}:
        return _google_fonts(url.path, url.query)
    if _BOOTSTRAP_5.search(path):
        return ["bootstrap/dist/css/bootstrap.min.css"]
    if _BULMA.search(path):
        return ["bulma/css/bulma.min.css"]
    if _FONT_AWESOME_4.search(path):
        return [_FA_CSS, "@fortawesome/fontawesome-free/css/v4-shims.min.css"]
    if _FONT_AWESOME.search(path):
        return [_FA_CSS]
    return None


def _google_fonts(path: str, query: str) -> list[str] | None:
    families = [unquote_plus(v) for k, v in parse_qsl(query, keep_blank_values=True) if k == "family"]
    if path.rstrip("/") == "/css":  # API v1: `family=A:400,700|B`
        families = [part for value in families for part in value.split("|")]
    imports: list[str] = []
    for spec in families:
        name, _, axes = spec.partition(":")
        name = name.strip()
        if name == "Material Icons":
            imports.append("material-icons/iconfont/filled.css")
            continue
        if name not in FONTSOURCE:
            return None
        package, weights = FONTSOURCE[name]
        for wanted, italic in _styles(axes):
            weight = min(weights, key=lambda w: (abs(w - wanted), w))
            imports.append(f"@fontsource/{package}/{weight}{'-italic' if italic else ''}.css")
    return list(dict.fromkeys(imports)) or None


def _styles(axes: str) -> list[tuple[int, bool]]:
    """Weights and italics of a family spec: v1 `400,700italic`, v2 `wght@400;700`, `ital,wght@0,400;1,700`,
    ranges `wght@300..700`. No axes → regular 400."""
    if not axes:
        return [(400, False)]
    if "@" not in axes:  # API v1
        out = []
        for item in axes.split(","):
            match = re.fullmatch(r"(\d{3})?(i|italic)?", item.strip())
            if match:
                out.append((int(match.group(1) or 400), bool(match.group(2))))
        return out or [(400, False)]
    names, _, values = axes.partition("@")
    keys = names.split(",")
    out = []
    for tuple_ in values.split(";"):
        axis = dict(zip(keys, tuple_.split(","), strict=False))
        italic = axis.get("ital", "0") == "1"
        weight = axis.get("wght", "400")
        if ".." in weight:
            low, high = (int(float(x)) for x in weight.split(".."))
            out += [(w, italic) for w in _WEIGHTS if low <= w <= high]
        elif weight.isdigit():
            out.append((int(weight), italic))
    return out or [(400, False)]
