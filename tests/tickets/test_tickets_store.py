"""The ticket store on SQLite and PostgreSQL: escalation, 并单, metrics' denominators, rules,
permissions, search, the defects found under attack, reply scoring and retraining data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from tk_helpers import AGENT, HEALTH, LEADER, OFFICER, SIMING, Clock

from zhixiang.access import Principal
from zhixiang.classify import load_model
from zhixiang.tickets import (
    CST,
    Command,
    Forbidden,
    InvalidInput,
    ReplySentBack,
    SearchFilters,
    TicketDraft,
    TicketStore,
    TransitionRefused,
    WorkCalendar,
    load_rules,
)
from zhixiang.tickets._tables import Base

CENTER = AGENT


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
    report = store.metrics(AGENT, start - timedelta(days=1), start + timedelta(days=1))
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
    late = store.metrics(
        LEADER, start - timedelta(days=1), start + timedelta(days=1), "city-health"
    )
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
    broken.write_text(text.replace('region: "350206"', 'region: "350299"'), "utf-8")
    with pytest.raises(InvalidInput, match="不在国家行政区划代码表中"):
        load_rules(broken)
    # Departments are named by the directory's codes, never by a second list or a display name.
    assert "departments:" not in text
    broken.write_text(text.replace("department: city-transport", "department: 交通运输局"), "utf-8")
    with pytest.raises(InvalidInput, match="city-transport"):
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


def test_migrations_leave_no_api_keys_in_the_ticket_store(tickets_url: str) -> None:
    store = TicketStore(tickets_url)
    store.migrate()
    tables = set(inspect(store.engine).get_table_names())
    store.close()
    assert "api_keys" not in tables and {"tickets", "ticket_events", "ticket_media"} <= tables


# -- permissions ---------------------------------------------------------------------------------


def test_each_operation_checks_the_callers_permission_and_department(store: TicketStore) -> None:
    ticket = store.intake(AGENT, draft()).ticket
    assert ticket.department == "siming-housing"
    with pytest.raises(Forbidden):
        store.intake(SIMING, draft())  # handlers do not register requests
    with pytest.raises(Forbidden):
        act(store, HEALTH, ticket.id, action="sign")  # another department's ticket
    with pytest.raises(Forbidden):
        act(store, AGENT, ticket.id, action="sign")  # the centre does not sign
    with pytest.raises(Forbidden):
        act(store, SIMING, ticket.id, action="supervise")
    with pytest.raises(Forbidden):
        act(store, LEADER, ticket.id, action="remind")  # leaders read, never act
    with pytest.raises(Forbidden):
        store.get(HEALTH, ticket.id)
    with pytest.raises(Forbidden):
        store.queue(HEALTH, "siming-housing")
    with pytest.raises(Forbidden):
        store.metrics(SIMING, ticket.created_at, ticket.created_at + timedelta(1), "city-health")
    with pytest.raises(Forbidden):
        store.escalate_overdue(SIMING)
    with pytest.raises(Forbidden):
        store.merge(SIMING, ticket.id, ticket.id)
    assert store.get(LEADER, ticket.id).id == ticket.id
    assert [t.id for t in store.search(SIMING, SearchFilters())] == [ticket.id]
    assert store.search(HEALTH, SearchFilters()) == []
    assert act(store, SIMING, ticket.id, action="sign").status == "signed"


def test_a_data_officer_cannot_read_tickets(store: TicketStore) -> None:
    """Privacy rule: data officers administer the data hub; citizens' tickets are not theirs."""
    ticket = store.intake(AGENT, draft()).ticket
    for read in (
        lambda: store.get(OFFICER, ticket.id),
        lambda: store.search(OFFICER, SearchFilters()),
        lambda: store.queue(OFFICER, "center"),
        lambda: store.metrics(OFFICER, ticket.created_at, ticket.created_at + timedelta(1)),
    ):
        with pytest.raises(Forbidden):
            read()


def test_reporter_name_and_contact_are_masked_and_hidden_from_departments(
    store: TicketStore,
) -> None:
    """Privacy rule: staff see 张* and 138****5678; a confidential reporter is hidden from handlers."""
    plain = store.intake(
        AGENT, draft(reporter_name="张三丰", reporter_contact="13812345678")
    ).ticket
    secret = store.intake(
        AGENT,
        draft(
            title="举报工地夜间施工",
            body="某工地每晚施工到凌晨两点，请查处",
            reporter_name="李四",
            reporter_contact="13912345678",
            confidential=True,
            grid_id="G-secret",
        ),
    ).ticket
    assert (plain.reporter_name, plain.reporter_contact) == ("张*", "138****5678")
    seen = store.get(SIMING, plain.id)
    assert (seen.reporter_name, seen.reporter_contact) == ("张*", "138****5678")
    hidden = store.get(SIMING, secret.id)
    assert hidden.reporter_name is None and hidden.reporter_contact == "保密"
    assert store.get(AGENT, secret.id).reporter_contact == "139****5678"
    everything = "".join(t.model_dump_json() for t in store.search(AGENT, SearchFilters()))
    assert "13812345678" not in everything and "张三丰" not in everything


