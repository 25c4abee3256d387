"""The W3C Feed Validator's rules that bear on our RSS 2.0 and Atom 1.0 documents, as plain checks.

The validator (github.com/w3c/feedvalidator) is a web service here out of reach and no package,
so these are its rules re-stated from its source; each problem is named after the message class
the validator would log (`InvalidContact`, `MissingElement`, …). Everything it logs as an error
is here where our documents could break it; of its warnings, those that catch a real fault of a
generator (a self link that is not the document's URL, a missing guid or self link, a relative
reference in HTML, a dangerous element or attribute in HTML, duplicate entry ids, an enclosure
without length) are here too. Not here: warnings about what the text says — "title should not
contain HTML" fires on a headline that is about `<b>` tags, which a feed must carry as it is.

`check(body, url)` returns the problems of one document; an empty list is a pass. Atom documents
are also validated against the RELAX NG schema of RFC 4287 when one is given.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_tz
from urllib.parse import quote

from lxml import etree, html

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
FH = "http://purl.org/syndication/history/1.0"
_A = f"{{{ATOM}}}"

# feedvalidator/validators.py: rfc2396_full, the absolute-URI pattern, and its http check.
_URI = re.compile(r"^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
_HTTP = re.compile(r"^\w+://[^/].*")
# RFC 4151 tag URIs, as the validator matches them.
_TAG = re.compile(
    r"^tag:([a-z0-9\-._]+?@)?[a-z0-9.\-]+?,\d{4}(-\d{2}(-\d{2})?)?:"
    r"[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*(#[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,]*)?$"
)
# RFC 2822 dates as the validator wants them: four-digit year, numeric zone or a named one.
_RFC2822 = re.compile(
    r"^((Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d(:\d\d)? (([+-]?\d\d[03]0)|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z)$"
)
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|[+-]\d\d:\d\d)$")
_MIME = re.compile(
    r'^[^\s()<>,;:\\"/\[\]?=]+/[^\s()<>,;:\\"/\[\]?=]+'
    r'(\s*;\s*[^\s()<>,;:\\"/\[\]?=]+=("(\\"|[^"])*"|[^\s()<>,;:\\"/\[\]?=]+))*$'
)
# feedvalidator/validators.py addr_spec, the pattern of an e-mail address.
_EMAIL = re.compile(
    r"^[A-Z0-9_\-+.'!#$%&*/=?^_`{|}~]+@"
    r"(([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([A-Z0-9\-]+\.)+))([A-Z0-9][-A-Z0-9]*)$",
    re.IGNORECASE,
)
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$")
# feedvalidator/link.py validRelations (IANA and RFC 5005); anything else must be a URI.
LINK_RELATIONS = frozenset({
    "alternate", "current", "describedby", "edit", "edit-media", "enclosure", "first", "hub",
    "last", "license", "next", "next-archive", "payment", "prev-archive", "previous", "related",
    "replies", "search", "self", "service", "up", "via",
})  # fmt: skip
_PAGING = frozenset(
    {"current", "first", "last", "next", "next-archive", "prev-archive", "previous"}
)
# Elements and attributes the validator's HTMLValidator reports as a security risk.
_RISKY_ELEMENTS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "base",
    "link", "meta", "form", "input", "button", "textarea", "select", "noscript", "xmp",
    "plaintext", "template",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    rule: str  # the feedvalidator message class this stands for
    where: str  # the element's path in the document
    detail: str

    def __str__(self) -> str:
        return f"{self.rule} at {self.where}: {self.detail}"


class _Report:
    def __init__(self, tree: etree._ElementTree) -> None:
        self.tree = tree
        self.problems: list[Problem] = []

    def add(self, rule: str, element: etree._Element, detail: str) -> None:
        self.problems.append(Problem(rule, self.tree.getpath(element), detail))


def check(body: bytes, url: str, *, atom_schema: etree.RelaxNG | None = None) -> list[Problem]:
    """The problems the validator's rules find in the RSS 2.0 or Atom 1.0 document `body`,
    served at `url`."""
    head = body[:100]
    if not re.match(rb"<\?xml version=[\"']1\.0[\"'] encoding=[\"'](UTF|utf)-8[\"']", head):
        # Without a declaration a reader must guess; the validator wants the encoding said.
        return [Problem("MissingEncoding", "/", f"no UTF-8 XML declaration: {head[:60]!r}")]
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        return [Problem("SAXError", "/", str(exc))]
    tree = root.getroottree()
    report = _Report(tree)
    if root.tag == "rss":
        _rss(report, root, url)
    elif root.tag == f"{_A}feed":
        _atom(report, root, url)
        if atom_schema is not None and not atom_schema.validate(root):
            for error in atom_schema.error_log:
                report.problems.append(Problem("RelaxNG", f"line {error.line}", error.message))
    else:
        report.add("UndefinedElement", root, f"not an RSS or Atom document: {root.tag!r}")
    return report.problems


# ---------------------------------------------------------------------------------------- shared


def _absolute_uri(value: str) -> bool:
    """rfc2396_full: an absolute URI of ASCII characters; http(s) and ftp with an authority."""
    if not _URI.match(value):
        return False
    scheme = value.split(":", 1)[0].lower()
    if scheme == "tag":
        return bool(_TAG.match(value))
    return not (scheme in ("http", "https", "ftp") and not _HTTP.match(value))


def _absolute_iri(value: str) -> bool:
    """An absolute IRI (RFC 3987): what is left after mapping it to a URI is an absolute URI."""
    return _absolute_uri(quote(value, safe="".join(chr(c) for c in range(0x21, 0x7F))))


def _nonblank(report: _Report, element: etree._Element | None, what: str) -> None:
    if element is not None and not (element.text or "").strip():
        report.add("NotBlank", element, f"{what} is blank")


def _once(report: _Report, parent: etree._Element, tags: Iterable[str]) -> None:
    """The validator's `noduplicates`: these children appear at most once."""
    counts = Counter(child.tag for child in parent)
    for tag in tags:
        if counts[tag] > 1:
            report.add("DuplicateElement", parent, f"{tag} appears {counts[tag]} times")


