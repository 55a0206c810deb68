"""Which attributes each element may carry in TSX, under which React name, with which value type.

The generated pages are type-checked by `next build` against @types/react 19: a prop the element's type
does not declare (`<div name>`), a string where a number is declared (`tabIndex="0"`) or a value outside a
declared union (`<button type="link">`) fails the build. These tables are the subset of @types/react the
previews use; anything else is dropped with a warning rather than breaking the build. Hyphenated names
(`data-*`, `aria-*`) are not checked by TypeScript unless declared, so those pass through as written.
"""

from __future__ import annotations


def names(text: str) -> frozenset[str]:
    """`"a b c"` → {"a", "b", "c"}: the tables below stay readable."""
    return frozenset(text.split())


BOOLEANISH = frozenset({"true", "false"})
REFERRER = frozenset(
    {
        "",
        "no-referrer",
        "no-referrer-when-downgrade",
        "origin",
        "origin-when-cross-origin",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "unsafe-url",
    }
)

# HTML attribute (lowercase, as html5lib reports it) -> React prop, where they differ.
RENAMED = {
    "class": "className",
    "for": "htmlFor",
    "accept-charset": "acceptCharset",
    "accesskey": "accessKey",
    "allowfullscreen": "allowFullScreen",
    "autocapitalize": "autoCapitalize",
    "autocomplete": "autoComplete",
    "autocorrect": "autoCorrect",
    "autofocus": "autoFocus",
    "autoplay": "autoPlay",
    "cellpadding": "cellPadding",
    "cellspacing": "cellSpacing",
    "charset": "charSet",
    "colspan": "colSpan",
    "contenteditable": "contentEditable",
    "controlslist": "controlsList",
    "crossorigin": "crossOrigin",
    "datetime": "dateTime",
    "dirname": "dirName",
    "disablepictureinpicture": "disablePictureInPicture",
    "disableremoteplayback": "disableRemotePlayback",
    "enctype": "encType",
    "enterkeyhint": "enterKeyHint",
    "fetchpriority": "fetchPriority",
    "formaction": "formAction",
    "formenctype": "formEncType",
    "formmethod": "formMethod",
    "formnovalidate": "formNoValidate",
    "formtarget": "formTarget",
    "frameborder": "frameBorder",
    "hreflang": "hrefLang",
    "http-equiv": "httpEquiv",
    "imagesizes": "imageSizes",
    "imagesrcset": "imageSrcSet",
    "inputmode": "inputMode",
    "itemid": "itemID",
    "itemprop": "itemProp",
    "itemref": "itemRef",
    "itemscope": "itemScope",
    "itemtype": "itemType",
    "marginheight": "marginHeight",
    "marginwidth": "marginWidth",
    "maxlength": "maxLength",
    "minlength": "minLength",
    "nomodule": "noModule",
    "novalidate": "noValidate",
    "playsinline": "playsInline",
    "popovertarget": "popoverTarget",
    "popovertargetaction": "popoverTargetAction",
    "readonly": "readOnly",
    "referrerpolicy": "referrerPolicy",
    "rowspan": "rowSpan",
    "spellcheck": "spellCheck",
    "srcdoc": "srcDoc",
    "srclang": "srcLang",
    "srcset": "srcSet",
    "tabindex": "tabIndex",
    "usemap": "useMap",
}

