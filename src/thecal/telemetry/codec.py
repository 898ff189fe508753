"""Strict canonical CBOR: the only way bytes from the radio become Python values.

Hostile bytes are the normal case here, so decoding accepts only plain data
(integers, text, byte strings, lists, maps with integer or text keys, booleans
and null), refuses tags, floats and indefinite lengths, and insists that the
input is exactly the canonical encoding of what it decodes to. The last rule
means one value has one encoding, so nobody can alter a frame's bytes without
altering its meaning.
"""

from __future__ import annotations

from collections.abc import Iterable

import cbor2

from thecal.telemetry.errors import RejectCode, Rejected

MAX_DEPTH = 8


def encode(value: object) -> bytes:
    """Encode plain data as canonical CBOR, refusing anything that is not plain."""
    problem = _plain_problem(value, 0)
    if problem:
        raise ValueError(f"cannot encode as telemetry CBOR: {problem}")
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, what: str, code: RejectCode = RejectCode.MALFORMED_FRAME) -> object:
    """Decode canonical CBOR holding plain data, or refuse it with a reason."""
    try:
        value = cbor2.loads(data, allow_indefinite=False, allow_duplicate_keys=False, max_depth=MAX_DEPTH)
    except Exception as exc:  # hostile bytes can fail anywhere inside the decoder; every failure is a refusal
        raise Rejected(code, f"{what} is not valid CBOR ({type(exc).__name__})") from None
    problem = _plain_problem(value, 0)
    if problem:
        raise Rejected(code, f"{what} holds {problem}; only integers, text, bytes, lists and maps travel")
    if cbor2.dumps(value, canonical=True) != data:
        raise Rejected(code, f"{what} is not in canonical CBOR form (trailing bytes or a longer encoding)")
    return value


_SCALARS = frozenset({int, str, bytes, bool, type(None)})
_KEYS = frozenset({int, str})


def _plain_problem(value: object, depth: int) -> str | None:
    # Depth is checked here as well as in the decoder: value-sharing tags can build cycles.
    if depth > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH} levels"
    kind = type(value)
    if kind in _SCALARS:
        return None
    if kind is list:
        items: Iterable[object] = value  # type: ignore[assignment]
    elif kind is dict:
        for key in value:  # type: ignore[attr-defined]
            if type(key) not in _KEYS:
                return f"a map key of type {type(key).__name__}"
        items = value.values()  # type: ignore[attr-defined]
    else:
        return f"a value of type {kind.__name__}"
    for item in items:
        if depth >= MAX_DEPTH or type(item) not in _SCALARS:  # a scalar one level too deep is too deep too
            problem = _plain_problem(item, depth + 1)
            if problem:
                return problem
    return None
