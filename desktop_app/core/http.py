"""HTTP sessions whose environment settings (proxies, no_proxy, CA bundle) are read once, not per request.

A plain `requests.Session` has `trust_env=True`: on every request it reads the proxy variables
(and, on Windows, the system proxy settings in the registry), matches the URL against no_proxy,
and looks up REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE. That is the behaviour users behind corporate
proxies and HTTPS-inspecting gateways need. `session_from_environment` does the same look-ups once,
for the hosts the client will talk to, pins the answers on the session and turns `trust_env` off,
so that a job keeps one decision about where its requests go (and which proxy a clear-text check
approved) however long it runs:

- every given URL's host gets the proxy the environment chooses for it (requests'
  `get_environ_proxies`, so no_proxy and the Windows proxy bypass list are honoured), or ""
  (= connect directly) when it is bypassed; requests picks a `scheme://host` entry first;
- any other host (there should be none: redirects to elsewhere) gets the environment's proxy for
  its scheme, without no_proxy matching;
- `verify` becomes REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE when one is set (as requests does);
- proxies or `verify` set on the session beforehand are kept.

Redirects: every session `session_from_environment` makes is an `OriginBoundSession`, which
refuses (`origins.OriginRefused`) to follow a redirect to another origin than the request's own,
before anything is sent there: the credentials our clients attach (a Basic or Bearer header, an app
key, e.net's passwords in the query string) go only where the person configured them. A session
given by a caller is followed with `resolve_redirects_within_origin`, which applies the same rule.

`never_sent` tells, from requests' and urllib3's exception classes, whether a failed request can
have reached the server: what decides whether a write is "not sent" or "outcome unknown".

Settings read at the start of a job hold for that job: each job builds its clients anew.
With `trust_env` off requests does not read ~/.netrc; none of our services uses it (each sends
its own credentials).
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit
from urllib.request import getproxies

import requests
from requests.utils import get_environ_proxies
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import ProxyError as Urllib3ProxyError

from desktop_app.core.origins import refuse_other_origin


def environment_proxies(*urls: str) -> dict[str, str]:
    """The proxies the environment chooses, as a requests `proxies` mapping, read now."""
    proxies: dict[str, str] = {}
    for scheme, proxy in getproxies().items():
        if scheme != "no" and proxy:
            proxies[scheme] = proxy
    for url in urls:
        parts = urlsplit(url)
        if not parts.scheme or not parts.hostname:
            continue
        chosen = get_environ_proxies(url)  # {} when no_proxy (or the system bypass list) matches
        proxies[f"{parts.scheme}://{parts.hostname}"] = chosen.get(parts.scheme) or chosen.get("all") or ""
    return proxies


def environment_ca_bundle() -> str | None:
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def configure_from_environment(session: requests.Session, *urls: str) -> requests.Session:
    """Pin the environment's proxies and CA bundle for `urls` on `session` and stop per-request look-ups."""
    for key, proxy in environment_proxies(*urls).items():
        session.proxies.setdefault(key, proxy)
    bundle = environment_ca_bundle()
    if bundle and session.verify is True:
        session.verify = bundle
    session.trust_env = False
    return session


def _refuse_redirect_elsewhere(session: requests.Session, response: requests.Response) -> None:
    target = session.get_redirect_target(response)
    if target:
        # requests resolves the target against the answered URL the same way
        refuse_other_origin(response.url, requests.compat.urljoin(response.url, target),
                            what=f"A redirect (HTTP {response.status_code}) was refused")


def resolve_redirects_within_origin(session: requests.Session, response: requests.Response,
                                    request: requests.PreparedRequest, **kwargs):
    """`session.resolve_redirects(response, request, **kwargs)`, refusing a hop to another origin
    before it is sent."""
    _refuse_redirect_elsewhere(session, response)
    for hop in requests.Session.resolve_redirects(session, response, request, **kwargs):
        # the generator sends the next hop only when asked for it, so this check comes first
        if hop.is_redirect:
            _refuse_redirect_elsewhere(session, hop)
        yield hop


class OriginBoundSession(requests.Session):
    """A session that follows redirects only within the origin of the request answered."""

    def resolve_redirects(self, resp, req, *args, yield_requests: bool = False, **kwargs):
        names = ("stream", "timeout", "verify", "cert", "proxies")
        kwargs.update(zip(names, args, strict=False))  # requests passes some of them by position
        if yield_requests:  # Session.send preparing `response.next`: nothing is sent
            return super().resolve_redirects(resp, req, yield_requests=True, **kwargs)
        return resolve_redirects_within_origin(self, resp, req, **kwargs)


def session_from_environment(*urls: str) -> requests.Session:
    """A new session for talking to `urls`, with the environment's settings read once, now."""
    return configure_from_environment(OriginBoundSession(), *urls)


def never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably never reached the server (so a post was not processed).

    That is when no connection could be opened: requests raises `ConnectTimeout`, or a
    `ConnectionError` whose urllib3 cause is a `NewConnectionError` (refused, unreachable, name not
    resolved; also on the way to a proxy). Anything else may have left after the request did.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.ReadTimeout):
        return False
    seen: set[int] = set()
    causes: list[BaseException | None] = [*(a for a in exc.args if isinstance(a, BaseException)), exc.__context__]
    while causes:
        cause = causes.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, NewConnectionError):
            return True
        if isinstance(cause, MaxRetryError):
            causes.append(cause.reason)
        elif isinstance(cause, Urllib3ProxyError):
            causes.append(cause.original_error)
    return False
