"""The capacity model (bench/capacity_model.py) behaves like the system it models: sanity checks that fail when
the model is wrong, never timings."""

from __future__ import annotations

from dataclasses import replace

from appgen.policy import POLICY
from bench.capacity import main
from bench.capacity_model import Params, ceilings, simulate

# Unlimited Gemini, so only the worker instances limit.
_NO_GEMINI_LIMIT = {"gemini_rpm": 10**6, "gemini_tpm": 10**10}


def _load(jobs_per_hour: float, **settings: object) -> Params:
    """`jobs_per_hour` spread over enough users that the daily cap never binds."""
    users = int(jobs_per_hour * 24)
    return replace(Params(), users=users, jobs_per_user_day=1.0, hours=1.5, **settings)  # type: ignore[arg-type]


def test_under_light_load_every_job_is_served_at_once():
    r = simulate(_load(8, **_NO_GEMINI_LIMIT))

    assert r.accepted_per_hour > 0
    assert abs(r.completed_per_hour - r.accepted_per_hour) <= 0.1 * r.accepted_per_hour + 1
    assert r.failed == {}
    # Waiting is at most a cold start (an idle instance may have been scaled away) plus a little.
    assert r.delay_p50_s <= r.params.cold_start_s
    assert r.delay_p95_s <= r.params.cold_start_s + 5
    assert r.bottleneck == "none"
    assert r.gemini_429 == 0


def test_past_saturation_throughput_plateaus_at_instances_over_job_seconds_and_delay_grows():
    instances = 10
    settings = {**_NO_GEMINI_LIMIT, "max_instances": instances, "max_running_jobs": instances // 2}
    light = simulate(_load(10, **settings))
    capacity = instances * 3600 / light.job_instance_s
    heavy = simulate(_load(3 * capacity, **settings))
    heavier = simulate(_load(6 * capacity, **settings))

    assert 0.8 * capacity <= heavy.completed_per_hour <= 1.05 * capacity
    assert 0.8 * capacity <= heavier.completed_per_hour <= 1.05 * capacity
    assert heavy.bottleneck == heavier.bottleneck == "instances"
    assert light.delay_p95_s < 60 < heavy.delay_p50_s < heavier.delay_p50_s
    assert ceilings(light)["instances"] == capacity


def test_without_an_admission_cap_overload_wastes_the_instances_on_jobs_that_time_out():
    """Today's start_job starts every job with a free per-user slot: past saturation they share the
    instances and run into the deadline together, so fewer complete than the instances could serve."""
    settings = {**_NO_GEMINI_LIMIT, "max_instances": 10}
    capped = simulate(_load(150, **settings, max_running_jobs=5))
    uncapped = simulate(_load(150, **settings))

    assert uncapped.failed.get("timeout", 0) > 0
    assert capped.failed.get("timeout", 0) == 0
    assert uncapped.completed_per_hour < 0.5 * capped.completed_per_hour


def test_a_gemini_rpm_limit_below_demand_is_the_bottleneck_and_causes_backoffs():
    r = simulate(_load(60, max_instances=100, gemini_rpm=20, gemini_tpm=10**10))

    assert r.bottleneck == "gemini_rpm"
    assert r.pressure["gemini_rpm"] > 1
    assert r.gemini_429 > 0
    assert r.backoffs > 0
    assert r.failed.get("agent_quota", 0) > 0
    assert r.completed_per_hour < 0.5 * r.accepted_per_hour


def test_the_daily_cap_lets_one_heavy_user_run_five_jobs_a_day():
    r = simulate(replace(Params(), users=1, jobs_per_user_day=240, hours=24, warmup_hours=0))

    assert r.accepted_per_hour * 24 == POLICY.daily_job_cap
    assert r.quota_rejections > 200
    assert r.completed_per_hour * 24 == POLICY.daily_job_cap


def test_the_same_seed_gives_the_same_results_and_another_seed_does_not():
    params = _load(40, max_instances=8)

    assert simulate(params) == simulate(params)
    assert simulate(params) != simulate(replace(params, seed=2))


def test_the_cli_prints_one_row_per_max_instances(capsys):
    assert main(["--users", "100", "--hours", "0.5", "--max-instances", "3", "30"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert "saturates first" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["3", "30"]
