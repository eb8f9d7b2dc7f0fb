"""Fast paths of the engine's hot spots give exactly what the slow, general code gives."""
import datetime as dt
import json
import random
import sqlite3
import warnings

import peewee as pw

from desktop_app.core import db, models, redact
from tests.reference_docs import SYSPRO_SAMPLES


def _redact_all_patterns(text: str) -> str:
    """redact() without the prefilter: every pattern on every text."""
    return redact.redact(text, prefilter=False)


AWKWARD_TEXTS = [
    "", "posted AP invoice 123 for supplier 0001", "READY → POSTING",
    "GET http://erp/Rest/Logon?Operator=ADMIN&OperatorPassword=hunter22&CompanyId=EDU1",
    "OPERATORPASSWORD=x", "operatorpassword=", "CompanyPassword=a b", "PasswordForLedgerCode=9",
    "client_secret=xyz&x=1", "CLIENT_SECRET=abc", "access_token=tok", "UserId=1234-5678", "userid=u",
    "appkey=k", "app_key=k", "APP_KEY=k", '{"password": "pw"}', '{"Client_Secret" : "s"}',
    '{"access_token":""}', "<OperatorPassword>abc</OperatorPassword>", "<password>x</password>",
    "<XPasswordY>v<", "Authorization: Bearer eyJ.abc.def", "authorization='tok'", "AUTHORIZATION=abc",
    "ST-App-Key: ak1.xyz", "st-app-key=zz", "https://admin:p4ssw0rd@erp/odata", "HTTP://A:B@c",
    "ftp+x.y://u:p@h", "no scheme admin:pw@host", "Paſſword=x", "\u212auserid", "app\u212aey=1",
    "XmlIn=<SetupApInvoice><Password>x</Password></SetupApInvoice>", "a=b&c=d", "key: value",
    "<Key><Invoice>INV-1</Invoice></Key>", '{"data": {"from": "READY", "to": "POSTING"}}',
    "USER\u0130D=1", "user\u0131d=1", "PASSWORD\u0130=x", "<PASSWORD\u0131>v<", "caf\u00e9 Password=x",
    '<SetupApInvoice xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><Supplier>0001</Supplier>',
    "see http://host/x@y", "mailto:a@b https://h:1/", "http://u:p@h", "Bearer abc", "=userid", '"password"',
]


def test_redact_prefilter_changes_nothing(monkeypatch):
    redact.register_secret("S3cretValue")
    rng = random.Random(7)
    pieces = [*AWKWARD_TEXTS, "S3cretValue", " ", "=", ":", "\"", "<", ">", "@", "/", "&", "ſ", "K", "\u0130",
              "\u0131", "é", "Key", "PASS", "word", "user", "id", "http", "://"]
    texts = list(AWKWARD_TEXTS)
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(3000)]
    for text in texts:
        assert redact.redact(text) == _redact_all_patterns(text), text


def test_redact_still_masks_what_the_patterns_catch():
    masked = redact.redact("x <OperatorPassword>abc</OperatorPassword> client_secret=xyz&x=1 https://u:pw@h/")
    assert "abc" not in masked and "xyz" not in masked and ":pw@" not in masked and "x=1" in masked


DATETIME_TEXTS = [
    "2026-12-03 01:25:28.123456", "2026-12-03 01:25:28", "2026-12-03 01:25:28.000000", "2026-12-03",
    "2024-02-29 23:59:59.999999", "2023-02-29 10:00:00", "2026-13-01 00:00:00", "2026-12-03 24:00:00",
    "2026-12-03 23:59:60", "2026-12-03 23:59:61", "2026-12-03 01:25:28.1", "2026-12-03 01:25:28.1234567",
    "2026-12-03T01:25:28.123456", "2026-12-03 01:25:28+00:00", "2026-12-03 01:25:28.123456+00:00",
    "2026-12-03 01:25:28Z", "2026-1-3 1:2:3", "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999",
    "2026-12-03 01:25:28,123456", " 2026-12-03 01:25:28", "2026-12-03 01:25:28\n", "２０２６-12-03 01:25:28",
    "not a date", "",
]


