"""factory-boy factories: a delivered, paid order between a buyer and a shop, and the people
who act on cases (buyers, seller staff, mediators, supervisors)."""

from datetime import timedelta

import factory
from django.contrib.auth.models import Group, User
from django.utils import timezone

from cases import roles
from cases.models import Buyer, Order, OrderLine, Payment, Seller, Shipment
from partners.models import Partner


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Nguyễn"
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.vn")
    password = factory.django.Password("pw-odr-2026")


def mediator(**kw) -> User:
    user = UserFactory(**kw)
    user.groups.add(Group.objects.get_or_create(name=roles.MEDIATORS)[0])
    return user


def supervisor(**kw) -> User:
    user = UserFactory(**kw)
    user.groups.add(Group.objects.get_or_create(name=roles.SUPERVISORS)[0])
    return user


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"partner{n}")
    name = factory.LazyAttribute(lambda p: p.code.upper())
    kind = Partner.Kind.MARKETPLACE
    signing_secrets = factory.LazyFunction(lambda: ["whsec_test_1"])


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller
        skip_postgeneration_save = True

    marketplace = factory.SubFactory(PartnerFactory, code="ocop")
    external_id = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"HTX Chè Hoành Bồ {n}")

    @factory.post_generation
    def staff_users(self, create, extracted, **kw):
        for user in extracted or []:
            self.staff.add(user)


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer

    marketplace = factory.SubFactory(PartnerFactory, code="ocop")
    external_id = factory.Sequence(lambda n: f"buyer-{n}")
    name = "Trần Thị Lan"
    user = factory.SubFactory(UserFactory)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    marketplace = factory.SubFactory(PartnerFactory, code="ocop")
    external_id = factory.Sequence(lambda n: f"DH{100000 + n}")
    buyer = factory.SubFactory(BuyerFactory)
    seller = factory.SubFactory(SellerFactory)
    total = 450_000
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=6))
    expected_delivery_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))
    delivered_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=2))

    @factory.post_generation
    def with_lines(self, create, extracted, **kw):
        OrderLine.objects.create(order=self, sku="CHE-01", name="Chè Hoành Bồ 500g",
                                 quantity=3, unit_price=150_000)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    partner = factory.SubFactory(PartnerFactory, code="momo", kind=Partner.Kind.PAYMENT)
    external_id = factory.Sequence(lambda n: f"MOMO{900000 + n}")
    order = factory.SubFactory(OrderFactory)
    method = Payment.Method.EWALLET
    amount = factory.LazyAttribute(lambda p: p.order.total)
    paid_at = factory.LazyAttribute(lambda p: p.order.placed_at)


def paid_order(**kw) -> Order:
    """A delivered order of 450,000 ₫ paid by MoMo, with a buyer and a seller who have users."""
    order = OrderFactory(**kw)
    PaymentFactory(order=order)
    return order


def carrier(code: str = "ghn") -> Partner:
    return PartnerFactory(code=code, kind=Partner.Kind.CARRIER)


__all__ = ["BuyerFactory", "OrderFactory", "PartnerFactory", "PaymentFactory", "SellerFactory",
           "Shipment", "UserFactory", "carrier", "mediator", "paid_order", "supervisor"]
