"""A realistic Quảng Ninh demo: OCOP producers on five marketplaces, carriers, payment
partners, orders with payments and tracking, and cases in every state of the workflow, driven
through the same services people use. Prints the demo logins at the end."""

import random
from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from faker import Faker
from tqdm import tqdm

from cases import roles, services
from cases.models import Buyer, Case, Order, OrderLine, Payment, Seller, Shipment, ShipmentEvent, State
from escrow.models import EscrowInstruction
from partners.models import Partner

PASSWORD = "odr-demo-2026"
SIMULATOR_URL = "http://127.0.0.1:8100"

MARKETPLACES = [
    ("ocop", "Sàn TMĐT OCOP Quảng Ninh"), ("shopee", "Shopee"), ("lazada", "Lazada"),
    ("tiki", "Tiki"), ("fado", "Fado"),
]
CARRIERS = [("ghn", "Giao Hàng Nhanh"), ("viettelpost", "Viettel Post"), ("vnpost", "VNPost")]
PAYMENT_PARTNERS = [
    ("momo", "Ví MoMo", "ewallet"), ("zalopay", "ZaloPay", "ewallet"), ("vnpay", "VNPay QR", "qr"),
    ("viettelmoney", "Viettel Money", "mobile_money"),
]
PRODUCERS = [
    ("HTX Trà hoa vàng Ba Chẽ", "Ba Chẽ", 4, [("Trà hoa vàng sấy khô 100g", 350_000),
                                             ("Trà hoa vàng túi lọc", 180_000)]),
    ("Cơ sở Chả mực Hạ Long Cô Lan", "Hạ Long", 4, [("Chả mực giã tay 1kg", 420_000),
                                                    ("Chả mực 500g", 220_000)]),
    ("HTX Miến dong Bình Liêu", "Bình Liêu", 3, [("Miến dong Bình Liêu 1kg", 120_000)]),
    ("Rượu Ba Kích Ba Chẽ Đức Hậu", "Ba Chẽ", 4, [("Rượu ba kích tím 750ml", 280_000)]),
    ("Nước mắm Cái Rồng Vân Đồn", "Vân Đồn", 3, [("Nước mắm cá cơm 40 độ đạm 500ml", 95_000)]),
    ("Sá sùng khô Quan Lạn", "Vân Đồn", 5, [("Sá sùng khô loại 1 100g", 850_000)]),
    ("HTX Ngán Hạ Long", "Hạ Long", 3, [("Ngán ngâm chua ngọt hũ 500g", 160_000)]),
    ("Gà đồi Tiên Yên Hải Hà", "Tiên Yên", 4, [("Gà đồi Tiên Yên nguyên con 1.8kg", 390_000)]),
    ("Dầu sở Bình Liêu Đồng Văn", "Bình Liêu", 3, [("Dầu sở ép lạnh 500ml", 210_000)]),
    ("Chè Đường Hoa Hải Hà", "Hải Hà", 4, [("Chè xanh Đường Hoa 500g", 230_000)]),
]
DESCRIPTIONS = {
    "damaged": "Hộp hàng bị móp, bao bì bên trong rách, sản phẩm bị đổ ra ngoài.",
    "not_as_described": "Sản phẩm không giống ảnh trên sàn, màu sắc và mùi vị khác hẳn.",
    "wrong_item": "Tôi đặt loại 1kg nhưng nhận được loại 500g.",
    "missing_parts": "Đơn có 3 sản phẩm nhưng chỉ nhận được 2.",
    "not_received": "Đã quá ngày giao dự kiến nhưng tôi chưa nhận được hàng.",
    "counterfeit": "Tem OCOP trên sản phẩm có dấu hiệu giả mạo.",
}


