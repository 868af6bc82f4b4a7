"""JsonFormatter: one JSON object per record, PHI-named fields always redacted."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.jsonlog import REDACTED, JsonFormatter, configure_logging, is_phi_field

SECRET = "Jane-Doe-1957-06-01"
STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
}

PHI_WORDS = [
    "name",
    "names",
    "given",
    "family",
    "surname",
    "maiden",
    "mrn",
    "patient",
    "pid",
    "hospital_id",
    "dob",
    "birth",
    "birthdate",
    "address",
    "street",
    "city",
    "zip",
    "postcode",
    "phone",
    "telephone",
    "email",
    "ssn",
    "nhs",
    "insurance",
    "next_of_kin",
    "nk1",
]
SAFE_PARTS = ["first", "last", "home", "mobile", "raw", "value", "x", "v2", "primary", "date", "of"]


def make_record(
    msg: str = "hello %s",
    args: tuple[Any, ...] = ("world",),
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
) -> logging.LogRecord:
    record = logging.LogRecord("cachexia.test", logging.WARNING, __file__, 10, msg, args, exc_info)
    for key, value in (extra or {}).items():
        setattr(record, key, value)
    return record


def render(record: logging.LogRecord, service: str = "crp-monitor") -> dict[str, Any]:
    line = JsonFormatter(service).format(record)
    assert "\n" not in line, "one record must be one line"
    entry = json.loads(line)
    assert isinstance(entry, dict)
    return entry


def test_output_is_one_json_object_with_the_basics() -> None:
    entry = render(make_record())
    assert entry["msg"] == "hello world"
    assert entry["level"] == "WARNING"
    assert entry["service"] == "crp-monitor"
    assert entry["logger"] == "cachexia.test"
    assert entry["ts"].endswith("+00:00")
    assert "exc" not in entry
    # the LogRecord plumbing is not dumped
    assert not {"args", "levelno", "pathname", "lineno", "msecs", "thread"} & set(entry)


def test_multiline_messages_stay_on_one_line() -> None:
    line = JsonFormatter("svc").format(make_record("a\nb", ()))
    assert line.count("\n") == 0
    assert json.loads(line)["msg"] == "a\nb"


@pytest.mark.parametrize(
    "field",
    ["patient_name", "mrn", "birth_date", "address", "phone", "pid", "hospital_id", "name_given",
     "email", "date_of_birth", "Patient_Name", "MRN", "nk1_name", "next_of_kin"],
)  # fmt: skip
def test_phi_fields_are_redacted(field: str) -> None:
    entry = render(make_record(extra={field: SECRET}))
    assert entry[field] == REDACTED
    assert SECRET not in json.dumps(entry)


def test_phi_fields_are_redacted_whatever_the_value_type() -> None:
    extra = {"patient_name": {"given": "Jane"}, "mrn": 123456, "address": ["a", "b"], "dob": None}
    entry = render(make_record(extra=extra))
    assert all(entry[key] == REDACTED for key in extra)


@pytest.mark.parametrize("field", ["subject_id", "event_id", "topic", "consumer", "reason_code"])
def test_allowed_fields_pass_through(field: str) -> None:
    entry = render(make_record(extra={field: "S-0042"}))
    assert entry[field] == "S-0042"


def test_service_field_passes_through() -> None:
    entry = render(make_record(extra={"service": "other"}))
    assert entry["service"] == "other"


def test_other_fields_pass_through_as_plain_json() -> None:
    extra = {"partition": 3, "offset": 99, "error": "TimeoutError", "ids": ("a", "b"), "ok": True}
    entry = render(make_record(extra=extra))
    assert entry["partition"] == 3
    assert entry["offset"] == 99
    assert entry["error"] == "TimeoutError"
    assert entry["ids"] == ["a", "b"]
    assert entry["ok"] is True


def test_private_attributes_are_skipped() -> None:
    entry = render(make_record(extra={"_internal": "x"}))
    assert "_internal" not in entry


def test_non_json_values_are_stringified() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing!"

    entry = render(make_record(extra={"detail": Thing()}))
    assert entry["detail"] == "thing!"


def test_nested_phi_fields_are_redacted() -> None:
    extra = {
        "context": {
            "subject_id": "S-1",
            "patient": {"first_name": SECRET},
            "nested": {"deeper": {"phone_number": SECRET, "count": 2}},
            "rows": [{"mrn": SECRET, "topic": "lab.results.v1"}],
        }
    }
    entry = render(make_record(extra=extra))
    context = entry["context"]
    assert context["subject_id"] == "S-1"
    assert context["patient"] == REDACTED
    assert context["nested"]["deeper"] == {"phone_number": REDACTED, "count": 2}
    assert context["rows"] == [{"mrn": REDACTED, "topic": "lab.results.v1"}]
    assert SECRET not in json.dumps(entry)


def test_exceptions_are_included_as_frames_and_types_never_their_text() -> None:
    """An exception's text may quote data (asyncpg's DETAIL, a parser's input)."""
    try:
        try:
            raise KeyError("MRN4711")
        except KeyError as inner:
            raise ValueError("DOE^JOHN 19580214") from inner
    except ValueError:
        record = make_record("failed", (), exc_info=sys.exc_info())
    entry = json.loads(JsonFormatter("svc").format(record))
    assert entry["msg"] == "failed"
    assert "Traceback" in entry["exc"] and "test_jsonlog.py" in entry["exc"]
    assert entry["exc"].index("KeyError") < entry["exc"].index("ValueError")  # cause first
    for text in ("MRN4711", "DOE^JOHN", "19580214"):
        if text in entry["exc"]:  # only as this test's own source line, never as the text
            assert all(text not in line or "raise" in line for line in entry["exc"].splitlines())


