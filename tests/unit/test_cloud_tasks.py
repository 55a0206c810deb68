"""Cloud Tasks dispatcher: the exact `CreateTaskRequest`s the real client would send, recorded by a fake
client object, and how the queue's answers map (AlreadyExists is success, anything else a clean 503)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import tasks_v2

from appgen import errors
from appgen.cloud.tasks import MAX_TASK_ID_LENGTH, CloudTasksDispatcher, task_id
from appgen.dispatch import DISPATCH_DEADLINE_SECONDS, TaskMessage, message_for
from appgen.gateway import Dispatch

NOW = 1_900_000_000.0
SA = "appgen-tasks@demo-project.iam.gserviceaccount.com"
AUDIENCE = "https://appgen-internal.example"
ORCHESTRATE = "https://orchestrate-abc-ew.a.run.app"
WORKER = "https://worker-abc-ew.a.run.app/"


class FakeTasksClient:
    """Stands in for `tasks_v2.CloudTasksClient`: records each call, answers with a queued error or the
    created task."""

    def __init__(self, *answers: Exception) -> None:
        self.calls: list[dict[str, Any]] = []
        self._answers = list(answers)

    def create_task(
        self, *, request: tasks_v2.CreateTaskRequest, retry: Any, timeout: float
    ) -> tasks_v2.Task:
        self.calls.append({"request": request, "retry": retry, "timeout": timeout})
        if self._answers:
            raise self._answers.pop(0)
        return request.task

    @property
    def requests(self) -> list[tasks_v2.CreateTaskRequest]:
        return [call["request"] for call in self.calls]


def make(client: FakeTasksClient) -> CloudTasksDispatcher:
    return CloudTasksDispatcher(
        project="demo-project",
        location="europe-west1",
        service_account_email=SA,
        audience=AUDIENCE,
        target_urls={"orchestrate": ORCHESTRATE, "worker": WORKER},
        client=client,
        clock=lambda: NOW,
    )


def test_a_delayed_worker_step_becomes_a_named_scheduled_http_task_with_an_oidc_token() -> None:
    client = FakeTasksClient()
    job, task = uuid.uuid4(), uuid.uuid4()
    make(client).dispatch_all([Dispatch("fix", job, task, delay_seconds=60)])

    [request] = client.requests
    queue = "projects/demo-project/locations/europe-west1/queues/app-gen-fix"
    assert request.parent == queue
    sent = request.task
    assert sent.name == f"{queue}/tasks/task-{task}-d60"
    http = sent.http_request
    assert http.url == "https://worker-abc-ew.a.run.app/internal/worker"
    assert http.http_method == tasks_v2.HttpMethod.POST
    assert dict(http.headers) == {"Content-Type": "application/json"}
    assert http.oidc_token.service_account_email == SA
    assert http.oidc_token.audience == AUDIENCE
    assert json.loads(http.body) == {"jobId": str(job), "taskId": str(task), "kind": "fix"}
    assert sent.dispatch_deadline == timedelta(seconds=DISPATCH_DEADLINE_SECONDS) == timedelta(minutes=30)
    assert sent.schedule_time == datetime.fromtimestamp(NOW + 60, UTC)
    assert client.calls[0]["timeout"] == 20.0
    assert client.calls[0]["retry"] is not None


def test_starting_a_job_goes_to_the_orchestrator_unnamed_and_immediately() -> None:
    client = FakeTasksClient()
    job = uuid.uuid4()
    make(client).enqueue(message_for(Dispatch("start", job, None)))

    [request] = client.requests
    assert request.parent == "projects/demo-project/locations/europe-west1/queues/app-gen-orchestrator"
    assert request.task.name == ""  # Cloud Tasks names it
    assert request.task.http_request.url == "https://orchestrate-abc-ew.a.run.app/internal/orchestrate"
    assert json.loads(request.task.http_request.body) == {"jobId": str(job)}
    assert "schedule_time" not in request.task  # proto-plus: the field is unset, so "as soon as possible"
    assert request.task.dispatch_deadline == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("kind", "queue"),
    [
        ("scaffold", "app-gen-page"),
        ("page", "app-gen-page"),
        ("integrate", "app-gen-integrate"),
        ("validate", "app-gen-integrate"),
        ("package", "app-gen-integrate"),
        ("fix", "app-gen-fix"),
    ],
)
def test_every_step_kind_goes_to_its_plan_queue(kind: str, queue: str) -> None:
    client = FakeTasksClient()
    make(client).dispatch_all([Dispatch(kind, uuid.uuid4(), uuid.uuid4())])
    assert client.requests[0].parent.endswith(f"/queues/{queue}")
    assert client.requests[0].task.http_request.url.endswith("/internal/worker")


def test_already_exists_counts_as_enqueued() -> None:
    client = FakeTasksClient(gexc.AlreadyExists("Requested entity already exists"))
    dispatcher = make(client)
    message = TaskMessage("app-gen-page", "worker", {"taskId": "t"}, name="task-t-d0")
    dispatcher.enqueue(message)  # no exception
    assert len(client.calls) == 1
    assert client.requests[0].task.name.endswith("/tasks/task-t-d0")


@pytest.mark.parametrize(
    "error",
    [
        gexc.ServiceUnavailable("backend down"),
        gexc.PermissionDenied("the caller lacks cloudtasks.tasks.create"),
        gexc.NotFound("Queue does not exist"),
        gexc.RetryError("deadline exceeded while retrying", cause=None),
    ],
)
def test_other_queue_errors_become_dependency_unavailable(error: Exception) -> None:
    client = FakeTasksClient(error)
    with pytest.raises(errors.DependencyUnavailable) as raised:
        make(client).enqueue(TaskMessage("app-gen-fix", "worker", {"taskId": "t"}, name="n"))
    assert raised.value.http_status == 503
    assert raised.value.retry_after == 5
    assert raised.value.message == f"the task queue app-gen-fix is unavailable ({type(error).__name__})"
    assert raised.value.__cause__ is error


def test_the_retry_policy_retries_only_transient_answers() -> None:
    client = FakeTasksClient()
    make(client).enqueue(TaskMessage("app-gen-fix", "worker", {"taskId": "t"}, name="n"))
    retry = client.calls[0]["retry"]
    assert retry._predicate(gexc.ServiceUnavailable("x")) is True
    assert retry._predicate(gexc.AlreadyExists("x")) is False
    assert retry._predicate(gexc.PermissionDenied("x")) is False


def test_payloads_of_100_kb_or_more_are_refused_before_anything_is_sent() -> None:
    client = FakeTasksClient()
    message = TaskMessage("app-gen-page", "worker", {"blob": "x" * 100 * 1024}, name="big")
    with pytest.raises(errors.AppgenError, match="payloads carry ids only"):
        make(client).enqueue(message)
    assert client.calls == []


def test_a_target_without_a_url_is_a_config_error() -> None:
    client = FakeTasksClient()
    with pytest.raises(errors.ConfigError, match="'cleanup'"):
        make(client).enqueue(TaskMessage("app-gen-orchestrator", "cleanup", {}))
    assert client.calls == []


def test_task_ids_keep_valid_names_and_sanitize_others_without_collisions() -> None:
    assert task_id("task-0f3c_d20-r1") == "task-0f3c_d20-r1"
    dotted, coloned = task_id("job.1/step:2"), task_id("job:1/step.2")
    assert dotted.startswith("job_1_step_2-") and coloned.startswith("job_1_step_2-")
    assert dotted != coloned
    long = task_id("é" * 800)
    assert len(long) == MAX_TASK_ID_LENGTH
    assert task_id("é" * 800) == long  # deterministic
    for value in (dotted, coloned, long):
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def test_the_dispatch_deadline_cannot_exceed_cloud_tasks_limit() -> None:
    with pytest.raises(errors.ConfigError, match="30 min"):
        CloudTasksDispatcher(
            project="p",
            location="l",
            service_account_email=SA,
            audience=AUDIENCE,
            target_urls={},
            client=FakeTasksClient(),
            deadline_seconds=31 * 60,
        )