# Props every HTML element accepts (HTMLAttributes).
GLOBAL = names(
    "accessKey autoCapitalize autoCorrect autoFocus className contentEditable dir draggable enterKeyHint "
    "hidden id inert inputMode is itemID itemProp itemRef itemScope itemType lang nonce part popover "
    "popoverTarget popoverTargetAction rel role slot spellCheck style tabIndex title translate"
)
_MEDIA = "autoPlay controls controlsList crossOrigin loop muted playsInline preload src"
_CELL = "align colSpan headers rowSpan scope abbr height width valign"
# Element -> the props it adds to GLOBAL.
ELEMENT = {
    tag: names(props)
    for tag, props in {
        "a": "download href hrefLang media ping target type referrerPolicy rel",
        "area": "alt coords download href hrefLang media referrerPolicy shape target rel",
        "audio": _MEDIA,
        "blockquote": "cite",
        "button": "disabled form formAction formEncType formMethod formNoValidate formTarget name type value",
        "canvas": "height width",
        "col": "span width",
        "colgroup": "span",
        "data": "value",
        "del": "cite dateTime",
        "details": "open name",
        "dialog": "open",
        "embed": "height src type width",
        "fieldset": "disabled form name",
        "form": "acceptCharset action autoComplete encType method name noValidate target rel",
        "iframe": "allow allowFullScreen frameBorder height loading marginHeight marginWidth name "
        "referrerPolicy sandbox scrolling src srcDoc width",
        "img": "alt crossOrigin decoding fetchPriority height loading referrerPolicy sizes src srcSet "
        "useMap width",
        "input": "accept alt autoComplete capture checked disabled form formAction formEncType formMethod "
        "formNoValidate formTarget height list max maxLength min minLength multiple name pattern "
        "placeholder readOnly required size src step type value width",
        "ins": "cite dateTime",
        "label": "form htmlFor",
        "li": "value",
        "map": "name",
        "meter": "form high low max min optimum value",
        "object": "data form height name type useMap width",
        "ol": "reversed start type",
        "optgroup": "disabled label",
        "option": "disabled label selected value",
        "output": "form htmlFor name",
        "progress": "max value",
        "q": "cite",
        "select": "autoComplete disabled form multiple name required size value",
        "slot": "name",
        "source": "height media sizes src srcSet type width",
        "table": "align bgcolor border cellPadding cellSpacing summary width",
        "td": _CELL,
        "textarea": "autoComplete cols dirName disabled form maxLength minLength name placeholder readOnly "
        "required rows value wrap",
        "th": _CELL,
        "time": "dateTime",
        "track": "default kind label src srcLang",
        "video": _MEDIA + " height poster width disablePictureInPicture disableRemotePlayback",
    }.items()
}
BOOLEAN = names(
    "allowFullScreen autoFocus autoPlay checked controls default disabled disablePictureInPicture "
    "disableRemotePlayback formNoValidate hidden inert itemScope loop multiple muted noModule noValidate "
    "open playsInline readOnly required reversed selected"
)
NUMBER = names(
    "tabIndex colSpan rowSpan maxLength minLength rows cols size span start high low optimum border "
    "marginHeight marginWidth aria-level aria-colcount aria-colindex aria-colspan aria-posinset "
    "aria-rowcount aria-rowindex aria-rowspan aria-setsize aria-valuemax aria-valuemin aria-valuenow"
)
# Props whose type is a union of string literals: a value outside it fails type-checking.
CHOICES: dict[str, frozenset[str]] = {
    "crossOrigin": frozenset({"anonymous", "use-credentials", ""}),
    "referrerPolicy": REFERRER,
    "loading": frozenset({"eager", "lazy"}),
    "decoding": frozenset({"async", "auto", "sync"}),
    "fetchPriority": frozenset({"high", "low", "auto"}),
    "inputMode": frozenset({"none", "text", "tel", "url", "email", "numeric", "decimal", "search"}),
    "enterKeyHint": frozenset({"enter", "done", "go", "next", "previous", "search", "send"}),
    "translate": frozenset({"yes", "no"}),
    "popover": frozenset({"", "auto", "manual", "hint"}),
    "popoverTargetAction": frozenset({"toggle", "show", "hide"}),
    "draggable": BOOLEANISH,
    "spellCheck": BOOLEANISH,
    "contentEditable": BOOLEANISH | {"inherit", "plaintext-only"},
    "capture": frozenset({"user", "environment"}),
    "aria-autocomplete": frozenset({"none", "inline", "list", "both"}),
    "aria-checked": BOOLEANISH | {"mixed"},
    "aria-current": BOOLEANISH | {"page", "step", "location", "date", "time"},
    "aria-dropeffect": frozenset({"none", "copy", "execute", "link", "move", "popup"}),
    "aria-haspopup": BOOLEANISH | {"menu", "listbox", "tree", "grid", "dialog"},
    "aria-invalid": BOOLEANISH | {"grammar", "spelling"},
    "aria-live": frozenset({"off", "assertive", "polite"}),
    "aria-orientation": frozenset({"horizontal", "vertical"}),
    "aria-pressed": BOOLEANISH | {"mixed"},
    "aria-sort": frozenset({"none", "ascending", "descending", "other"}),
    **{
        f"aria-{name}": BOOLEANISH
        for name in names(
            "atomic busy disabled expanded grabbed hidden modal multiline multiselectable readonly required selected"
        )
    },
    # SVG presentation attributes with literal unions
    "fillRule": frozenset({"nonzero", "evenodd", "inherit"}),
    "strokeLinecap": frozenset({"butt", "round", "square", "inherit"}),
    "strokeLinejoin": frozenset({"miter", "round", "bevel", "inherit"}),
    "textAnchor": frozenset({"start", "middle", "end", "inherit"}),
}
# Per-element unions that share a name with looser props elsewhere.
ELEMENT_CHOICES: dict[tuple[str, str], frozenset[str]] = {
    ("button", "type"): frozenset({"submit", "reset", "button"}),
    ("ol", "type"): frozenset({"1", "a", "A", "i", "I"}),
    ("table", "align"): frozenset({"left", "center", "right"}),
    ("td", "align"): frozenset({"left", "center", "right", "justify", "char"}),
    ("th", "align"): frozenset({"left", "center", "right", "justify", "char"}),
    ("td", "valign"): frozenset({"top", "middle", "bottom", "baseline"}),
}

