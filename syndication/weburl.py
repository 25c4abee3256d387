"""One URL from the CMS → the form sitemaps and feeds accept, or ValueError saying why not.

The result is an absolute http(s) URI in the strict RFC 3986 sense (ASCII only, so it is also a
valid `xsd:anyURI` and a valid Atom/RSS link), at most 2,048 characters as the sitemap protocol
requires, and `normalise_url` is idempotent, so a URL read back from the store and written again
does not change. What it does:

- surrounding whitespace and C0 controls are dropped and tabs/newlines inside removed, as a
  browser does with an `href` (copy-paste from the CMS editor leaves them);
- scheme and host are lower-cased; the host is IDNA-encoded (`новости.рф` → `xn--b1amnebsh.xn--p1ai`)
  with IDNA 2008 and the UTS 46 mapping browsers use, via the `idna` package: the stdlib codec is
  IDNA 2003, which maps `faß.de` to `fass.de` — another domain — and accepts labels registries
  no longer issue;
- the default port (80/443) and an empty port are dropped, an empty path becomes `/`;
- path, query and fragment keep every character RFC 3986 allows there (reserved ones included,
  so their meaning is unchanged); anything else is percent-encoded as UTF-8. A valid `%XX`
  escape is kept (its hex digits upper-cased), a `%` not followed by two hex digits becomes `%25`;
- the 2,048-character limit applies to the final, encoded form.

Refused: other schemes, no `//` authority, user name or password (credentials have no place in
a public feed, and `https://example.ru@evil.example/` is a phishing shape), a missing or
malformed host, a port outside 1–65535, lone surrogates (not text that UTF-8 can carry).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote

import idna

MAX_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
HOST_MAX = 253  # DNS: the longest name in its dotted text form, without a final dot

_SCHEME_AND_SLASHES = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_EDGES = re.compile(r"^[\s\x00-\x20]+|[\s\x00-\x20]+\Z")
# ASCII labels that are not A-labels: letters, digits, hyphen, and underscore (not a hostname
# character by RFC 952, but DNS allows it and real subdomains use it; a browser accepts it).
_PLAIN_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_PORT = re.compile(r"[0-9]+")
# One regex per component: a valid escape, or a character that must be escaped there.
_UNRESERVED_AND_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PATH_ESCAPE = re.compile(rf"%[0-9A-Fa-f]{{2}}|[^{_UNRESERVED_AND_SUB}:@/%]|%")
_QUERY_ESCAPE = re.compile(rf"%[0-9A-Fa-f]{{2}}|[^{_UNRESERVED_AND_SUB}:@/?%]|%")


def normalise_url(text: str) -> str:
    """`text` as an absolute, ASCII, RFC 3986 http(s) URL of at most 2,048 characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone surrogate, which is not text") from None
    text = _EDGES.sub("", _TAB_OR_NEWLINE.sub("", text))

    head = _SCHEME_AND_SLASHES.match(text)
    if head is None or head[1].lower() not in DEFAULT_PORTS:
        raise ValueError("must be an absolute http(s) URL")
    scheme = head[1].lower()
    rest = text[head.end() :]

    authority_end = _first_of(rest, "/?#")
    authority, rest = rest[:authority_end], rest[authority_end:]
    # Encoding never shortens a path, query or fragment, and no host is anywhere near this long:
    # no need to encode megabytes to find out they are too long.
    if len(rest) > MAX_LENGTH or len(authority) > MAX_LENGTH:
        raise ValueError(f"is more than {MAX_LENGTH} characters")
    fragment_start = _first_of(rest, "#")
    rest, fragment = rest[:fragment_start], rest[fragment_start:]
    query_start = _first_of(rest, "?")
    path, query = rest[:query_start], rest[query_start:]

    # A present but empty query or fragment ("…?", "…#") is kept: RFC 3986 tells it from none.
    url = (
        f"{scheme}://{_authority(authority, scheme)}"
        f"{_PATH_ESCAPE.sub(_escape, path) or '/'}"
        f"{_QUERY_ESCAPE.sub(_escape, query)}"
        f"{fragment[:1]}{_QUERY_ESCAPE.sub(_escape, fragment[1:])}"
    )
    if len(url) > MAX_LENGTH:
        raise ValueError(
            f"is {len(url)} characters once encoded ({url[:40]}…); at most {MAX_LENGTH}"
        )
    return url


