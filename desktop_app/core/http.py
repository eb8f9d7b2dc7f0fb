"""HTTP sessions whose environment settings (proxies, no_proxy, CA bundle) are read once, not per request.

A plain `requests.Session` has `trust_env=True`: on every request it reads the proxy variables
(and, on Windows, the system proxy settings in the registry), matches the URL against no_proxy,
and looks up REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE. That is the behaviour users behind corporate
proxies and HTTPS-inspecting gateways need, but doing it per request costs more CPU than the rest
of a small request. `session_from_environment` does the same look-ups once, for the hosts the client
will talk to, pins the answers on the session and turns `trust_env` off:

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

Settings read at the start of a job hold for that job: each job builds its clients anew.
With `trust_env` off requests no longer reads ~/.netrc; none of our services uses it (each sends
its own credentials).

`install_target_fast_path` (called by `session_from_environment`) saves urllib3 from re-encoding,
byte by byte in Python, a request target that is already fully percent-encoded (e.net's query
strings carry whole XML documents): see its docstring.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies, getproxies
from urllib3 import HTTPConnectionPool

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


class PoolKeepingAdapter(HTTPAdapter):
    """requests' HTTPAdapter that keeps, per origin and TLS and proxy settings, the connection pool
    it chose for a request.

    `get_connection_with_tls_context` derives the pool anew for every request: proxy selection,
    URL parsing, the pool manager's key. That is ~50 us per request, as much as writing the request
    line and headers. For the same origin, `verify`, `cert` and proxies the pool manager gives the
    same pool, so that pool is used again while it is open (older urllib3 closes the pools its
    manager drops). A client talks to two or three origins; `close` closes the pools kept.
    """

    MAX_KEPT = 32  # a safety bound: far more origins than any client of ours talks to

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple, HTTPConnectionPool] = {}

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None) -> HTTPConnectionPool:
        url = request.url
        end = url.find("/", url.find("//") + 2)
        key = (url if end < 0 else url[:end], verify, cert, tuple(sorted(proxies.items())) if proxies else ())
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # not chosen yet, or closed since
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) >= self.MAX_KEPT:
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        super().close()
        for pool in pools:
            pool.close()


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
        if yield_requests:  # Session.send preparing `response.next`: nothing is sent
            return super().resolve_redirects(resp, req, *args, yield_requests=True, **kwargs)
        names = ("stream", "timeout", "verify", "cert", "proxies")
        kwargs.update(zip(names, args))
        return resolve_redirects_within_origin(self, resp, req, **kwargs)


def session_from_environment(*urls: str) -> requests.Session:
    """A new session for talking to `urls`, with the environment's settings read once, now."""
    install_target_fast_path()
    session = OriginBoundSession()
    for prefix in ("https://", "http://"):
        session.mount(prefix, PoolKeepingAdapter())
    return configure_from_environment(session, *urls)


# A request target urllib3 would send unchanged: "/", then only characters its path and query may
# hold (RFC 3986 unreserved, sub-delims, ":@/?") and percent escapes with upper-case hex digits.
_NOT_AS_IS = re.compile(r"[^A-Za-z0-9._~!$&'()*+,;=:@/?%-]|%(?![0-9A-F]{2})")
_FAST_PATH_MARK = "_ml_connector_fast_path"


def _fast_encode_target(original):
    def encode_target(target: str) -> str:
        if target[:1] == "/" and _NOT_AS_IS.search(target) is None:
            return target
        return original(target)

    setattr(encode_target, _FAST_PATH_MARK, original)
    return encode_target


def install_target_fast_path() -> bool:
    """Let urllib3 skip re-encoding request targets that are already valid and fully encoded.

    urllib3's `HTTPConnectionPool.urlopen` passes every target through `_encode_target`, which for
    any target holding a "%" walks it byte by byte in Python (~0.1-0.3 ms for a 2 kB e.net query:
    the largest single cost of an e.net call). For a target that starts with "/" and consists only
    of the characters it allows plus well-formed upper-case escapes, that walk returns the target
    unchanged; this wrapper returns it at once and hands everything else (fragments, spaces,
    non-ASCII, lower-case or stray "%") to urllib3's own function, so what is sent never changes.
    Installed once per process, and only when urllib3 still has the function and the wrapper
    agrees with it on a few probes; returns whether the fast path is in place.
    """
    try:
        import urllib3.connectionpool as pool
    except ImportError:  # pragma: no cover - requests always brings urllib3
        return False
    original = getattr(pool, "_encode_target", None)
    if original is None:
        return False
    if hasattr(original, _FAST_PATH_MARK):
        return True
    fast = _fast_encode_target(original)
    probes = ("/a/b?UserId=X&XmlIn=%3CA%3E+b", "/a?b=%2f", "/a?b=c d", "/a#f", "/%zz?%", "/a?\u00e9", "/a\n")
    try:
        if any(fast(probe) != original(probe) for probe in probes):
            return False
    except Exception:  # noqa: BLE001 - an unexpected urllib3: keep its own function
        return False
    pool._encode_target = fast
    return True
