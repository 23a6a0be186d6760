"""The one ticket model every channel maps onto: what comes in (drafts, commands, filters) and what
goes out (views)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from zhixiang.tickets._workflow import Action, Status

Channel = Literal["hotline", "web", "app", "wechat", "open311", "email"]
Satisfaction = Literal["satisfied", "basically_satisfied", "unsatisfied"]
SATISFACTION_LABELS = {
    "satisfied": "满意",
    "basically_satisfied": "基本满意",
    "unsatisfied": "不满意",
}

#: Deepest page a search may ask for: beyond it a query is not a page but a scan.
MAX_OFFSET = 1_000_000

#: Stored times are naive UTC; output says so explicitly.
UtcDatetime = Annotated[
    datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=UTC))
]

_CONTACT = re.compile(r"^(\+?[0-9][0-9\- ]{4,19}|[^@\s]{1,64}@[^@\s]{1,190})$")


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: object) -> object:
        """PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("文本不能包含 NUL 字符")
        return value


class TicketDraft(_Input):
    """A new request as received. Lengths and codes are checked against the rules by the store."""

    title: str = Field(min_length=1, max_length=10_000, description="诉求标题")
    body: str = Field(min_length=1, max_length=100_000, description="诉求内容")
    channel: Channel = "hotline"
    reporter_name: str | None = Field(default=None, max_length=64)
    reporter_contact: str | None = Field(
        default=None, max_length=64, description="手机/电话/邮箱，输出时脱敏"
    )
    confidential: bool = Field(default=False, description="诉求人要求保密：承办部门看不到联系方式")
    address: str | None = Field(default=None, max_length=200)
    region_code: str | None = Field(default=None, description="行政区划代码，6/9/12位")
    grid_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9A-Za-z_\-]+$")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    category: str | None = Field(default=None, description="一级分类；不填则由模型分类")
    priority: str | None = Field(
        default=None, description="emergency / utility / general / complex"
    )

    @field_validator("reporter_contact")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value and not _CONTACT.match(value):
            raise ValueError("联系方式应为电话号码或邮箱")
        return value or None


class Command(_Input):
    """One workflow action on a ticket with the fields that action needs."""

    action: Action
    reason: str | None = Field(
        default=None, max_length=2000, description="退单/延期/归档理由，督办/催办意见"
    )
    department: str | None = Field(default=None, description="派单/改派的承办部门")
    category: str | None = Field(default=None, description="派单/改派时更正一级分类")
    days: int | None = Field(default=None, ge=1, le=60, description="延期工作日数")
    reply: str | None = Field(default=None, max_length=10_000, description="答复意见")
    reached: bool | None = Field(default=None, description="回访是否联系上诉求人（有效回访）")
    responded: bool | None = Field(default=None, description="承办单位是否联系/响应")
    solved: bool | None = Field(default=None, description="问题是否解决")
    satisfaction: Satisfaction | None = None


def _plausible(value: datetime | None) -> datetime | None:
    """Dates far outside the store's life cannot be compared as UTC (year 1 or 9999 overflow)."""
    if value is not None and not 1900 <= value.year <= 2200:
        raise ValueError("日期应在 1900–2200 年之间")
    return value


class SearchFilters(_Input):
    """Every filter and the page are applied in the database query, never after a limit."""

    q: str | None = Field(default=None, max_length=100, description="标题或内容包含的文字")
    status: Status | None = None
    state: Literal["open", "closed"] | None = Field(
        default=None, description="open: 尚未答复；closed: 已答复/办结及以后"
    )
    category: str | None = None
    uncategorised: bool | None = Field(default=None, description="只看（或排除）尚无分类的工单")
    department: str | None = None
    region: str | None = Field(default=None, pattern=r"^\d{6}(\d{3}){0,2}$")
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool | None = None
    deadline_estimated: bool | None = Field(
        default=None, description="时限落在日历未收录的年份（估算）"
    )
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)

    @field_validator("since", "until")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        return _plausible(value)


class MetricsQuery(_Input):
    """The period (and department) of a metrics report; dates in the same range as search's."""

    since: datetime | None = None
    until: datetime | None = None
    department: str | None = Field(default=None, max_length=64)

    @field_validator("since", "until")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        return _plausible(value)


class EventView(BaseModel):
    at: UtcDatetime
    action: str
    label: str
    from_status: str | None
    to_status: str
    actor: str
    department: str | None
    note: str | None


class FollowUpView(BaseModel):
    at: UtcDatetime
    reached: bool
    responded: bool | None
    solved: bool | None
    satisfaction: str | None
    comment: str | None


class TicketView(BaseModel):
    """A ticket as shown to a caller: contact masked, hidden entirely from departments if confidential."""

    id: int
    token: str
    channel: str
    title: str
    body: str
    reporter_name: str | None
    reporter_contact: str | None
    confidential: bool
    address: str | None
    region_code: str | None
    grid_id: str | None
    lat: float | None
    lon: float | None
    category: str | None
    category_source: str | None
    confidence: float | None
    model_version: str | None
    department: str | None
    department_name: str | None
    priority: str
    status: Status
    status_label: str
    created_at: UtcDatetime
    updated_at: UtcDatetime
    dispatched_at: UtcDatetime | None
    sign_due_at: UtcDatetime | None
    signed_at: UtcDatetime | None
    due_at: UtcDatetime | None
    resolved_at: UtcDatetime | None
    archived_at: UtcDatetime | None
    deadline_estimated: bool
    overdue: bool
    extensions: int
    reminders: int
    supervised: bool
    escalation_level: str | None
    escalation_region: str | None
    reply: str | None
    reply_score: float | None = None
    reply_problems: list[str] = []
    media: int = 0
    group_id: int | None
    duplicate_of: int | None
    history: list[EventView] = []
    follow_ups: list[FollowUpView] = []


class DuplicateView(BaseModel):
    id: int
    title: str
    score: float


class IntakeResult(BaseModel):
    ticket: TicketView
    created: bool
    auto_dispatched: bool
    duplicates: list[DuplicateView]
