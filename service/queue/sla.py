"""How an item stands against the centre's service levels, for anyone who shows it.

The same measure as the escalation job (``repository.overdue_items``): a red item must
be claimed within ``red_claim_minutes`` of starting to wait, and resolved within
``red_resolve_minutes`` of its claim. Yellow items have no service level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.queue.models import ItemState
from service.queue.schemas import QueuePolicyRead, QueueRow


@dataclass(frozen=True)
class Standing:
    limit_minutes: int
    elapsed_minutes: int
    # "claim" while it waits for a nurse, "resolve" once claimed.
    stage: str

    @property
    def breached(self) -> bool:
        return self.elapsed_minutes > self.limit_minutes


def standing(row: QueueRow, policy: QueuePolicyRead, now: datetime) -> Standing | None:
    if row.severity != "red" or row.state == ItemState.resolved.value:
        return None
    if row.state == ItemState.claimed.value and row.claimed_at is not None:
        elapsed = int((now - row.claimed_at).total_seconds() // 60)
        return Standing(policy.red_resolve_minutes, max(0, elapsed), "resolve")
    return Standing(policy.red_claim_minutes, row.waiting_minutes, "claim")
