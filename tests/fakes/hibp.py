"""A stand-in for Have I Been Pwned API v3: `breacheddomain/{domain}` and `breaches`.

Like the real service it wants a `User-Agent` (403 without one) and the `hibp-api-key`
header (401 when absent or wrong) on domain searches, answers 403 for a domain not verified
for the key, 404 for a verified domain with no breached address, and 429 with `Retry-After`
when told to. The test changes `state` between polls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


def breach(name: str, added: str, *, title: str | None = None, domain: str = "", data_classes=None,
           description: str = "", pwn_count: int = 1000) -> dict:
    """A breach object with every field the real API returns."""
    return {
        "Name": name, "Title": title or name, "Domain": domain, "BreachDate": added[:10],
        "AddedDate": added, "ModifiedDate": added, "PwnCount": pwn_count, "Description": description,
        "LogoPath": f"https://logos.haveibeenpwned.com/{name}.png",
        "DataClasses": list(data_classes or ["Email addresses", "Passwords"]),
        "IsVerified": True, "IsFabricated": False, "IsSensitive": False, "IsRetired": False,
        "IsSpamList": False, "IsMalware": False, "IsSubscriptionFree": False, "IsStealerLog": False,
    }


@dataclass
class HibpState:
    api_key: str = "0123456789abcdef0123456789abcdef"
    verified: set[str] = field(default_factory=set)
    domains: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # domain -> alias -> breaches
    breaches: list[dict] = field(default_factory=list)
    retry_after: int | None = None  # every answer is 429 with this Retry-After
    requests: list[dict] = field(default_factory=list)  # path and headers of each request


def hibp_app(state: HibpState) -> web.Application:
    def common(request: web.Request) -> web.Response | None:
        state.requests.append({"path": request.path, "headers": dict(request.headers)})
        if not request.headers.get("User-Agent"):
            return web.json_response({"statusCode": 403, "message": "No user agent"}, status=403)
        if state.retry_after is not None:
            return web.json_response({"statusCode": 429, "message": "Rate limit is exceeded."}, status=429,
                                     headers={"Retry-After": str(state.retry_after)})
        return None

    async def domain_search(request: web.Request) -> web.Response:
        refused = common(request)
        if refused is not None:
            return refused
        if request.headers.get("hibp-api-key") != state.api_key:
            return web.json_response({"statusCode": 401, "message": "Access denied due to invalid hibp-api-key."},
                                     status=401)
        domain = request.match_info["domain"]
        if domain not in state.verified:
            return web.json_response({"statusCode": 403, "message": "Domain not verified."}, status=403)
        found = state.domains.get(domain)
        if not found:
            return web.Response(status=404)
        return web.json_response(found)

    async def breaches(request: web.Request) -> web.Response:
        refused = common(request)
        if refused is not None:
            return refused
        return web.json_response(state.breaches)

    app = web.Application()
    app.router.add_get("/api/v3/breacheddomain/{domain}", domain_search)
    app.router.add_get("/api/v3/breaches", breaches)
    return app
