"""Checks that turn a pattern's candidate into a finding or drop it: checksums and ranges.

A pack names its validator by ``validate = "<name>"``; each takes the matched value, the
whole text and the match's position, and answers whether the candidate is real. They run
only on the few strings the combined pattern matched, never on every message.
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import Any

Validator = Callable[[str, str, int, int, Mapping[str, Any]], bool]


def luhn(digits: str) -> bool:
    """The Luhn checksum of payment card numbers (ISO/IEC 7812-1)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


# Issuer prefixes of the major networks (ISO/IEC 7812 IIN ranges as published by the networks):
# a Luhn-valid number outside them is far more often an order or tracking number.
_CARD_PREFIXES = (
    ("4", 13, 19),  # Visa
    ("34", 15, 15), ("37", 15, 15),  # American Express
    ("6011", 16, 19), ("65", 16, 19), ("644", 16, 19), ("645", 16, 19), ("646", 16, 19),
    ("647", 16, 19), ("648", 16, 19), ("649", 16, 19),  # Discover
    ("35", 16, 19),  # JCB
    ("36", 14, 19), ("38", 14, 19), ("39", 14, 19), ("300", 14, 19), ("301", 14, 19),
    ("302", 14, 19), ("303", 14, 19), ("304", 14, 19), ("305", 14, 19),  # Diners Club
    ("62", 16, 19),  # UnionPay
)  # fmt: skip


def _card_network(digits: str) -> bool:
    if any(digits.startswith(p) and low <= len(digits) <= high for p, low, high in _CARD_PREFIXES):
        return True
    # Mastercard: 51-55 and 2221-2720, 16 digits.
    if len(digits) == 16:
        two, four = int(digits[:2]), int(digits[:4])
        return 51 <= two <= 55 or 2221 <= four <= 2720
    return False


def card(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    digits = "".join(c for c in value if c.isdigit())
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 3:
        return False
    separators = {c for c in value if not c.isdigit()}
    if len(separators) > 1:
        return False  # "1234-5678 9012..." mixes separators: a list of numbers, not a card
    return luhn(digits) and _card_network(digits) and digits not in tables["test_cards"]


def iban(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    """ISO 13616: the country's length, then mod-97 of the rearranged number equals 1."""
    compact = value.replace(" ", "")
    expected = tables["iban_lengths"].get(compact[:2])
    if expected is None or len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def ssn(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    """SSA rules: no area 000, 666 or 900-999, no group 00, no serial 0000."""
    digits = "".join(c for c in value if c.isdigit())
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    # "2021-03-1234"-like shapes are excluded by the pattern; a date range "123-45-6789" in
    # a list of numbers still needs no digit right before or after.
    return not _touches(text, start, end, "0123456789-")


def public_ip(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    """Only globally routable addresses: private, loopback, link-local, documentation and
    reserved ranges are not personal data (``ipaddress``' ``is_global``)."""
    if _touches(text, start, end, ".") or (start > 0 and text[start - 1] in "vV"):
        return False  # a version number (v1.2.3.4) or a longer dotted sequence (an OID)
    if "version" in text[max(0, start - 12) : start].lower():
        return False
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    if value in tables["well_known_ips"]:
        return False
    if address.version == 4 and any(len(part) > 1 and part[0] == "0" for part in value.split(".")):
        return False  # zero-padded parts are not how addresses are written
    return address.is_global and not address.is_multicast


def email(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    if start > 0 and text[start - 1] in ":/":
        return False  # the user:password@host part of a URL (reported as a password instead)
    domain = value.rsplit("@", 1)[1].lower()
    if any(domain == d or domain.endswith("." + d) for d in tables["email_domains"]):
        return False
    return not any(domain.endswith(suffix) for suffix in tables["email_suffixes"])


def phone(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    digits = "".join(c for c in value if c.isdigit())
    # E.164 numbers have at most 15 digits; fewer than 8 is an extension or a short code.
    if not 8 <= len(digits) <= 15 or len(set(digits)) < 3:
        return False
    if _touches(text, start, end, "0123456789/"):
        return False
    return not any(p.search(value) for p in tables["phone_patterns"])


def openai(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    return not value.startswith("sk-ant-") and diverse(value, text, start, end, tables)


def diverse(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    """Real keys are random: at least one digit or mixed case, not a word with a prefix."""
    body = value.split("_")[-1] if "_" in value[:12] else value
    has_digit = any(c.isdigit() for c in body)
    mixed = any(c.isupper() for c in body) and any(c.islower() for c in body)
    return has_digit or mixed


def jwt(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    header = value.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def private_key(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    """A key body, not a documentation stub (``-----BEGIN ... KEY-----\\n...\\n-----END``)."""
    lines = value.splitlines()[1:]
    body = "".join(line.strip() for line in lines if not line.startswith("-----"))
    base64_chars = sum(c.isalnum() or c in "+/=" for c in body)
    return base64_chars >= 64


def url_password(value: str, text: str, start: int, end: int, tables: Mapping[str, Any]) -> bool:
    if value.lower() in tables["url_passwords"]:
        return False
    # Templated passwords: $PASSWORD, ${DB_PASS}, %(password)s, {{ secret }}.
    return not (value[0] in "$%{[" or value.isupper())


def _touches(text: str, start: int, end: int, characters: str) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    # A character from the set right outside the match, followed/preceded by a digit,
    # means the match is a piece of a longer number.
    return (before in characters and before != "" and start > 1 and text[start - 2].isdigit()) or (
        after in characters and after != "" and end + 1 < len(text) and text[end + 1].isdigit()
    )


VALIDATORS: dict[str, Validator] = {
    "card": card,
    "iban": iban,
    "ssn": ssn,
    "public_ip": public_ip,
    "email": email,
    "phone": phone,
    "openai": openai,
    "diverse": diverse,
    "jwt": jwt,
    "private_key": private_key,
    "url_password": url_password,
}
