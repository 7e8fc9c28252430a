"""Verifying AWS Signature Version 4 on a received request, with botocore's own signer.

The request's ``Authorization`` header (or, for a presigned URL, its ``X-Amz-*`` query
parameters) names the access key, the date, the region, the service and the signed headers.
We rebuild exactly the request the client signed (those headers, the path and query as they
arrived, the body or the payload hash it declared), let botocore's :class:`SigV4Auth` compute
the signature for the local secret, and compare the two in constant time. Any region is
accepted, as the local endpoints serve every region; the service must be one the caller allows.

A failure raises :class:`SignatureError` with the reason, worded as AWS words it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_tz
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from pizzabus.access.tokens import ACCESS_KEY_ID
from pizzabus.errors import PizzabusError

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: How far the request's date may be from ours, either way (AWS allows 15 minutes).
MAX_SKEW_SECONDS = 15 * 60
#: The longest a presigned URL may be valid (AWS: 7 days).
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


class SignatureError(PizzabusError):
    """The request is not signed, or not signed by the local credentials."""

    code = "InvalidSignatureException"
    status = 403

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        #: The reason, for logs and tests (the same as the message).
        self.reason = message


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived: ``path`` and ``query`` still percent-encoded as sent."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], body: bytes) -> SignedRequest:
        """The request of an ASGI HTTP ``scope`` (``raw_path``, ``query_string``, headers)."""
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        # Some servers leave the query string on raw_path.
        path = path.partition("?")[0]
        return cls(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=tuple(
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in scope.get("headers", ())
            ),
            body=body,
        )

    def header(self, name: str) -> str | None:
        """The values of header ``name`` joined by commas, or None."""
        values = [v for k, v in self.headers if k.lower() == name]
        return ",".join(values) if values else None


@dataclass(frozen=True)
class VerifiedSignature:
    """Who signed the request, and for what."""

    access_key_id: str
    region: str
    service: str
    signed_headers: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Claim:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    presigned: bool
    expires: int = 0


def verify_sigv4(
    request: SignedRequest,
    *,
    secret_key: str,
    now: float,
    access_key_id: str = ACCESS_KEY_ID,
    services: Collection[str] | None = None,
    max_skew: float = MAX_SKEW_SECONDS,
) -> VerifiedSignature:
    """Check that ``request`` carries a valid SigV4 signature by ``access_key_id`` /
    ``secret_key``; ``now`` is the wall clock (seconds since the epoch). ``services`` limits
    the signing service names (None: any). Raises :class:`SignatureError` saying why not."""
    claim = _claim(request)
    if claim.access_key_id != access_key_id:
        raise SignatureError(
            "The security token included in the request is invalid: unknown access key id "
            f"{claim.access_key_id!r} (use {access_key_id!r} with the admin token as secret)",
            code="UnrecognizedClientException",
        )
    if services is not None and claim.service not in services:
        raise SignatureError(
            f"Credential should be scoped to a valid service: {claim.service!r} is not one of "
            f"{sorted(services)}"
        )
    signed_at = _parse_timestamp(claim.timestamp)
    if claim.timestamp[:8] != claim.date:
        raise SignatureError(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: {claim.date!r} != {claim.timestamp[:8]!r}"
        )
    if claim.presigned:
        if now < signed_at - max_skew:
            raise SignatureError("Signature not yet current: the request is dated in the future")
        if now > signed_at + claim.expires:
            raise SignatureError("Signature expired: the presigned URL is no longer valid")
    elif abs(now - signed_at) > max_skew:
        raise SignatureError(
            f"Signature expired: {claim.timestamp} is more than {int(max_skew // 60)} minutes "
            "from the server's time; check the client's clock"
        )
    if "host" not in claim.signed_headers:
        raise SignatureError("'Host' must be a signed header")
    expected = _signature(request, claim, secret_key)
    if not hmac.compare_digest(expected.encode(), claim.signature.encode()):
        raise SignatureError(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return VerifiedSignature(claim.access_key_id, claim.region, claim.service, claim.signed_headers)


def _claim(request: SignedRequest) -> _Claim:
    authorization = request.header("authorization")
    if authorization:
        return _header_claim(request, authorization)
    params = dict(parse_qsl(request.query, keep_blank_values=True))
    if "X-Amz-Signature" in params:
        return _query_claim(params)
    raise SignatureError(
        "Missing Authentication Token: sign the request with SigV4 (access key id "
        f"{ACCESS_KEY_ID!r}, secret = the admin token)",
        code="MissingAuthenticationTokenException",
    )


def _header_claim(request: SignedRequest, authorization: str) -> _Claim:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(f"Authorization header must use {ALGORITHM}, not {algorithm!r}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if k not in fields]
    if missing:
        raise SignatureError(f"Authorization header requires {', '.join(missing)}")
    timestamp = request.header("x-amz-date") or _from_http_date(request.header("date"))
    if not timestamp:
        raise SignatureError("Authorization header requires existence of either a 'X-Amz-Date'")
    return _build_claim(
        fields["Credential"], fields["SignedHeaders"], fields["Signature"], timestamp, False
    )


def _query_claim(params: Mapping[str, str]) -> _Claim:
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise SignatureError(f"X-Amz-Algorithm must be {ALGORITHM}")
    try:
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        raise SignatureError("X-Amz-Expires must be a number of seconds") from None
    if not 0 < expires <= MAX_EXPIRES_SECONDS:
        raise SignatureError(f"X-Amz-Expires must be between 1 and {MAX_EXPIRES_SECONDS}")
    return _build_claim(
        params.get("X-Amz-Credential", ""),
        params.get("X-Amz-SignedHeaders", ""),
        params["X-Amz-Signature"],
        params.get("X-Amz-Date", ""),
        True,
        expires,
    )


def _build_claim(
    credential: str,
    signed_headers: str,
    signature: str,
    timestamp: str,
    presigned: bool,
    expires: int = 0,
) -> _Claim:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureError(
            f"Credential must be <key>/<YYYYMMDD>/<region>/<service>/aws4_request, not "
            f"{credential!r}"
        )
    return _Claim(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(h for h in signed_headers.lower().split(";") if h),
        signature=signature.strip(),
        timestamp=timestamp.strip(),
        presigned=presigned,
        expires=expires,
    )


def _parse_timestamp(timestamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(timestamp, _TIMESTAMP)))
    except ValueError:
        raise SignatureError(
            f"X-Amz-Date must be in the ISO-8601 basic format YYYYMMDD'T'HHMMSS'Z', not "
            f"{timestamp!r}"
        ) from None


def _from_http_date(value: str | None) -> str | None:
    parsed = parsedate_tz(value) if value else None
    if parsed is None:
        return None
    return time.strftime(_TIMESTAMP, time.gmtime(calendar.timegm(parsed[:9]) - (parsed[9] or 0)))


class _Verifier(SigV4Auth):  # type: ignore[misc]
    """botocore's signer, told which headers and which payload hash the client signed."""

    def __init__(self, secret_key: str, claim: _Claim, request: SignedRequest) -> None:
        super().__init__(Credentials(claim.access_key_id, secret_key), claim.service, claim.region)
        self._claim = claim
        self._received = request

    def headers_to_sign(self, request: AWSRequest) -> Any:
        headers = HTTPHeaders()
        for name, value in self._received.headers:
            if name.lower() in self._claim.signed_headers:
                headers[name.lower()] = value
        missing = set(self._claim.signed_headers) - {k.lower() for k in headers}
        if missing:
            raise SignatureError(f"Signed headers are missing from the request: {sorted(missing)}")
        return headers

    def payload(self, request: AWSRequest) -> str:
        declared = self._received.header("x-amz-content-sha256")
        actual = hashlib.sha256(self._received.body).hexdigest()
        if declared is None or declared == UNSIGNED_PAYLOAD:
            return declared or actual
        if declared != actual:
            raise SignatureError(
                "The provided 'x-amz-content-sha256' header does not match what was computed"
            )
        return declared


def _signature(request: SignedRequest, claim: _Claim, secret_key: str) -> str:
    query = request.query
    if claim.presigned:
        # The canonical query string of a presigned URL leaves out the signature itself.
        query = "&".join(
            p for p in query.split("&") if unquote(p.partition("=")[0]) != "X-Amz-Signature"
        )
    url = f"http://signed{request.path}" + (f"?{query}" if query else "")
    rebuilt = AWSRequest(method=request.method, url=url, data=request.body)
    rebuilt.context["timestamp"] = claim.timestamp
    verifier = _Verifier(secret_key, claim, request)
    canonical = verifier.canonical_request(rebuilt)
    return str(verifier.signature(verifier.string_to_sign(rebuilt, canonical), rebuilt))
