"""A stand-in for an Alaveteli FOI portal (the software behind WhatDoTheyKnow).

Speaks Alaveteli's shapes (config/routes.rb, app/views/track/atom_feed.atom.erb):

- `/feed/body/{url_name}`: an Atom feed of request events, entry ids
  `tag:{host},2005:InfoRequestEvent/{id}`, links to `/request_event/{id}`, HTML title and content;
- `/request_event/{id}`: a redirect to `/request/{url_title}#incoming-{incoming_id}`;
- `/request/{url_title}`: the request page, linking every response's attachments as
  `/request/{request_id}/response/{incoming_id}/attach/{part}/{file}?cookie_passthrough=1`,
  each next to its `attach/html/{part}/{file}.html` rendering, plus links elsewhere;
- the attachments themselves.

All data is synthetic. The test changes `state` between polls.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

HIDDEN_STAFF = [("Tamsin", "Oakridge-Vell", "PC", "40917"), ("Corwen", "Ashby-Lund", "DS", "40918"),
                ("Ilsa", "Penhallow", "PS", "40919")]


def xlsx_with_hidden_sheet() -> bytes:
    """A workbook whose visible sheet holds totals and whose hidden sheet holds (synthetic) staff rows."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    ws.append(["Rank", "Headcount"])
    ws.append(["PC", 3])
    hidden = wb.create_sheet("Data")
    hidden.append(["Forename", "Surname", "Rank", "Pay No"])
    for row in HIDDEN_STAFF:
        hidden.append(list(row))
    hidden.sheet_state = "hidden"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


@dataclass
class Attachment:
    part: int
    file: str  # as it appears in the URL (already URL-encoded where needed)
    body: bytes
    content_type: str
    fail_first: int = 0  # answer 503 this many times first
    rate_limit_first: int = 0  # answer 429 with Retry-After: 120 this many times first


@dataclass
class Response:
    incoming_id: int
    attachments: list[Attachment]


@dataclass
class FoiRequest:
    id: int
    url_title: str
    title: str
    responses: list[Response] = field(default_factory=list)


@dataclass
class Event:
    id: int
    request: FoiRequest
    when: datetime
    incoming_id: int | None = None
    text: str = "Response by Example Constabulary to A. Requester on 2 May 2024."


@dataclass
class FoiState:
    body_events: dict[str, list[Event]] = field(default_factory=dict)  # body url_name -> its events
    requests: list[str] = field(default_factory=list)  # paths asked for, in order
    garbage_feed: bool = False
    page_fail_first: int = 0  # request pages answer 503 this many times first

    def fetched(self, fragment: str) -> int:
        return sum(1 for p in self.requests if fragment in p)


def attach_path(req: FoiRequest, resp: Response, a: Attachment) -> str:
    return f"/request/{req.id}/response/{resp.incoming_id}/attach/{a.part}/{a.file}"


def foi_app(state: FoiState) -> web.Application:
    def find_request(url_title: str) -> FoiRequest | None:
        for events in state.body_events.values():
            for e in events:
                if e.request.url_title == url_title:
                    return e.request
        return None

    async def feed(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        if state.garbage_feed:
            return web.Response(text="<html><body>Internal error</body></html>", content_type="text/html")
        host = request.host.split(":")[0]
        base = f"http://{request.host}"
        events = sorted(state.body_events.get(request.match_info["url_name"], []), key=lambda e: e.when,
                        reverse=True)
        entries = []
        for e in events:
            listing = (f'<span class="desc">{escape(e.text)}</span>'
                       f'<span class="bottomline">Awaiting classification.</span>')
            entries.append(
                "<entry>"
                f"<id>tag:{host},2005:InfoRequestEvent/{e.id}</id>"
                f"<published>{e.when.isoformat()}</published>"
                f"<link type=\"text/html\" rel=\"alternate\" href={quoteattr(f'{base}/request_event/{e.id}')}/>"
                f"<title type=\"html\">{escape(escape(e.request.title))}</title>"
                f"<content type=\"html\">{escape(listing)}</content>"
                "</entry>")
        xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xml:lang=\"en-US\" xmlns=\"http://www.w3.org/2005/Atom\">"
               f"<id>tag:{host},2005:{request.path}</id>"
               f"<link type=\"text/html\" rel=\"alternate\" href=\"{base}\"/>"
               f"<link type=\"application/atom+xml\" rel=\"self\" href=\"{base}{request.path}\"/>"
               "<title>Requests to Example Constabulary</title>" + "".join(entries) + "</feed>\n")
        return web.Response(text=xml, content_type="application/atom+xml")

    async def event(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        eid = int(request.match_info["id"])
        for events in state.body_events.values():
            for e in events:
                if e.id == eid:
                    anchor = f"#incoming-{e.incoming_id}" if e.incoming_id else ""
                    raise web.HTTPFound(f"/request/{e.request.url_title}{anchor}")
        raise web.HTTPNotFound()

    async def page(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        if state.page_fail_first > 0:
            state.page_fail_first -= 1
            return web.Response(status=503, text="busy")
        req = find_request(request.match_info["url_title"])
        if req is None:
            raise web.HTTPNotFound()
        parts = [f"<html><head><title>{escape(req.title)} - a Freedom of Information request</title></head><body>",
                 f"<h1>{escape(req.title)}</h1>",
                 '<a href="/body/example_constabulary">Example Constabulary</a>',
                 '<a href="https://other.example/request/1/response/2/attach/3/elsewhere.csv">mirror</a>']
        for resp in req.responses:
            parts.append(f'<div class="correspondence" id="incoming-{resp.incoming_id}"><p>Please find attached.</p>'
                         '<ul class="list-of-attachments">')
            for a in resp.attachments:
                path = attach_path(req, resp, a)
                parts.append(f'<li><a href="{path}?cookie_passthrough=1">{escape(a.file)}</a> '
                             f'<a href="/request/{req.id}/response/{resp.incoming_id}/attach/html/{a.part}/{a.file}.html">'
                             'View as HTML</a></li>')
            parts.append("</ul></div>")
        parts.append("</body></html>")
        return web.Response(text="\n".join(parts), content_type="text/html")

    async def attachment(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        rid, inc, part = (int(request.match_info[k]) for k in ("rid", "inc", "part"))
        for events in state.body_events.values():
            for e in events:
                if e.request.id != rid:
                    continue
                for resp in e.request.responses:
                    if resp.incoming_id != inc:
                        continue
                    for a in resp.attachments:
                        if a.part == part:
                            if a.rate_limit_first > 0:
                                a.rate_limit_first -= 1
                                return web.Response(status=429, text="slow down", headers={"Retry-After": "120"})
                            if a.fail_first > 0:
                                a.fail_first -= 1
                                return web.Response(status=503, text="busy")
                            return web.Response(body=a.body, headers={"Content-Type": a.content_type})
        raise web.HTTPNotFound()

    async def as_html(request: web.Request) -> web.Response:
        state.requests.append(request.path)
        return web.Response(text="<html><body>rendered</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed/body/{url_name}", feed)
    app.router.add_get("/request_event/{id}", event)
    app.router.add_get("/request/{rid}/response/{inc}/attach/html/{part}/{file:.*}", as_html)
    app.router.add_get("/request/{rid}/response/{inc}/attach/{part}/{file:.*}", attachment)
    app.router.add_get("/request/{url_title}", page)
    return app
