"""Texts are in the recipient's language, not the actor's; both catalogs are complete."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django.utils import translation

import notifications
from cases import services
from notifications.catalog import EVENTS, render
from notifications.models import Notification, Preference
from tests.cases.helpers import file_case

pytestmark = pytest.mark.django_db

# Letters only Vietnamese uses: an English text containing one missed a translation.
VIETNAMESE = re.compile(r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]",
                        re.IGNORECASE)


def test_an_english_seller_reads_english_when_a_vietnamese_buyer_files(cast, act):
    Preference.objects.create(user=cast.seller, language="en")
    with translation.override("vi"):  # the buyer's request runs in Vietnamese
        case = act(file_case, cast.order, cast.buyer)

    en = Notification.objects.get(recipient=cast.seller)
    vi = Notification.objects.get(recipient=cast.seller2)
    assert en.language == "en"
    assert en.title == f"New complaint {case.reference}"
    assert en.body.startswith(
        f"The buyer filed a complaint about order {cast.order.external_id} (item damaged) asking for "
        "full refund, 300,000 ₫. Please answer by ")
    assert vi.title == f"Khiếu nại mới {case.reference}"
    assert vi.body.startswith(
        f"Người mua khiếu nại đơn hàng {cast.order.external_id} (hàng bị hư hỏng) và yêu cầu "
        "hoàn tiền toàn bộ, 300.000 ₫. Vui lòng trả lời trước ")
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects == {"seller@example.vn": f"[ODR] New complaint {case.reference}",
                        "seller2@example.vn": f"[ODR] Khiếu nại mới {case.reference}"}
    english_mail = next(m for m in mail.outbox if m.to == ["seller@example.vn"])
    assert english_mail.body.startswith("Hello Nguyễn,")
    assert "View the case: https://odr.quangninh.test/cases/" in english_mail.body


def test_a_vietnamese_buyer_reads_vietnamese_when_an_english_seller_offers(cast, act):
    Preference.objects.create(user=cast.seller, language="en")
    case = file_case(cast.order, cast.buyer)
    with translation.override("en"):
        act(services.case_offer, case_id=case.pk, actor=cast.seller, remedy="replacement", amount=0)

    n = Notification.objects.get(recipient=cast.buyer)
    assert (n.language, n.title) == ("vi", f"Người bán đưa ra đề nghị {case.reference}")


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_fully_in_english(cast, event):
    case = file_case(cast.order, cast.buyer)
    context = {"count": 2, "hours": 24, "kind": "refund", "amount": 150_000, "actor_role": "seller",
               "action": "seller_deadline_passed", "to_state": "resolved", "outcome": "full_refund",
               "refund_amount": 150_000, "remedy": "partial_refund", "days": 2, "carrier": "GHN",
               "tracking": "GHN123", "message": "Photo of the box.", "text": "Tet holiday.",
               "state": "in_mediation"}

    title, body, _ = render(event=event, context=context, case=case, language="en")
    vtitle, vbody, _ = render(event=event, context=context, case=case, language="vi")

    assert title and body
    assert not VIETNAMESE.search(title + body), (title, body)
    assert (title, body) != (vtitle, vbody)
    assert "{" not in title + body and "{" not in vtitle + vbody


def test_money_is_formatted_for_the_reader():
    from notifications.catalog import format_vnd

    assert format_vnd(150_000, "vi") == "150.000 ₫"
    assert format_vnd(1_250_000, "en") == "1,250,000 ₫"
    assert format_vnd(0, "vi") == "0 ₫"


def test_both_catalogs_are_compiled_and_complete():
    base = Path(notifications.__file__).parent / "locale"
    for language in ("vi", "en"):
        po = (base / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
        mo = base / language / "LC_MESSAGES" / "django.mo"
        assert mo.exists() and mo.stat().st_size > 1000
        assert "#, fuzzy" not in po
        entries = po.split("\n\n")[1:]
        untranslated = [e for e in entries if re.search(r'^msgstr(\[\d\])? ""$', e, re.M)
                        and not re.search(r'^"', e.split("msgstr", 1)[1], re.M)]
        assert untranslated == []