# -- the defects found under attack (issue 7, finding 8) -----------------------------------------


def test_street_search_matches_that_street_only(store: TicketStore) -> None:
    ids = {
        code: store.intake(
            AGENT, draft(region_code=code, grid_id=None, title=f"路灯{code}")
        ).ticket.id
        for code in ("350203010001", "350203011002", "350203012003", "350203010")
    }
    found = {t.id for t in store.search(AGENT, SearchFilters(region="350203010"))}
    assert found == {ids["350203010001"], ids["350203010"]}
    district = {t.id for t in store.search(AGENT, SearchFilters(region="350203"))}
    assert district == set(ids.values())


def test_nonexistent_street_codes_are_refused(store: TicketStore) -> None:
    for code in ("350203999", "350203999001", "350299", "350203004001"):
        with pytest.raises(InvalidInput, match="国家行政区划代码表"):
            store.intake(AGENT, draft(region_code=code))
        with pytest.raises(InvalidInput, match="国家行政区划代码表"):
            store.search(AGENT, SearchFilters(region=code))
    assert store.search(AGENT, SearchFilters()) == []


def test_an_idempotent_replay_answers_exactly_as_the_first_call(tmp_path: Path) -> None:
    model = Confident("城乡建设", 0.99)
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", classifier=model)
    store.migrate()
    for key, changes in [("given", {}), ("model", {"category": None})]:
        first = store.intake(AGENT, draft(**changes), idempotency_key=key)
        again = store.intake(AGENT, draft(**changes), idempotency_key=key)
        assert first.auto_dispatched and first.created and not again.created
        assert again.auto_dispatched == first.auto_dispatched
        assert again.ticket.id == first.ticket.id and again.ticket.status == first.ticket.status
    store.close()


def test_the_merge_is_recorded_on_both_tickets_at_the_same_moment(
    store: TicketStore, clock: Clock
) -> None:
    primary = store.intake(AGENT, draft()).ticket
    clock.now += timedelta(hours=3)
    other = store.intake(AGENT, draft(title="12号楼路灯坏了", grid_id="G-other")).ticket
    clock.now += timedelta(hours=2)
    store.merge(AGENT, other.id, primary.id)
    [on_other] = [e for e in store.get(AGENT, other.id).history if e.action == "merge"]
    [on_primary] = [e for e in store.get(AGENT, primary.id).history if e.action == "merge"]
    assert on_other.note == f"并入工单 #{primary.id}"
    assert on_primary.note == f"工单 #{other.id} 并入本单"
    assert on_primary.at == on_other.at == clock.now.replace(tzinfo=on_primary.at.tzinfo)


def test_a_merge_group_counts_one_signing_in_the_on_time_sign_rate(
    store: TicketStore, clock: Clock
) -> None:
    start = clock.now
    primary = store.intake(AGENT, draft()).ticket
    for i in range(3):
        member = store.intake(AGENT, draft(title=f"路灯不亮{i}", grid_id=f"G{i}")).ticket
        store.merge(AGENT, member.id, primary.id)
    late = store.intake(AGENT, draft(title="另一处路灯", grid_id="G9")).ticket
    clock.now += timedelta(days=3)  # past the sign deadline of both
    act(store, SIMING, primary.id, action="sign")
    act(store, SIMING, late.id, action="sign")
    report = store.metrics(AGENT, start - timedelta(days=1), clock.now)
    rate = {r.department: r for r in report.departments}["siming-housing"].on_time_sign_rate
    assert (rate.numerator, rate.denominator) == (0, 2)  # two assignments, not five


@dataclass
class Confident:
    """A classifier that is sure of one category, whatever the text says."""

    category: str
    confidence: float
    version: str = "test-1"

    def predict(self, titles: list[str], bodies: list[str]) -> list[Confident]:
        return [self for _ in titles]


