"""Who may drive a running server: the admin token, where a server publishes it, and SigV4.

- :mod:`~pizzabus.access.tokens`: the admin token (generated at start, or given), compared in
  constant time; where a request may carry it (header, bearer, cookie).
- :mod:`~pizzabus.access.serverfile`: each running server's record (url, port, pid, token, data
  dir) in a 0600 file of a 0700 per-user runtime directory, so the CLI on the same machine finds
  the server and its token with no flag (:func:`find_server`, :func:`client_token`).
- :mod:`~pizzabus.access.files`: data directories 0700, data files 0600.
- :mod:`~pizzabus.access.sigv4`: verifying AWS Signature Version 4 on a received request against
  the local credentials (access key id ``pizzabus``, secret = the admin token), with botocore's
  own signer, so real boto3 and the AWS CLI work against the local endpoints.

This package does no networking; it depends only on ``errors`` and ``clock``.
"""

from pizzabus.access.files import ensure_private_dir, ensure_private_file
from pizzabus.access.serverfile import (
    RUNTIME_DIR_ENV,
    URL_ENV,
    AmbiguousServerError,
    ServerRecord,
    client_token,
    find_server,
    live_servers,
    remove_server_record,
    runtime_dir,
    write_server_record,
)
from pizzabus.access.sigv4 import (
    SignatureError,
    SignedRequest,
    VerifiedSignature,
    verify_sigv4,
)
from pizzabus.access.tokens import (
    ACCESS_KEY_ID,
    ADMIN_COOKIE,
    ADMIN_TOKEN_ENV,
    TOKEN_HEADER,
    generate_token,
    presented_token,
    resolve_admin_token,
    tokens_match,
)

__all__ = [
    "ACCESS_KEY_ID",
    "ADMIN_COOKIE",
    "ADMIN_TOKEN_ENV",
    "RUNTIME_DIR_ENV",
    "TOKEN_HEADER",
    "URL_ENV",
    "AmbiguousServerError",
    "ServerRecord",
    "SignatureError",
    "SignedRequest",
    "VerifiedSignature",
    "client_token",
    "ensure_private_dir",
    "ensure_private_file",
    "find_server",
    "generate_token",
    "live_servers",
    "presented_token",
    "remove_server_record",
    "resolve_admin_token",
    "runtime_dir",
    "tokens_match",
    "verify_sigv4",
    "write_server_record",
]
