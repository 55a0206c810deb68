"""The fidelity measure: words and interactive parts of a preview, found again in the built page."""

from __future__ import annotations

from appgen.scaffold.fidelity import measure

PREVIEW = """<!doctype html><html><head><title>Home</title><style>.x{}</style></head><body>
<header><a href="/">Acme</a><nav><a href="/pricing">Pricing</a> <a href="/about">About</a></nav></header>
<main>
  <h1>Ship <em>faster</em> today</h1>
  <h2>Why</h2><p>Because every team deserves good tools.</p>
  <img src="a.png" alt="">
  <form><input name="email" type="email"><input type="hidden" name="t"><select><option>A</option></select>
  <textarea></textarea><button>Join</button><input type="submit" value="Go"></form>
  <script>var hidden = "not text";</script><template><p>not shown</p></template>
</main></body></html>"""

# What React renders for the same page inside the app's layout: the wrapper, `<!-- -->` text
# separators, a layout link outside the wrapper (which must not count).
BUILT = """<!DOCTYPE html><html lang="en"><head><title>Home</title></head><body>
<a href="#content">Skip</a>
<div data-appgen-page="home"><header><a href="/">Acme</a><nav><a href="/pricing">Pricing</a><!-- --> <!-- -->
<a href="/about">About</a></nav></header><main><h1>Ship<!-- --> <em>faster</em> <!-- -->today</h1><h2>Why</h2>
<p>Because every team deserves good tools.</p><img src="a.png" alt=""/><form><input name="email" type="email"/>
<input type="hidden" name="t"/><select><option>A</option></select><textarea></textarea><button>Join</button>
<input type="submit" value="Go"/></form></main></div>
<script>self.__next_f.push([1,"lots of text that is not the page"])</script></body></html>"""


def test_an_identical_page_is_ok() -> None:
    report = measure(PREVIEW, BUILT, "home")
    assert report.ok, report.summary()
    assert report.text_ratio == 1.0
    assert report.preview == {"headings": 2, "links": 3, "images": 1, "buttons": 2, "fields": 3}
    assert (
        report.summary() == "home: text 100.0%, headings 2/2, links 3/3, images 1/1, buttons 2/2, fields 3/3"
    )


def test_dropped_text_lowers_the_ratio_below_the_bar() -> None:
    built = BUILT.replace("Because every team deserves good tools.", "Because.")
    report = measure(PREVIEW, built, "home")
    assert report.text_ratio < 0.98 and not report.ok
    assert report.preview == report.built  # only the text differs
    assert report.summary().startswith("home: text 60.0%")  # 9 of 15 words


def test_words_glued_together_do_not_count_as_the_same_text() -> None:
    built = BUILT.replace("<!-- --> <!-- -->\n<a", "<a")  # the space between two inline links is gone
    report = measure(PREVIEW, built, "home")
    assert not report.ok
    assert report.text_ratio < 1.0


def test_a_missing_button_is_not_ok() -> None:
    built = BUILT.replace("<button>Join</button>", "<span>Join</span>")
    report = measure(PREVIEW, built, "home")
    assert report.text_ratio == 1.0
    assert (report.preview["buttons"], report.built["buttons"]) == (2, 1)
    assert not report.ok
    assert "buttons 1/2" in report.summary()


def test_a_page_without_the_wrapper_is_not_ok() -> None:
    report = measure(PREVIEW, BUILT.replace('data-appgen-page="home"', 'id="home"'), "home")
    assert not report.ok
    assert report.summary() == "home: the built page has no [data-appgen-page='home'] element"


def test_only_the_wrapper_of_the_named_page_is_measured() -> None:
    report = measure(PREVIEW, BUILT, "pricing")
    assert not report.ok and "no [data-appgen-page='pricing']" in report.summary()


def test_adjacent_svg_text_elements_are_separate_words() -> None:
    svg = '<svg><text x="0">Sales</text><text x="40">Costs</text></svg>'
    built = f'<div data-appgen-page="p">{svg}</div>'
    report = measure(f"<body>{svg}</body>", built, "p")
    assert report.text_ratio == 1.0
    glued = measure(f"<body>{svg}</body>", '<div data-appgen-page="p"><p>SalesCosts</p></div>', "p")
    assert glued.text_ratio == 0.0
