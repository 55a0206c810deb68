"""The images: the Artifact Registry repository, the images Cloud Build builds into it, and their tags.

Image tags come from content: a hash of a Dockerfile and of every file its COPY instructions take from the
build context (minus `.dockerignore`), so the tag changes exactly when the image would, and a deploy of
an unchanged checkout builds nothing."""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from appgen.deploy.resources import GCLOUD, Resource, Scope
from appgen.deploy.runner import Command, Runner

TAG_LENGTH = 16


def content_tag(source: Path, dockerfile: str) -> str:
    digest = hashlib.sha256()
    for path in [source / dockerfile, *sorted(context_files(source, dockerfile))]:
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:TAG_LENGTH]


def copied_sources(dockerfile: Path) -> list[str]:
    """The context paths a Dockerfile's COPY/ADD instructions name (not those copied from a stage)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    sources: list[str] = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = words[1:]
        if any(a.startswith("--from=") for a in args):
            continue
        sources += [a for a in args if not a.startswith("--")][:-1]
    return sources


def context_files(source: Path, dockerfile: str) -> Iterator[Path]:
    ignored = _ignore_patterns(source)
    for name in copied_sources(source / dockerfile):
        root = source / name
        candidates = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            relative = path.relative_to(source).as_posix()
            if not any(pattern.fullmatch(prefix) for pattern in ignored for prefix in _prefixes(relative)):
                yield path


def _prefixes(relative: str) -> Iterator[str]:
    """`a/b/c` -> `a`, `a/b`, `a/b/c`: Docker excludes a directory's whole content when it matches."""
    parts = relative.split("/")
    for end in range(1, len(parts) + 1):
        yield "/".join(parts[:end])


@cache
def _patterns(text: str) -> tuple[re.Pattern[str], ...]:
    patterns = []
    for line in text.splitlines():
        line = line.strip().strip("/")
        if not line or line.startswith("#") or line.startswith("!"):
            continue
        regex = ""
        for token in re.split(r"(\*\*/|\*\*|\*|\?)", line):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        patterns.append(re.compile(regex))
    return tuple(patterns)


def _ignore_patterns(source: Path) -> tuple[re.Pattern[str], ...]:
    ignore = source / ".dockerignore"
    return _patterns(ignore.read_text()) if ignore.is_file() else ()


@dataclass(frozen=True)
class Repository(Resource):
    removable = True
    name: str

    @property
    def label(self) -> str:
        return f"repository {self.name}"

    def describe(self, scope: Scope, run: Runner) -> Any:
        return run.read(
            (
                GCLOUD,
                "artifacts",
                "repositories",
                "describe",
                self.name,
                f"--location={scope.region}",
                scope.p,
            )
        )

    def create(self, scope: Scope) -> list[Command]:
        return [
            (
                GCLOUD, "artifacts", "repositories", "create", self.name, "--repository-format=docker",
                f"--location={scope.region}", "--description=appgen images", scope.p, "--quiet",
            )
        ]  # fmt: skip

    def delete(self, scope: Scope) -> list[Command]:
        return [
            (GCLOUD, "artifacts", "repositories", "delete", self.name, f"--location={scope.region}", scope.p,
             "--quiet")
        ]  # fmt: skip


@dataclass(frozen=True)
class Image(Resource):
    """An image built by Cloud Build from the source checkout; its tag is a hash of what goes into it,
    so an unchanged image is never built twice."""

    name: str
    dockerfile: str
    tag: str
    repository: str
    builder_account: str  # the build's service account (name)
    staging_bucket: str

    @property
    def label(self) -> str:
        return f"image {self.name}:{self.tag}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        return (f"repository {self.repository}",)

    def uri(self, scope: Scope) -> str:
        return f"{scope.registry}/{self.repository}/{self.name}:{self.tag}"

    def _list(self, scope: Scope) -> Command:
        return (GCLOUD, "artifacts", "docker", "images", "list", f"{scope.registry}/{self.repository}",
                "--include-tags", scope.p)  # fmt: skip

    def describe(self, scope: Scope, run: Runner) -> Any:
        for image in run.read(self._list(scope)) or []:
            if image.get("package", "").endswith(f"/{self.name}") and self.tag in image.get("tags", []):
                return image
        return None

    def create(self, scope: Scope) -> list[Command]:
        return [
            (
                GCLOUD, "builds", "submit", "--config=appgen/deploy/cloudbuild.yaml",
                f"--substitutions=_DOCKERFILE={self.dockerfile},_IMAGE={self.uri(scope)}",
                f"--service-account=projects/{scope.project}/serviceAccounts/{scope.sa_email(self.builder_account)}",
                f"--gcs-source-staging-dir=gs://{self.staging_bucket}/source", "--ignore-file=.dockerignore",
                "--suppress-logs", f"--region={scope.region}", scope.p, "--quiet", ".",
            )
        ]  # fmt: skip
