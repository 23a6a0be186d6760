"""The ticket store on SQLite: escalation, 并单, metrics' denominators, rules and retraining data."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from zhixiang.classify import load_model
from zhixiang.tickets import (
    Command,
    InvalidInput,
    Principal,
    TicketDraft,
    TicketStore,
    TransitionRefused,
    load_rules,
)
from zhixiang.tickets._models import Base


class Clock:
    """The store's notion of now, moved by the test instead of waiting for days to pass."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 2, 1, 0))  # Monday 2 Nov 2026, 09:00 Beijing


@pytest.fixture
def store(tickets_url: str, clock: Clock) -> Iterator[TicketStore]:
    store = TicketStore(tickets_url, clock=clock)
    store.migrate()
    yield store
    store.close()


CENTER = Principal("c", "intake")
SIMING = Principal("s", "department", "siming-housing")
HEALTH = Principal("h", "department", "city-health")


def draft(**changes: object) -> TicketDraft:
    fields = {
        "title": "莲花五村路灯不亮",
        "body": "莲花五村12号楼下的路灯坏了半个月，晚上很黑，老人出行不便。",
        "category": "城乡建设",
        "region_code": "350203008003",
        "grid_id": "SM-0803-05",
    }
    return TicketDraft(**{**fields, **changes})


def act(store: TicketStore, who: Principal, ticket_id: int, **command: object):
    return store.act(who, ticket_id, Command(**command))


def test_overdue_tickets_climb_the_region_tree_one_level_per_working_day(
    store: TicketStore, clock: Clock
) -> None:
    ticket = store.intake(CENTER, draft()).ticket
    assert ticket.due_at is not None
    clock.now = ticket.due_at.replace(tzinfo=None) - timedelta(hours=1)
    assert store.escalate_overdue() == []
    clock.now += timedelta(hours=2)
    [moved] = store.escalate_overdue()
    assert (moved.escalation_level, moved.escalation_region) == ("社区", "350203008003")
    assert moved.supervised and store.escalate_overdue() == []  # once per period
    climbed = []
    for _ in range(10):  # a weekend lies in between: it does not count
        clock.now += timedelta(days=1)
        climbed += [(t.escalation_level, t.escalation_region) for t in store.escalate_overdue()]
    assert climbed == [("街道", "350203008"), ("区", "350203"), ("市", "350200")]
    act(store, SIMING, ticket.id, action="sign")
    with pytest.raises(TransitionRefused, match="超期"):
        act(store, SIMING, ticket.id, action="extend", days=2, reason="太晚了")


def test_near_duplicates_are_proposed_and_merged_tickets_share_handling(store: TicketStore) -> None:
    first = store.intake(CENTER, draft()).ticket
    second = store.intake(
        CENTER,
        draft(title="莲花五村12号路灯坏了", body="12号楼下路灯坏了很久了，晚上太黑", grid_id=None),
    )
    unrelated = store.intake(
        CENTER, draft(title="小区垃圾没人清运", body="垃圾桶满了三天没人收", grid_id="SM-0803-05")
    )
    far = store.intake(CENTER, draft(region_code="350206001001", grid_id=None))
    assert [d.id for d in second.duplicates] == [first.id]
    assert second.ticket.duplicate_of == first.id
    assert unrelated.duplicates == [] and far.duplicates == []

    merged = store.merge(CENTER, second.ticket.id, first.id)
    assert merged.group_id == first.id
    act(store, SIMING, first.id, action="sign")
    assert store.get(CENTER, second.ticket.id).status == "signed"
    with pytest.raises(TransitionRefused, match="主单"):
        act(store, SIMING, second.ticket.id, action="resolve", reply="好了")
    act(store, SIMING, first.id, action="resolve", reply="已修复")
    act(
        store,
        CENTER,
        first.id,
        action="follow_up",
        reached=True,
        responded=True,
        solved=True,
        satisfaction="satisfied",
    )
    act(
        store,
        CENTER,
        second.ticket.id,
        action="follow_up",
        reached=True,
        responded=True,
        solved=False,
        satisfaction="unsatisfied",
    )
    reopened = act(store, CENTER, second.ticket.id, action="reopen", reason="仍不亮")
    assert reopened.group_id is None and reopened.status == "dispatched"
    assert store.get(CENTER, first.id).status == "followed_up"
    with pytest.raises(InvalidInput):
        store.merge(CENTER, first.id, first.id)


