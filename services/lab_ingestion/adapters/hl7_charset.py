"""The character set an inbound HL7 v2 message is read in, and its ACK written in.

MSH-18 names it (HL7 table 0211). It is read from the raw bytes: every table 0211 set
this module reads writes the MSH segment up to MSH-18 in ASCII. A hospital number read in
the wrong set matches no enrolment, and its result is discarded as not enrolled, so:

- bytes that are valid UTF-8 are read as UTF-8, whatever single-byte set MSH-18 declares:
  text in ISO 8859 is almost never valid UTF-8 by chance (``Ã¼`` would have to be meant),
  and laboratories declaring ``8859/1`` while sending UTF-8 are common;
- other bytes are read strictly in the single-byte set declared; a message not valid in the
  set it declares (UTF-8 with a stray Windows-1252 byte, an ISO 8859-7 byte it leaves
  undefined, a high byte under ``ASCII``) is malformed (``DecodedMessage.broken``);
- without MSH-18, or with a set not in the table, other bytes are read as ISO 8859-1.
"""

from __future__ import annotations

import codecs
import contextlib
from dataclasses import dataclass

UTF_8, ISO_8859_1 = "utf-8", "iso8859-1"
UTF_8_NAME = "UNICODE UTF-8"  # its table 0211 name: HTTP's ACKs are written in it
# HL7 table 0211 names (v2.5 and the ISO IR names of later versions) and Python's codecs
_ISO_8859 = {
    f"8859/{part}": f"iso8859-{part}" for part in (*range(1, 12), *range(13, 16))
}  # (ISO 8859-12 was never published)
_ISO_IR = {
    "ISO IR6": "ascii", "ISO IR100": "iso8859-1", "ISO IR101": "iso8859-2",
    "ISO IR109": "iso8859-3", "ISO IR110": "iso8859-4", "ISO IR144": "iso8859-5",
    "ISO IR127": "iso8859-6", "ISO IR126": "iso8859-7", "ISO IR138": "iso8859-8",
    "ISO IR148": "iso8859-9", "ISO IR203": "iso8859-15", "ISO IR192": UTF_8,
}  # fmt: skip
CHARACTER_SETS = {"ASCII": "ascii", UTF_8_NAME: UTF_8, **_ISO_8859, **_ISO_IR}
# the table 0211 name an ACK's MSH-18 gives a codec (ASCII none: an empty MSH-18 means it)
_NAMES = {UTF_8: UTF_8_NAME, **{codec: name for name, codec in _ISO_8859.items()}}
_MSH18 = 17  # its index among the MSH line's fields (MSH-1 is the separator itself)
_LEADING = b" \t\r\n\x00\x0b\x0c\x1c"  # framing and blanks a sender may put before MSH
_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class DecodedMessage:
    """A message's text and the codec it was read in (its ACK is written in it too, so
    that MSA-2 is the sender's MSH-10 byte for byte). ``broken``: the table 0211 name of
    the set MSH-18 declares, when the message is not valid in it (then ``text`` is read by
    the rule for an undeclared set, to be kept as a rejection)."""

    text: str
    codec: str
    broken: str | None = None
    declared: str | None = None  # the table 0211 name MSH-18 gives, when it names one

    @property
    def charset(self) -> str | None:
        """The table 0211 name of ``codec``, for the ACK's MSH-18: the one MSH-18 gave when
        the message was read in that set (``ISO IR192`` stays so), None for ASCII."""
        if self.declared is not None and CHARACTER_SETS[self.declared] == self.codec:
            return None if self.codec == "ascii" else self.declared
        return _NAMES.get(self.codec)


def decode_message(raw: bytes) -> DecodedMessage:
    """``raw`` read as the module says (never fails)."""
    declared = declared_charset(raw)
    codec = CHARACTER_SETS[declared] if declared is not None else None
    try:
        text = raw.decode(UTF_8)
    except UnicodeDecodeError:
        pass
    else:  # plain ASCII reads alike in every set: answered in the one declared
        return DecodedMessage(text, codec if codec and raw.isascii() else UTF_8, None, declared)
    if codec is not None and codec != UTF_8:
        with contextlib.suppress(UnicodeDecodeError):
            return DecodedMessage(raw.decode(codec), codec, None, declared)
    # every byte is one
    return DecodedMessage(raw.decode(ISO_8859_1), ISO_8859_1, declared, declared)


def declared_charset(raw: bytes) -> str | None:
    """The table 0211 name MSH-18 gives (its first repetition), None when the message
    declares no set this module reads (none, one not in the table, or no MSH first)."""
    line = raw.lstrip(_LEADING).removeprefix(_BOM).split(b"\r", 1)[0].split(b"\n", 1)[0]
    if not line.startswith(b"MSH") or len(line) < 8:
        return None
    fields = line.split(line[3:4])
    if len(fields) <= _MSH18:
        return None
    component, repetition = line[4:5], line[5:6]
    value = fields[_MSH18].split(repetition)[0].split(component)[0]
    name = " ".join(value.decode("ascii", "replace").split()).upper()
    return name if name in CHARACTER_SETS else None
