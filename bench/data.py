"""Benchmark data, generated in bulk and reused between runs: buyers and seller staff with API
tokens, orders with payments to file against, cases to move, one hot case.

Everything the bench creates is named `bench-…` / `B?-…` so it never mixes with seeded data."""

from __future__ import annotations

import binascii
import os
import time
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cases.models import (
    Buyer,
    Case,
    Offer,
    Order,
    Payment,
    PendingEvent,
    Seller,
    State,
    TimelineEntry,
)
from partners.models import Partner

N_BUYERS = 10_000
N_SELLERS = 100
N_TRANSITION_CASES = 10_000
HOT_ACTORS = 100  # 50 seller staff of the hot shop + 50 connections of its buyer
BATCH = 5_000
AMOUNT = 450_000


def _key() -> str:
    return binascii.hexlify(os.urandom(20)).decode()


def _log(msg: str) -> None:
    print(f"  [data] {msg}", flush=True)


def partners() -> tuple[Partner, Partner]:
    mkt, _ = Partner.objects.get_or_create(
        code="bench-ocop", defaults={"name": "Bench OCOP", "kind": Partner.Kind.MARKETPLACE})
    pay, _ = Partner.objects.get_or_create(
        code="bench-pay", defaults={"name": "Bench Pay", "kind": Partner.Kind.PAYMENT,
                                    "signing_secrets": ["bench-secret"]})
    return mkt, pay


def _users(prefix: str, n: int) -> list[User]:
    """`n` users named prefix-0…, each with a token, created in bulk if missing."""
    have = User.objects.filter(username__startswith=f"{prefix}-").count()
    if have < n:
        pw = make_password("bench-pw-2026")
        existing = set(User.objects.filter(username__startswith=f"{prefix}-")
                       .values_list("username", flat=True))
        new = [User(username=f"{prefix}-{i}", password=pw, first_name="Bench")
               for i in range(n) if f"{prefix}-{i}" not in existing]
        User.objects.bulk_create(new, batch_size=BATCH)
        users = list(User.objects.filter(username__in=[u.username for u in new]))
        Token.objects.bulk_create([Token(key=_key(), user=u) for u in users], batch_size=BATCH)
        _log(f"{len(new)} users {prefix}-* with tokens")
    users = {u.username: u for u in User.objects.filter(username__startswith=f"{prefix}-")}
    return [users[f"{prefix}-{i}"] for i in range(n)]


def tokens_of(users: list[User]) -> dict[int, str]:
    return dict(Token.objects.filter(user__in=users).values_list("user_id", "key"))


@dataclass
class Cast:
    mkt: Partner
    pay: Partner
    buyers: list[Buyer]
    sellers: list[Seller]
    tokens: dict[int, str]  # user id -> token key


def _analyze() -> None:
    """VACUUM ANALYZE after a bulk load and before measuring, as autovacuum would in production.
    This machine's PostgreSQL runs with autovacuum off: with stale statistics PostgreSQL read a
    payment by its order through a scan of the whole primary key (3.7 ms instead of 0.06 ms per
    filing), and the dead rows of every run's resets (offers, timeline, chat) piled up."""
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE)")


def cast() -> Cast:
    t0 = time.monotonic()
    # Case events that earlier runs left in the outbox (the HTTP figures run no relay, see
    # bench/scenarios/transitions.py for its own figure): a fixture reset, like the Redis flush.
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {PendingEvent._meta.db_table}")
    mkt, pay = partners()
    buyer_users = _users("bench-buyer", N_BUYERS)
    seller_users = _users("bench-seller", N_SELLERS)
    if Buyer.objects.filter(marketplace=mkt).count() < N_BUYERS:
        have = set(Buyer.objects.filter(marketplace=mkt).values_list("external_id", flat=True))
        Buyer.objects.bulk_create(
            [Buyer(marketplace=mkt, external_id=f"bench-b{i}", name=f"Người mua {i}", user=u)
             for i, u in enumerate(buyer_users) if f"bench-b{i}" not in have], batch_size=BATCH)
    if Seller.objects.filter(marketplace=mkt).count() < N_SELLERS:
        have = set(Seller.objects.filter(marketplace=mkt).values_list("external_id", flat=True))
        made = Seller.objects.bulk_create(
            [Seller(marketplace=mkt, external_id=f"bench-s{i}", name=f"HTX Bench {i}")
             for i in range(N_SELLERS) if f"bench-s{i}" not in have], batch_size=BATCH)
        Through = Seller.staff.through
        by_ext = {s.external_id: s for s in made}
        Through.objects.bulk_create(
            [Through(seller_id=by_ext[f"bench-s{i}"].pk, user_id=u.pk)
             for i, u in enumerate(seller_users) if f"bench-s{i}" in by_ext], batch_size=BATCH)
    buyers_by_ext = {b.external_id: b for b in Buyer.objects.filter(marketplace=mkt)}
    sellers_by_ext = {s.external_id: s for s in Seller.objects.filter(marketplace=mkt)}
    result = Cast(
        mkt=mkt, pay=pay,
        buyers=[buyers_by_ext[f"bench-b{i}"] for i in range(N_BUYERS)],
        sellers=[sellers_by_ext[f"bench-s{i}"] for i in range(N_SELLERS)],
        tokens=tokens_of(buyer_users + seller_users),
    )
    _analyze()
    _log(f"cast ready in {time.monotonic() - t0:.1f}s")
    return result


