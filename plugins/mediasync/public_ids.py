"""Public ids and folder paths, checked where they enter mediasync (API, notifications,
reconciliation listings) and compared by path segment, never by string prefix.

A public_id names a path on the delivery host (`/{cloud}/{resource_type}/{type}/v1/{public_id}.{format}`)
and a folder in the managed scope. So an id is refused when it could name something else there:
a `.` or `..` segment (URL normalisation collapses it: `main-uploads/../../_emulator/control`
leaves the delivery path), an empty segment, a name starting or ending with whitespace, a control
character, a character Cloudinary forbids (`?&#\\%<>+`, per its "Permitted naming conventions"),
or more than Cloudinary's 255 characters.
What is left is built into URLs one percent-encoded segment at a time (`encoded_path`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from mediasync.errors import InvalidInput

MAX_PUBLIC_ID_LENGTH = 255  # Cloudinary: "Length: between 1 and 255 characters"
MAX_FOLDER_LENGTH = 1024  # asset folders are paths of names; generous, but bounded
FORBIDDEN_CHARACTERS = frozenset("?&#\\%<>+")  # Cloudinary: "utterly forbidden" in a public_id
# Each check is one compiled pattern over the whole path: a full listing checks every asset it
# lists (a million at a time), so no check walks the characters or the segments in Python.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc: C0, DEL and C1 controls
_FORBIDDEN = re.compile("[" + re.escape("".join(sorted(FORBIDDEN_CHARACTERS))) + "]")
_EDGE_WHITESPACE = re.compile(r"(?:^|/)\s|\s(?:/|\Z)")  # a name that starts or ends with str.isspace()
_DOT_SEGMENT = re.compile(r"(?:^|/)\.\.?(?:/|\Z)")
_VERSION_FOLDER = re.compile(r"(?:^|/)v\d+/")  # Cloudinary: a folder may not be named v<digits> (the version's place)
# The paths nearly every listed asset has — ASCII names, none a dot segment or a version folder —
# pass all the checks above at once; anything else is looked at check by check, to say why.
_PLAIN_NAME = r"(?!v\d+/)[A-Za-z0-9_-][A-Za-z0-9_.-]*"
_PLAIN_PATH = re.compile(f"{_PLAIN_NAME}(?:/{_PLAIN_NAME})*")


def _is_plain(value: object, max_length: int) -> bool:
    """The path nearly every asset has, accepted in one match: a string within the limit, every
    name plain (`_PLAIN_PATH`). Anything else is looked at check by check, to say why."""
    return isinstance(value, str) and len(value) <= max_length and _PLAIN_PATH.fullmatch(value) is not None


def path_problem(value: object, *, max_length: int, allow_empty: bool) -> str | None:
    """Why `value` is not a safe slash-separated path of names (None when it is)."""
    if _is_plain(value, max_length):
        return None
    if not isinstance(value, str):
        return "must be a string"
    if value == "":
        return None if allow_empty else "must not be empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if _CONTROL.search(value):
        return "contains a control character"
    if _FORBIDDEN.search(value):
        forbidden = "".join(sorted(FORBIDDEN_CHARACTERS.intersection(value)))
        return f"contains a character Cloudinary forbids ({forbidden})"
    if value.startswith("/") or value.endswith("/") or "//" in value:
        return "has an empty path segment (a leading, trailing or doubled '/')"
    if _EDGE_WHITESPACE.search(value):
        return "has a name that starts or ends with whitespace"
    if _DOT_SEGMENT.search(value):
        return "has a '.' or '..' path segment"
    if _VERSION_FOLDER.search(value):
        return "has a folder named like a version (v<digits>)"
    return None


def public_id_problem(value: object) -> str | None:
    return path_problem(value, max_length=MAX_PUBLIC_ID_LENGTH, allow_empty=False)


def folder_problem(value: object) -> str | None:
    """'' is the root folder."""
    return path_problem(value, max_length=MAX_FOLDER_LENGTH, allow_empty=True)


def is_valid_public_id(value: object) -> bool:
    """A listing asks this of every asset: the common plain path is accepted in one match, without
    the calls that would say why another one is refused."""
    return _is_plain(value, MAX_PUBLIC_ID_LENGTH) or public_id_problem(value) is None


def is_valid_folder(value: object) -> bool:
    return folder_problem(value) is None


def checked_public_id(value: object, what: str = "public_id") -> str:
    """`value` if it is a safe public_id; else `InvalidInput` (422) saying why."""
    if problem := public_id_problem(value):
        raise InvalidInput(f"{what} {problem}", 422)
    return str(value)


def checked_folder(value: object, what: str = "folder") -> str:
    if problem := folder_problem(value):
        raise InvalidInput(f"{what} {problem}", 422)
    return str(value)


def segments(path: str) -> tuple[str, ...]:
    """The path's names ('' is the root: no names)."""
    return tuple(path.split("/")) if path else ()


def within(folder: str, parent: str) -> bool:
    """`folder` is `parent` or lies under it, segment by segment; a path that is not a safe folder
    (dot segments, empty segments, ...) lies nowhere."""
    if not is_valid_folder(folder) or not is_valid_folder(parent):
        return False
    outer = segments(parent)
    return segments(folder)[:len(outer)] == outer


def encoded_path(public_id: str) -> str:
    """The public_id as a URL path: each segment percent-encoded (nothing in a name can become a
    separator, a query or a fragment), the slashes between them kept."""
    return "/".join(quote(segment, safe="") for segment in checked_public_id(public_id).split("/"))
