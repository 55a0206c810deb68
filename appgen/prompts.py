"""The agents' prompts: templates in `prompts/`, filled from the spec here.

Everything that comes from users or tools (preview HTML, notes, the brief, file contents, command
output) is framed as `<data>` blocks, which the system prompt says are material, never instructions. A
value cannot close its own block early: `</data>` inside it is defused.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from string import Template

from appgen.scaffold import preview_input_path
from appgen.spec import GenerationSpec, Page, route_to_dir

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
# Large previews stay in the workspace file the prompt names; the prompt carries the first part only.
MAX_INLINE_PREVIEW_CHARS = 60_000
MAX_FAILURE_CHARS = 12_000


def system_prompt() -> str:
    return _read("system.md")


def workspace_context() -> str:
    """`GEMINI.md` of every workspace: the CLI loads it as project context for each agent."""
    return _read("GEMINI.md")


def page_prompt(spec: GenerationSpec, page: Page, allowed: list[str]) -> str:
    preview = page.selected_preview_html
    if len(preview) > MAX_INLINE_PREVIEW_CHARS:
        preview = (
            preview[:MAX_INLINE_PREVIEW_CHARS]
            + f"\n[… truncated; read the whole preview from {preview_input_path(page.page_id)}]"
        )
    return _fill(
        "page.md",
        page_name=page.name,
        app_title=spec.brief.title,
        page_id=page.page_id,
        route=page.route,
        component_file=f"components/{page.page_id}/Page.tsx",
        page_file=f"{route_to_dir(page.route)}/page.tsx",
        preview_file=preview_input_path(page.page_id),
        allowed=_bullets(allowed),
        actions=_actions(page.actions),
        page_notes=_data(page.notes or "(none)"),
        global_notes=_data(spec.global_notes or "(none)"),
        style=_data(_style(spec)),
        tree_node=_data(json.dumps(page.tree_node, indent=2) if page.tree_node else "(none)"),
        preview_html=_data(preview),
    )


def integration_prompt(spec: GenerationSpec) -> str:
    pages = [f"{p.page_id} → {p.route} → components/{p.page_id}/Page.tsx ({p.name})" for p in spec.pages]
    brief = spec.brief
    return _fill(
        "integration.md",
        app_title=brief.title,
        pages=_bullets(pages),
        actions=_actions(spec.actions),
        brief=_data(
            f"title: {brief.title}\naudience: {brief.audience}\ngoals: {brief.goals}\n\n{brief.details}"
        ),
        style=_data(_style(spec)),
        global_notes=_data(spec.global_notes or "(none)"),
    )


def fix_prompt(
    spec: GenerationSpec,
    *,
    failure_output: str,
    files: dict[str, str],
    diff_summary: str,
    round: int,
    max_rounds: int,
    command: str = "npm run build",
) -> str:
    if diff_summary:
        previous = (
            "The previous fix round changed the files below and the check still failed. Do not undo a "
            "correct change; look for what it missed.\n\n"
            f'<data name="previous round diff">\n{_data(diff_summary)}\n</data>'
        )
    else:
        previous = "This is the first fix round."
    named = [f'<data name="{path}">\n{_data(text)}\n</data>' for path, text in files.items()]
    return _fill(
        "fix.md",
        app_title=spec.brief.title,
        command=command,
        round=str(round),
        max_rounds=str(max_rounds),
        previous_round=previous,
        failure_output=_data(failure_output[-MAX_FAILURE_CHARS:]),
        files="\n\n".join(named) or "(the output names no files of the project)",
    )


def repair_prompt(
    spec: GenerationSpec, page: Page, allowed: list[str], findings: list[str], images: list[str]
) -> str:
    """The gate's one repair turn for a page that fell below its scaffold (`pipeline/gate.py`)."""
    return _fill(
        "repair.md",
        app_title=spec.brief.title,
        page_id=page.page_id,
        route=page.route,
        allowed=", ".join(f"`{a}`" for a in allowed),
        findings=_bullets([_data(f) for f in findings]),
        images=", ".join(f"`{i}`" for i in images) or "(none could be taken)",
        preview=_data(page.selected_preview_html),
    )


# -- helpers -------------------------------------------------------------------------------------------
@cache
def _read(name: str) -> str:
    return (PROMPTS_DIR / name).read_text()


def _fill(name: str, **values: str) -> str:
    # substitute (not safe_substitute): a placeholder left unfilled is a bug, not a prompt.
    return Template(_read(name)).substitute(values)


def _data(text: str) -> str:
    """User or tool material, defused so it cannot end its `<data>` block."""
    return text.replace("</data", "<\\/data")


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _actions(actions: list[str]) -> str:
    return ", ".join(f"`{a}` (POST /api/{a})" for a in actions) or "none"


def _style(spec: GenerationSpec) -> str:
    style = spec.style
    palette = [e if isinstance(e, str) else f"{e.name}: {e.value}" for e in style.palette]
    fonts = [e if isinstance(e, str) else f"{e.role}: {e.family}" for e in style.typography]
    return (
        f"name: {style.name or '(unnamed)'}\n"
        f"palette: {', '.join(palette) or '(none)'}\n"
        f"typography: {', '.join(fonts) or '(none)'}\n"
        f"notes: {style.notes or '(none)'}"
    )
