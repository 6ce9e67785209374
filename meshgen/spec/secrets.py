"""Secret material in a spec (E210): the spec names secrets by store path, it never holds them.

Every string is looked at, wherever it is (descriptions, selector keys and values, Git settings, store
paths, unknown keys), because free-form strings land in rendered files. What is refused:

* key names that name secret material (``token``, ``password``, ``kubeconfig``, ...) anywhere, and
  in free-form mappings (selectors) also compound names such as ``api-token`` or ``db_password``;
* values that look like secrets: PEM and PGP blocks (any case), PEM bodies without their header, long
  random-looking base64 (standard or URL-safe, wrapped or not), JSON web tokens, cloud provider and
  chat/forge tokens by their documented prefixes, ``Bearer``/``Basic`` credentials, URLs carrying a
  password, kubeconfig text, service-account key JSON and ``password=...`` pairs.

Ordinary names, paths, URLs and Git revisions pass: the tests hold a corpus of both kinds, plus every
value of ``fleet.example.yaml`` and the golden specs.
"""

from __future__ import annotations

import re

SECRET_KEYS = {
    "token", "password", "passwd", "passphrase", "privatekey", "private-key", "private_key", "client-key-data",
    "client-certificate-data", "certificate-authority-data", "ca-key.pem", "key.pem", "tls.key", "secret",
    "bearertoken", "bearer-token", "apikey", "api-key", "api_key", "kubeconfig", "pem", "credentials",
    "client-secret", "client_secret", "clientsecret", "access-key", "secret-key", "accesskey", "secretkey",
}
# In free-form mappings (selectors): a key whose last word, or last two words, say secret.
_SECRET_LAST_WORDS = {"password", "passwd", "passphrase", "pwd", "token", "secret", "credential", "credentials",
                      "kubeconfig", "apikey", "privatekey"}
_SECRET_WORD_PAIRS = {("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"), ("ssh", "key"),
                      ("tls", "key"), ("client", "key"), ("client", "secret"), ("auth", "token"), ("bearer", "token")}
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")

_PATTERNS = (  # (what it is, how it looks); the first match names it in the message
    ("a PEM private key", re.compile(r"-----\s*BEGIN [A-Z0-9 ]*PRIVATE KEY", re.I)),
    ("a PGP block", re.compile(r"-----\s*BEGIN PGP ", re.I)),
    ("a PEM certificate", re.compile(r"-----\s*BEGIN [A-Z0-9 ]*CERTIFICATE", re.I)),
    ("a PEM block", re.compile(r"-----\s*BEGIN [A-Z0-9 ]+-----", re.I)),
    ("a base64-encoded PEM block", re.compile(r"LS0tLS1CRUdJT")),  # "-----BEGIN", as kubeconfigs carry keys
    ("DER key or certificate data (a PEM body)", re.compile(r"(?<![A-Za-z0-9+/])MI[GHIJ][A-Za-z0-9+/]{30,}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")),
    ("a cloud provider access key", re.compile(r"\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{35}")),
    ("a service-account key", re.compile(r'"(private_key|private_key_id|client_secret)"\s*:|"type"\s*:\s*"service_account"')),
    ("a GitHub or GitLab token", re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_-]{20,})")),
    ("a Slack token or webhook", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-[0-9]-[A-Za-z0-9-]{10,}"
                                            r"|hooks\.slack\.com/(services|workflows)/[A-Za-z0-9/_-]{10,}")),
    ("a Bearer or Basic credential", re.compile(r"\b(bearer|basic)\s+(?=[A-Za-z0-9._~+/-]*[0-9])"
                                                r"(?=[A-Za-z0-9._~+/-]*[A-Za-z])[A-Za-z0-9._~+/-]{12,}=*", re.I)),
    ("a URL with a password", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.I)),
    ("kubeconfig text", re.compile(r"(client-key-data|client-certificate-data|certificate-authority-data)\s*:"
                                   r"|\bkind:\s*Config\b[\s\S]*\b(users|clusters|contexts):", re.I)),
    ("a password or key setting", re.compile(
        r"(?i)(?<![a-z0-9])(password|passwd|pwd|passphrase|secret|client[_-]?secret|token|api[_-]?key|access[_-]?key|"
        r"secret[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|sig)\s*(=\s*[^\s\"',;&]"
        r"|:\s*(?=\S*[^a-z\s])[^\s\"',;&]{8,})")),
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")  # no separators in 200 characters: encoded data
_WORDISH = re.compile(r"[a-z]{4,}|[A-Z]{4,}")
_PLAIN = re.compile(r"[A-Za-z0-9._/{}-]{0,15}")  # too short and too plain to be any of the above


def secret_key(key) -> bool:
    """A key that names secret material, wherever it is."""
    return isinstance(key, str) and key.lower() in SECRET_KEYS


def secret_free_form_key(key: str) -> bool:
    """A key of a free-form mapping (a selector label) that names secret material."""
    words = [w.lower() for w in _WORDS.findall(key.rsplit("/", 1)[-1])]
    return secret_key(key) or bool(words) and (words[-1] in _SECRET_LAST_WORDS or tuple(words[-2:]) in _SECRET_WORD_PAIRS)


def secret_kind(text: str) -> str:
    """What secret ``text`` looks like, or ''."""
    if _PLAIN.fullmatch(text):
        return ""
    found = next((what for what, pattern in _PATTERNS if pattern.search(text)), "")
    return found or _random_base64(text)


def _random_base64(text: str) -> str:
    """Base64 (standard or URL-safe) that looks random, or a long unbroken base64 block; the lines of a
    wrapped block are joined first."""
    lines = text.split()
    candidates = _BASE64_RUN.findall(text)
    if len(lines) > 1 and all(_BASE64_RUN.fullmatch(line) for line in lines[:-1]):
        candidates.append("".join(lines))
    if any(_LONG_BASE64.fullmatch(c) or _looks_random(c) for c in candidates):
        return "base64 key or certificate data"
    return ""


def _looks_random(run: str) -> bool:
    """Upper and lower case mixed through it, few word-like stretches: keys, not names or paths.

    Random base64 changes character class (upper, lower, digit, other) at about 65% of its positions
    and few of its letters are vowels; camel-case words and paths change class at under 45% and
    about 40% of their letters are vowels. Measured on 40,000 random 32- and 43-character keys, this
    misses about 0.6%; keys shorter than 32 characters are not looked at."""
    body = run.rstrip("=")
    if len(body) < 32 or sum(c.isupper() for c in body) < 2 or sum(c.islower() for c in body) < 2:
        return False
    classes = [_char_class(c) for c in body]
    changes = sum(a != b for a, b in zip(classes, classes[1:])) / (len(body) - 1)
    letters = [c for c in body if c.isalpha()]
    vowels = sum(c in "aeiouAEIOU" for c in letters) / len(letters)
    return changes >= 0.5 or changes >= 0.33 and vowels < 0.3 and len(_WORDISH.findall(body)) * 10 <= len(body)


def _char_class(c: str) -> int:
    return 0 if c.isupper() else 1 if c.islower() else 2 if c.isdigit() else 3
