"""The trial protocol's parameters: one versioned TOML file (PROTOCOL.md, its opening).

The file is read with the standard library's ``tomllib`` and checked whole: its ``version``
(the protocol version every decision records) must be the file's name without ``.toml``, so
that a changed parameter is a new protocol version and never the old version with other
numbers; every key is required, no other key is read (a misspelt one is an error, never a
default silently used), and each value has its type and range. Any fault is a
``ProtocolFileError`` that names the file and the key. The format is shared; each service
takes its own section (lab-ingestion: ``[lab_ingestion]``) and applies it in its domain.

The platform's file, ``DEFAULT_PROTOCOL_FILE``, lies beside this module: it is package data,
found the same from a clone, an editable install or a wheel, whatever the current directory.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "DEFAULT_PROTOCOL_FILE",
    "LabIngestionProtocol",
    "Protocol",
    "ProtocolFileError",
    "load_protocol",
]

DEFAULT_PROTOCOL_FILE = Path(__file__).resolve().parent / "LENA-CCS-1.toml"
# what an event's protocol_version holds (shared.contracts.events: at most 32 characters)
VERSION_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,30}[A-Za-z0-9])?"

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
# the CRP factor's plausible values (nmol/L per mg/L): 9.524 from CRP's molar mass
CRP_NMOL_PER_MG_L_WINDOW = (8.0, 11.0)


class ProtocolFileError(ValueError):
    """The protocol file cannot be used: missing, not TOML, or not the protocol's format."""


class _Section(BaseModel):
    # strict: TOML is typed, so "9.524" (a string) or true is a mistake, not a number
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class LabIngestionProtocol(_Section):
    """``[lab_ingestion]``: the laboratory conventions of its unit conversions (PROTOCOL
    section 6)."""

    crp_nmol_per_mg_l: PositiveFinite  # CRP nmol/L divided by this is mg/L

    @field_validator("crp_nmol_per_mg_l")
    @classmethod
    def _plausible_crp_factor(cls, value: float) -> float:
        """Review 118: 0.105 (the inverse convention), 1e-300 or 1e300 loaded, and 95.24
        nmol/L would have been stored as 907 mg/L. The factor follows from CRP's molar mass
        (about 105 kDa per pentamer: 9.524); assays' conventions differ by a few percent."""
        low, high = CRP_NMOL_PER_MG_L_WINDOW
        if not low <= value <= high:
            raise ValueError(
                f"must lie between {low:g} and {high:g} nmol/L per mg/L (CRP's molar mass "
                "gives 9.524; 0.105, its inverse, is mg/L per nmol/L)"
            )
        return value


class Protocol(_Section):
    """A protocol file's content: its version and each service's section."""

    version: Annotated[str, Field(pattern=f"^{VERSION_PATTERN}$")]
    lab_ingestion: LabIngestionProtocol


def load_protocol(path: Path) -> Protocol:
    """The protocol in ``path``, checked whole (see the module's docstring); raises
    ProtocolFileError naming the file and what is wrong."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ProtocolFileError(f"protocol file {path}: no such file") from None
    except IsADirectoryError:
        raise ProtocolFileError(f"protocol file {path}: is a directory, not a file") from None
    except UnicodeDecodeError as error:
        raise ProtocolFileError(f"protocol file {path}: not UTF-8 text ({error})") from None
    except OSError as error:
        raise ProtocolFileError(f"protocol file {path}: cannot be read ({error})") from None
    try:
        content = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProtocolFileError(f"protocol file {path}: not valid TOML ({error})") from None
    try:
        protocol = Protocol.model_validate(content)
    except ValidationError as error:
        faults = "; ".join(_fault(e) for e in error.errors(include_url=False))
        raise ProtocolFileError(f"protocol file {path}: {faults}") from None
    if protocol.version != path.stem:
        raise ProtocolFileError(
            f"protocol file {path}: its version {protocol.version!r} is not the file's name: "
            f"a protocol version's file is named after it ({protocol.version}.toml), so that "
            "changed parameters are a new version, never the old one's"
        )
    return protocol


def _fault(error: Any) -> str:
    """One validation error as the key it concerns and what is wrong with it."""
    key = ".".join(str(part) for part in error["loc"]) or "(the file)"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (the protocol reads {_known(error['loc'])} there)"
    if error["type"] == "missing":
        return f"{key}: missing"
    given = error.get("input")
    if error["type"] == "value_error":  # a check of ours: its own words, no "Value error, "
        error = {**error, "msg": str(error["ctx"]["error"])}
    shown = f" (given {_shown(given)})" if isinstance(given, str | int | float | bool) else ""
    return f"{key}: {error['msg']}{shown}"


def _known(location: tuple[int | str, ...]) -> str:
    """The keys the protocol reads beside the unknown one at ``location``."""
    model: type[BaseModel] = Protocol
    for part in location[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    return ", ".join(model.model_fields)


def _shown(value: str | float | bool) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf: as TOML writes them
    return re.sub(r"[^\x20-\x7e]", "?", repr(value))[:40]
