"""A payment partner you can run: a real HTTP server that takes odr's escrow instructions.

The test suite, the benchmarks and the demo point odr's delivery code at this server to exercise
the whole path (signing, retries, idempotency, async confirmations) against something that
misbehaves the way real e-wallets do: 503s, slow answers, dropped connections after the money has
moved, callbacks delivered twice.

    python -m partners.simulator --port 8100 --secret whsec_demo --mode async

Or in-process (tests):

    with PartnerSimulator(secrets=["whsec_demo"], seed=1) as partner:
        ...  # POST to f"{partner.url}/escrow/instructions"; inspect partner.ledger()

What it remembers (``LedgerStore``): per payment reference, the paid / held / released / refunded
amounts; per idempotency key, the reply it gave; and the *applications log*, one line per
instruction that actually moved money, which is how tests prove "applied exactly once".

The ``/_control``, ``/_ledger`` and ``/_reset`` endpoints are unsigned. They exist for tests on
loopback; never expose the simulator on a network anyone else can reach.

The wire protocol is described in README.md, "Payment-partner protocol". Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import heapq
import itertools
import json
import random
import signal
import socket
import sqlite3
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from partners import signing

INSTRUCTION_PATH = "/escrow/instructions"
INSTRUCTION_TYPES = ("hold", "release", "refund")
CURRENCY = "VND"
MAX_BODY_BYTES = 1 << 20
MAX_IDEMPOTENCY_KEY_LENGTH = 255

CALLBACK_ATTEMPTS = 5  # per confirmation, the first try included
CALLBACK_BACKOFF_S = 0.1  # doubled after each failed attempt: 0.1, 0.2, 0.4, 0.8
CALLBACK_TIMEOUT_S = 5.0

COUNTERS = (
    "requests",  # POSTs to /escrow/instructions, whatever became of them
    "applied",  # instructions that changed the ledger
    "replayed",  # stored replies sent again for a repeated idempotency key
    "rejected",  # fresh 4xx answers (401, 400, 409, 422)
    "injected_failures",  # injected 503s
    "injected_timeouts",  # injected dropped connections
    "callbacks_delivered",  # async confirmations acknowledged with a 2xx
    "callbacks_failed",  # async confirmations given up after CALLBACK_ATTEMPTS
)


# --------------------------------------------------------------------------- configuration


class ConfigError(ValueError):
    """An injection setting is out of range; ``field`` names it for the control API's 400."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class FaultConfig:
    """How the partner behaves. Immutable and swapped whole on every change, so a request
    thread reads one consistent snapshot without taking a lock."""

    mode: str = "sync"  # "sync": 200 with the result; "async": 202 now, signed callback later
    fail_rate: float = 0.0  # share of requests answered 503 without applying
    timeout_rate: float = 0.0  # share of requests whose connection is dropped after timeout_s
    timeout_s: float = 10.0
    slow_ms: float = 0  # latency added to every instruction request
    error_4xx_rate: float = 0.0  # share of new instructions declined with a final 400
    callback_delay_ms: float = 100
    duplicate_callbacks: bool = False  # send every confirmation twice (same event_id)
    seed: int | None = None  # makes the injected faults reproducible

    def __post_init__(self) -> None:
        if self.mode not in ("sync", "async"):
            raise ConfigError("mode", "must be 'sync' or 'async'")
        for name in ("fail_rate", "timeout_rate", "error_4xx_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= 1:
                raise ConfigError(name, "must be a number between 0 and 1")
        for name in ("timeout_s", "slow_ms", "callback_delay_ms"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ConfigError(name, "must be a number >= 0")
        if not isinstance(self.duplicate_callbacks, bool):
            raise ConfigError("duplicate_callbacks", "must be true or false")
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError("seed", "must be an integer or null")

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise ConfigError(name, "unknown setting")
        return replace(self, **changes)


FAULT_FIELDS = tuple(f.name for f in fields(FaultConfig))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Fate(Enum):
    """What the injected faults decided for one request, drawn before it is looked at."""

    NORMAL = "normal"
    UNAVAILABLE = "unavailable"  # 503, nothing applied
    HANG_BEFORE_APPLY = "hang_before_apply"  # connection dropped, nothing applied
    HANG_AFTER_APPLY = "hang_after_apply"  # processed (money moved), then connection dropped
    DECLINE = "decline"  # 400 rejected_by_partner, stored as the final answer


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """An HTTP answer. ``replayed`` marks a stored reply sent again for a repeated key."""

    status: int
    body: bytes
    replayed: bool = False


def _reply(status: int, payload: dict[str, Any]) -> Reply:
    return Reply(status, _dumps(payload))


def _error(status: int, code: str, message: str, **details: Any) -> Reply:
    return _reply(status, {"error": {"code": code, "message": message, **details}})


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- instructions


class InvalidInstruction(Exception):
    """The request cannot be understood; carries the 400 to answer with."""

    def __init__(self, code: str, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        details = {"field": field_name} if field_name else {}
        self.reply = _error(400, code, message, **details)


@dataclass(frozen=True)
class Instruction:
    """An escrow instruction as odr sends it, checked and reduced to what the partner needs."""

    id: str
    type: str
    amount: int
    payment_reference: str
    paid_amount: int
    callback_url: str | None
    # Hash of the canonical JSON: the same instruction resent with other whitespace or key
    # order is still the same instruction.
    fingerprint: str


def parse_instruction(
    idempotency_key: str | None, raw_body: bytes, *, callback_required: bool = False
) -> Instruction:
    """Validate an instruction body; raise :class:`InvalidInstruction` on the first problem."""
    key = (idempotency_key or "").strip()
    if not key:
        raise InvalidInstruction("idempotency_key_missing", "Idempotency-Key header is required")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInstruction("invalid_field", "Idempotency-Key is too long", "id")
    try:
        body = json.loads(raw_body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInstruction("malformed_body", "body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInstruction("malformed_body", "body must be a JSON object")

    if body.get("id") != key:
        raise InvalidInstruction("invalid_field", "id must equal the Idempotency-Key", "id")
    kind = body.get("type")
    if kind not in INSTRUCTION_TYPES:
        raise InvalidInstruction("invalid_field", "type must be hold, release or refund", "type")
    amount = _positive_int(body.get("amount"), "amount")
    if body.get("currency") != CURRENCY:
        raise InvalidInstruction("invalid_field", "currency must be VND", "currency")
    payment = body.get("payment")
    if not isinstance(payment, dict):
        raise InvalidInstruction("invalid_field", "payment must be an object", "payment")
    reference = payment.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        raise InvalidInstruction(
            "invalid_field", "payment.reference must be a non-empty string", "payment.reference"
        )
    paid = _positive_int(payment.get("amount"), "payment.amount")
    callback_url = body.get("callback_url")
    if callback_url is not None and (
        not isinstance(callback_url, str) or not callback_url.startswith(("http://", "https://"))
    ):
        raise InvalidInstruction(
            "invalid_field", "callback_url must be an http(s) URL", "callback_url"
        )
    if callback_required and callback_url is None:
        raise InvalidInstruction(
            "invalid_field",
            "callback_url is required while the partner is asynchronous",
            "callback_url",
        )

    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return Instruction(
        id=key,
        type=kind,
        amount=amount,
        payment_reference=reference,
        paid_amount=paid,
        callback_url=callback_url,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def _positive_int(value: object, field_name: str) -> int:
    # bool is an int in Python; "true đồng" is not an amount.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInstruction(
            "invalid_field", f"{field_name} must be a positive whole number of đồng", field_name
        )
    return value


# --------------------------------------------------------------------------- ledger


@dataclass(frozen=True)
class Payment:
    """One buyer payment the partner holds. All amounts are whole đồng."""

    paid: int
    held: int = 0
    released: int = 0
    refunded: int = 0

    @property
    def unsettled(self) -> int:
        """Money neither released to the seller nor refunded to the buyer (held or not)."""
        return self.paid - self.released - self.refunded

    def limit_for(self, kind: str) -> int:
        """The most an instruction of this kind may move now: a hold can only take money
        not held yet; a release or refund may settle held and unheld money alike."""
        return self.unsettled - self.held if kind == "hold" else self.unsettled

    def after(self, kind: str, amount: int) -> Payment | None:
        """The payment once the instruction is applied, or None if the money is not there."""
        if amount > self.limit_for(kind):
            return None
        if kind == "hold":
            return replace(self, held=self.held + amount)
        held = self.held - min(amount, self.held)
        if kind == "release":
            return replace(self, released=self.released + amount, held=held)
        return replace(self, refunded=self.refunded + amount, held=held)

    def figures(self, reference: str) -> dict[str, Any]:
        return {"reference": reference, **asdict(self)}


@dataclass(frozen=True)
class StoredReply:
    fingerprint: str
    status: int
    body: bytes


_SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (
    reference TEXT PRIMARY KEY,
    paid INTEGER NOT NULL, held INTEGER NOT NULL,
    released INTEGER NOT NULL, refunded INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replies (
    idempotency_key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL, amount INTEGER NOT NULL, reference TEXT NOT NULL,
    partner_reference TEXT NOT NULL, applied_at TEXT NOT NULL
);
"""


class LedgerStore:
    """Everything the partner promised: payments, the reply given per idempotency key, and the
    applications log.

    Kept in memory for speed. With ``db_path`` every change is also written to SQLite inside
    the same critical section, so a restarted simulator keeps its promises. Callers hold
    ``lock`` around read-decide-``commit`` so that two requests can never both apply one key.
    """

    def __init__(self, db_path: str | None = None) -> None:
        self.lock = threading.Lock()
        self.payments: dict[str, Payment] = {}
        self.replies: dict[str, StoredReply] = {}
        self.applications: list[dict[str, Any]] = []
        self._db: sqlite3.Connection | None = None
        if db_path:
            # One connection shared by the request threads; self.lock serialises its use.
            self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._load()

    def commit(
        self,
        *,
        key: str,
        fingerprint: str,
        reply: Reply,
        reference: str | None = None,
        payment: Payment | None = None,
        application: dict[str, Any] | None = None,
    ) -> None:
        """Record the final reply for ``key`` and, if given, the payment's new figures and the
        application. Caller holds ``lock``."""
        if self._db is not None:
            self._db.execute("BEGIN")
            try:
                self._db.execute(
                    "INSERT INTO replies VALUES (?, ?, ?, ?)",
                    (key, fingerprint, reply.status, reply.body),
                )
                if reference is not None and payment is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO payments VALUES (?, ?, ?, ?, ?)",
                        (reference, payment.paid, payment.held, payment.released, payment.refunded),
                    )
                if application is not None:
                    self._db.execute(
                        "INSERT INTO applications (idempotency_key, type, amount, reference,"
                        " partner_reference, applied_at) VALUES (?, ?, ?, ?, ?, ?)",
                        tuple(application[k] for k in _APPLICATION_FIELDS),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self.replies[key] = StoredReply(fingerprint, reply.status, reply.body)
        if reference is not None and payment is not None:
            self.payments[reference] = payment
        if application is not None:
            self.applications.append(application)

    def clear(self) -> None:
        """Forget everything (caller holds ``lock``)."""
        self.payments.clear()
        self.replies.clear()
        self.applications.clear()
        if self._db is not None:
            self._db.executescript(
                "BEGIN; DELETE FROM payments; DELETE FROM replies;"
                " DELETE FROM applications; COMMIT;"
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _load(self) -> None:
        assert self._db is not None
        for reference, *amounts in self._db.execute("SELECT * FROM payments"):
            self.payments[reference] = Payment(*amounts)
        for key, fingerprint, status, body in self._db.execute("SELECT * FROM replies"):
            self.replies[key] = StoredReply(fingerprint, status, bytes(body))
        rows = self._db.execute(
            "SELECT idempotency_key, type, amount, reference, partner_reference, applied_at"
            " FROM applications ORDER BY seq"
        )
        self.applications = [dict(zip(_APPLICATION_FIELDS, row, strict=True)) for row in rows]


_APPLICATION_FIELDS = ("key", "type", "amount", "reference", "partner_reference", "applied_at")


# --------------------------------------------------------------------------- callbacks


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    url: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(default=1, compare=False)


class CallbackSender:
    """Delivers signed confirmations in the background, retrying non-2xx answers.

    One dispatcher thread waits for the next due delivery and hands it to a small pool, so a
    slow receiver never delays the partner's HTTP answers.
    """

    def __init__(self, *, secret: str, on_outcome: Callable[[str], None], workers: int = 4) -> None:
        self._secret = secret
        self._on_outcome = on_outcome
        self._queue: list[_Delivery] = []
        self._ready = threading.Condition()
        self._seq = itertools.count()
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-callback")
        # No proxies: callbacks go to odr on loopback even if the environment sets http_proxy.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._dispatcher = threading.Thread(
            target=self._dispatch, name="sim-callback-dispatch", daemon=True
        )
        self._dispatcher.start()

    def schedule(self, url: str, body: bytes, *, delay_s: float, attempt: int = 1) -> None:
        with self._ready:
            if self._stopped:
                return
            delivery = _Delivery(time.monotonic() + delay_s, next(self._seq), url, body, attempt)
            heapq.heappush(self._queue, delivery)
            self._ready.notify()

    def stop(self) -> None:
        """Drop pending deliveries; confirmations are not persisted across restarts."""
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        with self._ready:
            while not self._stopped:
                if not self._queue:
                    self._ready.wait()
                    continue
                wait = self._queue[0].due - time.monotonic()
                if wait > 0:
                    self._ready.wait(wait)
                    continue
                self._pool.submit(self._deliver, heapq.heappop(self._queue))

    def _deliver(self, delivery: _Delivery) -> None:
        if self._post(delivery):
            self._on_outcome("callbacks_delivered")
        elif delivery.attempt < CALLBACK_ATTEMPTS:
            backoff = CALLBACK_BACKOFF_S * 2 ** (delivery.attempt - 1)
            self.schedule(
                delivery.url, delivery.body, delay_s=backoff, attempt=delivery.attempt + 1
            )
        else:
            self._on_outcome("callbacks_failed")

    def _post(self, delivery: _Delivery) -> bool:
        # Signed afresh on every attempt: a retry minutes later must not carry a stale timestamp.
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "odr-partner-simulator",
            **signing.signed_headers(secrets=[self._secret], body=delivery.body),
        }
        # parse_instruction only lets http(s) callback URLs through.
        request = urllib.request.Request(  # noqa: S310
            delivery.url, data=delivery.body, headers=headers, method="POST"
        )
        try:
            with self._opener.open(request, timeout=CALLBACK_TIMEOUT_S) as response:
                return 200 <= response.status < 300
        except urllib.error.HTTPError as exc:
            exc.close()
            return False
        except (urllib.error.URLError, OSError):
            return False


# --------------------------------------------------------------------------- the partner


class HeaderLookup(Protocol):
    """Case-insensitive header access, as ``http.server`` request headers provide."""

    def get(self, name: str, /) -> str | None: ...


class PartnerSimulator:
    """A payment partner on a real socket, with a ledger, idempotency and injected faults.

    ``start()`` serves from a background thread (tests); ``run_forever()`` serves from the
    calling thread (CLI). ``port=0`` picks a free port; read ``url`` after starting. A stopped
    simulator cannot be restarted: create a new one with the same ``db_path`` instead.
    """

    def __init__(
        self,
        *,
        secrets: Sequence[str],
        host: str = "127.0.0.1",
        port: int = 0,
        callback_secret: str | None = None,
        db_path: str | None = None,
        verbose: bool = False,
        **faults: Any,
    ) -> None:
        if isinstance(secrets, str) or not [s for s in secrets if s]:
            raise ValueError("secrets must be a non-empty list of signing secrets")
        self.secrets = [s for s in secrets if s]
        self.callback_secret = callback_secret or self.secrets[0]
        self.host = host
        self.port = port
        self.verbose = verbose
        self._config = FaultConfig().updated(faults)
        self._rng = random.Random(self._config.seed)
        self._rng_lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._counts_lock = threading.Lock()
        self._store = LedgerStore(db_path)
        self._stopping = threading.Event()
        self._server: _PartnerHTTPServer | None = None
        self._callbacks: CallbackSender | None = None
        self._thread: threading.Thread | None = None
        self._serving = False
        self._stopped = False

    # ----- lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8100`` (known once bound)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> PartnerSimulator:
        """Serve from a daemon thread and return at once."""
        server = self._bind()
        self._serving = True
        self._thread = threading.Thread(
            # A short poll interval keeps stop() quick; idle polling costs next to nothing.
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"partner-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def run_forever(self, on_listening: Callable[[str], None] | None = None) -> None:
        """Serve from the calling thread until interrupted; ``on_listening(url)`` runs once
        the socket is bound (the CLI prints it so callers can use ``--port 0``)."""
        server = self._bind()
        if on_listening is not None:
            on_listening(self.url)
        self._serving = True
        try:
            server.serve_forever(poll_interval=0.25)
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving, cut open keep-alive connections, drop pending callbacks, close the
        database. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()  # wakes requests sleeping in slow_ms / timeout_s
        if self._server is not None:
            if self._serving:
                self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._callbacks is not None:
            self._callbacks.stop()
        with self._store.lock:
            self._store.close()

    def __enter__(self) -> PartnerSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> _PartnerHTTPServer:
        if self._server is not None or self._stopped:
            raise RuntimeError("a PartnerSimulator can be started once")
        self._server = _PartnerHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._callbacks = CallbackSender(secret=self.callback_secret, on_outcome=self._count)
        return self._server

    # ----- control (also exposed over HTTP)

    def config(self) -> dict[str, Any]:
        return asdict(self._config)

    def configure(self, /, **changes: Any) -> dict[str, Any]:
        """Change injection settings live; raises :class:`ConfigError`. Returns the config."""
        with self._rng_lock:
            new = self._config.updated(changes)
            self._config = new
            if "seed" in changes:
                self._rng.seed(new.seed)
        return asdict(new)

    def ledger(self) -> dict[str, Any]:
        """Payments, the applications log and the counters, as plain JSON-ready data."""
        with self._store.lock:
            payments = {ref: asdict(p) for ref, p in self._store.payments.items()}
            applications = [dict(a) for a in self._store.applications]
        with self._counts_lock:
            counts = dict(self._counts)
        return {"payments": payments, "applications": applications, "counts": counts}

    def reset(self) -> None:
        """Empty the ledger, the idempotency store and the counters, and rewind the fault
        sequence to the seed so a reset test run is reproducible."""
        with self._store.lock:
            self._store.clear()
        with self._counts_lock:
            self._counts = dict.fromkeys(COUNTERS, 0)
        with self._rng_lock:
            self._rng.seed(self._config.seed)

    # ----- the instruction endpoint

    def answer_instruction(self, headers: HeaderLookup, raw_body: bytes) -> Reply | None:
        """Answer one ``POST /escrow/instructions``; ``None`` means drop the connection
        without a word (an injected timeout)."""
        self._count("requests")
        config = self._config
        fate = self._draw_fate(config)
        if config.slow_ms:
            self._stopping.wait(config.slow_ms / 1000)

        # Injected 503s and timeouts behave like a flaky gateway in front of the partner:
        # nothing is stored, so a retry with the same key gets a fresh chance.
        if fate is Fate.UNAVAILABLE:
            self._count("injected_failures")
            return _error(503, "temporarily_unavailable", "injected failure; retry later")
        if fate is Fate.HANG_BEFORE_APPLY:
            self._count("injected_timeouts")
            self._stopping.wait(config.timeout_s)
            return None

        reply = self._process(headers, raw_body, config, decline=fate is Fate.DECLINE)

        if fate is Fate.HANG_AFTER_APPLY:
            # The nasty case: the partner has committed, the client never hears about it.
            self._count("injected_timeouts")
            self._stopping.wait(config.timeout_s)
            return None
        return reply

    def _draw_fate(self, config: FaultConfig) -> Fate:
        """Split [0, 1) into consecutive slices: fail_rate, then timeout_rate, then
        error_4xx_rate (rates beyond a total of 1 are cut off). Two draws per request, always,
        so a seed gives the same sequence of fates whatever the settings."""
        with self._rng_lock:
            roll, split = self._rng.random(), self._rng.random()
        if roll < config.fail_rate:
            return Fate.UNAVAILABLE
        roll -= config.fail_rate
        if roll < config.timeout_rate:
            return Fate.HANG_AFTER_APPLY if split < 0.5 else Fate.HANG_BEFORE_APPLY
        roll -= config.timeout_rate
        if roll < config.error_4xx_rate:
            return Fate.DECLINE
        return Fate.NORMAL

    def _process(
        self, headers: HeaderLookup, raw_body: bytes, config: FaultConfig, *, decline: bool
    ) -> Reply:
        try:
            signing.verify(
                secrets=self.secrets,
                timestamp=headers.get(signing.TIMESTAMP_HEADER),
                signature=headers.get(signing.SIGNATURE_HEADER),
                body=raw_body,
            )
            instruction = parse_instruction(
                headers.get("Idempotency-Key"),
                raw_body,
                callback_required=config.mode == "async",
            )
        except signing.SignatureError as exc:
            self._count("rejected")
            return _error(401, exc.code, exc.message)
        except InvalidInstruction as exc:
            self._count("rejected")
            return exc.reply

        confirmation: bytes | None = None
        with self._store.lock:
            stored = self._store.replies.get(instruction.id)
            if stored is not None:
                if stored.fingerprint != instruction.fingerprint:
                    self._count("rejected")
                    return _error(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used for a different instruction",
                    )
                self._count("replayed")
                return Reply(stored.status, stored.body, replayed=True)
            reply, confirmation = self._decide(instruction, config, decline=decline)

        if confirmation is not None and self._callbacks is not None:
            assert instruction.callback_url is not None
            copies = 2 if config.duplicate_callbacks else 1
            for _ in range(copies):
                self._callbacks.schedule(
                    instruction.callback_url, confirmation, delay_s=config.callback_delay_ms / 1000
                )
        return reply

    def _decide(
        self, instruction: Instruction, config: FaultConfig, *, decline: bool
    ) -> tuple[Reply, bytes | None]:
        """Apply a new instruction to the ledger and store the final reply. Runs under the
        store lock. Returns the reply and, in async mode, the confirmation body to call back."""
        key, reference = instruction.id, instruction.payment_reference
        commit = {"key": key, "fingerprint": instruction.fingerprint}

        if decline:
            reply = _error(400, "rejected_by_partner", "the partner declined this instruction")
            self._store.commit(reply=reply, **commit)
            self._count("rejected")
            return reply, None

        # The first instruction naming a payment registers it with the paid amount it states.
        payment = self._store.payments.get(reference) or Payment(paid=instruction.paid_amount)
        if payment.paid != instruction.paid_amount:
            reply = _error(
                422,
                "payment_mismatch",
                f"payment {reference} was registered as {payment.paid} đồng paid",
                paid=payment.paid,
            )
            self._store.commit(reply=reply, **commit)
            self._count("rejected")
            return reply, None

        after = payment.after(instruction.type, instruction.amount)
        if after is None:
            available = payment.limit_for(instruction.type)
            reply = _error(
                422,
                "insufficient_funds",
                f"cannot {instruction.type} {instruction.amount} đồng; {available} available",
                available=available,
            )
            self._store.commit(reply=reply, reference=reference, payment=payment, **commit)
            self._count("rejected")
            return reply, None

        partner_reference = "SIM-" + uuid.uuid4().hex[:12].upper()
        result = {
            "id": key,
            "status": "confirmed",
            "partner_reference": partner_reference,
            "type": instruction.type,
            "amount": instruction.amount,
            "payment": after.figures(reference),
        }
        confirmation = None
        if config.mode == "async":
            reply = _reply(202, {"id": key, "status": "accepted"})
            confirmation = _dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "type": "escrow.confirmed",
                    "instruction_id": key,
                    "instruction_type": instruction.type,
                    "status": "confirmed",
                    "partner_reference": partner_reference,
                    "amount": instruction.amount,
                    "payment": after.figures(reference),
                }
            )
        else:
            reply = _reply(200, result)
        application = {
            "key": key,
            "type": instruction.type,
            "amount": instruction.amount,
            "reference": reference,
            "partner_reference": partner_reference,
            "applied_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        self._store.commit(
            reply=reply, reference=reference, payment=after, application=application, **commit
        )
        self._count("applied")
        return reply, confirmation

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1


# --------------------------------------------------------------------------- HTTP plumbing


class _PartnerHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung injected-timeout request never blocks shutdown
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: PartnerSimulator) -> None:
        self.simulator = simulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Cut keep-alive connections so no client keeps talking to a stopped simulator."""
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # clients hanging up (e.g. after their own timeout) is routine here
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "odr-partner-simulator/1"
    disable_nagle_algorithm = True  # headers and body are two writes; don't wait on ACKs
    timeout = 60  # idle keep-alive connections are closed after this
    server: _PartnerHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def do_GET(self) -> None:  # http.server's naming
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def version_string(self) -> str:
        return self.server_version  # without the Python version http.server appends

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.simulator.verbose:
            super().log_message(format, *args)

    def _route(self, method: str) -> None:
        simulator = self.server.simulator
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if body is None:
            return
        try:
            if (method, path) == ("POST", INSTRUCTION_PATH):
                reply = simulator.answer_instruction(self.headers, body)
                if reply is None:
                    self.close_connection = True  # injected timeout: hang up, say nothing
                    return
            elif (method, path) == ("GET", "/_health"):
                reply = _reply(200, {"ok": True})
            elif (method, path) == ("GET", "/_ledger"):
                reply = _reply(200, simulator.ledger())
            elif (method, path) == ("GET", "/_control"):
                reply = _reply(200, simulator.config())
            elif (method, path) == ("POST", "/_control"):
                reply = self._control(body)
            elif (method, path) == ("POST", "/_reset"):
                simulator.reset()
                reply = _reply(200, {"ok": True})
            elif path in (INSTRUCTION_PATH, "/_health", "/_ledger", "/_control", "/_reset"):
                reply = _error(405, "method_not_allowed", f"{method} is not allowed here")
            else:
                reply = _error(404, "not_found", f"no such endpoint: {path}")
        except Exception:
            traceback.print_exc()
            reply = _error(500, "internal_error", "the simulator failed; see its stderr")
        self._send(reply)

    def _control(self, body: bytes) -> Reply:
        try:
            changes = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "malformed_body", "body is not valid JSON")
        if not isinstance(changes, dict):
            return _error(400, "malformed_body", "body must be a JSON object")
        try:
            return _reply(200, self.server.simulator.configure(**changes))
        except ConfigError as exc:
            return _error(400, "invalid_field", exc.message, field=exc.field)

    def _read_body(self) -> bytes | None:
        """Read the request body by Content-Length; answer and return None if we can't."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._send(_error(411, "length_required", "send Content-Length, not chunks"))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            too_large = length > MAX_BODY_BYTES
            self._send(
                _error(
                    413 if too_large else 400,
                    "body_too_large" if too_large else "malformed_body",
                    f"Content-Length must be 0..{MAX_BODY_BYTES}",
                )
            )
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.replayed:
            self.send_header("Idempotent-Replayed", "true")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m partners.simulator",
        description="Run a payment-partner double that accepts odr's escrow instructions.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1; the control API is unsigned)",
    )
    parser.add_argument("--port", type=int, default=8100, help="0 picks a free port")
    parser.add_argument(
        "--secret",
        action="append",
        required=True,
        dest="secrets",
        help="HMAC secret odr signs with; repeat during a rotation",
    )
    parser.add_argument(
        "--callback-secret",
        help="secret for signing callbacks to odr (default: the first --secret)",
    )
    parser.add_argument("--db", help="SQLite file that keeps the ledger across restarts")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    faults = parser.add_argument_group("behaviour and failure injection (see /_control)")
    faults.add_argument("--mode", choices=("sync", "async"))
    faults.add_argument("--fail-rate", type=float, help="0..1: answer 503, apply nothing")
    faults.add_argument(
        "--timeout-rate",
        type=float,
        help="0..1: hang timeout-s then drop the connection (half apply first)",
    )
    faults.add_argument("--timeout-s", type=float, help="hang length (default 10)")
    faults.add_argument("--slow-ms", type=float, help="latency added to each instruction")
    faults.add_argument(
        "--error-4xx-rate", type=float, help="0..1: decline new instructions with a final 400"
    )
    faults.add_argument("--callback-delay-ms", type=float, help="async: wait before calling back")
    faults.add_argument(
        "--duplicate-callbacks",
        action="store_true",
        default=None,
        help="async: send every confirmation twice",
    )
    faults.add_argument("--seed", type=int, help="make injected faults reproducible")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; prints ``listening on <url>`` as its first stdout line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    faults = {name: getattr(args, name) for name in FAULT_FIELDS if getattr(args, name) is not None}
    try:
        simulator = PartnerSimulator(
            secrets=args.secrets,
            host=args.host,
            port=args.port,
            callback_secret=args.callback_secret,
            db_path=args.db,
            verbose=args.verbose,
            **faults,
        )
    except (ConfigError, ValueError) as exc:
        parser.error(str(exc))
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            "warning: /_control, /_ledger and /_reset are unsigned; keep this off shared networks",
            file=sys.stderr,
        )
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM: a normal way out
        simulator.run_forever(on_listening=lambda url: print(f"listening on {url}", flush=True))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
