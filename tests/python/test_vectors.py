"""Golden wire vectors (tests/vectors/messages.json) round trip byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Union

import pytest

import synodos
from synodos import Batch, InvalidMessageError, Promise, Proposal, Request

VECTORS: List[Dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "messages.json").read_text()
)["vectors"]
Message = Union[Request, Promise, Proposal, Batch]
KINDS: Dict[str, Any] = {"request": Request, "promise": Promise, "proposal": Proposal, "batch": Batch}


def check_proposal(p: Proposal, fields: Dict[str, Any]) -> None:
    assert p.id == int(fields["id"])
    assert p.slot == int(fields["slot"])
    assert p.value == bytes.fromhex(fields["value_hex"])
    assert p.promised == int(fields["promised"])


def check_fields(msg: Message, fields: Dict[str, Any]) -> None:
    if isinstance(msg, Request):
        assert (msg.id, msg.attempt, msg.slot) == (int(fields["id"]), int(fields["attempt"]), int(fields["slot"]))
    elif isinstance(msg, Promise):
        assert (msg.id, msg.slot, msg.promised) == (int(fields["id"]), int(fields["slot"]), int(fields["promised"]))
        # An absent frontier is unknown (None), never 0.
        frontier = fields.get("frontier")
        assert msg.frontier == (None if frontier is None else int(frontier))
        assert msg.trimmed == int(fields.get("trimmed", "0"))
        if fields["accepted"] is None:
            assert msg.accepted is None
        else:
            assert msg.accepted is not None
            check_proposal(msg.accepted, fields["accepted"])
    elif isinstance(msg, Batch):
        assert msg.id == int(fields["id"])
        assert [(e.slot, e.value) for e in msg.entries] == [
            (int(e["slot"]), bytes.fromhex(e["value_hex"])) for e in fields["entries"]
        ]
    else:
        check_proposal(msg, fields)


def test_there_are_vectors_of_every_kind() -> None:
    assert {v["kind"] for v in VECTORS} == set(KINDS)
    assert any("error" in v for v in VECTORS)


@pytest.mark.parametrize("vector", [v for v in VECTORS if "error" not in v], ids=lambda v: str(v["name"]))
def test_valid_vector_round_trips(vector: Dict[str, Any]) -> None:
    cls = KINDS[vector["kind"]]
    msg: Message = cls.from_json(vector["json"])
    check_fields(msg, vector["fields"])
    assert msg.to_json() == vector.get("encoded", vector["json"])
    again: Message = cls.from_json(msg.to_json())
    assert again == msg and hash(again) == hash(msg)


@pytest.mark.parametrize("vector", [v for v in VECTORS if "error" in v], ids=lambda v: str(v["name"]))
def test_invalid_vector_is_refused(vector: Dict[str, Any]) -> None:
    with pytest.raises(InvalidMessageError) as info:
        KINDS[vector["kind"]].from_json(vector["json"])
    assert info.value.code == vector["error"]
    assert isinstance(info.value, synodos.SynodosError)


def test_messages_are_immutable_values() -> None:
    a = Proposal(id=5, slot=2, value=b"hello")
    assert a == Proposal(5, 2, b"hello") and a != Proposal(5, 2, b"hellO")
    assert repr(a) == "Proposal(id=5, slot=2, value=b'hello', promised=0)"
    assert repr(Request(id=7, attempt=1)) == "Request(id=7, attempt=1, slot=0)"
    p = Promise(id=9, slot=2, accepted=a)
    assert repr(p) == (
        "Promise(id=9, slot=2, accepted=Proposal(id=5, slot=2, value=b'hello', promised=0), promised=0, frontier=None)"
    )
    assert Promise(id=9, frontier=0).frontier == 0 and Promise(id=9).frontier is None
    assert not Promise(id=9, slot=1, trimmed=4).is_granted()
    assert p.is_granted() and not Promise(id=1, promised=3).is_granted()
    assert len({a, Proposal(5, 2, b"hello")}) == 1
    with pytest.raises(AttributeError):
        a.id = 6  # type: ignore[misc]
    with pytest.raises(OverflowError):
        Request(id=-1)
    assert Request(id=2**64 - 1).to_json() == '{"id":18446744073709551615}'