# SVGAttributes: one interface for every SVG element.
SVG = names(
    "className color height id lang max media method min name nonce part slot style target type width "
    "role tabIndex crossOrigin accentHeight accumulate additive alignmentBaseline allowReorder alphabetic "
    "amplitude arabicForm ascent attributeName attributeType autoReverse azimuth baseFrequency "
    "baselineShift baseProfile bbox begin bias by calcMode capHeight clip clipPath clipPathUnits clipRule "
    "colorInterpolation colorInterpolationFilters colorProfile colorRendering contentScriptType "
    "contentStyleType cursor cx cy d decelerate descent diffuseConstant direction display divisor "
    "dominantBaseline dur dx dy edgeMode elevation enableBackground end exponent "
    "externalResourcesRequired fill fillOpacity fillRule filter filterRes filterUnits floodColor "
    "floodOpacity focusable fontFamily fontSize fontSizeAdjust fontStretch fontStyle fontVariant "
    "fontWeight format fr from fx fy glyphName glyphOrientationHorizontal glyphOrientationVertical "
    "glyphRef gradientTransform gradientUnits hanging horizAdvX horizOriginX href ideographic "
    "imageRendering in intercept k k1 k2 k3 k4 kernelMatrix kernelUnitLength kerning keyPoints keySplines "
    "keyTimes lengthAdjust letterSpacing lightingColor limitingConeAngle local markerEnd markerHeight "
    "markerMid markerStart markerUnits markerWidth mask maskContentUnits maskUnits mathematical mode "
    "numOctaves offset opacity operator order orient orientation origin overflow overlinePosition "
    "overlineThickness paintOrder path pathLength patternContentUnits patternTransform patternUnits "
    "pointerEvents points pointsAtX pointsAtY pointsAtZ preserveAlpha preserveAspectRatio primitiveUnits "
    "r radius refX refY renderingIntent repeatCount repeatDur requiredExtensions requiredFeatures restart "
    "result rotate rx ry scale seed shapeRendering slope spacing specularConstant specularExponent speed "
    "spreadMethod startOffset stdDeviation stemh stemv stitchTiles stopColor stopOpacity "
    "strikethroughPosition strikethroughThickness string stroke strokeDasharray strokeDashoffset "
    "strokeLinecap strokeLinejoin strokeMiterlimit strokeOpacity strokeWidth surfaceScale systemLanguage "
    "tableValues targetX targetY textAnchor textDecoration textLength textRendering to transform "
    "underlinePosition underlineThickness unicode unicodeBidi unicodeRange unitsPerEm vAlphabetic values "
    "vectorEffect version vertAdvY vertOriginX vertOriginY vHanging vIdeographic viewBox viewTarget "
    "visibility vMathematical widths wordSpacing writingMode x x1 x2 xChannelSelector xHeight xlinkActuate "
    "xlinkArcrole xlinkHref xlinkRole xlinkShow xlinkTitle xlinkType xmlBase xmlLang xmlns xmlnsXlink "
    "xmlSpace y y1 y2 yChannelSelector z zoomAndPan"
)

# Intrinsic elements @types/react declares; anything else is unwrapped (its children kept).
HTML_TAGS = names(
    "a abbr address area article aside audio b bdi bdo big blockquote br button canvas caption center cite "
    "code col colgroup data datalist dd del details dfn dialog div dl dt em embed fieldset figcaption "
    "figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr i iframe img input ins kbd label legend li main "
    "map mark menu meter nav object ol optgroup option output p picture pre progress q rp rt ruby s samp "
    "search section select slot small source span strong sub summary sup table tbody td textarea tfoot th "
    "thead time tr track u ul var video wbr"
)
SVG_TAGS = names(
    "svg a animate animateMotion animateTransform circle clipPath defs desc ellipse feBlend feColorMatrix "
    "feComponentTransfer feComposite feConvolveMatrix feDiffuseLighting feDisplacementMap "
    "feDistantLight feDropShadow feFlood feFuncA feFuncB feFuncG feFuncR feGaussianBlur feImage feMerge "
    "feMergeNode feMorphology feOffset fePointLight feSpecularLighting feSpotLight feTile feTurbulence "
    "filter foreignObject g image line linearGradient marker mask metadata mpath path pattern polygon "
    "polyline radialGradient rect set stop style switch symbol text textPath title tspan use view"
)
VOID = names("area base br col embed hr img input link meta source track wbr")
