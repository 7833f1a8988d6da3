"""Users and permissions in the tracking store (`--auth`), on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracklet.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.permissions import EXPERIMENT, REGISTERED_MODEL, Permission
from tracklet.store.store import Store


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    st = Store(store_uri)
    yield st
    st.close()


def test_passwords_are_kept_hashed_and_checked(store: Store) -> None:
    alice = store.create_user("alice", "her password")
    assert store.authenticate("alice", "her password") == alice
    assert store.authenticate("alice", "her password") == alice  # the second check is from memory
    assert store.authenticate("alice", "not hers") is None
    assert store.authenticate("nobody", "her password") is None
    with store.db.read() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
    assert "her password" not in stored and stored.startswith("scrypt:")


def test_a_changed_password_is_checked_afresh_even_by_a_process_that_knew_the_old_one(store_uri: str) -> None:
    worker, other = Store(store_uri), Store(store_uri)
    try:
        worker.create_user("alice", "old")
        assert worker.authenticate("alice", "old") is not None and worker.password_was_verified("alice", "old")
        other.update_user_password("alice", "new")
        assert worker.authenticate("alice", "old") is None
        assert worker.authenticate("alice", "new") is not None
    finally:
        worker.close()
        other.close()


def test_user_names_are_unique_and_credentials_must_not_be_empty(store: Store) -> None:
    store.create_user("alice", "pw")
    with pytest.raises(ResourceAlreadyExists):
        store.create_user("alice", "other")
    with pytest.raises(InvalidParameterValue):
        store.create_user("", "pw")
    with pytest.raises(InvalidParameterValue):
        store.create_user("bob", "")
    with pytest.raises(InvalidParameterValue):
        store.create_user("b" * 256, "pw")
    assert [u.username for u in store.list_users()] == ["alice"]


def test_the_first_admin_is_created_once(store: Store) -> None:
    with pytest.raises(InvalidParameterValue, match="TRACKLET_ADMIN_PASSWORD"):
        store.ensure_admin("admin", None)
    assert store.ensure_admin("admin", "pw") is True
    assert store.ensure_admin("admin", "another") is False
    assert store.get_user("admin").is_admin and store.authenticate("admin", "pw") is not None


def test_the_last_admin_stays(store: Store) -> None:
    store.ensure_admin("admin", "pw")
    with pytest.raises(InvalidParameterValue, match="last admin"):
        store.update_user_admin("admin", False)
    with pytest.raises(InvalidParameterValue, match="last admin"):
        store.delete_user("admin")
    store.create_user("second", "pw", is_admin=True)
    store.update_user_admin("admin", False)
    store.delete_user("admin")
    assert [u.username for u in store.list_users()] == ["second"]


def test_permissions_are_granted_replaced_read_and_removed(store: Store) -> None:
    user = store.create_user("alice", "pw")
    experiment_id = store.create_experiment("e")
    store.set_permission(EXPERIMENT, experiment_id, "alice", Permission.READ, False)
    with pytest.raises(ResourceAlreadyExists):
        store.set_permission(EXPERIMENT, experiment_id, "alice", Permission.EDIT, False)
    store.set_permission(EXPERIMENT, experiment_id, "alice", Permission.EDIT)
    assert store.get_permission(EXPERIMENT, experiment_id, "alice") is Permission.EDIT
    assert store.experiment_grants(user.user_id, [int(experiment_id), 0]) == {int(experiment_id): Permission.EDIT}
    store.delete_permission(EXPERIMENT, experiment_id, "alice")
    with pytest.raises(ResourceDoesNotExist):
        store.get_permission(EXPERIMENT, experiment_id, "alice")
    with pytest.raises(ResourceDoesNotExist):
        store.delete_permission(EXPERIMENT, experiment_id, "alice")
    store.delete_permission(EXPERIMENT, experiment_id, "alice", True)  # revoking nothing is no error
    with pytest.raises(ResourceDoesNotExist):
        store.set_permission(EXPERIMENT, "424242", "alice", Permission.READ)
    with pytest.raises(ResourceDoesNotExist):
        store.set_permission(EXPERIMENT, experiment_id, "nobody", Permission.READ)
    with pytest.raises(InvalidParameterValue):
        store.set_permission("run", experiment_id, "alice", Permission.READ)


def test_a_registered_models_permissions_follow_its_renames_and_go_with_it(store: Store) -> None:
    user = store.create_user("alice", "pw")
    store.create_registered_model("m", [], None)
    store.set_permission(REGISTERED_MODEL, "m", "alice", Permission.NO_PERMISSIONS)
    store.rename_registered_model("m", "m2")
    assert store.registered_model_grant(user.user_id, "m") is None
    assert store.registered_model_grant(user.user_id, "m2") is Permission.NO_PERMISSIONS
    store.delete_registered_model("m2")
    store.create_registered_model("m2", [], None)  # a new model of that name starts without grants
    assert store.registered_model_grant(user.user_id, "m2") is None


def test_deleting_a_user_deletes_its_permissions(store: Store) -> None:
    store.create_user("alice", "pw")
    store.create_registered_model("m", [], None)
    store.set_permission(REGISTERED_MODEL, "m", "alice", Permission.MANAGE)
    store.set_permission(EXPERIMENT, "0", "alice", Permission.MANAGE)
    store.delete_user("alice")
    again = store.create_user("alice", "pw")
    assert store.user_permissions(again.user_id).experiments == {}
    assert store.user_permissions(again.user_id).registered_models == {}
