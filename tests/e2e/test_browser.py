"""Issue 13, readable in a browser: a real headless Chromium (Debian's `chromium`; .ci/run installs
it) against a real `syndication serve` with the demo data set. The index page, a feed's HTML
page, an RSS feed, an Atom feed, OPML and sitemaps each render with their stylesheet applied —
checked on the page's computed styles, not on the markup — and the tag filter filters.

Under CI a missing chromium fails the test; on a fresh clone it is skipped with the reason.
Screenshots go to the test's temporary folder, or to $SYNDICATION_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Server, required_program, start_server
from tests.e2e.chromium import Chromium, Tab

pytestmark = [pytest.mark.e2e]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("browser")
    db = tmp / "demo.db"
    subprocess.run(
        [sys.executable, "-m", "syndication.cli", "--db", str(db), "demo", "--articles", "300"],
        cwd=ROOT, check=True, capture_output=True,
        env={**os.environ, "SYNDICATION_SITE_URL": "https://example.ru"},
    )  # fmt: skip
    server = start_server(tmp, db=db)
    try:
        yield server
    finally:
        server.stop()
        assert b"Traceback" not in server.log.read_bytes(), server.log.read_text()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = required_program("chromium", also_in=())
    tmp = tmp_path_factory.mktemp("chromium")
    chromium = Chromium(binary, tmp / "profile", tmp / "chromium.log")
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    named = os.environ.get("SYNDICATION_SCREENSHOTS")
    if named:
        Path(named).mkdir(parents=True, exist_ok=True)
        return Path(named)
    return tmp_path_factory.mktemp("screenshots")


def style(tab: Tab, selector: str, prop: str, pseudo: str | None = None) -> str:
    """The computed value of `prop` on the first element `selector` finds (XML documents take
    namespaced selectors through querySelector's `*|name`)."""
    pseudo_js = f'"{pseudo}"' if pseudo else "null"
    value = tab.evaluate(
        f"(() => {{ const el = document.querySelector({selector!r});"
        f" return el ? getComputedStyle(el, {pseudo_js}).getPropertyValue({prop!r}) : null; }})()"
    )
    assert value is not None, f"no {selector} on the page"
    return str(value)


def assert_styled_xml(tab: Tab, root: str, item: str, hidden: str | None = None) -> None:
    """The XML document is laid out by our stylesheet: not Chromium's source view (a <pre> of
    text for the feed types) nor its tree viewer (no stylesheet): the root is the document's
    own, items are blocks (XML elements are inline without a stylesheet), ids are hidden and
    the banner saying what the document is shows."""
    assert tab.evaluate("document.contentType") == "application/xml"
    assert tab.evaluate("document.documentElement.localName") == root
    assert tab.evaluate("document.styleSheets.length") == 1
    assert tab.evaluate("document.styleSheets[0].href").endswith("/assets/xml.css")
    assert style(tab, f"*|{item}", "display") in ("block", "flex")
    assert style(tab, f"*|{item}", "background-color") == "rgb(255, 255, 255)"
    if hidden is not None:
        assert style(tab, f"*|{hidden}", "display") == "none"
    banner = style(tab, ":root", "content", "::before")
    assert len(banner) > 40, banner
    assert tab.console_problems(tab.origin) == []


def test_an_rss_feed_renders_styled(served: Server, browser: Chromium, shots: Path) -> None:
    tab = browser.open(served.base_url + "/feeds/all.rss")
    assert_styled_xml(tab, "rss", "item", "guid")
    assert "RSS" in style(tab, ":root", "content", "::before")
    assert style(tab, "*|item > *|title", "font-weight") == "600"
    tab.screenshot(shots / "feed-rss.png")


def test_an_atom_feed_renders_styled(served: Server, browser: Chromium, shots: Path) -> None:
    tab = browser.open(served.base_url + "/feeds/rubric/glavnoe.atom")
    assert_styled_xml(tab, "feed", "entry", "id")
    assert "Atom" in style(tab, ":root", "content", "::before")
    # The escaped HTML body is no text for a person: hidden, the summary shown.
    assert style(tab, "*|entry > *|content", "display") == "none"
    assert style(tab, "*|entry > *|summary", "display") == "block"
    tab.screenshot(shots / "feed-atom.png")


def test_sitemaps_and_opml_render_styled(served: Server, browser: Chromium, shots: Path) -> None:
    tab = browser.open(served.base_url + "/sitemap.xml")
    assert_styled_xml(tab, "sitemapindex", "sitemap")
    month = tab.evaluate("document.querySelector('*|loc').textContent")
    tab.screenshot(shots / "sitemap-index.png")
    tab = browser.open(month)
    assert_styled_xml(tab, "urlset", "url")
    assert style(tab, "*|lastmod", "display") == "block"
    tab = browser.open(served.base_url + "/opml.xml")
    assert_styled_xml(tab, "opml", "outline[xmlUrl]", "docs")
    assert "Список лент" in style(tab, ":root", "content", "::before")


def test_a_reader_still_gets_the_registered_types(served: Server) -> None:
    """What a feed reader asks for (or no Accept at all) gets the registered media type; the
    same bytes go to a browser as application/xml."""
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    with httpx.Client(base_url=served.base_url) as c:
        for path, registered in (("/feeds/all.rss", "application/rss+xml"),
                                 ("/feeds/all.atom", "application/atom+xml"),
                                 ("/opml.xml", "text/x-opml")):  # fmt: skip
            reader = c.get(path, headers={"Accept": "application/rss+xml, */*;q=0.5"})
            bare = c.get(path)
            person = c.get(path, headers={"Accept": browser_accept})
            assert reader.headers["content-type"].startswith(registered)
            assert bare.headers["content-type"].startswith(registered)
            assert person.headers["content-type"] == "application/xml; charset=utf-8"
            assert reader.content == person.content
            assert person.headers["etag"] != reader.headers["etag"]
            for r in (reader, bare, person):
                assert r.headers["vary"] == "Accept-Encoding, Accept"


def tag_names(html: str) -> list[str]:
    return [unescape(name) for name in re.findall(r'<li data-name="([^"]*)"', html)]


def test_the_index_page_is_styled_readable_on_a_phone_and_filters(
    served: Server, browser: Chromium, shots: Path
) -> None:
    names = tag_names(httpx.get(served.base_url + "/").text)
    assert len(names) > 50
    tab = browser.open(served.base_url + "/", width=390, height=844, mobile=True)
    assert tab.evaluate("document.styleSheets.length") == 1
    assert style(tab, "ul.feeds > li", "display") == "flex"
    assert style(tab, "ul.feeds > li", "border-top-left-radius") == "8px"
    # No sideways scrolling on a phone.
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The script ran (the filter box is shown only by it) and nothing was refused by the CSP.
    assert tab.evaluate("document.querySelector('[data-filter-box]').hidden") is False
    assert tab.console_problems(served.base_url) == []
    visible = "document.querySelectorAll('[data-filter-group] li[data-name]:not([hidden])').length"
    assert tab.evaluate(visible) == len(names)
    tab.screenshot(shots / "index-phone.png")

    # A person types part of a name: only the tags holding it stay, case and ё folded.
    query = "КОРОЛЁВ"
    expected = [n for n in names if "королев" in n]
    assert 0 < len(expected) < len(names)
    tab.evaluate("document.getElementById('tag-filter').focus()")
    tab.type_text(query)
    assert tab.evaluate(visible) == len(expected)
    shown = tab.evaluate(
        "Array.from(document.querySelectorAll('[data-filter-group] li[data-name]'))"
        ".filter(li => li.offsetParent !== null).map(li => li.dataset.name)"
    )
    assert shown == expected
    status = tab.evaluate("document.getElementById('filter-status').textContent")
    assert status == f"Найдено: {len(expected)} из {len(names)}"
    # A kind with no match is hidden whole (the demo's people match, its topics do not), and
    # each kind's count says how many of it are shown.
    kinds = tab.evaluate(
        "Array.from(document.querySelectorAll('[data-filter-group]')).map(g => [g.hidden,"
        " g.querySelectorAll('li[data-name]:not([hidden])').length,"
        " g.querySelector('[data-filter-count]').textContent])"
    )
    assert len(kinds) == 3
    assert [hidden for hidden, _, _ in kinds] == [shown == 0 for _, shown, _ in kinds]
    assert any(hidden for hidden, _, _ in kinds)
    assert [count for _, _, count in kinds] == [str(shown) for _, shown, _ in kinds]
    tab.screenshot(shots / "index-filtered.png")
    # Cleared: everything again.
    tab.evaluate(
        "(() => { const i = document.getElementById('tag-filter'); i.value = '';"
        " i.dispatchEvent(new Event('input')); })()"
    )
    assert tab.evaluate(visible) == len(names)


def test_a_feed_page_renders_styled(served: Server, browser: Chromium, shots: Path) -> None:
    tab = browser.open(served.base_url + "/feeds/rubric/glavnoe")
    assert tab.evaluate("document.contentType") == "text/html"
    assert style(tab, "article.item", "display") == "flow-root"
    assert style(tab, "article.item", "border-top-left-radius") == "8px"
    assert tab.evaluate("document.querySelectorAll('article.item').length") > 0
    # Copy buttons are the script's: shown once it ran.
    assert tab.evaluate("document.querySelectorAll('button[data-copy]:not([hidden])').length") == 3
    assert tab.evaluate("document.querySelector('link[rel=alternate]').type") == (
        "application/rss+xml"
    )
    assert tab.console_problems(served.base_url) == []
    tab.screenshot(shots / "feed-page.png")
