"""Clock-driven helpers: orders and cases created at the travelled time, in Hà Nội time."""

from datetime import datetime
from zoneinfo import ZoneInfo

from cases.models import TimelineEntry
from escrow.models import EscrowInstruction
from tests import factories as f

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vn(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


def make_order(buyer_user, seller_user, *, marketplace=None):
    """A paid (450,000 ₫), delivered order, dated from the current (travelled) clock."""
    kw = {"marketplace": marketplace} if marketplace else {}
    seller = f.SellerFactory(staff_users=[seller_user], **kw)
    seller_user.__dict__.pop("_odr_seller_ids", None)  # roles caches the user's shops
    return f.paid_order(buyer__user=buyer_user, seller=seller, **kw)


def escrow_rows(case) -> list[tuple[str, int]]:
    return sorted(EscrowInstruction.objects.filter(case=case).values_list("kind", "amount"))


def actions(case) -> list[str]:
    return list(TimelineEntry.objects.filter(case=case).order_by("created_at", "pk")
                .values_list("action", flat=True))
