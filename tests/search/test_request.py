"""What expert search accepts: a request as clients write it."""

from __future__ import annotations

from services.search.schemas import ExpertSearchRequest


def test_null_stands_for_a_field_left_out() -> None:
    """Clients that serialise every field of their own model send null for the ones unset:
    each means what leaving the field out means, not a 422."""
    fields = ExpertSearchRequest.model_fields
    sent = ExpertSearchRequest.model_validate(dict.fromkeys(fields))
    assert sent == ExpertSearchRequest()
    assert sent.limit == 20
    assert sent.discipline_codes == []