def _orders(c: Cast, prefix: str, start: int, n: int, *, seller_of=None) -> list[Order]:
    """`n` delivered, paid orders (450,000 ₫) named prefix-start…, buyers round-robin."""
    now = timezone.now()
    out = []
    for lo in range(start, start + n, BATCH):
        hi = min(lo + BATCH, start + n)
        orders = Order.objects.bulk_create([
            Order(marketplace=c.mkt, external_id=f"{prefix}-{i}", buyer=c.buyers[i % N_BUYERS],
                  seller=seller_of(i) if seller_of else c.sellers[i % N_SELLERS], total=AMOUNT,
                  placed_at=now - timedelta(days=5), expected_delivery_at=now - timedelta(days=3),
                  delivered_at=now - timedelta(days=2))
            for i in range(lo, hi)])
        Payment.objects.bulk_create([
            Payment(partner=c.pay, external_id=f"{prefix}-P{o.external_id}", order=o,
                    method=Payment.Method.EWALLET, amount=AMOUNT, paid_at=o.placed_at)
            for o in orders])
        out.extend(orders)
    return out


def filing_orders(c: Cast, n: int) -> list[tuple[str, int]]:
    """(buyer token, order id) for `n` orders that have never had a case and are still within
    the filing window; the shortfall is generated."""
    fresh = timezone.now() - timedelta(days=9)
    qs = (Order.objects.filter(marketplace=c.mkt, external_id__startswith="BF-",
                               delivered_at__gte=fresh, cases__isnull=True)
          .values_list("pk", "buyer__user_id").order_by("pk"))
    have = list(qs[:n])
    if len(have) < n:
        t0 = time.monotonic()
        top = Order.objects.filter(marketplace=c.mkt, external_id__startswith="BF-").count()
        _orders(c, f"BF-{int(time.time())}", top, n - len(have))
        have = list(qs[:n])
        _analyze()
        _log(f"{n} filing orders ready ({time.monotonic() - t0:.1f}s to generate the shortfall)")
    return [(c.tokens[uid], pk) for pk, uid in have]


def _bulk_cases(c: Cast, orders: list[Order], filer_of) -> None:
    now = timezone.now()
    payments = dict(Payment.objects.filter(order__in=orders).values_list("order_id", "pk"))
    for lo in range(0, len(orders), BATCH):
        Case.objects.bulk_create([
            Case(order=o, payment_id=payments[o.pk], buyer_id=o.buyer_id, seller_id=o.seller_id,
                 marketplace=c.mkt, reason="damaged", desired_outcome="full_refund",
                 claimed_amount=AMOUNT, description="Hàng bị vỡ khi nhận (bench).",
                 filed_by_id=filer_of(o), filed_at=now, due_at=now + timedelta(days=5))
            for o in orders[lo:lo + BATCH]])


