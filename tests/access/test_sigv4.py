"""SigV4 verification: what real botocore signs verifies; any tampering fails with a reason."""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from pizzabus.access import SignatureError, SignedRequest, verify_sigv4

SECRET = "the-admin-token-of-this-server"
URL = "http://127.0.0.1:8123/prod/%40connections/abc-DEF_123?b=2&a=1&a=0"


def _received(request: AWSRequest) -> SignedRequest:
    """What the server receives from a request botocore prepared (its HTTP client adds Host)."""
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [("Host", parts.netloc), *((k, str(v)) for k, v in prepared.headers.items())]
    body = prepared.body or b""
    return SignedRequest(
        method=prepared.method,
        path=parts.path,
        query=parts.query,
        headers=tuple(headers),
        body=body if isinstance(body, bytes) else body.encode(),
    )


def _signed(
    method: str = "POST",
    url: str = URL,
    body: bytes = b'{"stage":"cooked"}',
    *,
    key: str = "pizzabus",
    secret: str = SECRET,
    service: str = "execute-api",
    region: str = "eu-west-1",
    headers: dict[str, str] | None = None,
) -> SignedRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return _received(request)


def _verify(request: SignedRequest, **kwargs: object) -> object:
    options: dict[str, object] = {"secret_key": SECRET, "now": time.time()}
    options.update(kwargs)
    return verify_sigv4(request, **options)  # type: ignore[arg-type]


def test_a_request_signed_by_botocore_verifies_in_any_region() -> None:
    for region in ("us-east-1", "ap-southeast-2"):
        verified = _verify(_signed(region=region), services={"execute-api"})
        assert verified.region == region  # type: ignore[attr-defined]
        assert verified.service == "execute-api"  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", ["events", "lambda", "dynamodb", "sqs"])
def test_other_services_verify_when_allowed(service: str) -> None:
    _verify(_signed(service=service, url="http://127.0.0.1:8123/"), services={service})
    with pytest.raises(SignatureError, match="valid service"):
        _verify(_signed(service=service), services={"execute-api"})


def test_an_empty_body_and_a_get_verify() -> None:
    _verify(_signed("GET", body=b""))
    _verify(_signed("DELETE", url="http://localhost:1/x", body=b""))


def test_an_unsigned_payload_declared_by_the_client_verifies() -> None:
    request = AWSRequest(method="POST", url=URL, data=b"anything")
    request.context["payload_signing_enabled"] = False
    SigV4Auth(Credentials("pizzabus", SECRET), "execute-api", "us-east-1").add_auth(request)
    received = _received(request)
    assert received.header("x-amz-content-sha256") == "UNSIGNED-PAYLOAD"
    _verify(received)


def test_a_presigned_url_verifies_until_it_expires() -> None:
    request = AWSRequest(method="GET", url=URL)
    SigV4QueryAuth(Credentials("pizzabus", SECRET), "execute-api", "us-east-1", 60).add_auth(
        request
    )
    received = _received(request)
    assert "X-Amz-Signature" in received.query
    _verify(received)
    with pytest.raises(SignatureError, match="expired"):
        _verify(received, now=time.time() + 120)
    tampered = dataclasses.replace(received, query=received.query.replace("b=2", "b=3"))
    with pytest.raises(SignatureError, match="does not match"):
        _verify(tampered)


def _replace_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    headers = tuple((k, value if k.lower() == name else v) for k, v in request.headers)
    return dataclasses.replace(request, headers=headers)


TAMPERING = {
    "method": lambda r: dataclasses.replace(r, method="DELETE"),
    "path": lambda r: dataclasses.replace(r, path=r.path.replace("abc", "abd")),
    "query": lambda r: dataclasses.replace(r, query="a=1"),
    "body": lambda r: dataclasses.replace(r, body=b'{"stage":"forged"}'),
    "host": lambda r: _replace_header(r, "host", "evil.example:8123"),
    "date": lambda r: _replace_header(r, "x-amz-date", "20200101T000000Z"),
    "payload-hash": lambda r: _replace_header(r, "x-amz-content-sha256", "0" * 64),
}


@pytest.mark.parametrize("part", sorted(TAMPERING))
def test_tampering_with_any_signed_part_fails(part: str) -> None:
    request = TAMPERING[part](_signed(headers={"X-Amz-Content-SHA256": "placeholder"}))
    with pytest.raises(SignatureError) as failure:
        _verify(request)
    assert failure.value.reason
    assert failure.value.status == 403


def test_a_wrong_secret_or_key_id_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        _verify(_signed(secret="another-secret-entirely"))
    with pytest.raises(SignatureError, match="unknown access key id 'AKIDEXAMPLE'") as failure:
        _verify(_signed(key="AKIDEXAMPLE"))
    assert failure.value.code == "UnrecognizedClientException"


def test_a_request_outside_the_skew_window_fails_with_the_reason() -> None:
    request = _signed()
    _verify(request, now=time.time() + 14 * 60)
    with pytest.raises(SignatureError, match="15 minutes"):
        _verify(request, now=time.time() + 16 * 60)
    with pytest.raises(SignatureError, match="15 minutes"):
        _verify(request, now=time.time() - 16 * 60)


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "Missing Authentication Token"),
        ("AWS4-HMAC-SHA1 Credential=x", "must use AWS4-HMAC-SHA256"),
        ("AWS4-HMAC-SHA256 Credential=pizzabus/20260101/r/s/aws4_request", "requires"),
        (
            "AWS4-HMAC-SHA256 Credential=pizzabus/r/s, SignedHeaders=host, Signature=00",
            "Credential must be",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=pizzabus/20200101/r/execute-api/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00",
            "does not match YYYYMMDD",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=pizzabus/{date}/r/execute-api/aws4_request, "
            "SignedHeaders=x-amz-date, Signature=00",
            "'Host' must be a signed header",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=pizzabus/{date}/r/execute-api/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-custom, Signature=00",
            "missing from the request",
        ),
    ],
    ids=["unsigned", "algorithm", "incomplete", "scope", "date-scope", "no-host", "missing-hdr"],
)
def test_a_malformed_authorization_fails_with_the_reason(
    authorization: str | None, reason: str
) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = [("host", "127.0.0.1:8123"), ("x-amz-date", stamp)]
    if authorization:
        headers.append(("authorization", authorization.replace("{date}", stamp[:8])))
    request = SignedRequest("POST", "/x", "", tuple(headers), b"")
    with pytest.raises(SignatureError, match=reason):
        _verify(request)


def test_a_bad_date_format_fails() -> None:
    with pytest.raises(SignatureError, match="ISO-8601"):
        _verify(_replace_header(_signed(), "x-amz-date", "yesterday"))


def test_an_http_date_header_stands_for_x_amz_date() -> None:
    request = _signed(headers={"Date": "placeholder"})
    assert request.header("x-amz-date") is None
    assert request.header("date")
    _verify(request)
    with pytest.raises(SignatureError, match="does not match"):
        _verify(_replace_header(request, "date", "Mon, 07 Dec 2026 00:00:00 GMT"), max_skew=1e9)


def test_from_asgi_reads_the_raw_path_query_and_headers() -> None:
    scope = {
        "method": "POST",
        "path": "/prod/@connections/a",
        "raw_path": b"/prod/%40connections/a",
        "query_string": b"x=1",
        "headers": [(b"host", b"h:1"), (b"x-a", b"1"), (b"x-a", b"2")],
    }
    request = SignedRequest.from_asgi(scope, b"body")
    assert request.path == "/prod/%40connections/a"
    assert request.query == "x=1"
    assert request.header("x-a") == "1,2"
    assert request.header("nope") is None
