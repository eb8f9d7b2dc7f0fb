"""Several documents in one e.net post: packing them by request-line bytes and by count.

e.net REST takes its XML documents in the query string of a GET, and the service runs on Windows
HTTP.sys, which refuses a request line longer than its MaxFieldLength (and a request line plus
headers longer than MaxRequestBytes), 16,384 bytes each by default, before SYSPRO sees anything.
So a post carries as many documents as fit in `syspro.max_request_bytes` of request line, up to
`syspro.post_batch_size` documents. The request line is measured as it is sent: the XML documents
URL-encoded as query values the way requests encodes `params` (`quote_plus`, character by
character, so a document's encoded length is the sum of its parts' encoded lengths).

APSTIN, PORTOI and INVTMA all take several items in one XmlIn (`<Item>`, `<Orders>`); one packer
serves the three flows. A piece that must come after another (a credit note after its original
invoice) never shares a call with it: it goes in a later call.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

# How the request line is written: `GET <path>?<query> HTTP/1.1`
_REQUEST_LINE_EXTRA = len("GET ") + len(" HTTP/1.1")
# A sandbox-free stand-in for a session that cannot measure (a test's scripted session).
_DEFAULT_BASE = "https://syspro.example:20000/SYSPROWCFService/Rest"
_DEFAULT_USER_ID = "0" * 34 + "  "
# HTTP.sys's default limits (MaxFieldLength, MaxRequestBytes), for messages.
HTTP_SYS_DEFAULT = 16384
HTTP_SYS_SETTING = ("the MaxFieldLength and MaxRequestBytes values (DWORD, bytes) under "
                    "HKLM\\System\\CurrentControlSet\\Services\\HTTP\\Parameters on the e.net server (then restart "
                    "the HTTP service or the server)")


def encoded_size(text: str) -> int:
    """Bytes `text` takes as a URL-encoded query value."""
    return len(quote_plus(text))


def request_line_bytes(base_url: str, operation: str, params: dict[str, str]) -> int:
    """Bytes of the request line requests sends for a GET of `base_url/operation` with `params`."""
    import requests  # on first use, as the e.net client imports it (sync.cycle.preload)

    prepared = requests.Request("GET", f"{base_url.rstrip('/')}/{operation}", params=params).prepare()
    return _REQUEST_LINE_EXTRA + len(prepared.path_url)


def post_overhead(session: Any, business_object: str, xml_parameters: str, head: str, tail: str) -> int:
    """Request-line bytes of a Transaction/Post of `business_object` with an XmlIn of only `head`
    and `tail` (the root element): each piece adds its `encoded_size` to it."""
    measure = getattr(session, "post_request_bytes", None)
    if measure is not None:
        return int(measure(business_object, xml_parameters, head + tail))
    params = {"UserId": _DEFAULT_USER_ID, "BusinessObject": business_object, "XmlParameters": xml_parameters,
              "XmlIn": head + tail}
    return request_line_bytes(_DEFAULT_BASE, "Transaction/Post", params)


def split_document(xml: str) -> tuple[str, str, str]:
    """A one-document XmlIn as (root start tag, its content, root end tag): documents of the same
    business object are joined as head + contents + tail."""
    end_of_head = xml.index(">") + 1
    head = xml[:end_of_head]
    if head.endswith("/>"):
        raise ValueError("the document has no content to join")
    name = head[1:].split(None, 1)[0].rstrip(">")
    tail = f"</{name}>"
    if not xml.endswith(tail):
        raise ValueError(f"the document does not end with {tail}")
    return head, xml[end_of_head:-len(tail)], tail


def request_budget(session: Any, settings) -> int:
    """The request-line bytes a post may take now: the setting, or less when this session learned
    that the server refuses less (`remember_refusal`)."""
    configured = int(settings["syspro.max_request_bytes"])
    learned = getattr(session, "request_budget", None)
    return min(configured, learned) if learned else configured


def remember_refusal(session: Any, refused_bytes: int, budget: int) -> int:
    """The server refused a request of `refused_bytes` as too long: half of it (and never more than
    half the budget it was packed for) is what this session sends from now on. Returns it."""
    smaller = max(1, min(refused_bytes, budget) // 2)
    session.request_budget = smaller
    return smaller


@dataclass
class Piece:
    """One document's part of a post: its key, its XML (the item(s) inside the root) and what it
    must follow (the key of another piece that has to be in an earlier call, or None)."""

    key: Hashable
    xml: str
    after: Hashable | None = None
    size: int = field(default=-1)
    payload: Any = None

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = encoded_size(self.xml)


@dataclass
class Packing:
    batches: list[list[Piece]]
    too_big: list[Piece]  # alone over the budget: never sent, never split
    left: list[Piece]  # they follow a piece that cannot be sent: not sent now


def pack(pieces: Iterable[Piece], *, overhead: int, max_bytes: int, max_count: int) -> Packing:
    """Calls of at most `max_count` pieces whose request line (`overhead` + the pieces' encoded
    sizes) is at most `max_bytes`, in the pieces' order; a piece whose `after` is among the pieces
    waits until the call that carries that one is closed, and starts the next."""
    pieces = list(pieces)
    keys = {piece.key for piece in pieces}
    batches: list[list[Piece]] = []
    too_big: list[Piece] = []
    left: list[Piece] = []
    placed: set[Hashable] = set()
    blocked: set[Hashable] = set()
    waiting: dict[Hashable, list[Piece]] = {}  # by the key of the piece they follow
    released: list[Piece] = []  # what they follow is in the current call: they go in a later one
    current: list[Piece] = []
    in_current: set[Hashable] = set()
    used = overhead

    def close() -> None:
        nonlocal current, used
        if current:
            batches.append(current)
        current, used = [], overhead
        in_current.clear()
        now = released[:]
        released.clear()
        for follower in now:
            place(follower)

    def place(piece: Piece) -> None:
        nonlocal used
        if piece.after is not None and piece.after in blocked:
            block(piece, left)
            return
        if overhead + piece.size > max_bytes:
            block(piece, too_big)
            return
        while len(current) >= max(1, max_count) or used + piece.size > max_bytes:
            close()  # (the followers it releases may fill the next call as well)
        current.append(piece)
        in_current.add(piece.key)
        used += piece.size
        placed.add(piece.key)
        released.extend(waiting.pop(piece.key, []))

    def block(piece: Piece, into: list[Piece]) -> None:
        into.append(piece)
        blocked.add(piece.key)
        for follower in waiting.pop(piece.key, []):
            block(follower, left)

    for piece in pieces:
        if piece.after is not None and piece.after in keys and piece.after not in placed \
                and piece.after not in blocked and piece.after != piece.key:
            waiting.setdefault(piece.after, []).append(piece)
            continue
        if piece.after is not None and piece.after in in_current:
            released.append(piece)
            continue
        place(piece)
    while current or released:
        close()
    for followers in waiting.values():  # what they follow never came (cannot happen with `keys`)
        left.extend(followers)
    return Packing(batches, too_big, left)


def join(head: str, pieces: Sequence[Piece], tail: str) -> str:
    return head + "".join(piece.xml for piece in pieces) + tail


# How the reason of a document held for its size starts (a flow leaves such a document for a person).
TOO_LONG_PREFIX = "Too long for one SYSPRO e.net request"


def too_long_reason(what: str, size: int, limit: int) -> str:
    """Why a document alone is over the request limit, and what a person can do about it."""
    return (f"{TOO_LONG_PREFIX}: {what} takes {size} bytes of e.net request line on its own, over the limit "
            f"of {limit} bytes (syspro.max_request_bytes, or what the e.net server refused this session). It is "
            f"never split or sent blindly: raise {HTTP_SYS_SETTING} above {size + 1000}, and "
            "syspro.max_request_bytes to match, then Retry it; or post it in SYSPRO by hand and Skip it here.")
