"""Which rows of a renumbered member list may take a number another member holds."""

from __future__ import annotations

from services.registry.onboarding.members import settle_renumbering


def test_a_swap_holds_together() -> None:
    # Row 1 (person a, membership A) wants B's number and row 2 wants A's.
    waiting = [(1, "a", "B", "n2"), (2, "b", "A", "n1")]
    movers = {"A": (1, "n2", False), "B": (2, "n1", False)}
    assert settle_renumbering(waiting, set(), movers) == {1, 2}


def test_a_chain_is_free_when_its_last_holder_is_moved_by_an_accepted_row() -> None:
    n = 24_000
    # Row i wants the number of membership i+1, whose row wants that of i+2, and so on; the
    # last holder is moved by an accepted row.
    waiting = [(i, f"p{i}", f"M{i + 1}", f"n{i + 1}") for i in range(n)]
    movers = {f"M{i}": (i, f"n{i + 1}", i == n) for i in range(1, n + 1)}
    assert settle_renumbering(waiting, set(), movers) == set(range(n))


def test_a_chain_whose_last_holder_keeps_the_number_is_refused_whole() -> None:
    n = 24_000
    waiting = [(i, f"p{i}", f"M{i + 1}", f"n{i + 1}") for i in range(n)]
    movers = {f"M{i}": (i, f"n{i + 1}", False) for i in range(1, n)}
    assert settle_renumbering(waiting, set(), movers) == set()


def test_a_holder_given_the_same_number_again_is_not_moved() -> None:
    waiting = [(1, "a", "B", "n2")]
    assert settle_renumbering(waiting, set(), {"B": (2, "n2", True)}) == set()


def test_a_person_placed_by_another_row_keeps_the_refusal() -> None:
    waiting = [(1, "a", "B", "n2"), (3, "c", "D", "n4"), (5, "c", "D", "n4")]
    movers = {"B": (2, "n9", True), "D": (4, "n8", True)}
    assert settle_renumbering(waiting, {"a"}, movers) == {3}


def test_a_second_row_waiting_for_the_same_number_stays_refused() -> None:
    waiting = [(1, "a", "H", "n5"), (7, "b", "H", "n5")]
    assert settle_renumbering(waiting, set(), {"H": (3, "n6", True)}) == {1}