_SQLITE = sqlite3.connect(":memory:")


def _stored(value):
    """What sqlite3 binds for `value`, through the adapter registered for dates and datetimes when
    it is one (sqlite3's own up to Python 3.11, deprecated since: their warning is silenced here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _SQLITE.execute("SELECT ?", (value,)).fetchone()[0]


def _writes_what_peewee_wrote(ours, theirs, value) -> None:
    written = ours.db_value(value)
    # text (or None, or whatever peewee passes on) that needs no deprecated adapter ...
    assert not isinstance(written, dt.date), value
    # ... and is what the database received from peewee's field before
    assert written == _stored(theirs.db_value(value)), value


def test_datetime_field_reads_exactly_what_peewee_reads():
    ours, theirs = models.DateTimeField(), pw.DateTimeField()
    rng = random.Random(7)
    texts = list(DATETIME_TEXTS)
    for _ in range(2000):
        moment = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=rng.randrange(10**9),
                                                        microseconds=rng.choice((0, rng.randrange(10**6))))
        texts.append(str(moment))
    for text in texts:
        expected, got = theirs.python_value(text), ours.python_value(text)
        assert got == expected and type(got) is type(expected), text
        _writes_what_peewee_wrote(ours, theirs, text)
    assert ours.python_value(None) is None and theirs.python_value(None) is None
    utc = dt.UTC
    for value in (None, dt.datetime(2026, 12, 3, 1, 25, 28), dt.datetime(2026, 12, 3, 1, 25, 28, 7),
                  dt.datetime(2026, 12, 3, 1, 25, 28, 7, tzinfo=utc), dt.date(2026, 12, 3), models.utcnow()):
        _writes_what_peewee_wrote(ours, theirs, value)


def test_datetime_field_round_trips_through_the_database():
    db.open_database()
    moments = [dt.datetime(2026, 12, 3, 1, 25, 28), dt.datetime(2026, 12, 3, 1, 25, 28, 1)]
    for moment in moments:
        models.Setting.create(key=f"k{moment.microsecond}", value="v", changed_at=moment)
    for moment in moments:
        assert models.Setting.get_by_id(f"k{moment.microsecond}").changed_at == moment


DATE_TEXTS = ["2026-12-03", "2026-02-29", "2024-02-29", "2026-13-01", "2026-00-10", "2026-12-32", "2026-1-3",
              "0001-01-01", "9999-12-31", "2026-12-03 01:25:28", "2026-12-03 01:25:28.123456", "2026-12-03T01:25",
              "20261203", " 2026-12-03", "2026-12-03\n", "２０２６-12-03", "not a date", ""]


def test_date_field_reads_exactly_what_peewee_reads():
    ours, theirs = models.DateField(), pw.DateField()
    rng = random.Random(7)
    texts = DATE_TEXTS + [str(dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(80_000))) for _ in range(2000)]
    for text in texts:
        expected, got = theirs.python_value(text), ours.python_value(text)
        assert got == expected and type(got) is type(expected), text
        _writes_what_peewee_wrote(ours, theirs, text)
    for value in (None, dt.date(2026, 1, 2), dt.datetime(2026, 1, 2, 3, 4, 5)):
        _writes_what_peewee_wrote(ours, theirs, value)
    assert ours.python_value(None) is None and ours.python_value(dt.date(2026, 1, 2)) == dt.date(2026, 1, 2)
    assert isinstance(models.ApDocument.invoice_date, models.DateField)
    assert isinstance(models.WorklistRow.entry_date, models.DateField)


def test_json_field_writes_what_json_dumps_writes():
    from decimal import Decimal

    value = {"b": [1, Decimal("12.50"), dt.date(2026, 1, 2)], "a": {"z": None, "é": "ü"},
             "t": dt.datetime(2026, 1, 2, 3, 4, 5, 6)}
    assert models.JSONField().db_value(value) == json.dumps(value, default=models._json_default, sort_keys=True)
    as_given = models.JSONField(keys_as_given=True).db_value(value)
    assert as_given == json.dumps(value, default=models._json_default) and as_given.index('"b"') < as_given.index('"a"')


def test_a_source_invoice_is_stored_with_its_keys_in_the_feed_order():
    db.open_database()
    invoice = {"id": 7, "referenceNumber": "R-7", "items": [{"skuId": 3, "cost": "1.50"}], "active": True}
    models.SourceInvoice.create(st_invoice_id=7, payload=invoice)
    (text,) = models.database.execute_sql("SELECT payload FROM source_invoice WHERE st_invoice_id = 7").fetchone()
    assert text == json.dumps(invoice)
    assert models.SourceInvoice.get_by_id(7).payload == invoice


def test_lines_json_is_what_asdict_gives():
    from dataclasses import asdict, fields
    from decimal import Decimal

    from desktop_app.sync.build import PlannedDocument, PlannedLine

    lines = [PlannedLine(1, None, "SKU-1", "STK1", "Caf\u00e9 pipe", "2", "3.505", Decimal("7.01"), "4000-01"),
             PlannedLine(None, 9, "", "", "", "-1", "0", Decimal("-0.50"), "")]
    plan = PlannedDocument(**{f.name: None for f in fields(PlannedDocument)} | {"lines": lines})
    expected = [{**asdict(line), "amount": format(line.amount, "f")} for line in lines]
    assert plan.lines_json() == expected
    assert json.dumps(plan.lines_json(), sort_keys=True) == json.dumps(expected, sort_keys=True)
    plan.lines_json()[0]["stock_code"] = "changed"
    assert lines[0].stock_code == "STK1"


def _messages_walk_per_kind(element):
    """xmlout.messages as it was before the single walk: one walk per kind of element."""
    from desktop_app.syspro import xmlout

    found = xmlout.Messages()
    for description in xmlout.descendants(element, "ErrorDescription"):
        holder = description.getparent()
        if xmlout._lower_name(holder) in ("warning", "warnings"):
            continue
        found.errors.append(xmlout.FieldError(field=xmlout.name(holder), value=xmlout.value(holder, "Value"),
                                              number=xmlout.value(holder, "ErrorNumber"),
                                              description=(description.text or "").strip()))
    for warning in xmlout.descendants(element, "Warning"):
        text = (xmlout.value(warning, "Description") or xmlout.value(warning, "ErrorDescription")
                or (warning.text or "").strip())
        if text:
            found.warnings.append(text)
    for text_el in xmlout.descendants(element, "WarningMessage"):
        if (text_el.text or "").strip():
            found.warnings.append(text_el.text.strip())
    return found


def test_xmlout_messages_and_first_texts_agree_with_the_walks_they_replace():

    from lxml import etree

    from desktop_app.syspro import xmlout

    samples = [path.read_bytes() for path in sorted(SYSPRO_SAMPLES.glob("*XmlOut*.xml"))]
    rng = random.Random(7)
    tags = ["Item", "ErrorDescription", "ERRORDESCRIPTION", "Warning", "warnings", "WarningMessage", "Value",
            "ErrorNumber", "Description", "Supplier", "Invoice", "Journal", "Status", "x:Supplier"]

    def element(depth):
        tag = rng.choice(tags)
        el = etree.Element(tag.split(":")[-1] if ":" not in tag else "{urn:x}" + tag.split(":")[1])
        el.text = rng.choice(["", " a ", "B", None, "\n 7 \n"])
        for _ in range(rng.randint(0, 4) if depth < 4 else 0):
            el.append(element(depth + 1))
        if rng.random() < 0.2:
            el.append(etree.Comment("c"))
        return el

    roots = [etree.fromstring(data) for data in samples]
    for _ in range(400):
        roots.append(etree.Element("postapinvoice"))
        roots[-1].append(element(0))
    for root in roots:
        for el in root.iter():
            if not isinstance(el.tag, str) or el.getparent() is None:
                continue
            assert xmlout.messages(el) == _messages_walk_per_kind(el)
            texts = xmlout.first_texts(el)
            for tag in {xmlout._lower_name(child) for child in el if isinstance(child.tag, str)}:
                assert texts[tag] == xmlout.value(el, tag), tag
    assert len(samples) >= 5