def _link_relation(report: _Report, link: etree._Element, in_entry: bool) -> None:
    rel = link.get("rel", "alternate")
    if rel not in LINK_RELATIONS and not _absolute_uri(rel):
        report.add("UnregisteredAtomLinkRel", link, f"rel={rel!r}")
    if in_entry and rel in _PAGING:
        report.add("FeedHistoryRelInEntry", link, f"rel={rel!r} in an entry")
    href = link.get("href")
    if href is None:
        report.add("MissingHref", link, "link without href")
    elif not _absolute_iri(href):
        report.add("InvalidFullLink", link, f"href {href!r} is not an absolute IRI")
    link_type = link.get("type")
    if link_type is not None and not _MIME.match(link_type):
        report.add("InvalidMIMEType", link, f"type={link_type!r}")
    length = link.get("length")
    if length is not None and not (length.isascii() and length.isdigit()):
        report.add("InvalidNonNegativeInteger", link, f"length={length!r}")
    if (link.text or "").strip():
        report.add("AtomLinkNotEmpty", link, "link has text")


def _self_link(report: _Report, parent: etree._Element, url: str, media: str) -> None:
    """A feed names itself: rel="self", its own URL, its own media type (MissingSelf,
    SelfDoesntMatchLocation, SelfNotAtom)."""
    links = [link for link in parent.findall(f"{_A}link") if link.get("rel") == "self"]
    if not links:
        report.add("MissingAtomSelfLink", parent, 'no atom:link rel="self"')
        return
    if len(links) > 1:
        report.add("DuplicateAtomLink", parent, f'{len(links)} rel="self" links')
    link = links[0]
    if link.get("href") != url:
        report.add("SelfDoesntMatchLocation", link, f"{link.get('href')!r} is not {url!r}")
    if (link.get("type") or "").split(";")[0] != media:
        report.add("SelfNotAtom", link, f"type={link.get('type')!r}, not {media!r}")