def transition_cases(c: Cast) -> list[tuple[int, str, str]]:
    """(case id, seller token, buyer token) for 10,000 cases reset to `awaiting_seller`."""
    qs = Case.objects.filter(order__external_id__startswith="BT-")
    if qs.count() < N_TRANSITION_CASES:
        t0 = time.monotonic()
        orders = _orders(c, "BT", qs.count(), N_TRANSITION_CASES - qs.count())
        buyer_user = {b.pk: b.user_id for b in c.buyers}
        _bulk_cases(c, orders, lambda o: buyer_user[o.buyer_id])
        _log(f"{len(orders)} transition cases ({time.monotonic() - t0:.1f}s)")
    ids = list(qs.values_list("pk", flat=True))
    reset_cases(ids)
    _analyze()  # the reset deleted the last run's offers and timeline
    staff = dict(Seller.staff.through.objects.filter(seller__in=c.sellers)
                 .values_list("seller_id", "user_id"))
    rows = qs.values_list("pk", "seller_id", "buyer__user_id").order_by("pk")
    return [(pk, c.tokens[staff[sid]], c.tokens[uid]) for pk, sid, uid in rows]


def reset_cases(ids: list[int]) -> None:
    """Put cases back to `awaiting_seller` with no offers or timeline (a fixture reset, not a
    workflow action: raw SQL on purpose, the FSM field is protected)."""
    with transaction.atomic():
        Offer.objects.filter(case_id__in=ids).delete()
        TimelineEntry.objects.filter(case_id__in=ids).delete()
        with connection.cursor() as cur:
            cur.execute(
                f"UPDATE {Case._meta.db_table} SET state=%s, open_offer_amount=NULL, "
                "open_offer_remedy='', seller_responded_at=NULL, buyer_responded_at=NULL, "
                "outcome='', refund_amount=0 WHERE id = ANY(%s)", [State.AWAITING_SELLER, ids])


@dataclass
class Hot:
    case_id: int
    seller_tokens: list[str]
    buyer_token: str


def hot_case(c: Cast) -> Hot:
    """One case whose shop has 50 staff users; the buyer is one user (50 connections)."""
    mkt = c.mkt
    shop, made = Seller.objects.get_or_create(marketplace=mkt, external_id="bench-hot",
                                              defaults={"name": "HTX Bench Hot"})
    staff_users = _users("bench-hotstaff", HOT_ACTORS // 2)
    if made or shop.staff.count() < len(staff_users):
        shop.staff.add(*staff_users)
    case = Case.objects.filter(order__external_id="BH-0").first()
    if case is None:
        orders = _orders(c, "BH", 0, 1, seller_of=lambda i: shop)
        _bulk_cases(c, orders, lambda o: c.buyers[0].user_id)
        case = Case.objects.get(order__external_id="BH-0")
    reset_cases([case.pk])
    stoks = tokens_of(staff_users)
    return Hot(case_id=case.pk, seller_tokens=[stoks[u.pk] for u in staff_users],
               buyer_token=c.tokens[c.buyers[0].user_id])


def empty_rooms(case_ids: list[int]) -> None:
    """Every run starts from empty rooms (a fixture reset): a connect's history, and so its
    cost, would otherwise grow with every run's messages."""
    from mediation.models import ChatMessage, ChatRoom, ReadMarker

    with transaction.atomic():
        for model in (ReadMarker, ChatMessage, ChatRoom):
            model.objects.filter(case_id__in=case_ids).delete()


def chat_rooms(c: Cast, rooms: int, per_room: int) -> list[tuple[int, list[str]]]:
    """`rooms` cases, each with sockets for its buyer (6) and its shop's staff user (4): a
    buyer holds 6 sockets, a staff user (2 shops' cases each) 8 — under the 10-per-user cap."""
    qs = Case.objects.filter(order__external_id__startswith="BC-").order_by("pk")
    if qs.count() < rooms:
        have = qs.count()
        orders = _orders(c, "BC", 5000 + have, rooms - have)
        buyer_user = {b.pk: b.user_id for b in c.buyers}
        _bulk_cases(c, orders, lambda o: buyer_user[o.buyer_id])
    staff = dict(Seller.staff.through.objects.filter(seller__in=c.sellers)
                 .values_list("seller_id", "user_id"))
    empty_rooms(list(qs.values_list("pk", flat=True)[:rooms]))
    out = []
    for pk, sid, uid in qs.values_list("pk", "seller_id", "buyer__user_id")[:rooms]:
        buyers = [c.tokens[uid]] * (per_room * 6 // 10)
        out.append((pk, buyers + [c.tokens[staff[sid]]] * (per_room - len(buyers))))
    return out
