"""Reading what e.net sends back: body decoding, XmlOut parsing, per-item errors and warnings.

XmlOut is declared Windows-1252, Setup/Transaction answers come with lower-cased element names
(`<postapinvoice>`, `<item>`), counters are zero- or space-padded. So every lookup here compares
names case-insensitively and strips values; element names are kept as SYSPRO sent them so that a
field error can name the field.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from lxml import etree

from desktop_app.core.redact import redact
from desktop_app.syspro.errors import MalformedPostXmlOut, MalformedXmlOut

_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*['\"]([A-Za-z0-9._-]+)['\"]")
_DECLARATION_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)


def decode_body(content: bytes) -> str:
    """Text of an e.net answer: honours the XML declaration, unwraps JSON-quoted bodies (SYSPRO 8)."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    match = _DECLARATION.match(content)
    if match:
        try:
            text = content.decode(match.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            text = content.decode("cp1252", errors="replace")
    else:
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = content.decode("cp1252", errors="replace")
    stripped = text.strip()
    # Some SYSPRO 8 e.net versions JSON-quote every body, possibly twice.
    for _ in range(2):
        if len(stripped) >= 2 and stripped[0] == '"' and stripped[-1] == '"':
            try:
                value = json.loads(stripped)
            except ValueError:
                break
            if not isinstance(value, str):
                break
            text = value
            stripped = text.strip()
        else:
            break
    return text


def error_text(text: str) -> str | None:
    """The message of an `ERROR...` answer, or None when the body is not one."""
    stripped = text.strip()
    if stripped[:5].upper() == "ERROR":
        return stripped
    return None


def load(xml_out: str | bytes, *, after_post: bool = False) -> etree._Element:
    """Parse XmlOut text or bytes. A post whose answer is unreadable has an unknown outcome."""
    error = MalformedPostXmlOut if after_post else MalformedXmlOut
    data: str | bytes
    if isinstance(xml_out, str):
        data = _DECLARATION_TEXT.sub("", xml_out, count=1).strip()
    else:
        data = xml_out
    if not data:
        raise error(_unreadable("an empty answer", after_post))
    try:
        return etree.fromstring(data, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        snippet = redact(str(xml_out[:120] if isinstance(xml_out, str) else xml_out[:120].decode("cp1252", "replace")))
        raise error(_unreadable(f"an answer that is not valid XML ({exc.msg if hasattr(exc, 'msg') else exc}): "
                                f"{snippet!r}", after_post)) from None


def _unreadable(what: str, after_post: bool) -> str:
    text = f"SYSPRO sent {what}."
    if after_post:
        text += (" It is not known whether the document was posted: look it up in SYSPRO "
                 "before sending it again.")
    return text


# --- case-insensitive navigation -----------------------------------------------------------------

def name(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


# An answer names the same few dozen elements over and over: their lower-cased local names are kept
# (bounded, in case a server invents names without end).
_LOWER_NAMES: dict[str, str] = {}
_LOWER_NAMES_MAX = 4096


def _lower_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):  # comment or processing instruction
        return ""
    lowered = _LOWER_NAMES.get(tag)
    if lowered is None:
        lowered = etree.QName(tag).localname.lower()
        if len(_LOWER_NAMES) < _LOWER_NAMES_MAX:
            _LOWER_NAMES[tag] = lowered
    return lowered


def children(element: etree._Element, tag: str) -> list[etree._Element]:
    tag = tag.lower()
    return [child for child in element if _lower_name(child) == tag]


def child(element: etree._Element | None, *path: str) -> etree._Element | None:
    for tag in path:
        if element is None:
            return None
        tag = tag.lower()
        element = next((found for found in element if _lower_name(found) == tag), None)
    return element


def descendants(element: etree._Element, tag: str) -> list[etree._Element]:
    tag = tag.lower()
    return [el for el in element.iter() if _lower_name(el) == tag]


def value(element: etree._Element | None, *path: str) -> str:
    """Stripped text of a child path ('' when absent)."""
    found = child(element, *path)
    if found is None or found.text is None:
        return ""
    return found.text.strip()


def optional(element, *path) -> str | None:
    return value(element, *path) or None


def number(text: str) -> Decimal | None:
    """A padded SYSPRO number ('   747.800000', '38,400.000') as a Decimal."""
    cleaned = text.replace(",", "").strip()
    if not cleaned:
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def integer(text: str) -> int | None:
    parsed = number(text)
    return int(parsed) if parsed is not None else None


# --- per-item results ------------------------------------------------------------------------------

@dataclass
class FieldError:
    field: str
    value: str
    number: str
    description: str

    def __str__(self) -> str:
        shown = f" ({self.value!r})" if self.value else ""
        code = f" [SYSPRO {self.number}]" if self.number else ""
        return f"{self.field}{shown}: {self.description}{code}"


@dataclass
class Messages:
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def messages(element: etree._Element) -> Messages:
    """Field errors (`<Field><Value/><ErrorNumber/><ErrorDescription/></Field>`) and warnings below element."""
    found = Messages()
    warning_messages = []
    # one walk, not one per kind of element: this runs for every posted document
    for el in element.iter():
        lowered = _lower_name(el)
        if lowered == "errordescription":
            holder = el.getparent()
            if _lower_name(holder) in ("warning", "warnings"):
                continue
            found.errors.append(FieldError(
                field=name(holder),
                value=value(holder, "Value"),
                number=value(holder, "ErrorNumber"),
                description=(el.text or "").strip(),
            ))
        elif lowered == "warning":
            text = value(el, "Description") or value(el, "ErrorDescription") or (el.text or "").strip()
            if text:
                found.warnings.append(text)
        elif lowered == "warningmessage" and (el.text or "").strip():
            warning_messages.append(el.text.strip())
    found.warnings.extend(warning_messages)  # a <Warning>'s own text reads better, so those come first
    return found


def first_texts(element: etree._Element) -> dict[str, str]:
    """{lower-cased name: stripped text} of element's children, the first child of each name: what
    `value(element, name)` gives for each, in one pass over the children."""
    texts: dict[str, str] = {}
    for child_el in element:
        lowered = _lower_name(child_el)
        if lowered not in texts:
            texts[lowered] = (child_el.text or "").strip()
    return texts


def status_failed(item: etree._Element) -> bool:
    """SORTRA/SORTOI-style `<ValidationStatus><Status>Failed</Status>`."""
    return value(item, "ValidationStatus", "Status").lower() == "failed"


def top_level_errors(root: etree._Element, item_tag: str = "Item") -> list[FieldError]:
    """Errors reported outside any item (e.g. a bad parameter)."""
    items = set(children(root, item_tag))
    errors = []
    for element in root:
        if element in items:
            continue
        errors.extend(messages(element).errors)
    return errors
