"""MSH-3 and MSH-4 of a rejected message are scrubbed as ids are (review 125).

What went wrong: a birth date or a name run into a sender's name (``LIS19580214``,
``H19580214``, ``DOEJOHNLAB``) was kept in the redacted copy, and so in the rejection's
source and reason and its ``lab.rejected.v1`` event: MSH-3/4 were searched for a removed
value as a whole word only, for the patient's number run in (review 108) but nothing else.

What happens now: each part of MSH-3/4 is searched as MSH-10 and the order numbers are, the
birth date's spellings run into letters or digits too, a name's word where no letter runs on
(review 128: ``STJOHNS`` is a hospital's name, not John's); an OID is never
cut (a universal id that is one is kept as written); a sender name with digits of its own
(``LAB2``, ``HOSP01``, ``LIS2024``) is kept.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.lab_ingestion.adapters.hl7_codec import parse_oru
from services.lab_ingestion.adapters.hl7_redaction import redact
from services.lab_ingestion.adapters.scrub import REDACTED
from services.lab_ingestion.domain.model import RejectionCode
from services.lab_ingestion.service_layer.rejection_sources import rejection_source
from shared.contracts.events.lab import Channel

OID = "2.16.840.1.113883.3.72.5.20"
# the spellings searched for run into an id (``secret_spellings.run_in_secrets``)
SPELLINGS = {
    "YYYYMMDD": "{y}{m}{d}",
    "DD.MM.YYYY": "{d}.{m}.{y}",
    "YYYY-MM-DD": "{y}-{m}-{d}",
    "YYYY/MM/DD": "{y}/{m}/{d}",
    "DD/MM/YYYY": "{d}/{m}/{y}",
}


def _message(application: str, facility: str, birth: str = "19580214") -> str:
    return (
        f"MSH|^~\\&|{application}|{facility}|LENA|TRIAL|20261120090000||ORU^R01|R1|P|2.5.1\r"
        f"PID|1||MRN4711^^^HOSP^MR||QUIXANO^ZEBULON^^^^^L||{birth}|M\r"
        "OBR|1|PLC1|ORD1|LAB^Lab panel|||20261120080000\r"
        "OBX|1|NM|1988-5^CRP^LN||12|mg/L|||||F|||20261120080000\r"
    )


def _kept_header(application: str, facility: str, birth: str = "19580214") -> list[str]:
    copy = redact(_message(application, facility, birth), lambda s: "k" * 64)
    return copy.split("\r")[0].split("|")


_affix = st.text("ABCXYZ0123456789", max_size=4)
_year = st.integers(1920, 2010).map(str)
_month = st.integers(1, 12).map(lambda n: f"{n:02d}")
_day = st.integers(1, 28).map(lambda n: f"{n:02d}")


@given(
    spelling=st.sampled_from(sorted(SPELLINGS)),
    year=_year, month=_month, day=_day,
    before=_affix, after=_affix,
    field=st.sampled_from([2, 3]),  # MSH-3, MSH-4
    component=st.integers(0, 2),  # HD.1, HD.2, HD.3
    oid=st.booleans(),
)  # fmt: skip
def test_a_birth_date_run_into_a_senders_part_is_not_kept(
    spelling: str,
    year: str,
    month: str,
    day: str,
    before: str,
    after: str,
    field: int,
    component: int,
    oid: bool,
) -> None:
    written = SPELLINGS[spelling].format(y=year, m=month, d=day)
    parts = ["LIS", OID if oid else "", "ISO"]
    parts[component] = f"{before}{written}{after}"
    hd = "^".join(parts)
    application, facility = (hd, "HOSP") if field == 2 else ("LIS", hd)
    kept = _kept_header(application, facility, f"{year}{month}{day}")
    assert written not in kept[field], (hd, kept[field])
    if oid and component != 1:  # an OID universal id is kept as written
        assert kept[field].split("^")[1] == OID, kept[field]


_letters = st.text("ABCXYZ", max_size=4)
_not_letters = st.text("0123456789-_. ", min_size=1, max_size=3)


@given(
    word=st.sampled_from(["QUIXANO", "ZEBULON", "quixano"]),
    before=_not_letters | st.just(""), after=_not_letters | st.just(""),
    field=st.sampled_from([2, 3]),
)  # fmt: skip
def test_a_name_in_a_sender_where_no_letter_runs_on_is_not_kept(
    word: str, before: str, after: str, field: int
) -> None:
    hd = f"{before}{word}{after}^{OID}^ISO"
    application, facility = (hd, "HOSP") if field == 2 else ("LIS", hd)
    kept = _kept_header(application, facility)
    assert word.upper() not in kept[field].upper(), kept[field]
    assert kept[field].split("^")[1] == OID


@given(
    word=st.sampled_from(["QUIXANO", "ZEBULON", "quixano"]),
    before=_letters, after=_letters,
    field=st.sampled_from([2, 3]),
)  # fmt: skip
def test_a_name_run_into_a_senders_letters_is_the_senders_name(
    word: str, before: str, after: str, field: int
) -> None:
    """Review 128: a hospital's name holds everyday names run in (``STJOHNS`` holds John,
    ``KANTONSSPITAL`` Anton): cut, the sender is no longer the one the allow-list names,
    its copy does not replay and its rejection names no sender one could add."""
    if not before and not after:
        return
    hd = f"{before}{word}{after}^{OID}^ISO"
    application, facility = (hd, "HOSP") if field == 2 else ("LIS", hd)
    assert _kept_header(application, facility)[field] == hd


# hospital and lab names that hold a common given name run in: (sender, the patient's name)
HOSPITAL_NAMES = [
    ("KANTONSSPITAL", "MUSTER^ANTON"), ("STJOHNS", "DOE^JOHN"), ("MOLIS", "MEIER^LIS"),
    ("INSELSPITAL", "HUBER^ELS"), ("SWISSLAB", "WISS^ANNA"), ("STANNASPITAL", "ROE^ANNA"),
]  # fmt: skip


@given(
    sender=st.sampled_from(HOSPITAL_NAMES),
    field=st.sampled_from([2, 3]),
    birth=st.sampled_from(["19580214", "19800101"]),
)
def test_a_hospitals_name_holding_its_patients_name_is_kept_whole(
    sender: tuple[str, str], field: int, birth: str
) -> None:
    name, patient = sender  # the other field a name none of the patient's words is in
    application, facility = (name, "HOSP") if field == 2 else ("APP", name)
    text = _message(application, facility, birth).replace("QUIXANO^ZEBULON", patient)
    copy = redact(text, lambda s: "k" * 64)
    assert copy.split("\r")[0].split("|")[2:4] == [application, facility], copy
    kept, _ = parse_oru(copy, identify=lambda s: s)
    original, _ = parse_oru(text, identify=lambda s: s)
    assert kept.source == original.source


def test_a_birth_date_or_name_bounded_in_a_hospitals_name_is_still_cut() -> None:
    for application, expected in (
        ("STJOHNS19580214", f"STJOHNS{REDACTED}"),
        ("STJOHNS140258", f"STJOHNS{REDACTED}"),
        ("QUIXANO-LAB", f"{REDACTED}-LAB"),
        ("LAB2QUIXANO", f"LAB2{REDACTED}"),
    ):
        assert _kept_header(application, "HOSP")[2] == expected


def test_an_oid_is_never_cut_nor_are_senders_named_with_digits() -> None:
    for application, facility in (
        ("LAB2", "HOSP01"),
        ("LIS2024", "HOSP"),
        (f"^{OID}^ISO", f"^{OID}.19580214^ISO"),  # an arc the birth date: a universal id
        ("LIS^2.16.840.1.19580214^ISO", "HOSP"),
    ):
        kept = _kept_header(application, facility)
        assert kept[2:4] == [application, facility]
        copy, _ = parse_oru(
            redact(_message(application, facility), lambda s: "k" * 64), identify=lambda s: s
        )
        original, _ = parse_oru(_message(application, facility), identify=lambda s: s)
        assert copy.source == original.source


def test_an_unknown_sender_named_with_the_birth_date_is_kept_without_it() -> None:
    """The rejection's source (and so its reason and event) is what the copy names."""
    for application, facility in (("LIS19580214", "HOSP"), ("LIS", "H19580214")):
        copy = redact(_message(application, facility), lambda s: "k" * 64)
        source = rejection_source(
            Channel.MLLP, RejectionCode.UNKNOWN_SOURCE, copy, "x", listed=False
        )
        assert source is not None and "19580214" not in source, source
