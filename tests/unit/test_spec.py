"""`parse_spec` without a server: a valid body becomes a GenerationSpec, an invalid one an InvalidSpec
whose details name each failing field path, and values `jsonb` cannot store are refused up front."""

from __future__ import annotations

import pytest

from appgen import errors
from appgen.spec import GenerationSpec, field_path, parse_spec
from tests.fixtures.specs import small_spec


def test_a_valid_body_becomes_a_spec() -> None:
    spec = parse_spec(small_spec(pages=2))
    assert isinstance(spec, GenerationSpec)
    assert [page.page_id for page in spec.pages] == ["home", "page-1"]


def test_every_failing_field_is_named_by_its_path() -> None:
    body = small_spec(pages=2)
    body["pages"][0]["route"] = "/api"
    body["pages"][1]["pageId"] = "Not A Slug"
    with pytest.raises(errors.InvalidSpec) as invalid:
        parse_spec(body)
    assert sorted(d["path"] for d in invalid.value.details) == ["pages[0].route", "pages[1].pageId"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a\x00b", "NUL characters and lone surrogates are not allowed"),
        ("\ud800", "NUL characters and lone surrogates are not allowed"),
        (float("nan"), "NaN and Infinity are not JSON numbers"),
    ],
)
def test_values_jsonb_cannot_store_are_refused(value: object, message: str) -> None:
    body = small_spec(pages=1)
    body["pages"][0]["notes"] = value
    with pytest.raises(errors.InvalidSpec) as invalid:
        parse_spec(body)
    assert invalid.value.details == [{"path": "pages[0].notes", "message": message}]


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(errors.InvalidSpec) as invalid:
        parse_spec(["not", "an", "object"])
    assert invalid.value.message == "the request body must be a JSON object (the generation_spec)"


def test_union_member_names_stay_out_of_paths() -> None:
    assert field_path(("style", "palette", 0, "PaletteColor", "value")) == "style.palette[0].value"
    assert field_path(()) == "(body)"
