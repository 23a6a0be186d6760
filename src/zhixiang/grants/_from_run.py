"""From a published match run to a proposed batch: the run's eligible list, its exclusivity peers,
and the entities it could not decide, read through `zhixiang.matching`'s public face."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from zhixiang.access import Principal
from zhixiang.errors import InvalidInput, NotFound
from zhixiang.grants._ledger import GrantLedger
from zhixiang.grants._views import Proposal
from zhixiang.rules import Policy


def _amounts(results, policy_id: str, kind: str) -> dict[str, Decimal | None]:  # type: ignore[no-untyped-def]
    table = results.table(policy_id, kind)
    return dict(zip(table["entity_id"].to_pylist(), table["amount"].to_pylist(), strict=True))


def propose_from_run(
    ledger: GrantLedger,
    policies: Sequence[Policy],
    policy_id: str,
    period: str,
    by: Principal,
    *,
    results_dir: Path,
    run_id: str | None = None,
    notice_days: int = 0,
    preview: bool = False,
) -> Proposal:
    """Propose `policy_id` for `period` from the current match run (or `run_id`); with
    `preview`, say what proposing would do and write nothing."""
    from zhixiang.matching import open_results

    by.require("grants.propose")
    chosen = {p.id: p for p in policies}
    policy = chosen.get(policy_id)
    if policy is None:
        raise NotFound(f"没有政策 {policy_id}（或其政策文件未通过检查）", field="policy_id")
    with open_results(results_dir, run_id) as results:
        run = results.run
        run.policy(policy_id)  # NotFound: the run did not evaluate it (not in force that day)
        if run.entity != policy.entity:
            raise InvalidInput(f"批次 {run.run_id} 的主体类型为 {run.entity}，与政策不符")
        eligible = _amounts(results, policy_id, "eligible")
        undecided = set(_amounts(results, policy_id, "needs_information"))
        peers = {}
        if policy.exclusivity_group:
            in_run = {c.policy_id for c in run.policies}
            for other in policies:
                if (
                    other.id != policy.id
                    and other.exclusivity_group == policy.exclusivity_group
                    and other.id in in_run
                ):
                    peers[other.id] = (other.title, _amounts(results, other.id, "eligible"))
    return ledger.propose(
        policy,
        period,
        eligible,
        by,
        run_id=run.run_id,
        as_of=run.as_of,
        peers=peers,
        undecided=undecided,
        notice_days=notice_days,
        preview=preview,
    )
