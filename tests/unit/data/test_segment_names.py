"""Segment column names and the labels they carry."""

from __future__ import annotations

import pytest

from biomoe.data.segments import segment_label, segment_name


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Baseline", "No"),
        ("BASELINE", "No"),
        ("baseline_1", "No"),
        ("LOW_3", "Low"),
        ("low_3", "Low"),
        ("1_LOW_1", "Low"),
        ("HIGH_12", "High"),
        ("12_HIGH_12", "High"),
        ("High-4", "High"),
        ("HIGH 4", "High"),
        ("HIGH4", "High"),
        ("REST_7", "Rest"),
        ("3_Rest_2", "Rest"),
        (" LOW_2 ", "Low"),
    ],
)
def test_recognised_names_carry_their_label(name: str, label: str) -> None:
    assert segment_label(name) == label


@pytest.mark.parametrize(
    "name", ["", "Segment_1", "HIGHER_1", "LOW_1_x", "Unnamed: 0", "1", "MEDIUM_2", "LOW_"]
)
def test_other_names_carry_no_label(name: str) -> None:
    assert segment_label(name) is None


def test_generated_names_round_trip() -> None:
    assert segment_name("baseline") == "Baseline"
    assert segment_name("high", 12) == "HIGH_12"
    assert [segment_label(segment_name(k, 1)) for k in ("low", "high", "rest")] == [
        "Low",
        "High",
        "Rest",
    ]
    with pytest.raises(ValueError, match="unknown segment kind"):
        segment_name("medium", 1)
