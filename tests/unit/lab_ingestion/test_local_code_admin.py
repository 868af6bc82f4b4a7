"""Senders' local test codes in the service layer (``cachexia source code add | list
[--history] | remove``): refused input never reaches the unit of work; a sender not allowed is
refused as such, not by the table's foreign key; what changed is returned as data."""

from __future__ import annotations

import pytest

from services.lab_ingestion.domain.local_codes import (
    InvalidLocalCode,
    KeptLocalCode,
    LocalCode,
    LocalCodeChange,
)
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.service_layer.local_code_admin import (
    LocalCodeMapped,
    LocalCodeUnmapped,
    MappedOtherwise,
    SenderNotAllowed,
    list_local_codes,
    local_code_history,
    map_local_code,
    unmap_local_code,
)
from services.lab_ingestion.service_layer.sender_admin import (
    list_senders,
    remove_sender,
)
from shared.contracts.events.lab import Analyte
from tests.unit.lab_ingestion.sender_admin_fakes import (
    ADDED_AT,
    FakeAllowList,
    FakeLocalCodes,
    FakeSenderAdminUnitOfWork,
)

CRP = LocalCode("LIS", "HOSP", "L", "CRP", "1988-5")
HB = LocalCode("LIS", "HOSP", "", "HB", "718-7")
OTHER_CRP = LocalCode("LIS", "ZH", "L", "CRP", "30522-7")


def _uow(*mappings: LocalCode) -> FakeSenderAdminUnitOfWork:
    """LIS^HOSP and LIS^ZH allowed, with ``mappings`` kept."""
    senders = {("LIS", "HOSP"): Sender(), ("LIS", "ZH"): Sender()}
    return FakeSenderAdminUnitOfWork(FakeAllowList(senders), codes=FakeLocalCodes.of(*mappings))


async def test_a_new_mapping_is_kept_and_names_its_analyte() -> None:
    uow = _uow()
    mapped = await map_local_code(uow, " LIS ", "HOSP", " l ", " CRP ", loinc="1988-5")
    assert mapped == LocalCodeMapped(CRP, None)
    assert (mapped.added, mapped.unchanged, mapped.analyte) == (True, False, Analyte.CRP)
    assert await uow.codes.all() == [KeptLocalCode(CRP, ADDED_AT)]
    assert (uow.entered, uow.commits) == (1, 1)


async def test_mapping_a_mapped_code_again_changes_nothing_and_to_another_code_is_refused() -> None:
    """Results stored through a mapping keep its code: what later acts on one is compared
    with what was stored, so a mapping is never changed in place (review 101)."""
    uow = _uow(CRP)
    again = await map_local_code(uow, "LIS", "HOSP", "L", "CRP", loinc="1988-5")
    assert (again.added, again.unchanged, again.replaced) == (False, True, "1988-5")
    with pytest.raises(MappedOtherwise) as refused:
        await map_local_code(uow, "LIS", "HOSP", "l", "CRP", loinc="30522-7")  # any case
    assert refused.value.kept == CRP
    assert [k.mapping.loinc for k in await uow.codes.all()] == ["1988-5"]
    assert uow.commits == 1


@pytest.mark.parametrize(
    ("system", "code", "loinc", "reason"),
    [
        ("L", "  ", "1988-5", "the local code is blank"),
        ("L", "CRP^C-reactive protein", "1988-5", "HL7 separator"),
        ("", "1988-5", "1988-5", "is a LOINC code"),
        ("LN", "CRP", "1988-5", "is a LOINC code"),
        ("L", "CRP", "2345-7", "not the LOINC code of a trial analyte"),
    ],
)
async def test_a_mapping_that_cannot_be_kept_is_refused_before_anything_is_read(
    system: str, code: str, loinc: str, reason: str
) -> None:
    uow = _uow()
    with pytest.raises(InvalidLocalCode, match=reason):
        await map_local_code(uow, "LIS", "HOSP", system, code, loinc=loinc)
    assert uow.entered == 0


async def test_a_code_of_a_sender_not_on_the_allow_list_is_refused_and_nothing_kept() -> None:
    """Refused as such, before the table's foreign key would (the fake asserts it)."""
    uow = _uow()
    with pytest.raises(SenderNotAllowed, match=r"HL7 sender LIS\^OTHER is not on the allow-list"):
        await map_local_code(uow, "LIS", "OTHER", "L", "CRP", loinc="1988-5")
    assert uow.codes.kept == {}
    assert (uow.entered, uow.commits, uow.open) == (1, 0, False)


async def test_a_mapping_is_removed_as_it_was_given_the_system_in_any_case() -> None:
    uow = _uow(CRP, HB, OTHER_CRP)
    removed = await unmap_local_code(uow, "LIS", "HOSP", " l ", " CRP ")
    assert removed == LocalCodeUnmapped("LIS^HOSP", "L", "CRP", CRP)
    assert [k.mapping for k in await uow.codes.all()] == [HB, OTHER_CRP]
    again = await unmap_local_code(uow, "LIS", "HOSP", "L", "CRP")
    assert again == LocalCodeUnmapped("LIS^HOSP", "L", "CRP", None)
    none_given = await unmap_local_code(uow, "LIS", "HOSP", "", "HB")
    assert none_given.removed == HB
    assert (uow.entered, uow.commits) == (3, 3)


