"""Keyed hashing of personal data.

Why: IPs, e-mails, phone numbers, device ids and card fingerprints are needed to spot
fraud ("a new device", "one card on five accounts") but must never leave the system in
clear (CONTRACT.md). A keyed hash (HMAC-SHA256, hex, first 16 characters) keeps
equality, so features still work, while an outsider without the secret cannot
reverse it or test guesses.
"""

from __future__ import annotations

import hashlib
import hmac

#: Fields of input events that carry personal data.
PERSONAL_FIELDS: tuple[str, ...] = ("ip", "email", "phone", "device_id", "card_fingerprint")


def pseudonymise(value: str, secret: bytes) -> str:
    """Keyed hash of ``value``: stable for one secret, meaningless without it.

    >>> pseudonymise("203.0.113.7", b"secret-for-tests-only")
    'd76561cd7293f2e1'
    """
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:16]
