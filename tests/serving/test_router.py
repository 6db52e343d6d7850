"""The A/B router: a 90/10 split holds over 10,000 requests, a sticky key always gets the
same version, and shadows are copies, never answers."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from neuroplast.errors import ConfigError
from neuroplast.serving import Router, unit_hash


def test_no_split_sends_everything_to_production() -> None:
    router = Router("rt", "rt:3")
    assert {router.choose(str(i)).ref for i in range(100)} == {"rt:3"}
    assert router.choose("x").arm == "production"
    assert router.refs == ("rt:3",)


def test_ninety_ten_over_ten_thousand_request_ids() -> None:
    router = Router.from_split("rt", "rt:3", {3: 0.9, 4: 0.1}, revision=7)
    ids = [str(uuid.UUID(int=i * 7919 + 13)) for i in range(10_000)]
    seen = Counter(router.choose(request_id).ref for request_id in ids)
    assert abs(seen["rt:4"] / 10_000 - 0.10) <= 0.015
    assert seen["rt:3"] + seen["rt:4"] == 10_000
    arms = {router.choose(i).ref: router.choose(i).arm for i in ids[:200]}
    # while a test runs, every answer it routed is in arm "ab", the production arm's too
    # (the registry's ab_status groups the log by version and arm)
    assert arms == {"rt:3": "ab", "rt:4": "ab"}


def test_a_sticky_key_always_gets_the_same_version() -> None:
    router = Router.from_split("rt", "rt:3", {3: 0.5, 4: 0.5}, sticky_key="user_id", revision=2)
    for user in range(500):
        versions = {router.choose(f"request-{user}-{n}", key=f"user-{user}").ref for n in range(20)}
        assert len(versions) == 1
    users = Counter(router.choose("r", key=f"user-{u}").ref for u in range(2000))
    assert 800 < users["rt:3"] < 1200  # keys are spread over both arms


def test_the_same_inputs_route_the_same_way_in_every_process() -> None:
    # sha256, not Python's salted hash(): replicas behind a load balancer agree
    assert unit_hash("rt", 1, "abc") == 0.4677496806619884
    assert 0.0 <= unit_hash("x") < 1.0


def test_a_new_revision_reshuffles_keys() -> None:
    first = Router.from_split("rt", "rt:3", {3: 0.5, 4: 0.5}, revision=1)
    second = Router.from_split("rt", "rt:3", {3: 0.5, 4: 0.5}, revision=2)
    moved = sum(first.choose(str(i)).ref != second.choose(str(i)).ref for i in range(1000))
    assert 350 < moved < 650


def test_shadows_get_copies_and_never_answer() -> None:
    router = Router.from_split("rt", "rt:3", {}, shadows=(5,))
    assert {router.choose(str(i)).ref for i in range(1000)} == {"rt:3"}
    assert router.shadow_refs("rt:3") == ("rt:5",)
    assert router.refs == ("rt:3", "rt:5")


def test_weights_are_normalised_and_checked() -> None:
    router = Router.from_split("rt", "rt:3", {3: 9, 4: 1})
    share = sum(router.choose(str(i)).ref == "rt:4" for i in range(10_000)) / 10_000
    assert abs(share - 0.1) <= 0.015
    with pytest.raises(ConfigError, match="must be 0 or more"):
        Router.from_split("rt", "rt:3", {3: -1, 4: 2})
    with pytest.raises(ConfigError, match="sum to 0"):
        Router.from_split("rt", "rt:3", {3: 0, 4: 0})
