"""Secrets never reach a message: URLs shown with their credentials masked."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# query parameters whose values are credentials
_SECRET_PARAMS = re.compile(
    r"(pass(word)?|pwd|secret|token|key|apikey|api_key|signature|sig|auth|jwt|session)",
    re.IGNORECASE,
)
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")


def mask_url(url: str) -> str:
    """``url`` with the userinfo password and credential-like query values masked.

    A password in the userinfo becomes ``***``, and so does the value of a query
    parameter named like a credential (token, key, secret, password, ...).  Text that is
    not a URL is returned unchanged.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if _SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_urls_in(text: str) -> str:
    """Every URL inside ``text`` masked with :func:`mask_url`."""
    return _URL.sub(lambda m: mask_url(m.group(0)), text)
