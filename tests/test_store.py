"""The store's sequence numbers: unique per interview, under concurrent writers, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from loguru import logger
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from interviewer.store import Store, now_utc
from tests.pg import db_url, postgres  # noqa: F401  (fixtures)

WRITERS = 8
TURNS_EACH = 15


def _seq_index(url: str) -> dict | None:
    store = Store(url)
    indexes = inspect(store.engine).get_indexes("turns")
    return next((i for i in indexes if i["column_names"] == ["interview_id", "seq"]), None)


def _drop_seq_index(store: Store) -> None:
    """Make the database look like one created before the unique index existed."""
    with store.engine.begin() as conn:
        conn.execute(text("DROP INDEX IF EXISTS uq_turns_interview_seq"))


def test_concurrent_writers_get_every_seq_once_and_lose_no_turn(db_url):  # noqa: F811
    store = Store(db_url)
    iid, _ = store.create_interview("technical", {"name": "Ada"}, "scripted")
    other, _ = store.create_interview("technical", {"name": "Bob"}, "scripted")
    start = threading.Barrier(WRITERS)

    def writer(w: int) -> list[int]:
        start.wait()  # every writer starts at the same moment
        seqs = []
        for k in range(TURNS_EACH):
            t = now_utc()
            role = "candidate" if k % 2 else "interviewer"
            seqs.append(store.add_turn(iid, role, f"writer {w} turn {k}", t, t, question_index=w))
        return seqs

    with ThreadPoolExecutor(WRITERS) as pool:
        returned = list(pool.map(writer, range(WRITERS)))
    store.add_turn(other, "interviewer", "Hello.", now_utc(), now_utc())

    turns = Store(db_url).get(iid).turns
    total = WRITERS * TURNS_EACH
    assert [t.seq for t in turns] == list(range(total))  # 0..N-1, no gap, no duplicate
    seq_of = {t.text: t.seq for t in turns}
    assert sorted(seq_of) == sorted(
        f"writer {w} turn {k}" for w in range(WRITERS) for k in range(TURNS_EACH)
    )
    for w, seqs in enumerate(returned):
        # add_turn returned the seq its own row got, and each writer's turns keep its order
        assert seqs == [seq_of[f"writer {w} turn {k}"] for k in range(TURNS_EACH)]
        assert seqs == sorted(seqs)
        mine = [t for t in turns if t.text.startswith(f"writer {w} ")]
        assert all(t.question_index == w for t in mine)
        assert [t.role for t in mine] == [
            "candidate" if k % 2 else "interviewer" for k in range(TURNS_EACH)
        ]
    assert [t.seq for t in Store(db_url).get(other).turns] == [0]  # numbered per interview


def test_the_unique_index_is_added_to_an_existing_database(db_url):  # noqa: F811
    store = Store(db_url)
    iid, _ = store.create_interview("technical", {}, "scripted")
    store.add_turn(iid, "interviewer", "Hello.", now_utc(), now_utc())
    _drop_seq_index(store)
    store.engine.dispose()
    assert _seq_index(db_url)["unique"]  # a new Store (the server's start-up) added it back
    store = Store(db_url)
    assert store.add_turn(iid, "candidate", "Hi.", now_utc(), now_utc()) == 1


def test_an_old_database_with_duplicate_seqs_still_starts(db_url):  # noqa: F811
    store = Store(db_url)
    iid, _ = store.create_interview("technical", {}, "scripted")
    t = now_utc()
    store.add_turn(iid, "interviewer", "Hello.", t, t)
    _drop_seq_index(store)
    with store.engine.begin() as conn:  # what the old count(*) could write: two turns at seq 1
        for said in ("One.", "Two."):
            conn.execute(
                text(
                    "INSERT INTO turns (interview_id, seq, role, text, started_at, ended_at, interrupted)"
                    " VALUES (:i, 1, 'candidate', :said, :t, :t, false)"
                ),
                {"i": iid, "said": said, "t": t},
            )
    store.engine.dispose()
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        store = Store(db_url)  # does not fail start-up
    finally:
        logger.remove(sink)
    assert any("uq_turns_interview_seq" in w and "share a seq" in w for w in warnings), warnings
    assert store.add_turn(iid, "interviewer", "Next.", t, t) == 2  # after the highest, not count(*)
    assert [x.seq for x in store.get(iid).turns] == [0, 1, 1, 2]


def test_a_turn_of_no_interview_fails_at_once(db_url):  # noqa: F811
    store = Store(db_url)
    retries: list[str] = []
    sink = logger.add(
        lambda m: retries.append(str(m)), level="DEBUG", filter=lambda r: "taken" in r["message"]
    )
    try:
        with pytest.raises(IntegrityError):
            store.add_turn("no-such-interview", "candidate", "Hi.", now_utc(), now_utc())
    finally:
        logger.remove(sink)
    assert not retries  # a missing interview is not a seq someone else took


def test_servers_starting_together_on_a_new_database_all_start(postgres):  # noqa: F811
    """Several processes creating the schema at once: the advisory lock lets each in turn."""
    from interviewer.recordings import RecordingStore

    url = postgres.database()
    barrier = threading.Barrier(6)

    def start(_):
        barrier.wait()
        store = Store(url)
        RecordingStore(store, "/tmp/unused-recordings")
        return store

    with ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(start, range(6)))  # raises if any lost the race
    iid, _ = stores[0].create_interview("technical", {}, "scripted")
    assert stores[-1].get(iid) is not None
    assert {"interviews", "turns", "recordings"} <= set(inspect(stores[1].engine).get_table_names())
