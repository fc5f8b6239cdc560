"""Personal data (P001-P006) and secrets (P101-P110) in the text of the examples.

Every rule reads the same scan (``scanner.detections``, computed once per run) and keeps its
own kinds. A finding names the kind of value and, for keys, the vendor prefix (``sk-proj-…``);
the value itself never reaches a finding, a fingerprint or a cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from dslint.dataset import Dataset
from dslint.finding import Category, Hit, Severity
from dslint.rule import DatasetRule
from dslint.rules.privacy.scanner import Detection, detections
from dslint.textutil import safe


class PrivacyRule(DatasetRule):
    """Base: report the scan's detections of this rule's kinds."""

    category = Category.PRIVACY
    kinds: ClassVar[tuple[str, ...]]
    advice: ClassVar[str]

    def check(self, dataset: Dataset) -> Iterator[Hit]:
        for found in detections(dataset, self.context.config):
            if found.kind in self.kinds:
                yield Hit(
                    self.describe(found),
                    found.pointer,
                    span=found.span,
                    record=found.record,
                    key=found.key,
                )

    def describe(self, found: Detection) -> str:
        shown = f" '{safe(found.shown)}…'" if found.shown else ""
        label = found.label[0].upper() + found.label[1:]
        return f"{label}{shown} in the {found.where}: {self.advice}"


class PersonalData(PrivacyRule):
    advice = (
        "remove it or replace it with a placeholder, or allow the value in [tool.dslint.privacy]"
    )
    severity = Severity.WARNING


class Secret(PrivacyRule):
    advice = "revoke it and remove it from the data (a model can learn and repeat it)"
    severity = Severity.ERROR


class EmailAddress(PersonalData):
    """An email address in the text.

    Addresses at the documentation domains (``example.com``, ``.test``, ``.invalid``...) and
    addresses with ``your``/``example`` in them are placeholders and pass. Allow your own
    support address with ``allow`` or its domain with ``allow-domains``.

    FAIL::

        {"messages": [{"role": "user", "content": "Reply to maria.lopez@protonmail.com please"}, {"role": "assistant", "content": "Done."}]}

    PASS::

        {"messages": [{"role": "user", "content": "Reply to jane@example.com please"}, {"role": "assistant", "content": "Done."}]}
    """

    code = "P001"
    name = "email-address"
    kinds = ("email",)


class PhoneNumber(PersonalData):
    """A phone number, international or (next to a word such as *call*) national.

    International numbers start with ``+`` and a country code (``+44 20 7123 4567``). National formats without a context word are not reported: bare digit groups are more
    often order numbers or amounts. The fictional ranges (North America's 555-0100 to
    555-0199, the UK's drama numbers) pass.

    FAIL::

        {"messages": [{"role": "user", "content": "Call me on +44 20 7123 4567 tomorrow"}, {"role": "assistant", "content": "Will do."}]}

    PASS::

        {"messages": [{"role": "user", "content": "Call me on (415) 555-0134 tomorrow"}, {"role": "assistant", "content": "Will do."}]}
    """

    code = "P002"
    name = "phone-number"
    kinds = ("phone",)


class PaymentCard(PersonalData):
    """A payment card number (Luhn checksum and a card network's prefix).

    13 to 19 digits, optionally in groups, with a valid Luhn checksum. The networks' published test numbers (``4242 4242 4242 4242``...) pass. A card number in
    training data is a PCI DSS problem, hence an error.

    FAIL::

        {"messages": [{"role": "user", "content": "My card is 4539 5260 1815 9083"}, {"role": "assistant", "content": "Thanks."}]}

    PASS::

        {"messages": [{"role": "user", "content": "Order 4539 5260 1815 9084 shipped"}, {"role": "assistant", "content": "Thanks."}]}
    """

    code = "P003"
    name = "payment-card-number"
    kinds = ("card",)
    severity = Severity.ERROR


class Iban(PersonalData):
    """An IBAN whose length matches its country and whose mod-97 check digits are right.

    The widely documented examples (``GB82 WEST 1234 5698 7654 32``...) pass.

    FAIL::

        {"messages": [{"role": "user", "content": "Pay to DE44 5001 0517 5407 3249 31"}, {"role": "assistant", "content": "Done."}]}

    PASS::

        {"messages": [{"role": "user", "content": "Pay to DE45 5001 0517 5407 3249 31"}, {"role": "assistant", "content": "Done."}]}
    """

    code = "P004"
    name = "iban"
    kinds = ("iban",)


class SocialSecurityNumber(PersonalData):
    """A US social security number (``AAA-GG-SSSS``; with spaces only next to *SSN*).

    Numbers the SSA never issues (area 000, 666 or 9xx, group 00, serial 0000) and the ones it
    names as used in advertising (``123-45-6789``, ``078-05-1120``) pass.

    FAIL::

        {"messages": [{"role": "user", "content": "My SSN is 512-74-3829"}, {"role": "assistant", "content": "Noted."}]}

    PASS::

        {"messages": [{"role": "user", "content": "My SSN is 666-74-3829"}, {"role": "assistant", "content": "Noted."}]}
    """

    code = "P005"
    name = "us-social-security-number"
    kinds = ("ssn",)
    severity = Severity.ERROR


class PublicIpAddress(PersonalData):
    """A public IP address (IPv4 or IPv6).

    Private, loopback, link-local, documentation (``203.0.113.0/24``...) and reserved ranges
    pass, and so do public DNS resolvers such as ``8.8.8.8``: only globally routable
    addresses can point at a person. Info by default: an address alone is weak personal data.

    FAIL::

        {"messages": [{"role": "user", "content": "I logged in from 93.184.216.34 today"}, {"role": "assistant", "content": "OK."}]}

    PASS::

        {"messages": [{"role": "user", "content": "The router is at 192.168.1.20"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P006"
    name = "public-ip-address"
    kinds = ("ip",)
    severity = Severity.INFO


class OpenAIKey(Secret):
    """An OpenAI API key (``sk-...``, ``sk-proj-...``, ``sk-svcacct-...``, ``sk-admin-...``).

    Placeholders such as ``sk-XXXXXXXX...``, ``sk-your-key-here`` or a run of one character
    pass.

    FAIL::

        {"messages": [{"role": "user", "content": "Use sk-proj-0Kh8oOOL8dKLzdocJ2isAjIhKtJ0RlgLKOmxgJTeKdNnFRIB"}, {"role": "assistant", "content": "OK."}]}

    PASS::

        {"messages": [{"role": "user", "content": "Use sk-proj-XXXXXXXXXXXXXXXXXXXXXXXXXXXX"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P101"
    name = "openai-api-key"
    kinds = ("openai",)


class AnthropicKey(Secret):
    """An Anthropic API key (``sk-ant-api03-...``, ``sk-ant-admin01-...``).

    FAIL::

        {"messages": [{"role": "user", "content": "key: sk-ant-api03-XuDL7DxtpYlSXpfKtHF4vUCsMehGAkWvj7FAc9Qe"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P102"
    name = "anthropic-api-key"
    kinds = ("anthropic",)


class AwsCredentials(Secret):
    """An AWS access key ID (``AKIA...``, ``ASIA...``) or secret access key.

    A secret access key is recognised after ``aws_secret_access_key``. AWS's documented examples (``AKIAIOSFODNN7EXAMPLE``...) pass.

    FAIL::

        {"messages": [{"role": "user", "content": "export AWS_ACCESS_KEY_ID=AKIA9UVW53EFR4EDT2SY"}, {"role": "assistant", "content": "OK."}]}

    PASS::

        {"messages": [{"role": "user", "content": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P103"
    name = "aws-credentials"
    kinds = ("aws",)


class GitHubToken(Secret):
    """A GitHub token (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``).

    FAIL::

        {"messages": [{"role": "user", "content": "token ghp_AIxNKu8iS2G8NPRVdD53X83RZJzzzzgEOzdm"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P104"
    name = "github-token"
    kinds = ("github",)


class SlackToken(Secret):
    """A Slack token (``xoxb-``, ``xoxp-``...) or an incoming-webhook URL.

    FAIL::

        {"messages": [{"role": "user", "content": "bot token xoxb-581932968202-220956171173-vMdgaKjIg8xNbe3nNyjOq9wM"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P105"
    name = "slack-token"
    kinds = ("slack",)


class StripeKey(Secret):
    """A Stripe secret or restricted key (``sk_live_``, ``rk_live_``, ``sk_test_``...).

    Test-mode keys are reported too: they still open the account's test data. Stripe's
    documented example key passes.

    FAIL::

        {"messages": [{"role": "user", "content": "stripe.api_key = 'sk_live_xEhh2FDEEtfjgVvVqE1SkHbn'"}, {"role": "assistant", "content": "OK."}]}

    PASS::

        {"messages": [{"role": "user", "content": "stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P106"
    name = "stripe-key"
    kinds = ("stripe",)


class GoogleCredentials(Secret):
    """A Google API key (``AIza...``), OAuth client secret or OAuth access token.

    OAuth client secrets start with ``GOCSPX-``, access tokens with ``ya29.``.

    FAIL::

        {"messages": [{"role": "user", "content": "maps key AIzaUsdMlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8z"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P107"
    name = "google-credentials"
    kinds = ("google",)


class PrivateKey(Secret):
    """A private key block (``-----BEGIN ... PRIVATE KEY-----`` followed by a key body).

    A block whose body is elided (``...``) or too short to be a key is documentation and
    passes.

    FAIL::

        {"messages": [{"role": "user", "content": "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEAQxj79TtUzpuf4uo3rp/4uOIgMs+tqBCKHFAk5LufhzUHKCH1XX9PROmdvO13hCQTRpWEQ46DiS887vebY3IxeNgk4tnsu2+yyAV+WGCdLxMNRmtwFhV22NgRO5iRj8BDPAytTy0DO9S7Nf9wd06Om07DFJ+AfFBUK1JBUBn/9Add1ofwSxYpMsNkF1eDiPYkKxL/rIez\\n-----END RSA PRIVATE KEY-----"}, {"role": "assistant", "content": "OK."}]}

    PASS::

        {"messages": [{"role": "user", "content": "-----BEGIN RSA PRIVATE KEY-----\\n...\\n-----END RSA PRIVATE KEY-----"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P108"
    name = "private-key"
    kinds = ("private_key",)


class JsonWebToken(Secret):
    """A JSON Web Token (``eyJ...``), which carries claims and often grants access.

    Warning rather than error: most tokens in chat data have expired, but their claims may
    still be personal data. The jwt.io example token passes.

    FAIL::

        {"messages": [{"role": "user", "content": "Bearer eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidS04ODEyIiwgImV4cCI6IDE4OTM0NTYwMDB9.vnEN5N1aE6PwZPf1Qh6yYTWmE4lBYOvfZ8UzDzV8fUk"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P109"
    name = "json-web-token"
    kinds = ("jwt",)
    severity = Severity.WARNING


class PasswordInUrl(Secret):
    """A password written into a URL (``scheme://user:password@host``).

    Words (``password``, ``secret``, ``changeme``...) and templates (``$DB_PASSWORD``,
    ``${PASS}``, ``%(password)s``) pass. The finding points at the password only.

    FAIL::

        {"messages": [{"role": "user", "content": "DATABASE_URL=postgres://app:kibjL5DZPjN0ME@db.internal:5432/app"}, {"role": "assistant", "content": "OK."}]}

    PASS::

        {"messages": [{"role": "user", "content": "DATABASE_URL=postgres://app:$DB_PASSWORD@db.internal:5432/app"}, {"role": "assistant", "content": "OK."}]}
    """

    code = "P110"
    name = "password-in-url"
    kinds = ("url_password",)


RULES = [
    EmailAddress,
    PhoneNumber,
    PaymentCard,
    Iban,
    SocialSecurityNumber,
    PublicIpAddress,
    OpenAIKey,
    AnthropicKey,
    AwsCredentials,
    GitHubToken,
    SlackToken,
    StripeKey,
    GoogleCredentials,
    PrivateKey,
    JsonWebToken,
    PasswordInUrl,
]
