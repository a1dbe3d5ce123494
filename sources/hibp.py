"""Have I Been Pwned (API v3): the force's verified domains, and the catalogue of breaches.

- Domain search, `GET {base}/api/v3/breacheddomain/{domain}` → `{"alias": ["Breach", ...]}`:
  one document per domain listing `alias@domain: Breach1, Breach2` lines, so the e-mail
  matcher finds roster addresses in it. Its external id is the domain plus a digest of the
  lines (HMAC-SHA256 under the API key, so the id alone cannot be checked against guessed
  addresses): a changed answer is a new document, an unchanged one deduplicates. 404 means
  no breached address on that domain (no document).
- Breaches, `GET {base}/api/v3/breaches`: each breach not seen before becomes a document
  (title, domain, data classes, description), so a supplier's breach is matched too.

401 and 403 raise SourceError naming the likely cause (key refused, domain not verified),
never the key. 429 with Retry-After is handled by the shared HTTP client.

Cursor: `{"added": newest AddedDate seen (ISO), "names": breach names added at that instant}`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote

from leakwatch.http import Http, SourceError
from leakwatch.models import Item, Poll, SourceSettings
from sources._options import iso as _iso
from sources._options import parse_time as _parse_time
from sources._options import read_secret, unknown_options

DEFAULT_BASE = "https://haveibeenpwned.com"
BREACH_PAGE = "https://haveibeenpwned.com/PwnedWebsites#{name}"
_OPTIONS = {"api_key_file", "domains"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")




class HibpSource:
    kind: ClassVar[str] = "hibp"

    def __init__(self, settings: SourceSettings):
        self.settings = settings
        opts = settings.options
        unknown_options(opts, _OPTIONS)
        if "api_key_file" not in opts:
            raise ValueError("api_key_file: required (a file holding the HIBP API key)")
        self._key = read_secret(opts["api_key_file"], "api_key_file", what="key")
        domains = opts.get("domains", [])
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise ValueError("domains: expected a list of domain names")
        self.domains: list[str] = []
        for raw in domains:
            domain = raw.strip().lower().rstrip(".")
            if not _DOMAIN.match(domain):
                raise ValueError(f"domains: {raw!r} is not a domain name")
            if domain not in self.domains:
                self.domains.append(domain)
        self.base = (settings.base_url or DEFAULT_BASE).rstrip("/")

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"HibpSource({self.settings.name!r})"

    def _headers(self) -> dict[str, str]:
        return {"hibp-api-key": self._key, "Accept": "application/json"}

    async def poll(self, http: Http, cursor: dict | None) -> Poll:
        items: list[Item] = []
        for domain in self.domains:
            item = await self._domain(http, domain)
            if item is not None:
                items.append(item)
        breaches, cursor = await self._breaches(http, cursor or {})
        return Poll(items + breaches, cursor)

    # ------------------------------------------------------------------ domain search

    async def _domain(self, http: Http, domain: str) -> Item | None:
        resp = await http.get(f"{self.base}/api/v3/breacheddomain/{quote(domain)}", headers=self._headers(),
                              cap=self.settings.max_bytes, timeout=self.settings.timeout,
                              ok=(200, 401, 403, 404))
        if resp.status == 401:
            raise SourceError("hibp: HTTP 401, the API key was refused (check api_key_file)", status=401)
        if resp.status == 403:
            raise SourceError(f"hibp: HTTP 403 for domain search of {domain}: the domain is not verified "
                              "for this key's account, or the subscription does not cover it", status=403)
        if resp.status == 404:
            return None
        data = resp.json()
        if not isinstance(data, dict):
            raise SourceError(f"hibp: domain search answer for {domain} is not a JSON object", status=resp.status)
        lines = []
        for alias, names in sorted(data.items()):
            if not isinstance(alias, str) or not alias or not isinstance(names, list):
                raise SourceError(f"hibp: domain search answer for {domain} is malformed", status=resp.status)
            breaches = sorted({n for n in names if isinstance(n, str)})
            lines.append(f"{alias}@{domain}: {', '.join(breaches)}")
        if not lines:
            return None
        text = "\n".join(lines) + "\n"
        digest = hmac.new(self._key.encode(), f"{domain}\n{text}".encode(), hashlib.sha256).hexdigest()[:24]
        return Item(
            external_id=f"domain:{domain}#{digest}",
            body=f"HIBP domain search: {domain}\n{text}".encode(),
            name=f"hibp-{domain}.txt",
            url=None,
        )

    # ------------------------------------------------------------------ breach catalogue

    async def _breaches(self, http: Http, cursor: dict) -> tuple[list[Item], dict]:
        resp = await http.get(f"{self.base}/api/v3/breaches", headers=self._headers(),
                              cap=self.settings.max_bytes, timeout=self.settings.timeout, ok=(200, 401, 403))
        if resp.status in (401, 403):
            raise SourceError(f"hibp: HTTP {resp.status} for the breach list (the request was refused)",
                              status=resp.status)
        data = resp.json()
        if not isinstance(data, list):
            raise SourceError("hibp: breach list is not a JSON array", status=resp.status)
        mark = _parse_time(cursor.get("added"))
        mark_names = set(cursor.get("names") or [])
        new_mark, new_names = mark, set(mark_names)
        items = []
        for breach in data:
            if not isinstance(breach, dict) or not isinstance(breach.get("Name"), str) or not breach["Name"]:
                continue
            name = breach["Name"]
            added = _parse_time(breach.get("AddedDate"))
            if added is None:
                continue
            if mark is not None and (added < mark or (added == mark and name in mark_names)):
                continue
            items.append(_breach_item(breach, name, added))
            if new_mark is None or added > new_mark:
                new_mark, new_names = added, {name}
            elif added == new_mark:
                new_names.add(name)
        items.sort(key=lambda i: (i.published, i.external_id))
        out = dict(cursor)
        if new_mark is not None:
            out = {"added": _iso(new_mark), "names": sorted(new_names)}
        return items, out


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _breach_item(breach: dict, name: str, added: datetime) -> Item:
    lines = [
        f"Title: {_text(breach.get('Title'))}",
        f"Name: {name}",
        f"Domain: {_text(breach.get('Domain'))}",
        f"BreachDate: {_text(breach.get('BreachDate'))}",
        f"AddedDate: {_text(breach.get('AddedDate'))}",
        f"PwnCount: {_text(breach.get('PwnCount'))}",
        f"DataClasses: {_text(breach.get('DataClasses'))}",
    ]
    flags = [k[2:] for k in ("IsVerified", "IsFabricated", "IsSensitive", "IsSpamList", "IsMalware", "IsStealerLog")
             if breach.get(k) is True]
    if flags:
        lines.append(f"Flags: {', '.join(flags)}")
    lines.append(f"Description: {_text(breach.get('Description'))}")
    return Item(
        external_id=f"breach:{name}",
        body=("\n".join(lines) + "\n").encode(),
        name=f"hibp-breach-{_SAFE.sub('_', name)[:80]}.txt",
        url=BREACH_PAGE.format(name=quote(name)),
        published=added,
    )
