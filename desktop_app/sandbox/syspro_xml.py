"""Reading XmlIn/XmlParameters and writing XmlOut the way e.net does.

XmlOut is written by hand rather than with lxml so that it looks like the recorded answers:
declaration `<?xml version="1.0" encoding="Windows-1252"?>`, single-quoted operator attributes
on the root, one element per line, empty elements as `<Tag/>`, Windows-1252 bytes (characters
outside it as numeric references).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

ROOT_ATTRS = (
    "Language='05' Language2='EN' CssStyle='' DecFormat='1' DateFormat='01' Role='01' "
    "Version='8.0.000' OperatorPrimaryRole='   '"
)
DECLARATION = '<?xml version="1.0" encoding="Windows-1252"?>\n'
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_DECLARATION_IN = re.compile(r"^\s*(\ufeff)?\s*<\?xml[^>]*\?>", re.S)


class XmlInError(ValueError):
    """The document is not well-formed XML."""


# -- writing ---------------------------------------------------------------------------------


@dataclass
class E:
    tag: str
    text: str | None = None
    children: list[E] = field(default_factory=list)

    def add(self, *children: E | None) -> E:
        self.children.extend(c for c in children if c is not None)
        return self


def el(tag: str, *content: E | str | int | Decimal | date | None) -> E:
    """`el("Key", el("Supplier", "S1"))` or `el("Supplier", "S1")`."""
    node = E(tag)
    for part in content:
        if isinstance(part, E):
            node.children.append(part)
        elif part is not None:
            node.text = (node.text or "") + format_value(part)
    return node


def format_value(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def escape(text: str) -> str:
    text = _NOT_XML_CHARS.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _render(node: E, out: list[str]) -> None:
    if node.children:
        out.append(f"<{node.tag}>\n")
        for child in node.children:
            _render(child, out)
        out.append(f"</{node.tag}>\n")
    elif node.text:
        out.append(f"<{node.tag}>{escape(node.text)}</{node.tag}>\n")
    else:
        out.append(f"<{node.tag}/>\n")


def xml_out(root: E) -> bytes:
    out = [DECLARATION, f"<{root.tag} {ROOT_ATTRS}>\n"]
    for child in root.children:
        _render(child, out)
    out.append(f"</{root.tag}>\n")
    return "".join(out).encode("cp1252", "xmlcharrefreplace")


def counter(n: int) -> str:
    """Transaction counters: `000001`."""
    return f"{n:06d}"


def padded(value: Decimal | int, decimals: int = 6, width: int = 20) -> str:
    """Raw query values: right-aligned, fixed decimals (`          747.800000`)."""
    if isinstance(value, int) and decimals == 0:
        return f"{value:>{width}d}"
    return f"{Decimal(value):>{width}.{decimals}f}"


def edited(value: Decimal | int, decimals: int) -> str:
    """Display values: thousands separators (`38,400.000`)."""
    return f"{Decimal(value):,.{decimals}f}"


def field_error(name: str, value: str, number: int, description: str) -> E:
    return el(name, el("Value", value), el("ErrorNumber", number), el("ErrorDescription", description))


# -- reading ---------------------------------------------------------------------------------


def parse_xml_in(text: str | None) -> etree._Element | None:
    """Parse a URL-decoded XmlIn/XmlParameters; None when the parameter is blank."""
    if text is None or not text.strip():
        return None
    # The document usually declares Windows-1252 but arrives as text (percent-encoded UTF-8).
    text = _DECLARATION_IN.sub("", text, count=1)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        return etree.fromstring(text.strip(), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise XmlInError(str(exc)) from None


def local(tag: object) -> str:
    return etree.QName(tag).localname.lower() if isinstance(tag, str) else ""


def child(node: etree._Element | None, name: str) -> etree._Element | None:
    """First child called `name`, ignoring case (SYSPRO clients vary the case)."""
    if node is None:
        return None
    name = name.lower()
    for c in node:
        if local(c.tag) == name:
            return c
    return None


def children(node: etree._Element | None, name: str) -> list[etree._Element]:
    if node is None:
        return []
    name = name.lower()
    return [c for c in node if local(c.tag) == name]


def text(node: etree._Element | None, name: str, default: str = "") -> str:
    found = child(node, name)
    if found is None or found.text is None:
        return default
    value = found.text.strip()
    return value if value else default


def has(node: etree._Element | None, name: str) -> bool:
    return child(node, name) is not None


def parse_decimal(raw: str) -> Decimal | None:
    """`'1,150.00'` → Decimal; blank → 0; not a number → None."""
    raw = raw.replace(",", "").strip()
    if not raw:
        return Decimal(0)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def parse_date(raw: str) -> date | None:
    """CCYY-MM-DD; None when invalid (blank is handled by the caller)."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None