def test_metrics_count_valid_follow_ups_and_misrouted_dispatches(
    store: TicketStore, clock: Clock
) -> None:
    start = clock.now
    ids = [
        store.intake(CENTER, draft(title=f"路灯 {i}", grid_id=f"G{i}")).ticket.id for i in range(4)
    ]
    returned = store.intake(
        CENTER, draft(title="医院排队", category="城乡建设", grid_id="G9")
    ).ticket
    act(store, SIMING, returned.id, action="return", reason="应由卫健委办理")
    act(
        store, CENTER, returned.id, action="dispatch", department="city-health", category="卫生计生"
    )
    outcomes = [
        dict(reached=True, responded=True, solved=True, satisfaction="satisfied"),
        dict(reached=True, responded=True, solved=False, satisfaction="basically_satisfied"),
        dict(reached=True, responded=False, solved=False, satisfaction="unsatisfied"),
        dict(reached=False),  # reporter unreachable: not a valid follow-up
    ]
    for ticket_id, outcome in zip(ids, outcomes, strict=True):
        act(store, SIMING, ticket_id, action="sign")
        act(store, SIMING, ticket_id, action="resolve", reply="已处理")
        act(store, CENTER, ticket_id, action="follow_up", **outcome)
    report = store.metrics(start - timedelta(days=1), start + timedelta(days=1))
    row = {r.department: r for r in report.departments}["siming-housing"]
    assert row.valid_follow_ups == 3
    assert (row.response_rate.numerator, row.response_rate.denominator) == (2, 3)
    assert (row.resolution_rate.numerator, row.resolution_rate.denominator) == (1, 3)
    assert (row.satisfaction_rate.numerator, row.satisfaction_rate.denominator) == (2, 3)
    assert (row.on_time_sign_rate.numerator, row.on_time_sign_rate.denominator) == (4, 4)
    assert (report.dispatch_accuracy.numerator, report.dispatch_accuracy.denominator) == (4, 5)
    health = {r.department: r for r in report.departments}["city-health"]
    assert health.on_time_sign_rate.denominator == 0 and health.on_time_sign_rate.value is None
    clock.now += timedelta(days=3)
    late = store.metrics(start - timedelta(days=1), start + timedelta(days=1), "city-health")
    assert (
        late.departments[0].on_time_sign_rate.numerator,
        late.departments[0].on_time_sign_rate.denominator,
    ) == (0, 1)
    assert store.training_examples()[2] == ["城乡建设"] * 4


def test_without_a_category_or_model_the_ticket_waits_for_a_person(store: TicketStore) -> None:
    result = store.intake(CENTER, draft(category=None))
    assert not result.auto_dispatched and result.ticket.status == "received"
    assert [t.id for t in store.queue(CENTER, "center")] == [result.ticket.id]
    with pytest.raises(InvalidInput, match="部门"):
        act(store, CENTER, result.ticket.id, action="dispatch")
    act(store, CENTER, result.ticket.id, action="dispatch", category="卫生计生")
    assert store.get(HEALTH, result.ticket.id).department == "city-health"


def test_rule_files_with_mistakes_are_refused_naming_the_field(tmp_path: Path) -> None:
    text = (Path(load_rules.__code__.co_filename).with_name("rules.yaml")).read_text("utf-8")
    broken = tmp_path / "rules.yaml"
    broken.write_text(
        text.replace("department: city-transport", "department: city-trnsport"), "utf-8"
    )
    with pytest.raises(InvalidInput, match=r"routing\[5\]\.department"):
        load_rules(broken)
    broken.write_text(text.replace('region: "350206"', 'region: "110101"'), "utf-8")
    with pytest.raises(InvalidInput, match="不在厦门市"):
        load_rules(broken)


def test_model_confidence_decides_between_auto_dispatch_and_a_person(tmp_path: Path) -> None:
    model = load_model()
    title, body = "公司拖欠工资三个月", "我们公司拖欠工资三个月了，社保也没有交。"
    [prediction] = model.predict([title], [body])
    for threshold, status in [
        (max(0.0, prediction.confidence - 0.05), "dispatched"),
        (min(1.0, prediction.confidence + 0.05), "received"),
    ]:
        rules = load_rules().model_copy(update={"auto_dispatch_threshold": threshold})
        store = TicketStore(f"sqlite:///{tmp_path / f'{threshold}.db'}", rules, model)
        store.migrate()
        result = store.intake(CENTER, TicketDraft(title=title, body=body))
        assert (result.ticket.category, result.ticket.confidence) == (
            prediction.category,
            pytest.approx(prediction.confidence),
        )
        assert result.ticket.status == status and result.auto_dispatched == (status == "dispatched")
        assert result.ticket.model_version == model.version
        store.close()


def test_migrations_build_exactly_the_models_schema(tickets_url: str) -> None:
    store = TicketStore(tickets_url)
    store.migrate()
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"version_table": "tickets_alembic_version"}
        )
        differences = compare_metadata(context, Base.metadata)
    store.close()
    assert differences == []


def test_a_data_officer_key_cannot_read_tickets(tmp_path) -> None:
    import pytest

    from zhixiang.tickets import Forbidden, SearchFilters, open_store

    store = open_store(f"sqlite:///{tmp_path / 't.db'}", with_classifier=False)
    secret, key = store.create_key("data_officer")
    officer = store.authenticate(secret)
    assert officer.scope == "data_officer" and key.department is None
    with pytest.raises(Forbidden):
        store.search(officer, SearchFilters())
    with pytest.raises(Forbidden):
        store.queue(officer, "center")
