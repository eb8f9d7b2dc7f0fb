"""Where credentials may travel: only to the origin a person configured, and not in clear over a network.

An origin is scheme, host and port (`http://erp` and `http://erp:80` are one; `https://erp` and
`http://erp:8080` are others). Every client sends its credentials (e.net's passwords and session id
in the query string, OData's Basic header, ServiceTitan's client secret, token and app key) only to
the origin of the URL its setting names:

- a redirect or an OData next-page link to another origin is refused (`OriginRefused`), never
  followed, because whatever the client attaches would go with it (requests drops Authorization
  on a change of host, but not every header, and e.net's credentials are in the URL itself);
- plain `http://` to anything but this machine (127.0.0.0/8, ::1, localhost) is refused
  (`UnencryptedRefused`) unless the person set `syspro.allow_unencrypted`;
- e.net's credential query never goes to a proxy in clear: an `http://` e.net address the
  environment sends through a proxy is refused even with that setting (a proxy keeps the URLs it
  carries in its logs), unless the address is on this machine.

Both refusals are configuration errors (exit 2): the fix is a setting, not a retry.
"""
from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from desktop_app.core.errors import ConfigError

ALLOW_UNENCRYPTED = "syspro.allow_unencrypted"

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginRefused(ConfigError):
    """A server sent the client to another origin than the configured one; nothing was sent there."""


class UnencryptedRefused(ConfigError):
    """Credentials would cross the network unencrypted."""


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, lower-cased, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: compared as given, so it matches nothing else
        return scheme, (parts.hostname or "").lower(), -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def shown_origin(url: str) -> str:
    """`scheme://host:port` of `url` for a message: never its path, query or user information."""
    scheme, host, port = origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, -1) else "")


def same_origin(a: str, b: str) -> bool:
    return origin(a) == origin(b)


def is_loopback(url: str) -> bool:
    """True when `url`'s host is this machine: localhost (and *.localhost), 127.0.0.0/8 or ::1."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_other_origin(configured: str, target: str, *, what: str, setting: str | None = None) -> None:
    """OriginRefused unless `target` is on the origin of `configured`."""
    if same_origin(configured, target):
        return
    where = setting or "the setting that names this service (syspro.enet_url, syspro.odata_url, " \
                       "servicetitan.auth_url or servicetitan.api_url)"
    raise OriginRefused(
        f"{what}: the server at {shown_origin(configured)} sent the connector on to {shown_origin(target)}, "
        f"another address. Credentials go only to the configured address, so this was not followed and "
        f"nothing was sent there. If the service has moved, set {where} to its new address "
        "(Settings page or `ml-connector config set`).")


def require_encrypted(url: str, *, setting: str, service: str, allow_unencrypted: bool) -> None:
    """UnencryptedRefused when `url` is plain http:// to another machine and the person has not allowed it."""
    if not url or urlsplit(url).scheme.lower() != "http" or is_loopback(url) or allow_unencrypted:
        return
    raise UnencryptedRefused(
        f"{setting} ({shown_origin(url)}) is a plain http:// address on another machine: {service} credentials "
        "would cross the network unencrypted. Use the https:// address of the service; if this network is "
        f"trusted and the service has no https, set {ALLOW_UNENCRYPTED} to true to allow it.")


def refuse_clear_text_proxy(url: str, proxy: str | None, *, setting: str) -> None:
    """e.net carries the operator's and company's passwords in its query string: a proxy would see
    (and usually log) them unless the connection is https, which a proxy only tunnels."""
    if not proxy or urlsplit(url).scheme.lower() != "http" or is_loopback(url):
        return
    raise UnencryptedRefused(
        f"{setting} ({shown_origin(url)}) is a plain http:// address that would be reached through the proxy "
        f"{shown_origin(proxy)}: e.net sends the SYSPRO passwords in the address itself, which the proxy would "
        f"see and log. Use the https:// address of e.net, or add {urlsplit(url).hostname} to NO_PROXY so that "
        f"it is reached directly (and set {ALLOW_UNENCRYPTED} if that network is trusted). "
        f"{ALLOW_UNENCRYPTED} does not allow plain http:// through a proxy.")


UNENCRYPTED_URL_SETTINGS = ("syspro.enet_url", "syspro.odata_url", "servicetitan.auth_url", "servicetitan.api_url")


def unencrypted_warning(urls: dict[str, str], allowed: bool) -> str:
    """The warning the wizard and the Settings page show next to syspro.allow_unencrypted, for the
    addresses typed (setting key → text) and the box's state; "" when there is nothing to say."""
    plain = [key for key, url in urls.items()
             if (url or "").strip().lower().startswith("http://") and not is_loopback(url.strip())]
    if plain and not allowed:
        return (f"{', '.join(plain)}: plain http:// to another machine. Passwords would cross the network "
                "unencrypted, so the connector refuses to use it. Use the https:// address; only on a trusted "
                "network whose service has no https, tick “Allow unencrypted” (SYSPRO settings).")
    if plain:
        return (f"Warning: {', '.join(plain)} use plain http://. Passwords cross the network unencrypted, "
                "readable by anyone on it. An http:// e.net address is still refused through a proxy.")
    if allowed:
        return ("Warning: unencrypted http:// addresses are allowed. None is in use now; leave this off unless a "
                "service has no https.")
    return ""
