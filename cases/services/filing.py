"""Filing a complaint and putting evidence before a case."""

import hashlib
from datetime import timedelta

import puremagic
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases import roles
from cases.errors import Conflict, InvalidInput, NotFound
from cases.events import announce
from cases.models import (
    Case,
    Evidence,
    Order,
    Payment,
    Reason,
    Remedy,
    State,
    TimelineEntry,
)
from cases.policy import Policy, due_at_for_state, policy_for
from cases.selectors import case_has_no_extensions, order_for_filing
from escrow.services import escrow_instruct
from odr.inserts import insert

# Complaints about the item itself need the item to have arrived.
ITEM_REASONS = {
    Reason.NOT_AS_DESCRIBED, Reason.DAMAGED, Reason.WRONG_ITEM, Reason.MISSING_PARTS,
    Reason.COUNTERFEIT,
}


def timeline_record(
    *, case: Case, actor, action: str, from_state: str = "", to_state: str = "",
    reason: str = "", data: dict | None = None, publish: bool = True, escrow: tuple = (),
) -> TimelineEntry:
    """Write one timeline line and announce it after commit. `escrow`: instructions written
    with deliver_on_commit=False in this transaction, whose delivery the announcement starts."""
    role = roles.role_in_case(actor, case) or "unknown"
    entry = insert(TimelineEntry(
        case=case, actor=None if roles.is_system(actor) else actor, actor_role=role,
        action=action, from_state=from_state, to_state=to_state or case.state,
        reason=reason, data=data or {},
    ))
    if publish:
        announce(entry, escrow_ids=[i.pk for i in escrow if i is not None])
    return entry


def _check_eligibility(*, order: Order, paid: Payment | None, policy: Policy, reason: str,
                       claimed_amount: int, now) -> None:
    ceiling = (paid.amount - paid.refunded_amount) if paid else order.total
    if claimed_amount <= 0:
        raise InvalidInput("Amount must be positive", fields={
            "claimed_amount": ["Số tiền yêu cầu phải lớn hơn 0."]})
    if claimed_amount > ceiling:
        raise InvalidInput("Amount exceeds what was paid", fields={
            "claimed_amount": [f"Số tiền yêu cầu vượt quá số đã thanh toán ({ceiling} ₫)."]})
    if reason == Reason.NOT_RECEIVED:
        if order.delivered_at is None and order.expected_delivery_at is not None:
            earliest = order.expected_delivery_at + timedelta(days=policy.not_received_grace_days)
            if now < earliest:
                raise InvalidInput("Too early for 'not received'", code="not_yet_eligible", fields={
                    "reason": [f"Chỉ có thể khiếu nại 'không nhận được hàng' từ "
                               f"{timezone.localtime(earliest):%d/%m/%Y %H:%M}."]})
    elif reason in ITEM_REASONS and order.delivered_at is None:
        raise InvalidInput("Order not delivered yet", code="not_yet_eligible", fields={
            "reason": ["Đơn hàng chưa được giao: chưa thể khiếu nại về chất lượng hàng."]})
    if order.delivered_at is not None and reason != Reason.UNAUTHORISED_PAYMENT:
        window_end = order.delivered_at + timedelta(days=policy.filing_window_days_after_delivery)
        if now > window_end:
            raise InvalidInput("Filing window closed", code="filing_window_closed", fields={
                "order": [f"Đã hết thời hạn khiếu nại ({policy.filing_window_days_after_delivery} "
                          f"ngày sau khi nhận hàng)."]})


