"""Parse untrusted XML artifacts safely.

Job-run artifacts come from anyone who can run a CI job, so XML is parsed with entity
expansion, DTD loading and network access off, and with libxml2's size and depth limits on
(no ``huge_tree``). A DOCTYPE that declares entities or names an external DTD is refused
before libxml2 sees the document: libxml2 substitutes internal entities in attribute values
even with ``resolve_entities=False``, so refusing early is what stops an entity bomb.

Real JUnit writers sometimes emit invalid UTF-8 or raw control characters (ANSI escapes in
test output). Such files are repaired (the bad bytes become U+FFFD) and a warning says so,
rather than losing every test of the file.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from lxml import etree

from sippy.ingest.records import ArtifactError

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_blank_text": False,
}

# XML 1.0 forbids these C0 characters even as character references.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])  # the same, as bytes
_CHECK_CHUNK = 1 << 20
_PROLOG_SKIP = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_ENCODING_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_EXTERNAL_ID = re.compile(rb"^<!DOCTYPE\s+[^\s\[>]+\s+(?:SYSTEM|PUBLIC)\b")
_SUBSET_END = re.compile(rb"\]\s*>")
_UTF8_NAMES = {"utf-8", "utf8"}
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass(slots=True)
class ParsedXML:
    """The root element of a parsed document and what had to be repaired to get it."""

    root: etree._Element
    warnings: list[str] = field(default_factory=list)


def _parser() -> etree.XMLParser:
    # A parser keeps per-document error state, so each parse gets a fresh one.
    return etree.XMLParser(**_PARSER_OPTIONS)


def parse_xml(data: bytes, source: str) -> ParsedXML:
    """Parse `data` (the bytes of `source`); raise ArtifactError, never anything else."""
    try:
        if not data or (data[:1].isspace() and not data.strip()):
            raise ArtifactError(f"{source}: empty file")
        _refuse_dangerous_doctype(data, source)
        return _parse_with_repair(data, source)
    except ArtifactError:
        raise
    except Exception as exc:  # lxml can raise ValueError/TypeError/MemoryError on odd input
        raise ArtifactError(f"{source}: cannot parse XML: {type(exc).__name__}: {exc}") from exc


def _parse_with_repair(data: bytes, source: str) -> ParsedXML:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        repaired, warnings = _repair_text(data, source)
        if repaired is None:
            raise ArtifactError(f"{source}: malformed XML: {exc.msg}") from exc
        try:
            root = etree.fromstring(repaired, _parser())
        except etree.XMLSyntaxError as exc2:
            raise ArtifactError(f"{source}: malformed XML: {exc2.msg}") from exc2
        _check_doctype(root, source)
        return ParsedXML(root, warnings)
    if root is None:  # only with recover=True, kept as a guard
        raise ArtifactError(f"{source}: malformed XML: no root element")
    _check_doctype(root, source)
    return ParsedXML(root, [])


def _refuse_dangerous_doctype(data: bytes, source: str) -> None:
    """Refuse an entity-declaring or external DOCTYPE by looking at the prolog only.

    A DOCTYPE can only come before the root element, so text such as ``<!DOCTYPE html>``
    inside a CDATA section of a failure message is not mistaken for one.
    """
    pos = len(_BOM) if data.startswith(_BOM) else 0
    while True:
        match = _PROLOG_SKIP.match(data, pos)
        if not match:
            break
        pos = match.end()
    while pos < len(data) and data[pos : pos + 1].isspace():
        pos += 1
    if not data.startswith(b"<!DOCTYPE", pos):
        return
    head = data[pos : pos + 4096]
    if _EXTERNAL_ID.match(head):
        raise ArtifactError(f"{source}: refused: DOCTYPE names an external DTD (never loaded)")
    bracket, close = head.find(b"["), head.find(b">")
    if bracket == -1 or (close != -1 and close < bracket):
        return
    end = _SUBSET_END.search(data, pos + bracket)
    subset = data[pos + bracket : end.start() if end else len(data)]
    if b"<!ENTITY" in subset:
        raise ArtifactError(f"{source}: refused: DOCTYPE declares entities (never expanded)")


def _check_doctype(root: etree._Element, source: str) -> None:
    """Second line of defence after parsing: no external DTD, no declared entities."""
    info = root.getroottree().docinfo
    if not info.doctype:
        return
    if info.system_url or info.public_id:
        raise ArtifactError(f"{source}: refused: DOCTYPE names an external DTD (never loaded)")
    dtd = info.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ArtifactError(f"{source}: refused: DOCTYPE declares entities (never expanded)")


def _needs_repair(data: bytes) -> bool:
    """Whether `data` holds invalid UTF-8 or characters XML forbids, checked a chunk at a
    time (a failed parse of a 60 MB file must not cost three copies of it)."""
    if data.find(b"\xef\xbf\xbe") != -1 or data.find(b"\xef\xbf\xbf") != -1:  # U+FFFE/F
        return True
    ascii_only = data.isascii()
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), _CHECK_CHUNK):
            chunk = bytes(view[start : start + _CHECK_CHUNK])
            if len(chunk.translate(None, _CONTROL_BYTES)) != len(chunk):
                return True
            if not ascii_only:
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return True
    return False


def _repair_text(data: bytes, source: str) -> tuple[bytes | None, list[str]]:
    """Replace invalid UTF-8 and forbidden control characters with U+FFFD.

    Returns (None, []) when nothing needs repair or the file declares another encoding,
    in which case the original syntax error stands.
    """
    if data.startswith(_UTF16_BOMS):
        return None, []
    declared = _ENCODING_DECL.match(data[:256])
    if declared and declared.group(1).decode("ascii").lower() not in _UTF8_NAMES:
        return None, []
    if not _needs_repair(data):  # the common case: no copy of a large document is made
        return None, []
    warnings: list[str] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd") - data.count("\ufffd".encode())
        warnings.append(
            f"{source}: invalid UTF-8 (first at byte {exc.start}); "
            f"{bad} sequence(s) replaced with U+FFFD"
        )
    text, controls = _CONTROL_CHARS.subn("\ufffd", text)
    if controls:
        warnings.append(
            f"{source}: {controls} control character(s) not allowed in XML replaced with U+FFFD"
        )
    if not warnings:
        return None, []
    return text.encode("utf-8"), warnings
