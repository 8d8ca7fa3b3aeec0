"""partners.simulator over real loopback HTTP: ledger, idempotency, faults, callbacks, CLI."""

from __future__ import annotations

import http.client
import json
import selectors
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from partners import signing
from partners.simulator import PartnerSimulator

SECRET = "whsec_test"
CALLBACK_SECRET = "whsec_callback"
REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def partner():
    with PartnerSimulator(
        secrets=[SECRET], callback_secret=CALLBACK_SECRET, seed=3, callback_delay_ms=0
    ) as simulator:
        yield simulator


def instruction(
    kind: str = "hold",
    amount: int = 150_000,
    *,
    reference: str = "MOMO-TX-1",
    paid: int = 450_000,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "amount": amount,
        "currency": "VND",
        "payment": {"reference": reference, "amount": paid},
        "case": "ODR-2026-000123",
        "reason": "Hàng không đúng mô tả",
        "created_at": "2026-03-01T09:30:00+07:00",
        **extra,
    }


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: Any

    @property
    def code(self) -> str:
        return self.body["error"]["code"]

    @property
    def replayed(self) -> bool:
        return self.headers.get("Idempotent-Replayed") == "true"


def request(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 5,
) -> Answer:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, response.headers, json.loads(data) if data else None)
    finally:
        connection.close()


def send(
    partner: PartnerSimulator,
    payload: dict[str, Any],
    *,
    secrets=(SECRET,),
    key: str | None = None,
    raw: bytes | None = None,
    timeout: float = 5,
    now: float | None = None,
) -> Answer:
    """POST a signed instruction the way odr does."""
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": payload["id"] if key is None else key,
        **signing.signed_headers(secrets=list(secrets), body=body, now=now),
    }
    return request(partner.url, "POST", "/escrow/instructions", body, headers, timeout)


def control(partner: PartnerSimulator, method: str, path: str, payload: Any = None) -> Answer:
    body = b"" if payload is None else json.dumps(payload).encode()
    return request(partner.url, method, path, body)


def applications_for(partner: PartnerSimulator, key: str) -> list[dict[str, Any]]:
    return [a for a in partner.ledger()["applications"] if a["key"] == key]


