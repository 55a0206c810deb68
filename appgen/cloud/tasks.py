"""Cloud Tasks dispatcher: each `TaskMessage` becomes an HTTP task on its queue, addressed to the
orchestrate or worker Cloud Run service, carrying an OIDC token the service verifies.

Semantics the local dispatcher mirrors: at-least-once delivery, ids-only JSON bodies, one dispatch
deadline per delivery (Cloud Tasks' maximum for HTTP targets, 30 minutes), named tasks deduplicated by
the queue (an `AlreadyExists` answer means the task is already enqueued, which is what the caller
wanted), and `schedule_time` for the plan's delayed retries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError

from appgen import errors
from appgen.dispatch import DISPATCH_DEADLINE_SECONDS, Dispatcher, TaskMessage
from appgen.redact import redact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 100 * 1024  # the plan's limit for ids-only payloads (Cloud Tasks allows 1 MB)
MAX_TASK_ID_LENGTH = 500  # Cloud Tasks' limit on the last segment of a task name
_TASK_ID_OK = re.compile(r"[A-Za-z0-9_-]{1,500}")
# Seconds one CreateTask call may take, retries of transient answers included.
CREATE_TIMEOUT_SECONDS = 20.0


def task_id(name: str) -> str:
    """A Cloud Tasks task id for a message name: the name itself when it is already valid, otherwise the
    name with disallowed characters replaced, plus a hash of the original so two names never collide."""
    if _TASK_ID_OK.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:32]
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[: MAX_TASK_ID_LENGTH - len(digest) - 1]
    return f"{cleaned}-{digest}"


class CloudTasksDispatcher(Dispatcher):
    """Enqueues HTTP tasks to `{target_urls[message.target]}/internal/{message.target}`."""

    def __init__(
        self,
        *,
        project: str,
        location: str,
        service_account_email: str,
        audience: str,
        target_urls: Mapping[str, str],
        client: Any = None,
        clock: Callable[[], float] = time.time,
        deadline_seconds: int = DISPATCH_DEADLINE_SECONDS,
    ):
        if not 15 <= deadline_seconds <= DISPATCH_DEADLINE_SECONDS:
            raise errors.ConfigError("the Cloud Tasks dispatch deadline must be between 15 s and 30 min")
        self.project, self.location = project, location
        self.service_account_email, self.audience = service_account_email, audience
        self.target_urls = {target: url.rstrip("/") for target, url in target_urls.items()}
        self._client = client
        self._clock = clock
        self._deadline = deadline_seconds

    @property
    def client(self) -> Any:
        """The real client is built on first use (it needs Application Default Credentials)."""
        if self._client is None:
            from google.cloud import tasks_v2

            self._client = tasks_v2.CloudTasksClient()
        return self._client

    def build_request(self, message: TaskMessage) -> Any:
        """The `CreateTaskRequest` for one message (public so tests and tools can inspect it)."""
        from google.cloud import tasks_v2

        base = self.target_urls.get(message.target)
        if not base:
            raise errors.ConfigError(f"no Cloud Run URL is configured for task target {message.target!r}")
        body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()
        if len(body) >= MAX_BODY_BYTES:
            raise errors.AppgenError(
                f"a {message.queue} task payload is {len(body)} bytes; payloads carry ids only (< 100 KB)"
            )
        parent = tasks_v2.CloudTasksClient.queue_path(self.project, self.location, message.queue)
        task = tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(
                url=f"{base}/internal/{message.target}",
                http_method=tasks_v2.HttpMethod.POST,
                headers={"Content-Type": "application/json"},
                body=body,
                oidc_token=tasks_v2.OidcToken(
                    service_account_email=self.service_account_email, audience=self.audience
                ),
            ),
            dispatch_deadline=timedelta(seconds=self._deadline),
        )
        if message.name is not None:
            task.name = f"{parent}/tasks/{task_id(message.name)}"
        if message.delay_seconds > 0:
            task.schedule_time = datetime.fromtimestamp(self._clock() + message.delay_seconds, UTC)
        return tasks_v2.CreateTaskRequest(parent=parent, task=task)

    def enqueue(self, message: TaskMessage) -> None:
        request = self.build_request(message)
        try:
            client = self.client
        except DefaultCredentialsError as exc:
            raise errors.ConfigError(
                "Cloud Tasks needs Application Default Credentials (the Cloud Run service account)"
            ) from exc
        try:
            client.create_task(request=request, retry=_retry(), timeout=CREATE_TIMEOUT_SECONDS)
        except gexc.AlreadyExists:
            # The queue already holds (or recently ran) a task of this name: the enqueue is done.
            log.info("duplicate task name ignored", extra={"action": "dispatch.dedup", "task": message.name})
            return
        except (gexc.GoogleAPIError, GoogleAuthError, OSError) as exc:
            # API answers, exhausted retries, token refresh and network failures: nothing was enqueued.
            log.warning(
                "Cloud Tasks refused a task: %s",
                redact(str(exc)),
                extra={"action": "dispatch.error", "task": message.name, "queue": message.queue},
            )
            raise errors.DependencyUnavailable(
                f"the task queue {message.queue} is unavailable ({type(exc).__name__})"
            ) from exc
        log.info(
            "task enqueued",
            extra={"action": "dispatch.enqueue", "task": message.name, "queue": message.queue},
        )


def _retry() -> Any:
    """Retry transient CreateTask answers. Safe even for named tasks: a retry of a call that did land
    answers AlreadyExists, which counts as success."""
    from google.api_core.retry import Retry, if_exception_type

    return Retry(
        predicate=if_exception_type(
            gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError, gexc.TooManyRequests
        ),
        initial=0.2,
        maximum=2.0,
        multiplier=2.0,
        timeout=CREATE_TIMEOUT_SECONDS,
    )
