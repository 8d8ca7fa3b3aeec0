"""End to end in headless Chromium against daphne (HTTP + WebSocket): a buyer files with a photo
on a 360 px phone, the seller offers, the buyer escalates, the rules assign a mediator, who chats with
both (live, with a private caucus), decides; the appeal window passes, the refund is instructed
and confirmed by the payment partner; both languages. Screenshots: tests/artifacts/screenshots/."""

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.web.live import PASSWORD, Server, drop_postgres_database, free_port, run, server_env

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def live():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make browser)")
    var = Path(tempfile.mkdtemp(prefix="web-var-"))
    port = free_port()
    env = server_env(var, port)
    seeded = run(env, "seed")
    server = Server(env, port)
    try:
        yield server, env, seeded
    finally:
        server.stop()
        drop_postgres_database(env)
        shutil.rmtree(var, ignore_errors=True)


def _photo(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    path = folder / "hop-che-bi-mop.png"
    img = Image.new("RGB", (480, 360), (196, 160, 110))
    draw = ImageDraw.Draw(img)
    draw.rectangle((60, 60, 420, 300), outline=(90, 50, 20), width=8)
    draw.line((60, 60, 200, 180), fill=(90, 50, 20), width=10)
    img.save(path)
    return path


def _login(page, url: str, username: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _act(page, action: str, fields: dict | None = None, select: dict | None = None) -> None:
    """Open the action's panel, fill it and submit; waits for the page that follows."""
    page.locator(f"#act-{action} > summary").click()
    form = page.locator(f"#act-{action} form")
    for name, value in (select or {}).items():
        form.locator(f"select[name='{action}-{name}']").select_option(value)
    for name, value in (fields or {}).items():
        form.locator(f"[name='{action}-{name}']").fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()


def test_complaint_to_refund_in_the_browser(live, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    server, env, seeded = live
    url = server.url
    photo = _photo(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            buyer_ctx = browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True,
                                            has_touch=True)
            seller_ctx = browser.new_context(viewport=DESKTOP, locale="en-US")
            mediator_ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
            buyer, seller, mediator = (buyer_ctx.new_page(), seller_ctx.new_page(),
                                       mediator_ctx.new_page())
            for page in (buyer, seller, mediator):
                page.set_default_timeout(15_000)

            # --- the buyer files, on a phone, in Vietnamese -----------------------------------
            _login(buyer, url, "lan")
            expect(buyer.locator("h1")).to_have_text("Khiếu nại của tôi")
            buyer.goto(f"{url}/cases/new/")
            buyer.check(f"input[name=order][value='{seeded['order']}']")
            expect(buyer.locator("#paid-hint")).to_contain_text("450.000")
            buyer.check("input[name=reason][value=damaged]")
            buyer.fill("#id_description", "Hộp chè Hoành Bồ bị móp, túi bên trong rách, chè ẩm.")
            buyer.check("input[name=desired_outcome][value=full_refund]")
            buyer.fill("#id_claimed_amount", "999999")
            buyer.set_input_files("#id_files", str(photo))
            expect(buyer.locator("#previews img")).to_have_count(1)
            assert buyer.evaluate("document.documentElement.scrollWidth") <= 360
            _shot(buyer, "01-buyer-file-complaint-360")
            with buyer.expect_navigation():
                buyer.locator("#file-form button[type=submit]").click()
            # bad amount: a field error in Vietnamese, and what was typed is still there
            expect(buyer.locator(".has-error .errors")).to_contain_text(
                "Tối đa bằng số tiền bạn đã trả: 450.000 ₫.")
            expect(buyer.locator("#id_description")).to_have_value(
                "Hộp chè Hoành Bồ bị móp, túi bên trong rách, chè ẩm.")
            expect(buyer.locator("#id_claimed_amount")).to_have_value("999999")
            _shot(buyer, "02-buyer-field-error-360")
            buyer.fill("#id_claimed_amount", "300000")
            buyer.set_input_files("#id_files", str(photo))
            with buyer.expect_navigation():
                buyer.locator("#file-form button[type=submit]").click()
            buyer.wait_for_url(re.compile(r"/cases/\d+/$"))
            case_id = int(re.search(r"/cases/(\d+)/", buyer.url).group(1))
            case_url = f"{url}/cases/{case_id}/"
            expect(buyer.locator("#case-state")).to_have_text("Chờ người bán trả lời")
            expect(buyer.locator("#evidence .gallery img")).to_have_count(1)
            expect(buyer.locator(".tracking li")).to_have_count(3)
            assert buyer.evaluate("document.documentElement.scrollWidth") <= 360
            _shot(buyer, "03-buyer-case-360")

            # --- the seller answers with a partial refund, in English --------------------------
            _login(seller, url, "htx")
            expect(seller.locator("h1")).to_have_text("Dispute inbox")
            expect(seller.locator(".case-row")).to_contain_text("working day")
            _shot(seller, "04-seller-inbox-en")
            seller.goto(case_url)
            expect(seller.locator("#case-state")).to_have_text("Awaiting the seller")
            _act(seller, "make_offer", {"amount": "100000", "note": "Xin lỗi chị, shop hoàn 100.000 ₫."},
                 select={"remedy": "partial_refund"})
            expect(seller.locator("#case-state")).to_have_text("Awaiting the buyer")
            _shot(seller, "05-seller-after-offer-en")

            # --- the buyer escalates -----------------------------------------------------------
            buyer.goto(case_url)
            expect(buyer.locator(".offer")).to_contain_text("100.000 ₫")
            _act(buyer, "escalate", {"reason": "Đề nghị quá thấp so với thiệt hại."})
            expect(buyer.locator("#case-state")).to_have_text("Đang hòa giải")

            # --- the rules (mediators app) give it to the mediator who knows damaged goods ------
            _login(mediator, url, "hgv")
            expect(mediator.locator("h1")).to_have_text("Hàng chờ hòa giải")
            mediator.goto(f"{url}/?queue=mine")
            with mediator.expect_navigation():
                mediator.locator(f"a[href='/cases/{case_id}/']").click()
            expect(mediator.locator(".timeline")).to_contain_text("Phân công hòa giải viên")
            expect(mediator.locator("#chat")).to_be_visible()

            # --- chat: live between the three, with a private caucus ----------------------------
            for page in (buyer, seller):
                page.goto(case_url)
            for page in (buyer, seller, mediator):
                expect(page.locator("#chat[data-connected]")).to_have_count(1)
            buyer.fill("#chat-body", "Chào anh, hộp chè bị móp ngay khi nhận.")
            buyer.locator("#chat-form button[type=submit]").click()
            expect(mediator.locator("#chat-log li", has_text="hộp chè bị móp ngay khi nhận")
                   ).to_have_count(1)
            # the mediator pins it; the buyer sees the pin live
            mediator.locator("#chat-log li", has_text="hộp chè bị móp ngay khi nhận").get_by_role(
                "button", name="Ghim").click()
            expect(buyer.locator("#chat-log li.pinned", has_text="hộp chè bị móp")).to_have_count(1)
            mediator.select_option("#chat-audience", "seller")
            mediator.fill("#chat-body", "Riêng với shop: anh có ảnh đóng gói không?")
            mediator.locator("#chat-form button[type=submit]").click()
            expect(seller.locator("#chat-log li.caucus", has_text="ảnh đóng gói")).to_have_count(1)
            mediator.select_option("#chat-audience", "all")
            mediator.fill("#chat-body", "Tôi đã xem ảnh, sẽ ra quyết định hôm nay.")
            mediator.locator("#chat-form button[type=submit]").click()
            expect(buyer.locator("#chat-log li", has_text="ra quyết định hôm nay")).to_have_count(1)
            expect(buyer.locator("#chat-log li", has_text="ảnh đóng gói")).to_have_count(0)
            _shot(mediator, "06-mediator-workspace")
            assert buyer.evaluate("document.documentElement.scrollWidth") <= 360
            _shot(buyer, "07-buyer-chat-360")

            # --- the mediator decides; the buyer's header refreshes over the socket -------------
            _act(mediator, "decide", {"reasons": "Ảnh cho thấy hàng hư hỏng do đóng gói."},
                 select={"outcome": "full_refund"})
            expect(mediator.locator("#case-state")).to_have_text("Đã có quyết định")
            expect(buyer.locator("#case-state[data-state=decided]")).to_have_count(1)

            # --- the appeal window passes: refund instructed, then confirmed by the partner -----
            assert run(env, "advance", str(case_id))["state"] == "resolved"
            buyer.goto(case_url)
            refund = buyer.locator(".esc", has_text="Hoàn tiền cho người mua")
            expect(refund).to_contain_text("300.000 ₫")
            expect(refund.locator(".badge")).to_have_text("đang chờ")
            _shot(buyer, "08-buyer-refund-pending-360")
            assert run(env, "confirm", str(case_id))["state"] == "closed"
            buyer.goto(case_url)
            expect(refund.locator(".badge")).to_have_text("đã thực hiện")
            expect(buyer.locator("#case-state")).to_have_text("Đã đóng")
            # switch to English from the header
            with buyer.expect_navigation():
                buyer.locator("form.lang button[value=en]").click()
            expect(buyer.locator("#case-state")).to_have_text("Closed")
            expect(buyer.locator(".esc", has_text="Refund to the buyer").locator(".badge")
                   ).to_have_text("done")
            _shot(buyer, "09-buyer-refund-done-en-360")
            # the bell lists the notifications the case produced (notifications app)
            buyer.locator("#notif-btn").click()
            expect(buyer.locator("#notif-panel")).to_be_visible()
            expect(buyer.locator("#notif-list li a").first).to_be_visible()
            assert buyer.evaluate("document.documentElement.scrollWidth") <= 360
            buyer.screenshot(path=str(SHOTS / "12-buyer-notifications-en-360.png"))

            # --- the supervisor: statistics and the dossier --------------------------------------
            sup_ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
            sup = sup_ctx.new_page()
            _login(sup, url, "gsv")
            sup.goto(f"{url}/stats/")
            expect(sup.locator(".kpi").first).to_contain_text("4")
            _shot(sup, "10-supervisor-stats")
            pdf = sup.request.get(f"{case_url}dossier.pdf")
            assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
            sup.goto(f"{url}/?queue=all")
            _shot(sup, "11-supervisor-cases")
        finally:
            browser.close()