def _paging(report: _Report, parent: etree._Element, url: str) -> None:
    """RFC 5005 links that run past the end of the list (LinkPastEnd); no two alternates of one
    type and language (DuplicateAtomLink); an archive links on (ArchiveIncomplete) and back to
    its current feed (MissingCurrentInArchive)."""
    links = parent.findall(f"{_A}link")
    rels = {link.get("rel", "alternate"): link.get("href") for link in links}
    if rels.get("first") == url and "previous" in rels:
        report.add("LinkPastEnd", parent, "the first page links to a previous one")
    if rels.get("last") == url and "next" in rels:
        report.add("LinkPastEnd", parent, "the last page links to a next one")
    seen: set[tuple[str | None, str | None]] = set()
    for link in links:
        if link.get("rel", "alternate") != "alternate":
            continue
        key = (link.get("type"), link.get("hreflang"))
        if key in seen:
            report.add("DuplicateAtomLink", link, f"a second alternate of type {key[0]!r}")
        seen.add(key)
    if parent.find(f"{{{FH}}}archive") is not None:
        if not {"prev-archive", "next-archive"} & rels.keys():
            report.add("ArchiveIncomplete", parent, "an archive with no archive links")
        if "current" not in rels:
            report.add("MissingCurrentInArchive", parent, 'an archive with no rel="current"')


def _html(report: _Report, element: etree._Element, what: str) -> None:
    """HTML carried as text: escaped or CDATA (no child elements), no element or attribute the
    validator calls a security risk, no relative reference (ContainsRelRef)."""
    if len(element):
        report.add("NotHtml", element, f"{what} holds elements, not escaped HTML")
        return
    text = element.text or ""
    if not text.strip():
        return
    for node in html.fragments_fromstring(text):
        if not isinstance(node, etree._Element):
            continue
        for el in node.iter():
            if not isinstance(el.tag, str):
                continue
            if el.tag.lower() in _RISKY_ELEMENTS:
                report.add("SecurityRisk", element, f"{what} holds <{el.tag}>")
            for name, value in el.attrib.items():
                if name.lower().startswith("on") or name.lower() == "style":
                    report.add("SecurityRiskAttr", element, f"{what}: {el.tag} {name}=")
                if name.lower() in ("href", "src", "cite", "action"):
                    ref = value.strip()
                    if ref.lower().startswith(("javascript:", "vbscript:", "data:")):
                        report.add("SecurityRisk", element, f"{what}: {name}={ref[:40]!r}")
                    elif not re.match(r"^\w+:", ref):
                        report.add("ContainsRelRef", element, f"{what}: {name}={ref!r}")


# ------------------------------------------------------------------------------------------- RSS


def _rfc2822(report: _Report, element: etree._Element | None) -> None:
    if element is None:
        return
    value = element.text or ""
    if not _RFC2822.match(value):
        report.add("InvalidRFC2822Date", element, f"{value!r}")
        return
    parsed = parsedate_tz(value)
    if parsed is None:
        report.add("InvalidRFC2822Date", element, f"{value!r}")
        return
    try:
        day = date(*parsed[:3])
    except ValueError as exc:
        report.add("InvalidRFC2822Date", element, f"{value!r}: {exc}")
        return
    if "," in value and day.strftime("%a") != value[:3]:  # %a: C locale in tests
        report.add("IncorrectDOW", element, f"{value!r} is a {day.strftime('%a')}")


def email_with_name(value: str) -> bool:
    """RSS 2.0 <author>/<managingEditor>: an e-mail address, optionally "address (Name)"."""
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    match = re.match(r"^(\S+@\S+)(\s+\((.*)\))?$", value.strip())
    return bool(match and _EMAIL.match(match.group(1)))


def _rss(report: _Report, root: etree._Element, url: str) -> None:
    if root.get("version") != "2.0":
        report.add("InvalidValue", root, f"rss version={root.get('version')!r}, not 2.0")
    channels = root.findall("channel")
    if len(channels) != 1:
        report.add("MissingElement" if not channels else "DuplicateElement", root,
                   f"{len(channels)} channel elements")  # fmt: skip
        return
    channel = channels[0]
    for tag in ("title", "link", "description"):
        if channel.find(tag) is None:
            report.add("MissingElement", channel, f"channel has no <{tag}>")
    _once(report, channel, ("title", "link", "description", "language", "pubDate",
                            "lastBuildDate", "ttl", "generator", "docs"))  # fmt: skip
    _nonblank(report, channel.find("title"), "channel title")
    link = channel.find("link")
    if link is not None and not _absolute_uri(link.text or ""):
        report.add("InvalidFullLink", link, f"channel link {link.text!r}")
    language = channel.find("language")
    if language is not None and not _LANGUAGE.match(language.text or ""):
        report.add("InvalidLanguage", language, f"{language.text!r}")
    ttl = channel.find("ttl")
    if ttl is not None and not (ttl.text or "").isdigit():
        report.add("InvalidInteger", ttl, f"ttl {ttl.text!r}")
    for tag in ("pubDate", "lastBuildDate"):
        _rfc2822(report, channel.find(tag))
    for atom_link in channel.findall(f"{_A}link"):
        _link_relation(report, atom_link, in_entry=False)
    _self_link(report, channel, url, "application/rss+xml")
    _paging(report, channel, url)
    guids: Counter[str] = Counter()
    for item in channel.findall("item"):
        _rss_item(report, item, guids)
    for guid, count in guids.items():
        if count > 1:
            report.add("DuplicateValue", channel, f"guid {guid!r} is on {count} items")


