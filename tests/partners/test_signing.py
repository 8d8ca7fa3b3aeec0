"""partners.signing: the HMAC scheme shared by odr and its payment partners."""

import hashlib
import hmac

import pytest

from partners import signing
from partners.signing import SignatureError, sign, signature_header, signed_headers, verify

NOW = 1_700_000_000
BODY = b'{"id":"7d1c","type":"hold","amount":150000}'
OLD, NEW = "whsec_old", "whsec_new"


def _verify(signature: str | None, *, secrets=(NEW,), body=BODY, timestamp=str(NOW), now=NOW):
    return verify(
        secrets=list(secrets), timestamp=timestamp, signature=signature, body=body, now=now
    )


def _code(**kwargs) -> str:
    with pytest.raises(SignatureError) as excinfo:
        _verify(**kwargs)
    return excinfo.value.code


def test_sign_is_hmac_sha256_over_timestamp_dot_body():
    expected = hmac.new(NEW.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(secret=NEW, timestamp=NOW, body=BODY) == expected


def test_documented_worked_example():
    # README.md, "Payment-partner protocol" quotes this digest; keep the two in step.
    assert sign(secret="whsec_demo", timestamp=1700000000, body=b'{"id":"x"}') == (
        "e8b40a3d599672e0bcdec1fa77758d894cfcab91c5753c33edb09ddc1613eded"
    )


def test_round_trip_through_signed_headers():
    headers = signed_headers(secrets=[NEW], body=BODY, now=NOW + 0.9)
    assert headers == {
        "X-Odr-Timestamp": str(NOW),
        "X-Odr-Signature": f"v1={sign(secret=NEW, timestamp=NOW, body=BODY)}",
    }
    assert (
        verify(
            secrets=[NEW],
            timestamp=headers["X-Odr-Timestamp"],
            signature=headers["X-Odr-Signature"],
            body=BODY,
            now=NOW + 10,
        )
        == NOW
    )


def test_signed_headers_default_to_the_clock():
    headers = signed_headers(secrets=[NEW], body=BODY)
    assert (
        verify(
            secrets=[NEW],
            timestamp=headers[signing.TIMESTAMP_HEADER],
            signature=headers[signing.SIGNATURE_HEADER],
            body=BODY,
        )
        > NOW
    )


def test_rotation_header_carries_one_value_per_secret():
    header = signature_header(secrets=[NEW, OLD], timestamp=NOW, body=BODY)
    new_digest = sign(secret=NEW, timestamp=NOW, body=BODY)
    old_digest = sign(secret=OLD, timestamp=NOW, body=BODY)
    assert header == f"v1={new_digest},v1={old_digest}"
    # A receiver that knows only one of the two secrets accepts it.
    assert _verify(header, secrets=[OLD]) == NOW
    assert _verify(header, secrets=[NEW]) == NOW


def test_rotation_receiver_accepts_either_listed_secret():
    signed_with_old = signature_header(secrets=[OLD], timestamp=NOW, body=BODY)
    signed_with_new = signature_header(secrets=[NEW], timestamp=NOW, body=BODY)
    assert _verify(signed_with_old, secrets=[NEW, OLD]) == NOW
    assert _verify(signed_with_new, secrets=[NEW, OLD]) == NOW
    # Once the old secret is retired, what it signed is refused.
    assert _code(signature=signed_with_old, secrets=[NEW]) == "signature_invalid"


def test_tampered_body_is_invalid():
    header = signature_header(secrets=[NEW], timestamp=NOW, body=BODY)
    tampered = BODY.replace(b"150000", b"950000")
    assert _code(signature=header, body=tampered) == "signature_invalid"


def test_timestamp_is_part_of_what_is_signed():
    header = signature_header(secrets=[NEW], timestamp=NOW, body=BODY)
    assert _code(signature=header, timestamp=str(NOW + 1)) == "signature_invalid"


def test_wrong_secret_is_invalid():
    header = signature_header(secrets=["whsec_attacker"], timestamp=NOW, body=BODY)
    assert _code(signature=header) == "signature_invalid"


@pytest.mark.parametrize("skew", [-301, 301, -10_000, 10_000])
def test_stale_timestamp_past_and_future(skew):
    sent_at = NOW + skew
    header = signature_header(secrets=[NEW], timestamp=sent_at, body=BODY)
    assert _code(signature=header, timestamp=str(sent_at)) == "timestamp_stale"


@pytest.mark.parametrize("skew", [-300, 300])
def test_timestamp_exactly_at_tolerance_is_accepted(skew):
    sent_at = NOW + skew
    header = signature_header(secrets=[NEW], timestamp=sent_at, body=BODY)
    assert _verify(header, timestamp=str(sent_at)) == sent_at


def test_custom_tolerance():
    header = signature_header(secrets=[NEW], timestamp=NOW, body=BODY)
    with pytest.raises(SignatureError) as excinfo:
        verify(
            secrets=[NEW],
            timestamp=str(NOW),
            signature=header,
            body=BODY,
            now=NOW + 31,
            tolerance=30,
        )
    assert excinfo.value.code == "timestamp_stale"


@pytest.mark.parametrize("timestamp", [None, "", "abc", "1.5", "-5", "1e9", "0x10", "١٢٣"])
def test_invalid_timestamp(timestamp):
    header = signature_header(secrets=[NEW], timestamp=NOW, body=BODY)
    assert _code(signature=header, timestamp=timestamp) == "timestamp_invalid"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_signature(header):
    assert _code(signature=header) == "signature_missing"


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "v1",
        "v1=",
        "=abc",
        "v1=xyz",
        "v1=" + "a" * 63,
        "v1=" + "g" * 64,
        "v2=" + "a" * 64,  # no v1 value at all
        "v1=" + "a" * 64 + ",junk",
    ],
)
def test_malformed_signature(header):
    assert _code(signature=header) == "signature_malformed"


def test_unknown_schemes_next_to_v1_are_ignored():
    good = sign(secret=NEW, timestamp=NOW, body=BODY)
    assert _verify(f"v2={'b' * 64}, v1={good.upper()}") == NOW


def test_any_matching_value_among_several_is_enough():
    good = sign(secret=NEW, timestamp=NOW, body=BODY)
    assert _verify(f"v1={'0' * 64},v1={good}") == NOW


def test_error_carries_code_and_message():
    with pytest.raises(SignatureError) as excinfo:
        _verify(None)
    assert excinfo.value.code == "signature_missing"
    assert "X-Odr-Signature" in str(excinfo.value)


def test_no_secrets_is_a_configuration_error():
    with pytest.raises(ValueError):
        signature_header(secrets=[], timestamp=NOW, body=BODY)
    with pytest.raises(ValueError):
        _verify("v1=" + "a" * 64, secrets=[""])
    with pytest.raises(TypeError):
        signature_header(secrets="whsec_one_string", timestamp=NOW, body=BODY)


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    header = signature_header(secrets=[OLD], timestamp=NOW, body=BODY)
    assert _verify(header, secrets=[OLD, NEW]) == NOW
    # The matching secret comes first, yet both were compared: no early exit to time.
    assert len(calls) == 2
