"""Safe XML parsing: hostile and broken inputs give ArtifactError (or a repair warning)."""

from __future__ import annotations

import random
import time

import pytest

from sippy.ingest.records import ArtifactError
from sippy.ingest.xmlsafe import parse_xml

SRC = "artifacts/e2e/junit/junit_bad.xml"
GOOD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<testsuite name="openshift-tests" tests="2">'
    b'<testcase name="a" time="1"><failure message="m">pods cannot talk</failure></testcase>'
    b'<testcase name="b" time="2"/></testsuite>'
)


def refused(data: bytes, *words: str) -> str:
    """The ArtifactError message for `data`; it must name the source and hold `words`."""
    with pytest.raises(ArtifactError) as info:
        parse_xml(data, SRC)
    message = str(info.value)
    assert SRC in message
    for word in words:
        assert word in message.lower()
    return message


def test_good_document_parses_without_warnings():
    parsed = parse_xml(GOOD, SRC)
    assert parsed.root.tag == "testsuite"
    assert [tc.get("name") for tc in parsed.root] == ["a", "b"]
    assert parsed.warnings == []


def test_external_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for target in ("file:///etc/passwd", secret.as_uri()):
        data = (
            b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "' + target.encode() + b'">]>'
            b'<testsuite name="openshift-tests"><testcase name="&x;">&x;</testcase></testsuite>'
        )
        message = refused(data, "entit")
        assert "TOP-SECRET" not in message and "root:" not in message


def test_parameter_entity_and_external_dtd_are_refused():
    refused(
        b'<!DOCTYPE t [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><testsuite/>', "entit"
    )
    refused(b'<!DOCTYPE testsuite SYSTEM "http://127.0.0.1:9/x.dtd"><testsuite/>', "external")
    refused(b'<!DOCTYPE testsuite PUBLIC "-//x//EN" "x.dtd"><testsuite/>', "external")


def test_billion_laughs_is_refused_quickly():
    levels = [b'<!ENTITY l0 "lol">']
    for i in range(1, 10):
        levels.append(b'<!ENTITY l%d "%s">' % (i, b"".join(b"&l%d;" % (i - 1) for _ in range(10))))
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [' + b"".join(levels) + b"]>"
        b'<testsuite name="&l9;"><testcase name="&l9;"/></testsuite>'
    )
    started = time.perf_counter()
    refused(data, "entit")
    assert time.perf_counter() - started < 1


def test_entity_hidden_from_the_prolog_scan_is_still_refused():
    # a comment holding "]>" ends the quick scan early; the parsed DTD is checked as well
    refused(b'<!DOCTYPE t [<!-- ]> --><!ENTITY a "x">]><testsuite name="&a;"/>', "entit")
    refused(b'<!-- c --><?pi x?>\n<!DOCTYPE t [<!ENTITY a "x">]><testsuite name="&a;"/>', "entit")


def test_harmless_doctypes_and_doctype_text_in_content_are_accepted():
    assert parse_xml(b"<!DOCTYPE testsuite><testsuite/>", SRC).root.tag == "testsuite"
    assert parse_xml(b"<!DOCTYPE t [<!ELEMENT t ANY>]><t/>", SRC).root.tag == "t"
    html = b'<testsuite><testcase name="a"><failure><![CDATA[<!DOCTYPE html><!ENTITY x "y">]]>'
    root = parse_xml(html + b"</failure></testcase></testsuite>", SRC).root
    assert root[0][0].text.startswith("<!DOCTYPE html>")


def test_malformed_xml_names_source_line_and_column():
    message = refused(
        b"<testsuite name='openshift-tests'>\n<testcase name='a'>", "malformed", "line"
    )
    assert "line 2" in message
    refused(b"<a><b></a>", "malformed", "mismatch")
    refused(b"not xml at all", "malformed")
    refused(b"<a/><b/>", "malformed")  # two roots


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"\n"])
def test_empty_file(data):
    refused(data, "empty file")


def test_invalid_utf8_is_repaired_with_a_warning():
    data = GOOD.replace(b"pods cannot talk", b"pods \xff\xfe cannot talk \xc3")
    parsed = parse_xml(data, SRC)
    text = parsed.root[0][0].text
    assert text.startswith("pods \ufffd\ufffd cannot talk \ufffd")
    assert len(parsed.warnings) == 1
    warning = parsed.warnings[0]
    assert SRC in warning and "utf-8" in warning.lower() and "3 sequence" in warning


def test_control_characters_are_repaired_with_a_warning():
    parsed = parse_xml(GOOD.replace(b"pods", b"\x1b[0mpods\x00"), SRC)
    assert parsed.root[0][0].text == "\ufffd[0mpods\ufffd cannot talk"
    assert any("control character" in w and SRC in w for w in parsed.warnings)


def test_declared_non_utf8_encoding_is_honoured_not_repaired():
    data = b'<?xml version="1.0" encoding="ISO-8859-1"?><t>caf\xe9</t>'
    parsed = parse_xml(data, SRC)
    assert parsed.root.text == "caf\u00e9" and parsed.warnings == []
    refused(b'<?xml version="1.0" encoding="ISO-8859-1"?><t>\x1b</t>', "malformed")


def test_huge_attribute_is_refused():
    refused(b'<testsuite name="' + b"x" * 11_000_000 + b'"/>', "malformed", "huge")


def test_deep_nesting_is_refused():
    refused(b"<testsuite>" * 400 + b"</testsuite>" * 400, "malformed", "depth")


def test_arbitrary_bytes_only_ever_raise_artifact_error():
    rng = random.Random(20260514)
    seeds = [GOOD, b'<!DOCTYPE t [<!ENTITY a "b">]><t>&a;</t>', b"<?xml version='1.0'?><a/>"]
    for _ in range(400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data) + 1)
            action = rng.random()
            if action < 0.4:
                data[pos:pos] = bytes([rng.randrange(256)])
            elif action < 0.7 and data:
                del data[pos : pos + rng.randint(1, 8)]
            else:
                data = data[:pos]
        try:
            parse_xml(bytes(data), SRC)
        except ArtifactError as exc:
            assert SRC in str(exc)


def test_wrong_input_type_is_still_an_artifact_error():
    with pytest.raises(ArtifactError):
        parse_xml("<a/>", SRC)  # type: ignore[arg-type]
