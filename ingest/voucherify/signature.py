"""Voucherify webhook signatures.

Voucherify signs a delivery with HMAC-SHA256 (lowercase hex in `x-voucherify-signature`), keyed with the
project's webhook secret, over the *compact* JSON body: every whitespace character outside string literals
removed. A body that reaches us pretty-printed (a proxy, a replay tool) must therefore be compacted before
its signature can be checked, without touching a single byte inside a string.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SIGNATURE_HEADER = "x-voucherify-signature"

# Either a whole JSON string literal (escaped quotes and backslashes included; the unrolled form keeps the
# match linear even on an unterminated string) or a run of JSON whitespace, which by elimination lies
# outside any string. UTF-8 continuation bytes are >= 0x80, so they never look like `"`, `\` or whitespace.
_STRING_OR_WHITESPACE = re.compile(rb'("[^"\\]*(?:\\.[^"\\]*)*")|[ \t\n\r]+', re.DOTALL)


def compact_json(body: bytes) -> bytes:
    """The body with all whitespace outside JSON string literals removed (what Voucherify signs)."""
    return _STRING_OR_WHITESPACE.sub(lambda match: match.group(1) or b"", body)


def signature_matches(compacted_body: bytes, secret: str, signature: str | None) -> bool:
    """Constant-time check of a received signature against an already compacted body."""
    if not signature:
        return False
    expected = hmac.new(secret.encode("utf-8"), compacted_body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses non-ASCII text, and a forged header may contain anything.
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("utf-8", "replace"))
