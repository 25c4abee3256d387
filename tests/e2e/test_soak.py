"""A short soak (bench/soak.py): readers over every kind of document, plain and conditional,
while a writer creates, edits, moves and deletes articles on `serve --workers 2`; and the soak's
own stale-read check, on histories made by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.soak import Doc, Model, Report, Shown, State, own_feed, parse_json, run, stale_items

OCT = datetime(2026, 10, 10, 12, tzinfo=UTC)
NOV = datetime(2026, 11, 10, 12, tzinfo=UTC)


def state(title: str, when: datetime = NOV, *, visible: bool = True) -> State:
    return State(title, ("glavnoe",), ("ua",), when, visible)


def all_news() -> Doc:
    return Doc("/feeds/all.json?limit=500", parse_json, lambda s: s.visible, whole=True)


def november() -> Doc:
    return Doc("/x", parse_json, lambda s: s.visible and s.month == "2026-11", whole=True)


def history(*states: State | None) -> Model:
    """Article `a` written once per state, every write acknowledged."""
    model = Model()
    for s in states:
        model.end(model.begin("a", s), ok=True)
    return model


def test_a_read_after_an_acknowledged_write_must_show_it() -> None:
    model = history(state("v1"), state("v2"))
    acked, sent = model.marks()
    assert stale_items(all_news(), Shown({"a": "v2"}), model, acked, sent) == []
    assert stale_items(all_news(), Shown({"a": "v1"}), model, acked, sent) != []
    # Begun before the second write was acknowledged: either version will do.
    assert stale_items(all_news(), Shown({"a": "v1"}), model, 1, sent) == []


def test_a_write_under_way_may_or_may_not_show() -> None:
    model = history(state("v1"))
    entry = model.begin("a", None)  # a delete sent, not yet answered
    acked, sent = model.marks()
    assert stale_items(all_news(), Shown({"a": "v1"}), model, acked, sent) == []
    assert stale_items(all_news(), Shown({}), model, acked, sent) == []
    model.end(entry, ok=True)
    acked, sent = model.marks()
    assert stale_items(all_news(), Shown({"a": "v1"}), model, acked, sent) != []


def test_a_failed_write_leaves_the_last_acknowledged_state() -> None:
    model = history(state("v1"))
    model.end(model.begin("a", state("v2")), ok=False)
    acked, sent = model.marks()
    assert stale_items(all_news(), Shown({"a": "v1"}), model, acked, sent) == []
    assert model.current("a") == state("v1")


def test_whole_lists_must_hold_everything_in_scope_and_nothing_else() -> None:
    model = history(state("v1", OCT), state("v2", NOV))
    acked, sent = model.marks()
    assert stale_items(november(), Shown({"a": "v2"}), model, acked, sent) == []
    assert stale_items(november(), Shown({}), model, acked, sent) != []  # left out
    moved_back = history(state("v1", NOV), state("v2", OCT))
    acked, sent = moved_back.marks()
    assert stale_items(november(), Shown({"a": "v1"}), moved_back, acked, sent) != []
    drafted = history(state("v1"), state("v1", visible=False))
    acked, sent = drafted.marks()
    assert stale_items(all_news(), Shown({"a": "v1"}), drafted, acked, sent) != []
    # A page is not the whole list: leaving an article out is no fault.
    page = Doc("/feeds/all.json?page=2", parse_json, lambda s: s.visible)
    assert stale_items(page, Shown({}), model, acked, sent) == []


def test_an_articles_own_feed_shows_only_that_article() -> None:
    model = history(state("v1"))
    acked, sent = model.marks()
    doc = own_feed("a")
    assert stale_items(doc, Shown({"a": "v1"}), model, acked, sent) == []
    assert stale_items(doc, Shown({"a": "v1", "b": "x"}), model, acked, sent) != []


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    # 10 s, or longer on a machine too slow to make 1,500 requests in that time.
    return run(10, min_requests=1500, tmp=Path(tmp_path_factory.mktemp("soak")))


def details(report: Report) -> str:
    return "\n".join(report.lines())


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_without_errors_and_the_store_equals_the_model(report: Report) -> None:
    # The run did what it is for: reads of every kind, conditional ones answered 304, and every
    # kind of write, on two workers.
    assert report.requests >= 1500, details(report)
    assert report.not_modified > 0, details(report)
    assert {"create", "edit", "delete"} <= set(report.writes), details(report)
    assert len(report.memory) == 2, details(report)
    assert report.errors == 0, details(report)
    assert report.server_errors == 0, details(report)
    assert report.store_mismatches == [], details(report)
    assert report.tracebacks == 0, details(report)
    assert report.workers_lost == 0, details(report)


@pytest.mark.e2e
@pytest.mark.slow
def test_soak_reads_nothing_stale(report: Report) -> None:
    assert report.stale == 0, details(report)