def library_record(name: str, msg: str, args: tuple[Any, ...]) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    ("name", "msg", "args", "expected"),
    [
        # aiohttp's server quoting the bytes of a request it could not parse
        ("aiohttp.server", "Error handling request from %s: %s", ("1.2.3.4", "PID|MRN4711"),
         "Error handling request from %s: %s"),
        ("aiokafka.conn", "Connection to node %s failed after %s s", (3, 1.5),
         "Connection to node 3 failed after 1.5 s"),
        ("asyncio", "Task exception was never retrieved\nfuture: <Task exception=ValueError("
         "'DOE^JOHN')>", (), "Task exception was never retrieved"),
        ("shared.runtime", "started %s", ("lab-ingestion",), "started lab-ingestion"),  # ours
    ],
)  # fmt: skip
def test_a_librarys_message_keeps_its_template_and_numbers_only(
    name: str, msg: str, args: tuple[Any, ...], expected: str
) -> None:
    entry = json.loads(JsonFormatter("svc").format(library_record(name, msg, args)))
    assert entry["msg"] == expected


def test_configure_logging_installs_the_formatter(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("dose-decision", "DEBUG")
        logging.getLogger("cachexia.unit").info("hi", extra={"mrn": SECRET, "subject_id": "S-7"})
        for handler in root.handlers:
            handler.flush()
        err = capsys.readouterr().err.strip().splitlines()
        entry = json.loads(err[-1])
        assert entry["service"] == "dose-decision"
        assert entry["mrn"] == REDACTED
        assert entry["subject_id"] == "S-7"
        assert SECRET not in err[-1]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


# --- properties -------------------------------------------------------------------------------

parts = st.lists(st.sampled_from(SAFE_PARTS), max_size=2)
phi_names = st.builds(
    lambda pre, word, post, upper: (
        ("_".join([*pre, word, *post])).upper() if upper else "_".join([*pre, word, *post])
    ),
    parts,
    st.sampled_from(PHI_WORDS),
    parts,
    st.booleans(),
).filter(lambda n: n not in STANDARD_ATTRS)

values = st.one_of(st.text(min_size=1, max_size=20), st.integers(), st.lists(st.text(max_size=5)))


@given(name=phi_names)
def test_generated_phi_names_are_recognised(name: str) -> None:
    assert is_phi_field(name)


@given(name=phi_names, value=values)
def test_generated_phi_fields_are_redacted(name: str, value: Any) -> None:
    entry = render(make_record(extra={name: value, "subject_id": "S-1"}))
    assert entry[name] == REDACTED
    assert entry["subject_id"] == "S-1"


@given(name=phi_names, outer=st.sampled_from(["context", "details", "subject_id", "payload"]))
def test_generated_nested_phi_fields_are_redacted(name: str, outer: str) -> None:
    entry = render(make_record(extra={outer: {name: SECRET, "count": 1}}))
    assert entry[outer] == {name: REDACTED, "count": 1}
    assert SECRET not in json.dumps(entry)


@given(name=st.lists(st.sampled_from(SAFE_PARTS), min_size=1, max_size=3).map("_".join))
def test_harmless_names_are_not_redacted(name: str) -> None:
    entry = render(make_record(extra={name: "v"}))
    assert entry[name] == "v"


@pytest.mark.parametrize(
    "field", ["patientName", "lastname", "dateOfBirth", "phoneNumber", "patient-name"]
)
def test_phi_names_in_other_spellings_are_redacted(field: str) -> None:
    entry = render(make_record(extra={field: SECRET}))
    assert entry[field] == REDACTED
