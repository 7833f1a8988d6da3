"""Small store calls on the server's event loop: `Database.writer_if_free` lets a small write take the
process's writer without waiting, or tells it to hop to a store thread (it never waits on a writer another
thread holds); `Database.connects_without_waiting` lets a small read go inline only when it would not wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tracklet.store import schema as s
from tracklet.store.store import Store


@pytest.fixture
def store(store_uri: str) -> Iterator[Store]:
    st = Store(store_uri)
    yield st
    st.close()


def _n_runs(store: Store) -> int:
    with store.db.read() as conn:
        return conn.execute(select(func.count()).select_from(s.runs)).scalar_one()


def test_a_free_writer_is_held_and_the_write_inside_commits(store: Store) -> None:
    with store.db.writer_if_free() as held:
        if held:  # SQLite: the store call runs here, its own write() taking the lock again
            store.create_run(0, "alice", 1, "inline", [])
    assert held == store.db.is_sqlite  # PostgreSQL has no process-wide writer: always a thread
    if held:
        assert _n_runs(store) == 1


def test_a_writer_held_by_another_thread_is_not_waited_for(store: Store) -> None:
    inside, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with store.db.write():
            inside.set()
            release.wait(30)

    other = threading.Thread(target=long_write)
    other.start()
    try:
        assert inside.wait(30)
        with store.db.writer_if_free() as held:
            assert not held  # answered at once, while the other thread still writes
    finally:
        release.set()
        other.join()
    with store.db.writer_if_free() as held:
        assert held == store.db.is_sqlite


def test_a_failed_write_on_the_held_writer_changes_nothing_and_frees_it(store: Store) -> None:
    with pytest.raises(Exception, match="No Experiment"):
        with store.db.writer_if_free():
            store.create_run(12345, "alice", 1, "nowhere", [])
    assert _n_runs(store) == 0
    done = threading.Event()
    threading.Thread(target=lambda: (store.create_run(0, "bob", 1, "after", []), done.set())).start()
    assert done.wait(30)  # the lock was released: another thread can write
    assert _n_runs(store) == 1


def test_an_inline_read_is_refused_while_every_connection_is_busy(store: Store) -> None:
    """`server/protocol.run_read` reads on the event loop only when a read would not wait for a connection."""
    busy = []
    while store.db.connects_without_waiting():
        busy.append(store.db.engine.connect())
        assert len(busy) <= 100, "the pool never runs out"
    assert len(busy) >= 8  # room for the store threads' reads
    busy.pop().close()
    assert store.db.connects_without_waiting()
    for conn in busy:
        conn.close()