def _first_of(text: str, chars: str) -> int:
    """Index of the first of `chars` in `text`, or its length."""
    return min((i for i in map(text.find, chars) if i >= 0), default=len(text))


def _escape(match: re.Match[str]) -> str:
    found = match[0]
    if len(found) == 3:  # a valid %XX escape: kept, in the upper case RFC 3986 §6.2.2.1 prefers
        return found.upper()
    return "".join(f"%{byte:02X}" for byte in found.encode("utf-8"))


def _authority(authority: str, scheme: str) -> str:
    if "@" in authority:
        raise ValueError("must not contain a user name or password")
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError("has an unclosed [ in its host")
        host = _ip_literal(authority[1:end])
        after = authority[end + 1 :]
        if after and not after.startswith(":"):
            raise ValueError("has characters after its IPv6 host")
        port = after[1:]
        has_port = bool(after)
    else:
        host_text, has_port_sep, port = authority.partition(":")
        host = _domain(host_text)
        has_port = bool(has_port_sep)
    return host + (_port(port, scheme) if has_port else "")


def _ip_literal(text: str) -> str:
    if "%" in text:  # a zone id names an interface of one machine: no public URL has one
        raise ValueError("must not have a zone id in its IPv6 host")
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        raise ValueError(f"has a bad IPv6 host [{text[:60]}]") from None
    return f"[{text.lower()}]"


def _domain(text: str) -> str:
    """A host name → lower-case ASCII, each non-ASCII label an IDNA 2008 A-label."""
    if not text:
        raise ValueError("has no host")
    try:
        # Browsers percent-decode the host before IDNA; so do we (an older ingest stored
        # percent-encoded hosts, and a resent one should come out right).
        decoded = unquote(text, errors="strict")
        mapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    except (UnicodeError, idna.IDNAError) as exc:
        raise ValueError(f"has a host that is not a domain name ({text[:60]!r}: {exc})") from None
    labels = mapped.split(".")
    if len(labels) > 1 and labels[-1] == "":  # a final dot: the root, allowed
        labels.pop()
        final_dot = "."
    else:
        final_dot = ""
    ascii_labels = [_label(label, text) for label in labels]
    host = ".".join(ascii_labels)
    if len(host) > HOST_MAX:
        raise ValueError(f"has a host longer than {HOST_MAX} characters once encoded")
    return host + final_dot


def _label(label: str, host: str) -> str:
    if _PLAIN_LABEL.fullmatch(label) and not label.startswith("xn--"):
        return label
    try:
        if not label:
            raise idna.IDNAError("empty label")
        if label.isascii():
            if not label.startswith("xn--"):
                raise idna.IDNAError(
                    "a label is 1-63 of a-z 0-9 - _, not starting or ending with -"
                )
            idna.ulabel(label)  # an A-label must decode to a valid U-label
            return label
        return idna.alabel(label).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(
            f"has a host that is not a domain name ({host[:60]!r}, label {label[:60]!r}: {exc})"
        ) from None


def _port(text: str, scheme: str) -> str:
    if not text:  # "example.ru:" — RFC 3986 §6.2.3: an empty port is as if there were none
        return ""
    digits = text.lstrip("0")
    if not _PORT.fullmatch(text) or len(digits) > 5 or not 0 < int(digits or "0") <= 65535:
        raise ValueError(f"has a bad port {text[:20]!r} (1-65535)")
    port = int(digits)
    return "" if port == DEFAULT_PORTS[scheme] else f":{port}"