class CallbackReceiver:
    """A tiny odr stand-in that records the confirmations the partner calls back with."""

    def __init__(self, *, failures_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.attempts = 0
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._changed:
                    receiver.attempts += 1
                    failing = receiver.attempts <= failures_first
                    if not failing:
                        receiver.received.append((dict(self.headers), body))
                    receiver._changed.notify_all()
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/partners/sim/confirmations"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def wait_for(self, count: int, timeout: float = 3) -> list[tuple[dict[str, str], bytes]]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver():
    callback_receiver = CallbackReceiver()
    yield callback_receiver
    callback_receiver.close()


# --------------------------------------------------------------------------- ledger


def test_hold_release_refund_happy_path(partner):
    hold = send(partner, instruction("hold", 300_000))
    assert hold.status == 200
    assert hold.body["status"] == "confirmed"
    assert hold.body["partner_reference"].startswith("SIM-")
    assert hold.body["type"] == "hold" and hold.body["amount"] == 300_000
    assert hold.body["payment"] == {
        "reference": "MOMO-TX-1",
        "paid": 450_000,
        "held": 300_000,
        "released": 0,
        "refunded": 0,
    }
    assert not hold.replayed

    release = send(partner, instruction("release", 200_000))
    assert release.status == 200
    assert release.body["payment"] == {
        "reference": "MOMO-TX-1",
        "paid": 450_000,
        "held": 100_000,
        "released": 200_000,
        "refunded": 0,
    }

    # Refunding more than is still held also takes the unheld money.
    refund = send(partner, instruction("refund", 250_000))
    assert refund.status == 200
    assert refund.body["payment"] == {
        "reference": "MOMO-TX-1",
        "paid": 450_000,
        "held": 0,
        "released": 200_000,
        "refunded": 250_000,
    }

    ledger = partner.ledger()
    assert ledger["payments"] == {
        "MOMO-TX-1": {"paid": 450_000, "held": 0, "released": 200_000, "refunded": 250_000}
    }
    assert [(a["type"], a["amount"], a["reference"]) for a in ledger["applications"]] == [
        ("hold", 300_000, "MOMO-TX-1"),
        ("release", 200_000, "MOMO-TX-1"),
        ("refund", 250_000, "MOMO-TX-1"),
    ]
    assert ledger["counts"]["requests"] == 3 and ledger["counts"]["applied"] == 3


def test_payments_are_tracked_separately(partner):
    assert send(partner, instruction("hold", 100_000, reference="A", paid=100_000)).status == 200
    assert send(partner, instruction("hold", 5_000, reference="B", paid=20_000)).status == 200
    assert partner.ledger()["payments"] == {
        "A": {"paid": 100_000, "held": 100_000, "released": 0, "refunded": 0},
        "B": {"paid": 20_000, "held": 5_000, "released": 0, "refunded": 0},
    }


def test_refund_more_than_paid_is_insufficient_funds(partner):
    answer = send(partner, instruction("refund", 450_001))
    assert answer.status == 422
    assert answer.code == "insufficient_funds"
    assert answer.body["error"]["available"] == 450_000
    assert partner.ledger()["applications"] == []


def test_release_after_full_refund_is_insufficient_funds(partner):
    assert send(partner, instruction("refund", 450_000)).status == 200
    answer = send(partner, instruction("release", 1))
    assert answer.status == 422 and answer.code == "insufficient_funds"
    assert partner.ledger()["payments"]["MOMO-TX-1"]["released"] == 0


def test_hold_cannot_exceed_unheld_money(partner):
    assert send(partner, instruction("hold", 400_000)).status == 200
    answer = send(partner, instruction("hold", 50_001))
    assert answer.status == 422 and answer.body["error"]["available"] == 50_000


def test_insufficient_funds_is_a_final_answer(partner):
    payload = instruction("refund", 999_999)
    first = send(partner, payload)
    again = send(partner, payload)
    assert (again.status, again.body) == (first.status, first.body) == (422, first.body)
    assert again.replayed


def test_paid_amount_must_match_the_registered_payment(partner):
    assert send(partner, instruction("hold", 1_000, paid=450_000)).status == 200
    answer = send(partner, instruction("hold", 1_000, paid=900_000))
    assert answer.status == 422 and answer.code == "payment_mismatch"


# --------------------------------------------------------------------------- authentication


def test_bad_signature_is_401_and_applies_nothing(partner):
    answer = send(partner, instruction(), secrets=["whsec_wrong"])
    assert answer.status == 401 and answer.code == "signature_invalid"
    assert partner.ledger()["applications"] == []
    assert partner.ledger()["counts"]["rejected"] == 1


def test_missing_signature_headers_are_401(partner):
    body = json.dumps(instruction()).encode()
    answer = request(
        partner.url,
        "POST",
        "/escrow/instructions",
        body,
        {"Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert answer.status == 401 and answer.code == "signature_missing"


def test_stale_timestamp_is_401(partner):
    answer = send(partner, instruction(), now=time.time() - 600)
    assert answer.status == 401 and answer.code == "timestamp_stale"


def test_tampered_body_is_401(partner):
    payload = instruction("hold", 100)
    body = json.dumps(payload).encode()
    headers = {
        "Idempotency-Key": payload["id"],
        **signing.signed_headers(secrets=[SECRET], body=body),
    }
    tampered = body.replace(b'"amount": 100,', b'"amount": 400000,')
    answer = request(partner.url, "POST", "/escrow/instructions", tampered, headers)
    assert answer.status == 401 and answer.code == "signature_invalid"


def test_either_secret_works_during_rotation():
    with PartnerSimulator(secrets=["whsec_new", "whsec_old"]) as rotating:
        assert send(rotating, instruction(), secrets=["whsec_old"]).status == 200
        assert send(rotating, instruction("hold", 1), secrets=["whsec_new"]).status == 200


# --------------------------------------------------------------------------- validation


def _with(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**payload, **changes}


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (lambda p: _with(p, type="capture"), "invalid_field", "type"),
        (lambda p: _with(p, amount=0), "invalid_field", "amount"),
        (lambda p: _with(p, amount=-5), "invalid_field", "amount"),
        (lambda p: _with(p, amount=1.5), "invalid_field", "amount"),
        (lambda p: _with(p, amount="150000"), "invalid_field", "amount"),
        (lambda p: _with(p, amount=True), "invalid_field", "amount"),
        (lambda p: _with(p, currency="USD"), "invalid_field", "currency"),
        (lambda p: _with(p, payment={"amount": 1}), "invalid_field", "payment.reference"),
        (
            lambda p: _with(p, payment={"reference": "R", "amount": 0}),
            "invalid_field",
            "payment.amount",
        ),
        (lambda p: _with(p, payment=None), "invalid_field", "payment"),
        (lambda p: _with(p, callback_url="ftp://x"), "invalid_field", "callback_url"),
    ],
)
def test_invalid_fields_are_400(partner, mutate, code, field):
    answer = send(partner, mutate(instruction()))
    assert answer.status == 400
    assert answer.body["error"]["code"] == code
    assert answer.body["error"]["field"] == field
    assert partner.ledger()["applications"] == []


def test_missing_idempotency_key_is_400(partner):
    answer = send(partner, instruction(), key="")
    assert answer.status == 400 and answer.code == "idempotency_key_missing"


def test_idempotency_key_must_equal_the_id(partner):
    answer = send(partner, instruction(), key=str(uuid.uuid4()))
    assert answer.status == 400 and answer.code == "invalid_field"
    assert answer.body["error"]["field"] == "id"


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_body_is_400(partner, raw):
    answer = send(partner, {"id": "k"}, raw=raw)
    assert answer.status == 400 and answer.code == "malformed_body"


# --------------------------------------------------------------------------- idempotency


def test_replay_returns_the_stored_response_and_applies_once(partner):
    payload = instruction("hold", 120_000)
    first = send(partner, payload)
    second = send(partner, payload)
    # Key order and whitespace do not make it a different instruction.
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=2).encode()
    third = send(partner, payload, raw=reordered)

    assert first.status == second.status == third.status == 200
    assert first.body == second.body == third.body
    assert not first.replayed and second.replayed and third.replayed
    assert len(applications_for(partner, payload["id"])) == 1
    assert partner.ledger()["payments"]["MOMO-TX-1"]["held"] == 120_000
    assert partner.ledger()["counts"]["replayed"] == 2


