"""The log's canonical bytes never change: the fast encoder writes what compact JSON writes, byte for byte.

Each entry's hash covers the previous hash and the entry as compact ASCII JSON
of `(seq, at_ms, kind, detail)`. Logs stored by earlier firmware carry hashes
over exactly those bytes, so they must verify, and chain on, whatever encoder
writes them now.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thecal.pump.core.eventlog import GENESIS, EntryShape, EventLog, canonical_bytes


def _by_definition(seq: object, at_ms: object, kind: object, detail: object) -> bytes:
    return json.dumps((seq, at_ms, kind, detail), separators=(",", ":"), ensure_ascii=True).encode()


texts = st.text(max_size=12) | st.sampled_from(["bolus_start", "demand", 'a "quoted" word', "back\\slash", "é∆😀"])
values = st.integers(-(10**20), 10**20) | texts | st.booleans() | st.none() | st.floats(allow_nan=False)
details = st.lists(st.tuples(texts, values), max_size=5).map(tuple)


@settings(max_examples=500)
@given(seq=st.integers(0, 10**12), at_ms=st.integers(-(10**15), 10**15), kind=texts, detail=details)
def test_the_encoder_writes_the_bytes_compact_json_writes(seq: int, at_ms: int, kind: str, detail: tuple) -> None:
    """Any entry, twice (the second time from the texts it remembered): the same bytes as the definition."""
    assert canonical_bytes(seq, at_ms, kind, detail) == _by_definition(seq, at_ms, kind, detail)
    assert canonical_bytes(seq, at_ms, kind, detail) == _by_definition(seq, at_ms, kind, detail)


fixed_texts = st.lists(st.tuples(texts, texts), max_size=3).map(tuple)
integers = st.integers(-(10**20), 10**20)


@settings(max_examples=300)
@given(
    seq=st.integers(0, 10**12),
    at_ms=st.integers(-(10**15), 10**15),
    kind=texts,
    fixed=fixed_texts,
    named=st.lists(st.tuples(texts, integers), max_size=4),
)
def test_an_entry_shape_writes_the_bytes_compact_json_writes(
    seq: int, at_ms: int, kind: str, fixed: tuple, named: list
) -> None:
    """A template made from the texts (a '%' in them too) and filled with integers: the definition's bytes, and
    a log appended through it chains exactly as one appended with the detail itself."""
    shape = EntryShape(kind, fixed, tuple(k for k, _ in named))
    ints = tuple(v for _, v in named)
    detail = shape.detail(ints)
    assert detail == fixed + tuple(named)
    assert shape.canonical_bytes(seq, at_ms, ints) == _by_definition(seq, at_ms, kind, detail)
    shaped, plain = EventLog(4), EventLog(4)
    for log in (shaped, plain):
        log.append(0, "power_on", (("model", "programmable-20"),))
    made, written = shaped.append_shaped(at_ms, shape, ints), plain.append(at_ms, kind, detail)
    # The shaped entry makes its detail when first read: before that, its record and its storage are the same.
    assert repr(made) == repr(written) and made.to_data() == written.to_data()
    assert made == written and made.detail == detail
    assert shaped.verify() and shaped.head() == plain.head()


def test_an_entry_shape_keeps_a_percent_sign_and_takes_only_texts_as_fixed_values() -> None:
    """'%' is the template's own mark, so a text carrying one is still written as it is; an integer where a fixed
    text belongs would be written into the template once for all entries, so it is refused."""
    shape = EntryShape("50%", (("why", "100 %d %% sure"),), ("n",))
    detail = (("why", "100 %d %% sure"), ("n", 7))
    assert shape.canonical_bytes(1, 2, (7,)) == _by_definition(1, 2, "50%", detail)
    with pytest.raises(TypeError):
        EntryShape("bolus_end", (("volume_nl", 5),), ())


def test_values_that_are_not_plain_integers_or_texts_are_written_as_json_writes_them() -> None:
    """True is `true`, not 1; a float keeps its point; text outside ASCII is escaped, a quote too."""
    detail = (("on", True), ("ratio", 0.5), ("none", None), ("name", 'Zürich "1"'), ("n", 7))
    assert canonical_bytes(3, 4, "k", detail) == b'[3,4,"k",[["on",true],["ratio",0.5],["none",null],' + (
        b'["name","Z\\u00fcrich \\"1\\""],["n",7]]]'
    )


def test_a_log_hashed_by_the_definition_verifies_and_chains_on() -> None:
    """Entries stored with hashes over compact JSON load, verify, and the next entry chains as before."""
    stored, previous = [], GENESIS
    for seq, (kind, detail) in enumerate(
        [
            ("power_on", (("model", "programmable-20"),)),
            ("bolus_start", (("kind", "demand"), ("volume_nl", 15_000), ("rate_nl_per_day", 1_925_706))),
            ("refused", (("command", "Fill"), ("code", "bad_volume"), ("field", "fill.volume"), ("value", "41 mL"))),
        ]
    ):
        digest = hashlib.sha256(previous + _by_definition(seq, 1_000 * seq, kind, detail)).digest()
        stored.append([seq, 1_000 * seq, kind, [list(kv) for kv in detail], digest.hex()])
        previous = digest
    data = {"capacity": 8, "anchor": GENESIS.hex(), "next_seq": 3, "head": previous.hex(), "entries": stored}
    log = EventLog.from_data(data)
    assert log.verify()
    entry = log.append(5_000, "bolus_end", (("kind", "demand"), ("volume_nl", 15_000)))
    detail = [["kind", "demand"], ["volume_nl", 15_000]]
    assert entry.hash == hashlib.sha256(previous + _by_definition(3, 5_000, "bolus_end", detail)).digest()
    assert log.verify() and log.head() == entry.hash