def _rss_item(report: _Report, item: etree._Element, guids: Counter[str]) -> None:
    title, description = item.find("title"), item.find("description")
    if title is None and description is None:
        report.add("ItemMustContainTitleOrDescription", item, "neither title nor description")
    _once(report, item, ("title", "link", "description", "author", "comments", "enclosure",
                         "guid", "pubDate", "source", f"{{{CONTENT}}}encoded",
                         f"{_A}updated"))  # fmt: skip
    _nonblank(report, title, "item title")
    link = item.find("link")
    if link is not None and not _absolute_uri(link.text or ""):
        report.add("InvalidFullLink", link, f"item link {link.text!r}")
    if description is not None:
        _html(report, description, "description")
    encoded = item.find(f"{{{CONTENT}}}encoded")
    if encoded is not None:
        if description is None:
            report.add("NeedDescriptionBeforeContent", item, "content:encoded, no description")
        _html(report, encoded, "content:encoded")
    _rfc2822(report, item.find("pubDate"))
    updated = item.find(f"{_A}updated")
    if updated is not None and not _RFC3339.match(updated.text or ""):
        report.add("InvalidRFC3339Date", updated, f"{updated.text!r}")
    author = item.find("author")
    if author is not None and not email_with_name(author.text or ""):
        report.add("InvalidContact", author, f"<author> {author.text!r} is no e-mail address")
    for category in item.findall("category"):
        _nonblank(report, category, "category")
    guid = item.find("guid")
    if guid is None:
        report.add("MissingGuid", item, "item has no guid")
    else:
        value = guid.text or ""
        guids[value] += 1
        permalink = guid.get("isPermaLink", "true")
        if permalink not in ("true", "false"):
            report.add("InvalidBooleanAttribute", guid, f"isPermaLink={permalink!r}")
        elif permalink == "true":
            if not _absolute_uri(value):
                report.add("InvalidHttpGUID", guid, f"permalink guid {value!r} is not a URL")
            elif value.lower().startswith(("tag:", "urn:uuid:")):
                report.add("InvalidPermalink", guid, f"permalink guid {value!r}")
        elif len(value) < 9 and value.isdigit():
            report.add("NotSufficientlyUnique", guid, f"guid {value!r}")
    enclosure = item.find("enclosure")
    if enclosure is not None:
        for name in ("url", "length", "type"):
            if enclosure.get(name) is None:
                report.add("MissingAttribute", enclosure, f"enclosure has no {name}")
        length = enclosure.get("length")
        if length is not None and not (length.isascii() and length.isdigit()):
            report.add("InvalidNonNegativeInteger", enclosure, f"length={length!r}")
        enclosure_url = enclosure.get("url")
        if enclosure_url is not None and not _absolute_uri(enclosure_url):
            report.add("InvalidFullLink", enclosure, f"enclosure url {enclosure_url!r}")
        enclosure_type = enclosure.get("type")
        if enclosure_type is not None and not _MIME.match(enclosure_type):
            report.add("InvalidMIMEType", enclosure, f"type={enclosure_type!r}")


# ------------------------------------------------------------------------------------------ Atom


def _rfc3339(report: _Report, element: etree._Element | None) -> None:
    if element is None:
        return
    value = element.text or ""
    if not _RFC3339.match(value):
        report.add("InvalidRFC3339Date", element, f"{value!r}")
        return
    try:
        date.fromisoformat(value[:10])
    except ValueError as exc:
        report.add("InvalidRFC3339Date", element, f"{value!r}: {exc}")


def _id(report: _Report, element: etree._Element | None) -> None:
    if element is not None and not _absolute_iri(element.text or ""):
        report.add("InvalidIRI" if ":" in (element.text or "") else "InvalidFullLink", element,
                   f"id {element.text!r} is not an absolute IRI")  # fmt: skip


