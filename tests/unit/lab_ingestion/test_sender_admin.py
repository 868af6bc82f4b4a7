"""The allow-list's administration (``cachexia source add | list | remove``) in the service
layer: one committed unit of work a call, and what the operator should know as data."""

from __future__ import annotations

from services.lab_ingestion.domain.allow_list import (
    AllowedSender,
    Cleared,
    LabToken,
    SettingsGiven,
)
from services.lab_ingestion.domain.records import Sender
from services.lab_ingestion.service_layer.sender_admin import (
    ListedSender,
    SenderAllowed,
    SenderNote,
    SenderRemoved,
    allow_sender,
    list_senders,
    remove_sender,
)
from tests.unit.lab_ingestion.sender_admin_fakes import (
    ADDED_AT,
    FakeAllowList,
    FakeLabTokens,
    FakeSenderAdminUnitOfWork,
)

EVERY_NOTE_OF_A_BARE_SENDER = (
    SenderNote.NO_SITE,
    SenderNote.NO_TIME_ZONE,
    SenderNote.NO_IDENTIFIER_AUTHORITY,
)


async def test_a_new_sender_without_settings_is_told_of_each_setting_it_lacks() -> None:
    uow = FakeSenderAdminUnitOfWork()
    allowed = await allow_sender(uow, "LIS", "HOSP")
    assert allowed == SenderAllowed("LIS", "HOSP", True, Sender(), EVERY_NOTE_OF_A_BARE_SENDER)
    assert (uow.entered, uow.commits) == (1, 1)
    assert uow.sources.senders == {("LIS", "HOSP"): Sender()}


async def test_a_sender_with_every_setting_has_nothing_to_be_told() -> None:
    uow = FakeSenderAdminUnitOfWork(FakeAllowList(sites={"CH-01", "CH-02"}))
    given = SettingsGiven("Europe/Zurich", "CH-01", ("HOSP", "urn:hosp"))
    allowed = await allow_sender(uow, "LIS", "HOSP", given)
    assert allowed.notes == ()
    assert allowed.settings == Sender("Europe/Zurich", "CH-01", "HOSP", ("urn:hosp",))
    assert allowed.sites_with_subjects == ("CH-01", "CH-02")
    assert uow.sources.authorities == ("HOSP", "urn:hosp")
    assert uow.commits == 1


async def test_a_site_without_enrolled_subjects_is_noted_with_the_sites_that_have_some() -> None:
    """A typo in --site would discard every result of the sender."""
    uow = FakeSenderAdminUnitOfWork(FakeAllowList(sites={"CH-02", "CH-01"}))
    allowed = await allow_sender(uow, "LIS", "HOSP", SettingsGiven("UTC", "CH09"))
    assert allowed.notes == (SenderNote.SITE_WITHOUT_SUBJECTS, SenderNote.NO_IDENTIFIER_AUTHORITY)
    assert allowed.sites_with_subjects == ("CH-01", "CH-02")
    none_yet = await allow_sender(
        FakeSenderAdminUnitOfWork(), "LIS", "HOSP", SettingsGiven(site_id="CH09")
    )
    assert none_yet.notes[0] is SenderNote.SITE_WITHOUT_SUBJECTS
    assert none_yet.sites_with_subjects == ()


async def test_notes_follow_the_settings_kept_not_those_given() -> None:
    """Settings given before stay: a change of one is not told of the others' lack; one
    forgotten is."""
    kept = Sender("Europe/Zurich", "CH-01", "HOSP")
    uow = FakeSenderAdminUnitOfWork(FakeAllowList({("LIS", "HOSP"): kept}, sites={"CH-01"}))
    again = await allow_sender(uow, "LIS", "HOSP")
    assert again == SenderAllowed("LIS", "HOSP", False, kept, ())
    forget = Cleared(time_zone=True, identifier_authority=True)
    forgot = await allow_sender(uow, "LIS", "HOSP", SettingsGiven(cleared=forget))
    assert forgot.settings == Sender(None, "CH-01")
    assert forgot.notes == (SenderNote.NO_TIME_ZONE, SenderNote.NO_IDENTIFIER_AUTHORITY)
    assert uow.commits == 2


async def test_a_sender_removed_meanwhile_is_told_of_every_setting() -> None:
    uow = FakeSenderAdminUnitOfWork(FakeAllowList(sites={"CH-01"}, gone_after_add=True))
    allowed = await allow_sender(uow, "LIS", "HOSP", SettingsGiven("UTC", "CH-01"))
    assert allowed.settings is None
    assert allowed.notes == EVERY_NOTE_OF_A_BARE_SENDER


async def test_the_list_is_read_in_one_unit_of_work() -> None:
    senders = {("LIS", "ZH"): Sender("Europe/Zurich"), ("AAA", "BE"): Sender()}
    uow = FakeSenderAdminUnitOfWork(FakeAllowList(senders))
    assert await list_senders(uow) == [
        ListedSender(AllowedSender("AAA", "BE", Sender(), ADDED_AT), 0),
        ListedSender(AllowedSender("LIS", "ZH", Sender("Europe/Zurich"), ADDED_AT), 0),
    ]
    assert uow.entered == 1 and not uow.open


def _tokens() -> FakeLabTokens:
    return FakeLabTokens([
        LabToken("hosp-lis", ("LIS^HOSP", "hub^FHIR")),
        LabToken("other-lis", ("LIS^OTHER",)),
        LabToken("any-b", None),
        LabToken("any-a", None),
        LabToken("any-a", None),  # a name used twice is named once
    ])  # fmt: skip


async def test_a_removed_sender_names_the_tokens_that_deliver_as_it() -> None:
    uow = FakeSenderAdminUnitOfWork(FakeAllowList({("LIS", "HOSP"): Sender()}), _tokens())
    removed = await remove_sender(uow, "LIS", "HOSP")
    assert removed == SenderRemoved("LIS^HOSP", True, ("hosp-lis",), ("any-a", "any-b"), 0)
    assert uow.sources.senders == {}
    assert (uow.entered, uow.commits) == (1, 1)


async def test_a_sender_not_allowed_is_not_removed_but_its_tokens_are_named() -> None:
    """A JSON or FHIR sender is never on the allow-list: its tokens are still named."""
    uow = FakeSenderAdminUnitOfWork(tokens=_tokens())
    removed = await remove_sender(uow, "LIS", "OTHER")
    assert removed == SenderRemoved("LIS^OTHER", False, ("other-lis",), ("any-a", "any-b"), 0)
    alone = await remove_sender(FakeSenderAdminUnitOfWork(), "LIS", "HOSP")
    assert alone == SenderRemoved("LIS^HOSP", False, (), (), 0)