def test_same_key_with_a_different_body_is_409(partner):
    payload = instruction("hold", 120_000)
    assert send(partner, payload).status == 200
    answer = send(partner, _with(payload, amount=130_000))
    assert answer.status == 409 and answer.code == "idempotency_key_reused"
    assert partner.ledger()["payments"]["MOMO-TX-1"]["held"] == 120_000


def test_concurrent_requests_with_one_key_apply_once(partner):
    payload = instruction("hold", 10_000)
    start = threading.Barrier(30)
    answers: list[Answer] = []
    lock = threading.Lock()

    def post():
        start.wait()
        answer = send(partner, payload)
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=post) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert len(answers) == 30
    assert {a.status for a in answers} == {200}
    assert len({json.dumps(a.body, sort_keys=True) for a in answers}) == 1
    assert sum(not a.replayed for a in answers) == 1
    assert len(applications_for(partner, payload["id"])) == 1
    assert partner.ledger()["payments"]["MOMO-TX-1"]["held"] == 10_000
    assert partner.ledger()["counts"]["replayed"] == 29


def test_keep_alive_connection_serves_many_requests(partner):
    parts = urlsplit(partner.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        for _ in range(5):
            body = json.dumps(payload := instruction("hold", 1)).encode()
            connection.request(
                "POST",
                "/escrow/instructions",
                body=body,
                headers={
                    "Idempotency-Key": payload["id"],
                    **signing.signed_headers(secrets=[SECRET], body=body),
                },
            )
            response = connection.getresponse()
            assert response.status == 200 and response.getheader("Content-Length")
            response.read()
    finally:
        connection.close()
    assert partner.ledger()["counts"]["applied"] == 5


# --------------------------------------------------------------------------- failure injection


def test_injected_503_applies_nothing_and_a_retry_gets_a_fresh_chance(partner):
    payload = instruction("hold", 50_000)
    partner.configure(fail_rate=1.0)
    failed = send(partner, payload)
    assert failed.status == 503 and failed.code == "temporarily_unavailable"
    assert partner.ledger()["applications"] == []

    partner.configure(fail_rate=0.0)
    retried = send(partner, payload)
    assert retried.status == 200 and not retried.replayed
    assert send(partner, payload).replayed
    assert len(applications_for(partner, payload["id"])) == 1
    assert partner.ledger()["counts"]["injected_failures"] == 1


def test_injected_timeouts_hang_then_drop_and_half_apply_first(partner):
    """The nasty case: the partner applied the instruction but the client never heard. A retry
    with the same key must get the confirmation without moving the money again."""
    partner.configure(timeout_rate=1.0, timeout_s=0.3)
    hung: list[tuple[dict[str, Any], bool]] = []
    for attempt in range(10):
        payload = instruction("hold", 1_000, reference=f"TX-{attempt}", paid=10_000)
        with pytest.raises(TimeoutError):
            send(partner, payload, timeout=0.15)
        hung.append((payload, bool(applications_for(partner, payload["id"]))))
        if {applied for _, applied in hung} == {True, False}:
            break
    assert {applied for _, applied in hung} == {True, False}, "expected both timeout kinds"

    partner.configure(timeout_rate=0.0)
    for payload, applied_before_hanging in hung:
        retry = send(partner, payload)
        assert retry.status == 200 and retry.body["status"] == "confirmed"
        assert retry.replayed is applied_before_hanging
        assert len(applications_for(partner, payload["id"])) == 1
        assert partner.ledger()["payments"][payload["payment"]["reference"]]["held"] == 1_000
    assert partner.ledger()["counts"]["injected_timeouts"] == len(hung)


def test_injected_timeout_drops_the_connection_without_a_response(partner):
    partner.configure(timeout_rate=1.0, timeout_s=0.05)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        send(partner, instruction(), timeout=3)


def test_timeout_split_is_reproducible_with_a_seed():
    def fates(seed: int) -> list[bool]:
        with PartnerSimulator(secrets=[SECRET], seed=seed, timeout_rate=1.0, timeout_s=0) as sim:
            outcome = []
            for n in range(6):
                payload = instruction("hold", 1, reference=f"R{n}")
                with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                    send(sim, payload)
                outcome.append(bool(applications_for(sim, payload["id"])))
            return outcome

    assert fates(11) == fates(11)


def test_injected_4xx_is_final_and_applies_nothing(partner):
    payload = instruction("release", 10_000)
    partner.configure(error_4xx_rate=1.0)
    declined = send(partner, payload)
    assert declined.status == 400 and declined.code == "rejected_by_partner"

    partner.configure(error_4xx_rate=0.0)
    again = send(partner, payload)
    assert again.status == 400 and again.replayed and again.body == declined.body
    assert partner.ledger()["applications"] == []


def test_slow_ms_adds_latency(partner):
    partner.configure(slow_ms=150)
    started = time.perf_counter()
    assert send(partner, instruction()).status == 200
    assert time.perf_counter() - started >= 0.15


# --------------------------------------------------------------------------- async mode


def _verified_event(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    signing.verify(
        secrets=[CALLBACK_SECRET],
        timestamp=headers.get("X-Odr-Timestamp"),
        signature=headers.get("X-Odr-Signature"),
        body=body,
    )
    return json.loads(body)


def test_async_mode_accepts_then_calls_back_signed(partner, receiver):
    partner.configure(mode="async")
    payload = instruction("hold", 200_000, callback_url=receiver.url)
    accepted = send(partner, payload)
    assert accepted.status == 202
    assert accepted.body == {"id": payload["id"], "status": "accepted"}

    [(headers, body)] = receiver.wait_for(1)
    event = _verified_event(headers, body)
    assert headers["Content-Type"] == "application/json"
    assert event["type"] == "escrow.confirmed"
    assert event["instruction_id"] == payload["id"]
    assert event["status"] == "confirmed"
    assert event["partner_reference"].startswith("SIM-")
    assert event["amount"] == 200_000
    assert event["payment"] == {
        "reference": "MOMO-TX-1",
        "paid": 450_000,
        "held": 200_000,
        "released": 0,
        "refunded": 0,
    }
    uuid.UUID(event["event_id"])
    with pytest.raises(signing.SignatureError):  # signed with the callback secret only
        signing.verify(
            secrets=[SECRET],
            timestamp=headers["X-Odr-Timestamp"],
            signature=headers["X-Odr-Signature"],
            body=body,
        )

    # A replay answers 202 again and does not trigger another callback.
    replay = send(partner, payload)
    assert replay.status == 202 and replay.replayed
    time.sleep(0.2)
    assert len(receiver.received) == 1
    assert partner.ledger()["counts"]["callbacks_delivered"] == 1


def test_async_mode_requires_a_callback_url(partner):
    partner.configure(mode="async")
    answer = send(partner, instruction())
    assert answer.status == 400 and answer.body["error"]["field"] == "callback_url"


def test_duplicate_callbacks_repeat_the_event_id(partner, receiver):
    partner.configure(mode="async", duplicate_callbacks=True)
    payload = instruction("refund", 90_000, callback_url=receiver.url)
    assert send(partner, payload).status == 202

    deliveries = receiver.wait_for(2)
    events = [_verified_event(headers, body) for headers, body in deliveries]
    assert len(events) == 2
    assert events[0]["event_id"] == events[1]["event_id"]
    assert events[0] == events[1]
    assert len(applications_for(partner, payload["id"])) == 1


def test_callbacks_are_retried_until_acknowledged(partner):
    failing_receiver = CallbackReceiver(failures_first=2)
    try:
        partner.configure(mode="async")
        assert send(partner, instruction(callback_url=failing_receiver.url)).status == 202
        [(headers, body)] = failing_receiver.wait_for(1)
        _verified_event(headers, body)
        assert failing_receiver.attempts == 3
    finally:
        failing_receiver.close()


def test_callback_delay(partner, receiver):
    partner.configure(mode="async", callback_delay_ms=300)
    assert send(partner, instruction(callback_url=receiver.url)).status == 202
    assert receiver.wait_for(1, timeout=0.15) == []
    assert len(receiver.wait_for(1)) == 1


# --------------------------------------------------------------------------- control API


def test_control_api(partner):
    assert control(partner, "GET", "/_health").body == {"ok": True}

    changed = control(partner, "POST", "/_control", {"fail_rate": 0.25, "mode": "async"})
    assert changed.status == 200
    assert changed.body["fail_rate"] == 0.25 and changed.body["mode"] == "async"
    assert control(partner, "GET", "/_control").body == changed.body
    assert partner.config()["fail_rate"] == 0.25

    for bad, field in [
        ({"fail_rate": 2}, "fail_rate"),
        ({"mode": "batch"}, "mode"),
        ({"colour": "red"}, "colour"),
        ({"duplicate_callbacks": 1}, "duplicate_callbacks"),
    ]:
        rejected = control(partner, "POST", "/_control", bad)
        assert rejected.status == 400 and rejected.body["error"]["field"] == field
    assert control(partner, "POST", "/_control", [1]).status == 400

    assert control(partner, "GET", "/nowhere").status == 404
    assert control(partner, "GET", "/escrow/instructions").status == 405


def test_ledger_and_reset_over_http(partner):
    partner.configure(fail_rate=0.0)
    assert send(partner, instruction("hold", 7_000)).status == 200
    ledger = control(partner, "GET", "/_ledger").body
    assert ledger["payments"]["MOMO-TX-1"]["held"] == 7_000
    assert len(ledger["applications"]) == 1
    assert set(ledger["applications"][0]) >= {"key", "type", "amount", "reference", "applied_at"}
    assert ledger["counts"] == {
        "requests": 1,
        "applied": 1,
        "replayed": 0,
        "rejected": 0,
        "injected_failures": 0,
        "injected_timeouts": 0,
        "callbacks_delivered": 0,
        "callbacks_failed": 0,
    }

    assert control(partner, "POST", "/_reset").status == 200
    assert partner.ledger() == {
        "payments": {},
        "applications": [],
        "counts": dict.fromkeys(ledger["counts"], 0),
    }


def test_bad_start_configuration_is_refused():
    with pytest.raises(ValueError):
        PartnerSimulator(secrets=[])
    with pytest.raises(ValueError):
        PartnerSimulator(secrets=[SECRET], timeout_rate=-1)


# --------------------------------------------------------------------------- persistence


def test_db_keeps_ledger_and_idempotency_across_restarts(tmp_path):
    db = str(tmp_path / "partner.sqlite3")
    hold = instruction("hold", 300_000)
    too_much = instruction("refund", 999_999)

    with PartnerSimulator(secrets=[SECRET], db_path=db) as first:
        held = send(first, hold)
        refused = send(first, too_much)
        assert (held.status, refused.status) == (200, 422)

    with PartnerSimulator(secrets=[SECRET], db_path=db) as second:
        ledger = second.ledger()
        assert ledger["payments"]["MOMO-TX-1"] == {
            "paid": 450_000,
            "held": 300_000,
            "released": 0,
            "refunded": 0,
        }
        assert [a["key"] for a in ledger["applications"]] == [hold["id"]]

        replay = send(second, hold)
        assert replay.replayed and replay.status == 200 and replay.body == held.body
        assert send(second, too_much).body == refused.body
        assert send(second, instruction("release", 300_000)).status == 200
        assert second.ledger()["payments"]["MOMO-TX-1"]["released"] == 300_000

        second.reset()

    with PartnerSimulator(secrets=[SECRET], db_path=db) as third:
        assert third.ledger()["payments"] == {}


# --------------------------------------------------------------------------- CLI


def test_cli_announces_its_port_and_answers_health():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "partners.simulator",
            "--port",
            "0",
            "--secret",
            SECRET,
            "--mode",
            "async",
            "--fail-rate",
            "0.5",
            "--seed",
            "4",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=10), "simulator printed nothing"
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")

        assert request(url, "GET", "/_health").body == {"ok": True}
        config = request(url, "GET", "/_control").body
        assert (config["mode"], config["fail_rate"], config["seed"]) == ("async", 0.5, 4)
    finally:
        process.terminate()
        process.wait(timeout=5)
    assert process.returncode == 0, process.stderr.read()


def test_cli_rejects_bad_flags():
    result = subprocess.run(
        [sys.executable, "-m", "partners.simulator", "--secret", SECRET, "--fail-rate", "3"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2 and "fail_rate" in result.stderr
