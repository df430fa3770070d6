"""Links in outbound text: where they point, and whether that may travel.

Links are looked for in the *plain* view (confusables folded, lower case, zero-width characters gone), so
``drive.gооgle.com`` with Cyrillic ``о`` is ``drive.google.com``. Obfuscated spellings are read too:
``drive . google . com``, ``drive[.]google[.]com``, ``drive(dot)google(dot)com``,
``drive punto google punto com``, ``hxxps://``, ``https[:]//``.

* A host with a scheme (``https://``, ``hxxp://``) is a link whatever its top-level domain (IP addresses
  too). Without a scheme a host needs a known top-level domain: one that is no Spanish word (``com``,
  ``net``, ``org``, ``mx``, ``ly`` ...) is enough, even spaced out; one that is (``es``, ``de``, ``la``,
  ``me``, ``co`` ...) counts only written compactly with ``www.`` or a path (``listo.es`` alone is a
  missing space after a full stop, ``www.listo.es`` is a link). An e-mail address is not a link.
* :class:`LinkPolicy` says which links are refused: one to a file-sharing site, a paste site or a link
  shortener (``data/file_sharing_domains.txt``) always; any other link that is not the clinic's own
  when a member of staff wrote it. The clinic's own: the hosts (and their subdomains) of its clinic.yml
  URLs and of ``allowed_link_domains`` in policies/disclosure.yml; and the exact clinic.yml URLs, even on
  a shortener (a ``maps.app.goo.gl`` ``maps_url``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

__all__ = ["Link", "LinkPolicy", "find_links", "sharing_domains"]

SHARING_FILE = Path(__file__).resolve().parent / "data" / "file_sharing_domains.txt"
# Top-level domains that are no Spanish (or common English) word: a host ending in one is a link even
# when its dots are spaced out or bracketed.
_STRONG_TLDS: tuple[str, ...] = (
    "com", "net", "org", "mx", "io", "ly", "gl", "nz", "ms", "info", "biz", "app", "site", "online",
    "link", "xyz", "page", "dev", "cloud", "store", "shop", "live", "moe", "cc", "tk", "ee", "ph", "sh",
    "gd", "gg", "ws", "fm", "gob", "edu", "ru", "cn", "uk", "br", "ar", "cl", "pe", "ec", "gt", "hn",
    "cr", "sv", "py", "uy", "bo", "nl", "pl", "pt", "jp", "kr", "au", "ch", "fr", "eu", "tv",
)
# Top-level domains that are also words ("es", "la", "me", "no", "si", "co", "to", "do", "se", "su",
# "tu", "al", "mi"): only compact, with "www." or a path.
_WEAK_TLDS = ("es", "co", "me", "to", "la", "do", "se", "su", "tu", "si", "no", "al", "mi", "in", "so",
              "be", "id", "is", "it", "us", "ve", "cu", "ni", "pa", "pr", "de", "at", "ai", "ca", "im")

def _sharing_tlds() -> set[str]:
    lines = SHARING_FILE.read_text(encoding="utf-8").splitlines()
    return {ln.split("#", 1)[0].strip().rsplit(".", 1)[-1] for ln in lines if ln.split("#", 1)[0].strip()}


# The top-level domains of the file-sharing sites and shorteners count as known ones too ("we.tl").
_STRONG_TLDS = (*_STRONG_TLDS, *sorted(_sharing_tlds() - set(_WEAK_TLDS) - set(_STRONG_TLDS)))
_TLDS = tuple(sorted(set(_STRONG_TLDS) | set(_WEAK_TLDS), key=lambda t: (-len(t), t)))
_DOT = (r"(?:\s*(?:\.|\[\s*(?:\.|dot|punto)\s*\]|\(\s*(?:\.|dot|punto)\s*\)|\{\s*(?:\.|dot|punto)\s*\}"
        r"|<\s*(?:\.|dot|punto)\s*>)\s*|\s+(?:dot|punto)\s+)")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TLD_ALT = "|".join(_TLDS)
# Where a host can end: a (possibly obfuscated) dot and a top-level domain.
_CANDIDATE = re.compile(rf"(?:[.\])}}>]|\bdot|\bpunto)\s*(?:{_TLD_ALT})(?![a-z0-9-])")
_CANDIDATE_FAST = re.compile(rf"[.\])}}>]\s*(?:{_TLD_ALT})(?![a-z0-9-])")  # no "dot" / "punto" in the text
_ENDING = re.compile(rf"({_DOT})({_TLD_ALT})\Z")
_HOST_BEFORE = re.compile(rf"(?:{_LABEL}{_DOT})*{_LABEL}\Z")
_SCHEME = re.compile(r"(?<![a-z])(?:h[tx]{2}ps?|ftp|wss?)\s*(?:\[\s*:\s*\]|\(\s*:\s*\)|:)\s*/\s*/\s*"
                     r"((?:[^\s/?#<>\"'()\[\]{}]|[(\[{]\s*(?:\.|dot|punto)\s*[)\]}])+)")
_DOT_SPELLINGS = re.compile(r"\s*(?:\[\s*(?:\.|dot|punto)\s*\]|\(\s*(?:\.|dot|punto)\s*\)"
                            r"|\{\s*(?:\.|dot|punto)\s*\}|<\s*(?:\.|dot|punto)\s*>|\.)\s*|\s+(?:dot|punto)\s+")
_PATH = re.compile(r"[^\s<>\"']*")
_MORE_TLDS = re.compile(rf"(?:\.(?:{_TLD_ALT})(?![a-z0-9-]))*")
_WINDOW = 160


@dataclass(frozen=True, slots=True)
class Link:
    """A link found in a plain view: ``plain[start:end]``, its host and its URL without the scheme."""

    start: int
    end: int
    host: str
    url: str


@cache
def sharing_domains() -> frozenset[str]:
    """Domains of file-sharing, paste and link-shortening sites (read once from the data file)."""
    lines = SHARING_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(ln.split("#", 1)[0].strip().lower() for ln in lines if ln.split("#", 1)[0].strip())


def _under(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _clean_host(raw: str) -> str:
    host = _DOT_SPELLINGS.sub(".", raw.strip().lower())
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host.split("/", 1)[0])
    return host.strip(".")


def _path_after(plain: str, end: int) -> str:
    return _PATH.match(plain, end).group() if end < len(plain) else ""  # type: ignore[union-attr]


def find_links(plain: str) -> list[Link]:
    """Every link in a plain view, left to right (overlaps merged)."""
    found: list[Link] = []
    for m in _SCHEME.finditer(plain) if ":" in plain else ():
        host = _clean_host(m.group(1))
        if host:
            end = m.end(1)
            path = _path_after(plain, end)
            found.append(Link(m.start(), end + len(path), host, host + path))
    candidates = _CANDIDATE if "dot" in plain or "punto" in plain else _CANDIDATE_FAST
    for m in candidates.finditer(plain):
        if any(link.start <= m.start() < link.end for link in found):
            continue
        begin = max(0, m.start() - _WINDOW)
        window = plain[begin:m.end()]
        ending = _ENDING.search(window)
        if ending is None:
            continue
        before = _HOST_BEFORE.search(window, 0, ending.start())
        if before is None:
            continue
        start = begin + before.start()
        if start > 0 and plain[start - 1] in "@.-":  # an e-mail address (or a cut label)
            continue
        raw = window[before.start():]
        compact = ending.group(1) == "." and "." in raw and not re.search(r"\s|\[|\(|\{|<", raw)
        tld = ending.group(2)
        more = _MORE_TLDS.match(plain, m.end()).group()  # type: ignore[union-attr]  # ".com.mx"
        path = _path_after(plain, m.end() + len(more))
        host = _clean_host(raw + more)
        www = host.startswith("www.")
        if tld not in _STRONG_TLDS and not (compact and (www or path.startswith("/"))):
            continue
        if not compact and len(host.split(".")) < 2:
            continue
        found.append(Link(start, m.end() + len(more) + len(path), host, host + path))
    found.sort(key=lambda link: link.start)
    return found


def _normal_url(url: str) -> str:
    url = url.strip().lower()
    parts = urlsplit(url if "://" in url else "//" + url)
    host = (parts.hostname or "").removeprefix("www.")
    return (host + parts.path).rstrip("/") + (("?" + parts.query) if parts.query else "")


@dataclass(frozen=True)
class LinkPolicy:
    """Which links may travel: the clinic's own hosts and exact URLs (see the module docstring)."""

    own_hosts: frozenset[str] = frozenset()
    own_urls: frozenset[str] = frozenset()

    @classmethod
    def of(cls, urls: Iterable[str] = (), domains: Iterable[str] = ()) -> LinkPolicy:
        """From the clinic's URLs (clinic.yml) and allowed domains (policies/disclosure.yml)."""
        sharing = sharing_domains()
        hosts: set[str] = set()
        exact: set[str] = set()
        for url in urls:
            if not isinstance(url, str) or not url.strip():
                continue
            normal = _normal_url(url)
            host = normal.split("/", 1)[0]
            exact.add(normal)
            if host and not _under(host, sharing):
                hosts.add(host)
        for domain in domains:
            host = _normal_url(domain).split("/", 1)[0]
            if host and not _under(host, sharing):
                hosts.add(host)
        return cls(frozenset(hosts), frozenset(exact))

    def refused(self, link: Link, *, staff: bool) -> bool:
        """True when ``link`` may not be sent (``staff``: written by a person in the inbox)."""
        host = link.host.removeprefix("www.")
        if _normal_url(link.url.rstrip(".,;:!?)")) in self.own_urls:
            return False
        if _under(host, sharing_domains()):
            return True
        return staff and not _under(host, self.own_hosts)