async def test_mappings_are_listed_of_every_sender_or_of_those_named() -> None:
    uow = _uow(OTHER_CRP, CRP, HB)
    listed = [k.mapping for k in await list_local_codes(uow)]
    assert listed == [HB, CRP, OTHER_CRP]  # by sender, system ("" first) and code
    assert [k.mapping for k in await list_local_codes(uow, "LIS", "ZH")] == [OTHER_CRP]
    assert [k.mapping for k in await list_local_codes(uow, facility="HOSP")] == [HB, CRP]
    assert await list_local_codes(uow, "LAB", "HOSP") == []
    assert (uow.entered, uow.commits, uow.open) == (4, 0, False)


async def test_a_removed_sender_counts_the_mappings_removed_with_it() -> None:
    """Counted before the sender is removed: its mappings go with it."""
    uow = _uow(CRP, HB, OTHER_CRP)
    removed = await remove_sender(uow, "LIS", "HOSP")
    assert (removed.removed, removed.local_codes) == (True, 2)
    assert [k.mapping for k in await uow.codes.all()] == [OTHER_CRP]
    assert (await remove_sender(uow, "LIS", "HOSP")).local_codes == 0


async def test_listed_senders_count_their_mappings() -> None:
    uow = _uow(CRP, HB, OTHER_CRP)
    await unmap_local_code(uow, "LIS", "ZH", "L", "CRP")
    listed = await list_senders(uow)
    assert [(s.sender.facility, s.local_codes) for s in listed] == [("HOSP", 2), ("ZH", 0)]
    assert (uow.entered, uow.open) == (2, False)


async def test_the_history_is_every_change_oldest_first_of_every_sender_or_of_those_named() -> None:
    """As the table's trigger records them (migration 0026): a mapping kept before, an add, a
    removal, a sender's removal (a cascade); the same mapping again, and another refused
    (rolled back), record nothing. Read in a unit of work that commits nothing."""
    uow = _uow(CRP)
    await map_local_code(uow, "LIS", "HOSP", "L", "CRP", loinc="1988-5")  # again
    await map_local_code(uow, "LIS", "ZH", "L", "CRP", loinc="30522-7")
    with pytest.raises(MappedOtherwise):
        await map_local_code(uow, "LIS", "ZH", "L", "CRP", loinc="1988-5")
    await unmap_local_code(uow, "LIS", "ZH", "L", "CRP")
    await map_local_code(uow, "LIS", "HOSP", "", "HB", loinc="718-7")
    await remove_sender(uow, "LIS", "HOSP")
    entered, commits = uow.entered, uow.commits
    history = await local_code_history(uow)
    assert [(c.facility, c.code, c.mapping) for c in history] == [
        ("HOSP", "CRP", CRP),
        ("ZH", "CRP", OTHER_CRP),
        ("ZH", "CRP", None),  # removed
        ("HOSP", "HB", HB),
        ("HOSP", "CRP", None),  # with its sender
        ("HOSP", "HB", None),
    ]
    assert [c.loinc for c in await local_code_history(uow, "LIS", "ZH")] == ["30522-7", None]
    in_hosp = await local_code_history(uow, facility="HOSP")
    assert [c.loinc for c in in_hosp] == ["1988-5", "718-7", None, None]
    assert await local_code_history(uow, "LAB") == []
    assert (uow.entered - entered, uow.commits - commits, uow.open) == (4, 0, False)


async def test_a_code_mapped_again_to_another_loinc_code_says_when_it_was_read_otherwise() -> None:
    """Removed, then mapped to another LOINC code: results stored through the earlier
    mapping keep its code (the history says so); mapped again as before, nothing to say."""
    uow = _uow()
    first = await map_local_code(uow, "LIS", "HOSP", "L", "CRP", loinc="30522-7")
    assert first.earlier is None
    await unmap_local_code(uow, "LIS", "HOSP", "L", "CRP")
    other = await map_local_code(uow, "LIS", "HOSP", "L", "CRP", loinc="1988-5")
    assert other.earlier is not None and other.earlier.loinc == "30522-7"
    await unmap_local_code(uow, "LIS", "HOSP", "L", "CRP")
    await map_local_code(uow, "LIS", "HOSP", "L", "HB", loinc="718-7")  # another code
    again = await map_local_code(uow, "LIS", "HOSP", "L", "CRP", loinc="1988-5")
    assert again.earlier is not None and again.earlier.loinc == "30522-7"  # still stored


async def test_an_earlier_mapping_that_was_never_applied_is_not_warned_of() -> None:
    """A hand-made mapping to no trial analyte's code read nothing: no result keeps it."""
    uow = _uow()
    uow.codes.changes.append(LocalCodeChange("LIS", "HOSP", "L", "CRP", "9999-9", ADDED_AT))
    uow.codes.changes.append(LocalCodeChange("LIS", "HOSP", "L", "CRP", None, ADDED_AT))
    mapped = await map_local_code(uow, "LIS", "HOSP", "L", "CRP", loinc="1988-5")
    assert mapped.earlier is None