def _text_construct(report: _Report, element: etree._Element | None, what: str) -> None:
    if element is None:
        return
    kind = element.get("type", "text")
    if kind == "html":
        _html(report, element, what)
    elif kind == "text":
        if len(element):
            report.add("NotInline", element, f'{what} type="text" holds elements')
    elif kind != "xhtml" and not _MIME.match(kind):
        report.add("InvalidTextType", element, f"{what} type={kind!r}")


def _person(report: _Report, person: etree._Element) -> None:
    name = person.find(f"{_A}name")
    if name is None:
        report.add("MissingElement", person, "author without name")
    else:
        _nonblank(report, name, "author name")
    uri = person.find(f"{_A}uri")
    if uri is not None and not _absolute_iri(uri.text or ""):
        report.add("InvalidFullLink", uri, f"author uri {uri.text!r}")


def _required(report: _Report, parent: etree._Element, what: str) -> None:
    for tag in ("id", "title", "updated"):
        count = len(parent.findall(f"{_A}{tag}"))
        if count == 0:
            report.add("MissingElement", parent, f"{what} has no <{tag}>")
        elif count > 1:
            report.add("DuplicateElement", parent, f"{what} has {count} <{tag}>")


def _atom(report: _Report, feed: etree._Element, url: str) -> None:
    _required(report, feed, "feed")
    _once(report, feed, (f"{_A}subtitle", f"{_A}rights", f"{_A}generator", f"{_A}icon",
                         f"{_A}logo"))  # fmt: skip
    _id(report, feed.find(f"{_A}id"))
    _rfc3339(report, feed.find(f"{_A}updated"))
    _text_construct(report, feed.find(f"{_A}title"), "feed title")
    _nonblank(report, feed.find(f"{_A}title"), "feed title")
    _text_construct(report, feed.find(f"{_A}subtitle"), "subtitle")
    feed_authors = feed.findall(f"{_A}author")
    for person in feed_authors:
        _person(report, person)
    for link in feed.findall(f"{_A}link"):
        _link_relation(report, link, in_entry=False)
    _self_link(report, feed, url, "application/atom+xml")
    _paging(report, feed, url)
    ids: Counter[str] = Counter()
    for entry in feed.findall(f"{_A}entry"):
        _entry(report, entry, has_feed_author=bool(feed_authors))
        ids[entry.findtext(f"{_A}id") or ""] += 1
    for entry_id, count in ids.items():
        if count > 1:
            report.add("DuplicateEntries", feed, f"id {entry_id!r} is on {count} entries")


def _entry(report: _Report, entry: etree._Element, *, has_feed_author: bool) -> None:
    _required(report, entry, "entry")
    _once(report, entry, (f"{_A}content", f"{_A}summary", f"{_A}published", f"{_A}rights",
                          f"{_A}source"))  # fmt: skip
    _id(report, entry.find(f"{_A}id"))
    _rfc3339(report, entry.find(f"{_A}updated"))
    _rfc3339(report, entry.find(f"{_A}published"))
    title = entry.find(f"{_A}title")
    _text_construct(report, title, "entry title")
    _nonblank(report, title, "entry title")
    _text_construct(report, entry.find(f"{_A}summary"), "summary")
    content = entry.find(f"{_A}content")
    _text_construct(report, content, "content")
    authors = entry.findall(f"{_A}author")
    if not authors and not has_feed_author:
        report.add("MissingElement", entry, "no author in the entry or the feed")
    for person in authors:
        _person(report, person)
    links = entry.findall(f"{_A}link")
    for link in links:
        _link_relation(report, link, in_entry=True)
    if content is None:
        if entry.find(f"{_A}summary") is None:
            report.add("MissingTextualContent", entry, "neither content nor summary")
        if not any(link.get("rel", "alternate") == "alternate" for link in links):
            report.add("MissingContentOrAlternate", entry, "no content, no alternate link")
    _paging(report, entry, "")
    for category in entry.findall(f"{_A}category"):
        if not (category.get("term") or "").strip():
            report.add("MissingAttribute", category, "category without term")
        scheme = category.get("scheme")
        if scheme is not None and not _absolute_iri(scheme):
            report.add("InvalidIRI", category, f"scheme {scheme!r}")