def case_file(
    *, actor, order_id: int, reason: str, desired_outcome: str, claimed_amount: int,
    description: str, language: str = "vi",
) -> Case:
    """A buyer files a complaint against one of their orders. The disputed amount is held by
    the payment partner from this moment (an outbox instruction in the same transaction)."""
    if reason not in Reason.values:
        raise InvalidInput("Unknown reason", fields={"reason": ["Lý do không hợp lệ."]})
    if desired_outcome not in Remedy.values:
        raise InvalidInput("Unknown outcome", fields={"desired_outcome": ["Yêu cầu không hợp lệ."]})
    if not description.strip():
        raise InvalidInput("Description required", fields={"description": ["Vui lòng mô tả vấn đề."]})
    now = timezone.now()
    try:
        with transaction.atomic():
            found = order_for_filing(order_id=order_id, user_id=getattr(actor, "pk", None))
            if found is None:  # someone else's order looks exactly like a missing one
                raise NotFound("Order not found", fields={"order": ["Không tìm thấy đơn hàng."]})
            order, payment = found
            policy = policy_for(order.marketplace)
            _check_eligibility(order=order, paid=payment, policy=policy, reason=reason,
                               claimed_amount=claimed_amount, now=now)
            # One open case per order: the partial unique constraint decides (IntegrityError
            # below), which also settles two filings racing for the same order.
            case = insert(Case(
                order=order, payment=payment, buyer=order.buyer, seller=order.seller,
                marketplace=order.marketplace, reason=reason, desired_outcome=desired_outcome,
                claimed_amount=claimed_amount, description=description.strip(),
                language=language, filed_by=actor, filed_at=now,
                due_at=due_at_for_state(state=State.AWAITING_SELLER, policy=policy, now=now),
            ))
            # Filed this instant, so no deadline extension exists: knowing it spares the
            # answer's `actions` a query.
            case_has_no_extensions(case)
            hold = escrow_instruct(case=case, kind="hold", amount=claimed_amount,
                                   reason=f"{case.reference} opened", deliver_on_commit=False)
            timeline_record(case=case, actor=actor, action="file", to_state=case.state,
                            data={"claimed_amount": claimed_amount, "reason": reason},
                            escrow=(hold,))
    except IntegrityError as exc:
        raise Conflict("This order already has an open case", code="case_exists") from exc
    return case


def _sniff(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return "application/octet-stream"
    for match in matches:
        if match.mime_type in settings.ODR_EVIDENCE_TYPES:
            return match.mime_type
    return matches[0].mime_type if matches else "application/octet-stream"


@transaction.atomic
def evidence_add(*, case: Case, actor, upload: UploadedFile, caption: str = "") -> Evidence:
    """Store a file after checking its real type (magic bytes, not the name or the header the
    client sent) and size; its SHA-256 goes in the timeline so the record proves integrity."""
    if not (roles.is_party(actor, case) or roles.is_case_mediator(actor, case)):
        raise NotFound("Case not found")
    if case.state == State.CLOSED:
        raise Conflict("The case is closed", code="case_closed")
    limit = settings.ODR_EVIDENCE_MAX_BYTES
    if upload.size > limit:
        raise InvalidInput("File too large", code="file_too_large", fields={
            "file": [f"Tệp quá lớn ({upload.size} byte); tối đa {limit // (1024 * 1024)} MB."]})
    if upload.size == 0:
        raise InvalidInput("Empty file", fields={"file": ["Tệp rỗng."]})
    content_type = _sniff(upload)
    if content_type not in settings.ODR_EVIDENCE_TYPES:
        raise InvalidInput("File type not allowed", code="file_type_not_allowed", fields={
            "file": ["Chỉ nhận ảnh (JPEG, PNG, WebP, GIF), PDF hoặc video (MP4, MOV, WebM)."]})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    evidence = Evidence(
        case=case, uploaded_by=actor, uploader_role=roles.role_in_case(actor, case) or "",
        original_name=(upload.name or "file")[:255], content_type=content_type,
        size=upload.size, sha256=digest.hexdigest(), caption=caption[:500],
    )
    evidence.file.save(str(evidence.uid), upload, save=False)
    evidence.save()
    timeline_record(case=case, actor=actor, action="evidence_add", from_state=case.state,
                    data={"evidence": str(evidence.uid), "sha256": evidence.sha256,
                          "name": evidence.original_name})
    return evidence