def test_content_free_text_is_never_auto_dispatched(tmp_path: Path) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", classifier=Confident("城乡建设", 0.97))
    store.migrate()
    empty = store.intake(AGENT, TicketDraft(title="你好", body="你好，我想问一下"))
    assert not empty.auto_dispatched and empty.ticket.status == "received"
    assert "内容过少" in (store.get(AGENT, empty.ticket.id).history[0].note or "")
    real = store.intake(AGENT, TicketDraft(title="你好", body="你好，小区路灯坏了一个月了"))
    assert real.auto_dispatched and real.ticket.status == "dispatched"
    store.close()


# -- reply quality -------------------------------------------------------------------------------


@dataclass
class Score:
    total: float
    problems: list[str] = field(default_factory=list)


@dataclass
class Scorer:
    """A stand-in for `zhixiang.insight.ReplyScorer`: scores by reply length, remembers its calls."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def score(self, title, body, reply, asked_at=None, replied_at=None) -> Score:
        self.calls.append((title, reply))
        if len(reply) < 10:
            return Score(0.2, ["答复过于简单，未说明办理结果"])
        return Score(0.9)


def _resolved_store(tmp_path: Path, floor: float | None, scorer: object) -> tuple[TicketStore, int]:
    rules = load_rules()
    rules = rules.model_copy(
        update={"reply_quality": rules.reply_quality.model_copy(update={"send_back_below": floor})}
    )
    store = TicketStore(f"sqlite:///{tmp_path / f'{floor}.db'}", rules, reply_scorer=scorer)
    store.migrate()
    ticket = store.intake(AGENT, draft()).ticket
    act(store, SIMING, ticket.id, action="sign")
    return store, ticket.id


def test_replies_are_scored_and_weak_ones_sent_back_when_the_rules_say_so(tmp_path: Path) -> None:
    scorer = Scorer()
    store, ticket_id = _resolved_store(tmp_path, 0.5, scorer)
    with pytest.raises(ReplySentBack, match="答复过于简单") as refused:
        act(store, SIMING, ticket_id, action="resolve", reply="已处理")
    assert refused.value.score == 0.2
    assert store.get(AGENT, ticket_id).status == "signed"  # nothing reached the citizen
    done = act(
        store, SIMING, ticket_id, action="resolve", reply="已更换12号楼下路灯灯泡并复查线路。"
    )
    assert (done.status, done.reply_score, done.reply_problems) == ("resolved", 0.9, [])
    assert scorer.calls[0] == ("莲花五村路灯不亮", "已处理")
    store.close()

    kept, ticket_id = _resolved_store(tmp_path, None, Scorer())
    weak = act(kept, SIMING, ticket_id, action="resolve", reply="已处理")
    assert weak.status == "resolved" and weak.reply_score == 0.2
    assert weak.reply_problems == ["答复过于简单，未说明办理结果"]
    kept.close()


def test_a_broken_reply_scorer_does_not_stop_departments_answering(tmp_path: Path) -> None:
    class Broken:
        def score(self, *args: object, **kwargs: object) -> Score:
            raise RuntimeError("model file missing")

    store, ticket_id = _resolved_store(tmp_path, 0.5, Broken())
    done = act(store, SIMING, ticket_id, action="resolve", reply="已处理")
    assert done.status == "resolved" and done.reply_score is None
    store.close()


# -- the calendar beyond the library -------------------------------------------------------------


def test_deadlines_in_an_unknown_year_are_flagged_and_listed(
    tickets_url: str, clock: Clock, tmp_path: Path
) -> None:
    clock.now = datetime(2026, 12, 21, 2, 0)  # Monday 21 Dec 2026: 15 working days reach 2027
    library = TicketStore(tickets_url, clock=clock, calendar=WorkCalendar.default())
    library.migrate()
    soon = library.intake(AGENT, draft(priority="general", title="路灯不亮", grid_id="G1")).ticket
    late = library.intake(AGENT, draft(priority="complex", title="小区改造", grid_id="G2")).ticket
    assert not soon.deadline_estimated and late.deadline_estimated
    listed = library.search(AGENT, SearchFilters(deadline_estimated=True, state="open"))
    assert [t.id for t in listed] == [late.id]
    assert 2027 not in library.calendar_years()
    library.close()

    holidays = tmp_path / "holidays.yaml"
    holidays.write_text("2027: {holidays: [2027-01-01], workdays: []}", "utf-8")
    known = TicketStore(tickets_url, clock=clock, calendar=WorkCalendar.default(holidays))
    again = known.intake(AGENT, draft(priority="complex", title="小区改造二", grid_id="G3")).ticket
    assert not again.deadline_estimated and 2027 in known.calendar_years()
    # 15 working days from 21 Dec 2026 skipping 1 Jan 2027 (as the file says): Tuesday 12 Jan
    assert again.due_at.astimezone(CST).date() == date(2027, 1, 12)
    known.close()
