"""Hypothesis strategies shared by the attest tests."""

from __future__ import annotations

from hypothesis import strategies as st

from attest import Statement


def statements(*, max_text: int = 80, max_stack: int = 4) -> st.SearchStrategy[Statement]:
    """Any statement: free text fields, a slot anywhere in the unsigned 64-bit range, maybe evidence."""
    text = st.text(max_size=max_text)
    return st.builds(
        Statement,
        process=text,
        slot=st.integers(min_value=0, max_value=2**64 - 1),
        result=text,
        hashpath=text,
        device_stack=st.lists(text, max_size=max_stack).map(tuple),
        attester=text,
        evidence=st.none() | text,
    )