class Command(BaseCommand):
    help = "Create the Quảng Ninh demo dataset (marketplaces, producers, orders, cases)."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=300, help="orders to generate")
        parser.add_argument("--if-empty", action="store_true", help="do nothing if seeded")
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, orders: int, if_empty: bool, seed: int, **opts):
        if if_empty and Partner.objects.filter(code="ocop").exists():
            self.stdout.write("Demo data present; nothing to do.")
            self._print_logins()
            return
        random.seed(seed)
        fake = Faker("vi_VN")
        fake.seed_instance(seed)
        with transaction.atomic():
            people = self._people()
            partners = self._partners()
            sellers = self._sellers(partners, people)
        self._orders(orders, fake, partners, sellers, people)
        self._cases(people)
        self._print_logins()

    # --- people and partners ----------------------------------------------------------------
    def _user(self, username: str, first: str, last: str, group: str | None = None,
              login: bool = True) -> User:
        """Demo logins get the demo password; background buyers cannot log in (hashing a
        password costs ~0.5 s by design, and they need none)."""
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last,
                                         "email": f"{username}@demo.odr.vn"})
        if created:
            user.set_password(PASSWORD) if login else user.set_unusable_password()
            user.save()
        if group:
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        return user

    def _people(self) -> dict:
        people = {
            "buyer": self._user("buyer", "Lan", "Trần Thị"),
            "seller": self._user("seller", "Hùng", "Nguyễn Văn"),
            "mediator": self._user("mediator", "Minh", "Phạm Thị", roles.MEDIATORS),
            "mediator_en": self._user("mediator2", "An", "Lê Hoàng", roles.MEDIATORS),
            "supervisor": self._user("supervisor", "Quang", "Vũ Đức", roles.SUPERVISORS),
        }
        from mediators.models import MediatorProfile

        MediatorProfile.objects.update_or_create(user=people["mediator"], defaults={
            "languages": ["vi", "tay"], "specialities": ["damaged", "not_as_described"],
            "capacity": 15})
        MediatorProfile.objects.update_or_create(user=people["mediator_en"], defaults={
            "languages": ["vi", "en"], "specialities": ["not_received", "counterfeit"],
            "capacity": 15})
        admin = self._user("admin", "Quản trị", "ODR", roles.SUPERVISORS)
        admin.is_staff = admin.is_superuser = True
        admin.save()
        people["supervisor"].is_staff = True
        people["supervisor"].save()
        return people

    def _partners(self) -> dict:
        made = {}
        for code, name in MARKETPLACES:
            made[code] = Partner.objects.update_or_create(
                code=code, defaults={"name": name, "kind": Partner.Kind.MARKETPLACE,
                                     "signing_secrets": [f"whsec_{code}_demo"]})[0]
        for code, name in CARRIERS:
            made[code] = Partner.objects.update_or_create(
                code=code, defaults={"name": name, "kind": Partner.Kind.CARRIER,
                                     "signing_secrets": [f"whsec_{code}_demo"]})[0]
        for code, name, _method in PAYMENT_PARTNERS:
            made[code] = Partner.objects.update_or_create(
                code=code, defaults={"name": name, "kind": Partner.Kind.PAYMENT,
                                     "base_url": SIMULATOR_URL,
                                     "signing_secrets": ["whsec_simulator_demo"]})[0]
        return made

    def _sellers(self, partners: dict, people: dict) -> list[Seller]:
        sellers = []
        for i, (name, district, stars, _products) in enumerate(PRODUCERS):
            seller = services.seller_upsert(
                marketplace=partners["ocop"], external_id=f"OCOP-QN-{i + 1:03d}", name=name,
                province=f"{district}, Quảng Ninh", ocop_stars=stars)
            sellers.append(seller)
        sellers[0].staff.add(people["seller"])  # the demo seller works for the tea cooperative
        return sellers

    # --- orders, in bulk --------------------------------------------------------------------
    def _orders(self, count: int, fake: Faker, partners: dict, sellers: list[Seller],
                people: dict) -> None:
        now = timezone.now()
        marketplaces = [partners[c] for c, _ in MARKETPLACES]
        carriers = [partners[c] for c, _ in CARRIERS]
        payers = [(partners[c], m) for c, _, m in PAYMENT_PARTNERS]
        demo_buyer = Buyer.objects.update_or_create(
            marketplace=partners["ocop"], external_id="KH-DEMO-0001",
            defaults={"name": "Trần Thị Lan", "phone": "0912345678", "user": people["buyer"],
                      "email": "buyer@demo.odr.vn"})[0]
        start = Order.objects.count()
        batch = 500
        bar = tqdm(total=count, desc="Đơn hàng", unit="đơn", disable=count < 1000)
        for offset in range(0, count, batch):
            size = min(batch, count - offset)
            with transaction.atomic():
                buyers = Buyer.objects.bulk_create([
                    Buyer(marketplace=random.choice(marketplaces),
                          external_id=f"KH-{start + offset + i:07d}", name=fake.name(),
                          phone=fake.phone_number()[:20])
                    for i in range(size)])
                orders, lines, payments, shipments = [], [], [], []
                for i in range(size):
                    seller = random.choice(sellers)
                    product, price = random.choice(PRODUCERS[sellers.index(seller)][3])
                    qty = random.randint(1, 3)
                    placed = now - timedelta(days=random.randint(3, 12), hours=random.randint(0, 23))
                    delivered = placed + timedelta(days=random.randint(2, 4))
                    # The demo buyer owns the first orders of the tea cooperative.
                    buyer = demo_buyer if offset + i < 12 else buyers[i]
                    if offset + i < 12:
                        seller, (product, price) = sellers[0], PRODUCERS[0][3][0]
                    orders.append(Order(
                        marketplace=buyer.marketplace, external_id=f"DH{start + offset + i:08d}",
                        buyer=buyer, seller=seller, total=qty * price, placed_at=placed,
                        expected_delivery_at=placed + timedelta(days=3),
                        delivered_at=delivered if delivered < now else None))
                    lines.append((product, qty, price))
                orders = Order.objects.bulk_create(orders)
                for order in orders:
                    partner, method = random.choice(payers)
                    payments.append(Payment(
                        partner=partner, external_id=f"{partner.code.upper()}{order.pk:010d}",
                        order=order, method=method, amount=order.total, paid_at=order.placed_at))
                    shipments.append(Shipment(
                        carrier=random.choice(carriers), tracking_number=f"QN{order.pk:010d}VN",
                        order=order, status="delivered" if order.delivered_at else "in_transit",
                        status_at=order.delivered_at or order.placed_at + timedelta(days=1),
                        delivered_at=order.delivered_at,
                        proof_of_delivery="Ảnh ký nhận của người mua" if order.delivered_at else ""))
                OrderLine.objects.bulk_create(
                    OrderLine(order=o, sku=f"SKU-{o.seller_id}-{len(p)}", name=p, quantity=q,
                              unit_price=pr) for o, (p, q, pr) in zip(orders, lines, strict=True))
                Payment.objects.bulk_create(payments)
                shipments = Shipment.objects.bulk_create(shipments)
                events = []
                for s in shipments:
                    events.append(ShipmentEvent(shipment=s, status="picked_up",
                                                occurred_at=s.order.placed_at + timedelta(hours=6),
                                                location="Bưu cục Hạ Long"))
                    events.append(ShipmentEvent(shipment=s, status="in_transit",
                                                occurred_at=s.order.placed_at + timedelta(days=1),
                                                location="Kho trung chuyển Cẩm Phả"))
                    if s.delivered_at:
                        events.append(ShipmentEvent(shipment=s, status="delivered",
                                                    occurred_at=s.delivered_at,
                                                    location="Địa chỉ người nhận"))
                ShipmentEvent.objects.bulk_create(events)
            bar.update(size)
        bar.close()

    # --- cases in every state ---------------------------------------------------------------
    def _cases(self, people: dict) -> None:
        buyer, seller = people["buyer"], people["seller"]
        mediator, supervisor = people["mediator"], people["supervisor"]
        demo_orders = list(Order.objects.filter(buyer__user=buyer, delivered_at__isnull=False)
                           .exclude(cases__isnull=False).order_by("pk"))
        plan = [State.AWAITING_SELLER, State.AWAITING_BUYER, State.AWAITING_RETURN,
                State.IN_MEDIATION, State.DECIDED, State.UNDER_APPEAL, State.RESOLVED,
                State.CLOSED]
        for state, order in zip(plan, demo_orders, strict=False):
            self._case_in(state, order, buyer, seller, mediator, supervisor)
        # Background cases from other buyers so lists and statistics have something to show.
        reasons = list(DESCRIPTIONS)
        others = (Order.objects.filter(delivered_at__isnull=False).exclude(buyer__user=buyer)
                  .select_related("buyer", "seller").order_by("pk"))[:40]
        for i, order in enumerate(others):
            user = self._user(f"kh{order.buyer_id}", order.buyer.name.split()[-1],
                              " ".join(order.buyer.name.split()[:-1]), login=False)
            Buyer.objects.filter(pk=order.buyer_id).update(user=user)
            reason = reasons[i % len(reasons)]
            try:
                case = services.case_file(
                    actor=user, order_id=order.pk, reason=reason,
                    desired_outcome="full_refund" if i % 3 else "partial_refund",
                    claimed_amount=order.total if i % 3 else order.total // 2,
                    description=DESCRIPTIONS[reason])
            except Exception as exc:  # an ineligible random order is simply skipped
                self.stderr.write(f"skip {order}: {exc}")
                continue
            if i % 4 == 1:
                services.case_withdraw(case_id=case.pk, actor=user, reason="Đã thỏa thuận riêng")

    def _case_in(self, state, order, buyer, seller, mediator, supervisor) -> Case:
        remedy = "return_and_refund" if state == State.AWAITING_RETURN else "full_refund"
        amount = order.total
        case = services.case_file(actor=buyer, order_id=order.pk, reason="damaged",
                                  desired_outcome=remedy, claimed_amount=amount,
                                  description=DESCRIPTIONS["damaged"])
        pk = case.pk
        if state == State.AWAITING_SELLER:
            return case
        if state == State.AWAITING_RETURN:
            return services.case_accept_claim(case_id=pk, actor=seller)
        services.case_offer(case_id=pk, actor=seller, remedy="partial_refund", amount=amount // 3,
                            note="Shop xin hỗ trợ hoàn 1/3 giá trị đơn hàng.")
        if state == State.AWAITING_BUYER:
            return case
        if state in (State.RESOLVED, State.CLOSED):
            case = services.case_accept_offer(case_id=pk, actor=buyer)
            if state == State.CLOSED:
                EscrowInstruction.objects.filter(case=case).update(
                    status=EscrowInstruction.Status.CONFIRMED, confirmed_at=timezone.now())
                case = services.case_close_if_settled(case_id=pk) or case
            return case
        services.case_escalate(case_id=pk, actor=buyer, reason="Mức hoàn tiền chưa thỏa đáng.")
        case = Case.objects.get(pk=pk)
        if case.mediator_id != mediator.pk:
            services.case_assign(case_id=pk, actor=supervisor, mediator=mediator,
                                 reason="Phân công demo")
        if state == State.IN_MEDIATION:
            return case
        services.case_decide(case_id=pk, actor=mediator, outcome="partial_refund",
                             refund_amount=amount // 2,
                             reasons="Ảnh chụp cho thấy hàng hư hỏng một phần khi vận chuyển.")
        if state == State.DECIDED:
            return case
        return services.case_appeal(case_id=pk, actor=seller,
                                    grounds="Hàng được đóng gói kỹ, hư hỏng do vận chuyển.")

    def _print_logins(self) -> None:
        self.stdout.write(self.style.SUCCESS("\nĐăng nhập demo (mật khẩu / password: "
                                             f"{PASSWORD}):"))
        for username, role in [("buyer", "người mua / buyer"), ("seller", "người bán / seller"),
                               ("mediator", "hòa giải viên / mediator"),
                               ("supervisor", "giám sát viên / supervisor"),
                               ("admin", "quản trị / admin (/admin/)")]:
            self.stdout.write(f"  {username:<11} {role}")
