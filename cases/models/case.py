"""The case and its workflow.

The state machine lives here as django-fsm-2 transitions: each says from where, to where, who
may call it (permission) and when (conditions). A transition only changes fields of the case;
it never saves, writes other rows or sends anything. Services in `cases.services` call them
inside a transaction, save, write the timeline and schedule side effects after commit.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from cases import roles
from cases.models.records import Buyer, Order, Payment, Seller
from partners.models import Partner


class State(models.TextChoices):
    AWAITING_SELLER = "awaiting_seller", _("Chờ người bán trả lời")
    AWAITING_BUYER = "awaiting_buyer", _("Chờ người mua trả lời")
    AWAITING_RETURN = "awaiting_return", _("Chờ hoàn hàng")
    IN_MEDIATION = "in_mediation", _("Đang hòa giải")
    DECIDED = "decided", _("Đã có quyết định")
    UNDER_APPEAL = "under_appeal", _("Đang khiếu nại lại")
    RESOLVED = "resolved", _("Đã giải quyết")
    CLOSED = "closed", _("Đã đóng")


class Reason(models.TextChoices):
    NOT_RECEIVED = "not_received", _("Không nhận được hàng")
    NOT_AS_DESCRIBED = "not_as_described", _("Hàng không đúng mô tả")
    DAMAGED = "damaged", _("Hàng bị hư hỏng")
    WRONG_ITEM = "wrong_item", _("Giao sai hàng")
    MISSING_PARTS = "missing_parts", _("Thiếu phụ kiện, bộ phận")
    COUNTERFEIT = "counterfeit", _("Hàng giả, hàng nhái")
    UNAUTHORISED_PAYMENT = "unauthorised_payment", _("Giao dịch không được phép")
    DUPLICATE_CHARGE = "duplicate_charge", _("Bị trừ tiền hai lần")
    REFUND_NOT_PROCESSED = "refund_not_processed", _("Chưa được hoàn tiền")
    OTHER = "other", _("Lý do khác")


class Remedy(models.TextChoices):
    """What the buyer asks for, what an offer proposes."""

    FULL_REFUND = "full_refund", _("Hoàn tiền toàn bộ")
    PARTIAL_REFUND = "partial_refund", _("Hoàn tiền một phần")
    RETURN_AND_REFUND = "return_and_refund", _("Trả hàng và hoàn tiền")
    REPLACEMENT = "replacement", _("Đổi hàng mới")


class Outcome(models.TextChoices):
    FULL_REFUND = "full_refund", _("Hoàn tiền toàn bộ")
    PARTIAL_REFUND = "partial_refund", _("Hoàn tiền một phần")
    RETURN_AND_REFUND = "return_and_refund", _("Trả hàng và hoàn tiền")
    REPLACEMENT = "replacement", _("Đổi hàng mới")
    SELLER_FAVOUR = "seller_favour", _("Có lợi cho người bán")
    WITHDRAWN = "withdrawn", _("Người mua rút yêu cầu")


OPEN_STATES = [s for s in State.values if s != State.CLOSED]
WAITING_STATES = [
    State.AWAITING_SELLER, State.AWAITING_BUYER, State.AWAITING_RETURN,
    State.IN_MEDIATION, State.DECIDED, State.UNDER_APPEAL,
]


# --- permission predicates (instance, user), as django-fsm-2 calls them -----------------------
def _buyer(case: Case, user) -> bool:
    return roles.is_case_buyer(user, case)


def _seller(case: Case, user) -> bool:
    return roles.is_case_seller(user, case)


def _mediator(case: Case, user) -> bool:
    return roles.is_case_mediator(user, case)


def _party(case: Case, user) -> bool:
    return roles.is_party(user, case)


def _system(case: Case, user) -> bool:
    return roles.is_system(user)


def _appeal_supervisor(case: Case, user) -> bool:
    """A supervisor who did not take the decision under appeal (nor mediates the case)."""
    if not roles.is_supervisor(user):
        return False
    decision = case.decisions.order_by("-created_at", "-pk").first()
    return user.pk not in (case.mediator_id, decision.decided_by_id if decision else None)


def _may_escalate(case: Case, user) -> bool:
    """A party may escalate once the other side has answered or its deadline has passed."""
    overdue = case.due_at is not None and case.due_at <= timezone.now()
    if roles.is_case_buyer(user, case):
        return case.state == State.AWAITING_BUYER or case.seller_responded_at is not None or overdue
    if roles.is_case_seller(user, case):
        return case.state == State.AWAITING_SELLER or case.buyer_responded_at is not None or overdue
    return False


def _has_open_offer(case: Case) -> bool:
    return case.open_offer_amount is not None


class Case(ConcurrentTransitionMixin, models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="cases")
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="cases", null=True, blank=True
    )
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="cases")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="cases")
    marketplace = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="cases")

    reason = models.CharField(max_length=32, choices=Reason.choices)
    desired_outcome = models.CharField(max_length=32, choices=Remedy.choices)
    claimed_amount = models.BigIntegerField(help_text=_("VND, at most what was paid"))
    currency = models.CharField(max_length=3, default="VND")
    description = models.TextField()
    language = models.CharField(max_length=8, default="vi")

    state = FSMField(
        default=State.AWAITING_SELLER, choices=State.choices, protected=True, db_index=True
    )
    # The terms the case is heading to or ended with: set when agreed, decided or defaulted.
    outcome = models.CharField(max_length=32, choices=Outcome.choices, blank=True)
    refund_amount = models.BigIntegerField(default=0)
    # The offer on the table (denormalised from Offer so conditions need no query).
    open_offer_amount = models.BigIntegerField(null=True, blank=True)
    open_offer_remedy = models.CharField(max_length=32, choices=Remedy.choices, blank=True)

    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    seller_responded_at = models.DateTimeField(null=True, blank=True)
    buyer_responded_at = models.DateTimeField(null=True, blank=True)

    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="mediated_cases",
    )
    mediator_assigned_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)

    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filed_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-filed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=~models.Q(state="closed"), name="one_open_case_per_order"
            ),
            models.CheckConstraint(condition=models.Q(claimed_amount__gt=0), name="case_claim_positive"),
            models.CheckConstraint(
                condition=models.Q(refund_amount__gte=0)
                & models.Q(refund_amount__lte=models.F("claimed_amount")),
                name="case_refund_within_claim",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["seller", "state"]),
            models.Index(fields=["mediator", "state"]),
            models.Index(fields=["marketplace", "filed_at"]),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """`ODR-2026-000123`: filing year and id, so no counter row serialises filings."""
        return f"ODR-{timezone.localtime(self.filed_at).year}-{self.pk or 0:06d}"

    @staticmethod
    def pk_from_reference(reference: str) -> int | None:
        parts = reference.strip().upper().split("-")
        if len(parts) == 3 and parts[0] == "ODR" and parts[2].isdigit():
            return int(parts[2])
        return None

    @property
    def is_open(self) -> bool:
        return self.state not in (State.RESOLVED, State.CLOSED)

    # --- helpers the transitions use (no I/O) --------------------------------------------------
    def _settle(self, outcome: str, refund: int) -> None:
        self.outcome = outcome
        self.refund_amount = refund
        self.open_offer_amount = None
        self.open_offer_remedy = ""

    def _resolve(self, outcome: str, refund: int) -> str:
        self._settle(outcome, refund)
        self.resolved_at = timezone.now()
        self.due_at = None
        return State.RESOLVED

    def _agree(self, remedy: str, amount: int) -> str:
        """Agreed terms: a return comes first if the remedy needs one."""
        if remedy == Remedy.RETURN_AND_REFUND:
            self._settle(Outcome.RETURN_AND_REFUND, amount)
            return State.AWAITING_RETURN
        if remedy == Remedy.REPLACEMENT:
            return self._resolve(Outcome.REPLACEMENT, 0)
        full = amount >= self.claimed_amount
        return self._resolve(Outcome.FULL_REFUND if full else Outcome.PARTIAL_REFUND, amount)

    # --- seller's turn -------------------------------------------------------------------------
    @transition(
        field=state, source=[State.AWAITING_SELLER, State.IN_MEDIATION],
        target=RETURN_VALUE(State.AWAITING_RETURN, State.RESOLVED), permission=_seller,
    )
    def accept_claim(self) -> str:
        """The seller agrees to the buyer's claim, or to the buyer's counter-offer if one is open."""
        self.seller_responded_at = timezone.now()
        if self.state == State.AWAITING_SELLER and self.open_offer_amount is not None:
            return self._agree(self.open_offer_remedy, self.open_offer_amount)
        return self._agree(self.desired_outcome, self.claimed_amount)

    @transition(field=state, source=State.AWAITING_SELLER, target=State.AWAITING_BUYER,
                permission=_seller)
    def make_offer(self, remedy: str, amount: int) -> None:
        self.seller_responded_at = timezone.now()
        self.open_offer_remedy, self.open_offer_amount = remedy, amount

    @transition(field=state, source=State.AWAITING_SELLER, target=State.AWAITING_BUYER,
                permission=_seller)
    def contest(self) -> None:
        """The seller rejects the claim with evidence; the buyer may escalate or withdraw."""
        self.seller_responded_at = timezone.now()
        self.open_offer_amount, self.open_offer_remedy = None, ""

    # --- buyer's turn --------------------------------------------------------------------------
    @transition(
        field=state, source=State.AWAITING_BUYER,
        target=RETURN_VALUE(State.AWAITING_RETURN, State.RESOLVED), permission=_buyer,
        conditions=[_has_open_offer],
    )
    def accept_offer(self) -> str:
        self.buyer_responded_at = timezone.now()
        return self._agree(self.open_offer_remedy, self.open_offer_amount)

    @transition(field=state, source=State.AWAITING_BUYER, target=State.AWAITING_SELLER,
                permission=_buyer)
    def counter_offer(self, remedy: str, amount: int) -> None:
        self.buyer_responded_at = timezone.now()
        self.open_offer_remedy, self.open_offer_amount = remedy, amount

    @transition(
        field=state,
        source=[State.AWAITING_SELLER, State.AWAITING_BUYER, State.AWAITING_RETURN, State.IN_MEDIATION],
        target=State.RESOLVED, permission=_buyer,
    )
    def withdraw(self) -> str:
        self.buyer_responded_at = timezone.now()
        return self._resolve(Outcome.WITHDRAWN, 0)

    # --- either party --------------------------------------------------------------------------
    @transition(field=state, source=[State.AWAITING_SELLER, State.AWAITING_BUYER],
                target=State.IN_MEDIATION, permission=_may_escalate)
    def escalate(self) -> None:
        self.open_offer_amount, self.open_offer_remedy = None, ""

    # --- returns -------------------------------------------------------------------------------
    @transition(field=state, source=State.AWAITING_RETURN, target=State.RESOLVED,
                permission=_seller)
    def confirm_return(self) -> str:
        return self._resolve(self.outcome or Outcome.RETURN_AND_REFUND, self.refund_amount)

    @transition(field=state, source=State.AWAITING_RETURN, target=State.IN_MEDIATION,
                permission=_seller)
    def dispute_return(self) -> None:
        """The returned item is not what was sent: a mediator looks at it."""

    # --- mediation -----------------------------------------------------------------------------
    @transition(field=state, source=State.IN_MEDIATION,
                target=RETURN_VALUE(State.AWAITING_RETURN, State.RESOLVED), permission=_party,
                conditions=[_has_open_offer])
    def accept_settlement(self) -> str:
        """Both parties accepted the mediator's proposed settlement (checked by the service)."""
        return self._agree(self.open_offer_remedy, self.open_offer_amount)

    @transition(field=state, source=State.IN_MEDIATION, target=State.DECIDED, permission=_mediator)
    def decide(self, outcome: str, refund: int) -> None:
        self._settle(outcome, refund)

    @transition(field=state, source=State.DECIDED, target=State.UNDER_APPEAL, permission=_party)
    def appeal(self) -> None:
        pass

    @transition(field=state, source=State.UNDER_APPEAL, target=State.RESOLVED,
                permission=_appeal_supervisor)
    def uphold(self) -> str:
        return self._resolve(self.outcome, self.refund_amount)

    @transition(field=state, source=State.UNDER_APPEAL, target=State.RESOLVED,
                permission=_appeal_supervisor)
    def overturn(self, outcome: str, refund: int) -> str:
        return self._resolve(outcome, refund)

    # --- the clock and the partners (system only) ----------------------------------------------
    @transition(field=state, source=State.AWAITING_SELLER, target=State.RESOLVED,
                permission=_system)
    def seller_deadline_passed(self) -> str:
        """A silent seller loses: the buyer gets what was claimed."""
        full = self.claimed_amount >= (self.payment.amount if self.payment else self.claimed_amount)
        return self._resolve(
            Outcome.FULL_REFUND if full else Outcome.PARTIAL_REFUND, self.claimed_amount
        )

    @transition(field=state, source=State.AWAITING_BUYER, target=State.RESOLVED,
                permission=_system)
    def buyer_deadline_passed(self) -> str:
        """A silent buyer after an answer: the case ends in the seller's favour."""
        return self._resolve(Outcome.SELLER_FAVOUR, 0)

    @transition(field=state, source=State.AWAITING_RETURN,
                target=RETURN_VALUE(State.RESOLVED, State.IN_MEDIATION), permission=_system)
    def return_deadline_passed(self, *, return_shipped: bool, return_delivered: bool) -> str:
        """Not shipped in time → seller's favour; delivered and the seller silent → buyer's
        favour; shipped but stuck with the carrier → a mediator looks at it."""
        if not return_shipped:
            return self._resolve(Outcome.SELLER_FAVOUR, 0)
        if return_delivered:
            return self._resolve(self.outcome or Outcome.RETURN_AND_REFUND, self.refund_amount)
        return State.IN_MEDIATION

    @transition(field=state, source=State.DECIDED, target=State.RESOLVED, permission=_system)
    def appeal_window_passed(self) -> str:
        return self._resolve(self.outcome, self.refund_amount)

    @transition(field=state, source=State.RESOLVED, target=State.CLOSED, permission=_system)
    def close(self) -> None:
        """The payment partner confirmed every escrow instruction of the case."""
        self.closed_at = timezone.now()
        self.due_at = None
