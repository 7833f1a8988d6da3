"""MLflow's fluent verbs for experiments and runs (search, delete, restore, tags, parents), against a real
server and the local store (fixture `tracking_uri`)."""

from __future__ import annotations

import uuid

import pytest
from mlflow.entities import ViewType

import tracklet
from tracklet import entities, errors
from tracklet.client import paging


def _names(experiments: list[entities.Experiment]) -> list[str]:
    return [e.name for e in experiments]


def test_search_experiments_lists_every_page_unless_max_results(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "SEARCH_PAGE_SIZE", 2)  # 5 experiments: 3 pages
    prefix = f"paged-{uuid.uuid4().hex[:8]}-"
    created = [tracklet.create_experiment(f"{prefix}{i}") for i in range(5)]
    found = tracklet.search_experiments(filter_string=f"name LIKE '{prefix}%'", order_by=["name"])
    assert _names(found) == [f"{prefix}{i}" for i in range(5)]
    assert [e.experiment_id for e in found] == created
    assert all(isinstance(e, entities.Experiment) for e in found)
    assert len(tracklet.search_experiments(max_results=3, filter_string=f"name LIKE '{prefix}%'")) == 3
    # Without a filter, every experiment of the store: ours and at least the Default one.
    assert set(created) | {"0"} <= {e.experiment_id for e in tracklet.search_experiments()}


def test_search_experiments_filters_by_tag_orders_and_sees_deleted_ones(tracking_uri: str) -> None:
    prefix = f"view-{uuid.uuid4().hex[:8]}-"
    a = tracklet.create_experiment(f"{prefix}a", tags={"team": "nlp"})
    b = tracklet.create_experiment(f"{prefix}b", tags={"team": "vision"})
    c = tracklet.create_experiment(f"{prefix}c", tags={"team": "nlp"})
    ours = f"name LIKE '{prefix}%'"
    assert _names(
        tracklet.search_experiments(filter_string=f"{ours} AND tags.team = 'nlp'", order_by=["name DESC"])
    ) == [
        f"{prefix}c",
        f"{prefix}a",
    ]

    tracklet.delete_experiment(b)
    assert tracklet.get_experiment(b).lifecycle_stage == "deleted"
    assert {e.experiment_id for e in tracklet.search_experiments(filter_string=ours)} == {a, c}
    assert [e.experiment_id for e in tracklet.search_experiments("DELETED_ONLY", filter_string=ours)] == [b]
    assert {e.experiment_id for e in tracklet.search_experiments(ViewType.ALL, filter_string=ours)} == {a, b, c}

    tracklet.restore_experiment(b)
    assert tracklet.get_experiment(b).lifecycle_stage == "active"
    assert {e.experiment_id for e in tracklet.search_experiments(filter_string=ours)} == {a, b, c}


def test_search_arguments_are_checked_before_any_request(tracking_uri: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="view_type must be one of ACTIVE_ONLY"):
        tracklet.search_experiments("EVERYTHING")
    with pytest.raises(errors.InvalidParameterValue, match="order_by must be a list of strings"):
        tracklet.search_experiments(order_by="name")  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidParameterValue, match="max_results must be a positive integer"):
        tracklet.search_experiments(max_results=0)
    with pytest.raises(errors.InvalidParameterValue, match="filter_string must be a string"):
        tracklet.search_registered_models(filter_string=["name = 'x'"])  # type: ignore[arg-type]


def test_experiment_tags_go_to_the_current_experiment(tracking_uri: str) -> None:
    experiment = tracklet.set_experiment(f"tagged-{uuid.uuid4().hex[:8]}")
    other = tracklet.create_experiment(f"other-{uuid.uuid4().hex[:8]}")
    tracklet.set_experiment_tag("release", 2.2)
    tracklet.set_experiment_tags({"team": "wine", "stage": "dev"})
    tracklet.set_experiment_tags({"stage": "prod"})  # replaces the value
    tags = tracklet.get_experiment(experiment.experiment_id).tags
    assert {"release": "2.2", "team": "wine", "stage": "prod"}.items() <= tags.items()
    assert not tracklet.get_experiment(other).tags

    tracklet.delete_experiment_tag("team")
    tags = tracklet.get_experiment(experiment.experiment_id).tags
    assert "team" not in tags and tags["release"] == "2.2"
    with pytest.raises(errors.InvalidParameterValue, match="dict of tags"):
        tracklet.set_experiment_tags([("k", "v")])  # type: ignore[arg-type]


def test_delete_tag_removes_a_tag_set_just_before_it_was_sent(tracking_uri: str) -> None:
    with tracklet.start_run() as run:
        tracklet.set_tag("keep", "1")
        tracklet.set_tag("drop", "2")  # still queued: delete_tag must send it first, then delete it
        tracklet.delete_tag("drop")
    tags = tracklet.get_run(run.info.run_id).data.tags
    assert tags["keep"] == "1" and "drop" not in tags


def test_delete_tag_without_an_active_run_starts_one(tracking_uri: str) -> None:
    with pytest.raises(errors.ResourceDoesNotExist):
        tracklet.delete_tag("never-set")
    run = tracklet.active_run()
    assert run is not None  # as MLflow's: the verb started a run to act on
    tracklet.end_run()


def test_delete_run_hides_it_from_searches_and_restore_run_brings_it_back(tracking_uri: str) -> None:
    with tracklet.start_run() as kept:
        tracklet.log_metric("rmse", 0.5)
    with tracklet.start_run() as dropped:
        tracklet.log_metric("rmse", 0.9)
    rid = dropped.info.run_id

    tracklet.delete_run(rid)
    assert tracklet.get_run(rid).info.lifecycle_stage == "deleted"
    assert [r.info.run_id for r in tracklet.search_runs(output_format="list")] == [kept.info.run_id]
    assert [r.info.run_id for r in tracklet.search_runs(run_view_type="DELETED_ONLY", output_format="list")] == [rid]

    tracklet.restore_run(rid)
    assert tracklet.get_run(rid).info.lifecycle_stage == "active"
    assert {r.info.run_id for r in tracklet.search_runs(output_format="list")} == {kept.info.run_id, rid}
    with pytest.raises(errors.ResourceDoesNotExist):
        tracklet.delete_run("0" * 32)


def test_get_parent_run_of_nested_and_top_level_runs(tracking_uri: str) -> None:
    with tracklet.start_run(run_name="sweep") as parent:
        tracklet.log_param("grid", "alpha")
        with tracklet.start_run(run_name="trial", nested=True) as child:
            pass
    found = tracklet.get_parent_run(child.info.run_id)
    assert found is not None
    assert found.info.run_id == parent.info.run_id
    assert found.info.run_name == "sweep" and found.data.params == {"grid": "alpha"}
    assert tracklet.get_parent_run(parent.info.run_id) is None
    with pytest.raises(errors.ResourceDoesNotExist):
        tracklet.get_parent_run("0" * 32)
