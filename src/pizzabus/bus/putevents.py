"""PutEvents as EventBridge validates it: the request, then each entry on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pizzabus.bus.eventjson import JsonRefused, loads_strict
from pizzabus.errors import ValidationError
from pizzabus.system import bus_name_of

#: EventBridge's limit on one PutEvents request (entries, and their size together).
MAX_ENTRIES = 10
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
MAX_DETAIL_TYPE_CHARS = 128
MAX_SOURCE_CHARS = 256


@dataclass(frozen=True)
class EntryError:
    """Why one entry was refused, as the PutEvents result reports it."""

    code: str
    message: str

    def result(self) -> dict[str, str]:
        return {"ErrorCode": self.code, "ErrorMessage": self.message}


@dataclass(frozen=True)
class ValidEntry:
    """An entry that passed validation, with its detail parsed."""

    source: str
    detail_type: str
    detail: dict[str, Any]
    detail_text: str
    bus_name: str
    resources: tuple[str, ...]
    time: str | None
    #: The X-Ray trace header the entry carries (``TraceHeader``), if any.
    trace_header: str | None = None


def validate_request(entries: object, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
    """Refuse a whole request that AWS refuses whole: not 1..10 entries, or too big."""
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise ValidationError("Entries must be a list of 1 to 10 entries.")
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise ValidationError(
            f"1 validation error detected: Value at 'entries' failed to satisfy constraint: "
            f"Member must have length between 1 and {MAX_ENTRIES} (it has {len(entries)}). "
            f"Split the events into requests of at most {MAX_ENTRIES}."
        )
    total = sum(entry_size(e) for e in entries if isinstance(e, Mapping))
    if total > max_request_bytes:
        raise ValidationError(
            f"Total size of the entries in the request is over the limit. "
            f"({total} bytes; the limit is {max_request_bytes})"
        )


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it: UTF-8 bytes of Source, DetailType, Detail and
    each resource, plus 14 bytes for Time when given."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode(errors="surrogatepass"))
    resources = entry.get("Resources")
    for resource in resources if isinstance(resources, list | tuple) else ():
        if isinstance(resource, str):
            size += len(resource.encode(errors="surrogatepass"))
    return size


def _required(name: str) -> EntryError:
    return EntryError(
        "InvalidArgument", f"Parameter {name} is not valid. Reason: {name} is a required argument."
    )


def validate_entry(entry: object, default_bus: str = "default") -> ValidEntry | EntryError:
    """Check one entry as EventBridge does, in its order: Source, DetailType, Detail."""
    if not isinstance(entry, Mapping):
        return EntryError("InvalidArgument", "Each entry must be an object.")
    source, detail_type, detail_text = (
        entry.get("Source"),
        entry.get("DetailType"),
        entry.get("Detail"),
    )
    if not isinstance(source, str) or not source:
        return _required("Source")
    if not isinstance(detail_type, str) or not detail_type:
        return _required("DetailType")
    if not isinstance(detail_text, str) or not detail_text:
        return _required("Detail")
    for name, text in (("Source", source), ("DetailType", detail_type)):
        if not _encodable(text):
            return EntryError(
                "InvalidArgument",
                f"Parameter {name} is not valid. Reason: it holds a lone UTF-16 surrogate, "
                "which UTF-8 cannot carry.",
            )
    if len(source) > MAX_SOURCE_CHARS:
        return EntryError(
            "InvalidArgument",
            f"Parameter Source is not valid. Reason: Source is at most {MAX_SOURCE_CHARS} "
            f"characters, and this one is {len(source)}.",
        )
    if len(detail_type) > MAX_DETAIL_TYPE_CHARS:
        return EntryError(
            "InvalidArgument",
            f"Parameter DetailType is not valid. Reason: DetailType is at most "
            f"{MAX_DETAIL_TYPE_CHARS} characters, and this one is {len(detail_type)}.",
        )
    try:
        detail = loads_strict(detail_text)
    except JsonRefused as error:
        return EntryError("MalformedDetail", f"Detail is malformed: {error}")
    except ValueError:
        return EntryError("MalformedDetail", "Detail is malformed.")
    if not isinstance(detail, dict):
        return EntryError("MalformedDetail", "Detail is malformed. It must be a JSON object.")
    resources = entry.get("Resources") or ()
    if (
        not isinstance(resources, Sequence)
        or isinstance(resources, str)
        or not all(isinstance(r, str) and _encodable(r) for r in resources)
    ):
        return EntryError("InvalidArgument", "Parameter Resources is not valid.")
    bus = entry.get("EventBusName") or default_bus
    time = entry.get("Time")
    trace_header = entry.get("TraceHeader")
    return ValidEntry(
        source=source,
        detail_type=detail_type,
        detail=detail,
        detail_text=detail_text,
        bus_name=bus_name_of(str(bus)),
        resources=tuple(resources),
        time=time if isinstance(time, str) else None,
        trace_header=trace_header if isinstance(trace_header, str) else None,
    )


def _encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
