"""The AI4PAIN reader: the windows table from demo and real-style files, and every DataError."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biomoe.config import Params
from biomoe.data.ai4pain import read_ai4pain
from biomoe.data.demo import subject_ids
from biomoe.data.params import MODALITIES, SPLITS, IngestParams
from biomoe.data.windows import WINDOW_COLUMNS
from biomoe.errors import DataError

WriteSubject = Callable[..., dict[str, Path]]


def _with(params: Params, **update: object) -> IngestParams:
    return params.ingest.model_copy(update=update)


def _rewrite(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, count))


# --- the demo dataset ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def windows(demo_raw: Path, tiny_params: Params) -> pd.DataFrame:
    return read_ai4pain(demo_raw, tiny_params.ingest)


def test_schema_and_dtypes(windows: pd.DataFrame) -> None:
    assert tuple(windows.columns) == WINDOW_COLUMNS
    assert windows["fs"].dtype == np.int64
    assert windows["n_samples"].dtype == np.int64
    for column in ("window_id", "sample_id", "subject", "split", "segment", "modality"):
        assert all(isinstance(v, str) for v in windows[column])
    assert all(isinstance(s, np.ndarray) and s.dtype == np.float32 for s in windows["signal"])
    assert (windows["n_samples"] == windows["signal"].map(len)).all()
    assert (windows["fs"] == 100).all()


def test_counts_and_labels(windows: pd.DataFrame, tiny_params: Params) -> None:
    demo = tiny_params.demo
    per_subject = 1 + demo.n_low + demo.n_high
    assert len(windows) == 7 * per_subject * len(MODALITIES)
    counts = windows[windows.modality == "Eda"].groupby("subject")["label"].value_counts()
    for subject in windows.subject.unique():
        assert counts[subject].to_dict() == {"No": 1, "Low": demo.n_low, "High": demo.n_high}
    assert not windows["segment"].str.startswith("REST").any()


def test_ids_and_source_files(windows: pd.DataFrame, demo_raw: Path) -> None:
    row = windows.iloc[0]
    assert row.window_id == f"{row.subject}/{row.segment}/{row.modality}"
    assert row.sample_id == f"{row.subject}/{row.segment}"
    assert row.source_file == f"{row.split}/{row.modality}/{row.subject}.csv"
    assert windows["window_id"].is_unique
    assert all((demo_raw / p).is_file() for p in windows["source_file"].unique())


def test_rows_are_in_a_deterministic_order(
    windows: pd.DataFrame, demo_raw: Path, tiny_params: Params
) -> None:
    ids = subject_ids(tiny_params.demo)
    assert list(dict.fromkeys(windows["split"])) == list(SPLITS)
    assert list(dict.fromkeys(windows["subject"])) == [s for sp in SPLITS for s in ids[sp]]
    s001 = windows[windows.subject == "S001"]
    assert list(s001["modality"][:4]) == list(MODALITIES)
    header = (demo_raw / "train" / "Bvp" / "S001.csv").read_text().splitlines()[0].split(",")
    assert list(dict.fromkeys(s001["segment"])) == [n for n in header if not n.startswith("REST")]


def test_signals_match_the_csv(windows: pd.DataFrame, demo_raw: Path) -> None:
    frame = pd.read_csv(demo_raw / "validation" / "Resp" / "S005.csv")
    row = windows[windows.window_id == "S005/Baseline/Resp"].iloc[0]
    expected = frame["Baseline"].dropna().to_numpy(dtype=np.float32)
    np.testing.assert_array_equal(row.signal, expected)


def test_rest_segments_are_kept_on_request(demo_raw: Path, tiny_params: Params) -> None:
    with_rest = read_ai4pain(demo_raw, _with(tiny_params, include_rest=True))
    rest = with_rest[with_rest.segment.str.startswith("REST")]
    n_rest = tiny_params.demo.n_low + tiny_params.demo.n_high - 1
    assert len(rest) == 7 * n_rest * len(MODALITIES)
    assert set(rest["label"]) == {"Rest"}


def test_a_subset_of_modalities(demo_raw: Path, tiny_params: Params) -> None:
    only = read_ai4pain(demo_raw, _with(tiny_params, modalities=("Eda", "SpO2")))
    assert list(dict.fromkeys(only["modality"])) == ["Eda", "SpO2"]


# --- real-style files ---------------------------------------------------------------------


def test_real_style_files(
    empty_layout: Path, write_subject: WriteSubject, tiny_params: Params
) -> None:
    train = [
        ("Baseline", [1.0, 2.0, 3.0, 4.0]),
        ("1_LOW_1", [5.0, None, 7.0]),
        ("2_high_1", [8.0, 9.0]),
        ("3_REST_1", [0.5]),
        ("4_HIGH_2", [1.5, 2.5, 3.5, 4.5]),
    ]
    write_subject(empty_layout, "train", "2", train)
    write_subject(empty_layout, "train", "10", train)
    write_subject(empty_layout, "validation", "20", train[:2])
    write_subject(empty_layout, "test", "30", [("Segment_1", [1.0, 2.0]), ("Segment_2", [3.0])])
    table = read_ai4pain(empty_layout, tiny_params.ingest)

    assert list(dict.fromkeys(table["subject"])) == ["2", "10", "20", "30"]
    first = table[(table.subject == "2") & (table.modality == "Bvp")]
    assert list(first["segment"]) == ["Baseline", "1_LOW_1", "2_high_1", "4_HIGH_2"]
    assert list(first["label"]) == ["No", "Low", "High", "High"]
    assert list(first["n_samples"]) == [4, 3, 2, 4]
    low = first[first.segment == "1_LOW_1"].iloc[0].signal
    assert low[0] == 5.0 and np.isnan(low[1]) and low[2] == 7.0

    test = table[table.split == "test"]
    assert len(test) == 2 * len(MODALITIES)
    assert test["label"].isna().all()
    assert all(label is None for label in test["label"])
    assert test[test.segment == "Segment_2"]["n_samples"].tolist() == [1] * len(MODALITIES)


def test_bom_crlf_and_case_insensitive_folders(
    empty_layout: Path, write_subject: WriteSubject, tiny_params: Params
) -> None:
    paths = write_subject(empty_layout, "train", "S1", [("Baseline", [1, 2]), ("LOW_1", [3])])
    for path in paths.values():
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    (empty_layout / "train" / "Bvp").rename(empty_layout / "train" / "BVP")
    (empty_layout / "validation").rename(empty_layout / "Validation")
    table = read_ai4pain(empty_layout, tiny_params.ingest)
    assert list(table["segment"][:: len(MODALITIES)]) == ["Baseline", "LOW_1"]
    assert set(table["modality"]) == set(MODALITIES)
    assert table["source_file"].iloc[0] == "train/BVP/S1.csv"
    assert table["signal"].iloc[0].tolist() == [1.0, 2.0]


def test_a_segment_of_only_padding_has_no_samples(
    empty_layout: Path, write_subject: WriteSubject, tiny_params: Params
) -> None:
    write_subject(empty_layout, "train", "S1", [("Baseline", [1, 2]), ("LOW_1", [])])
    table = read_ai4pain(empty_layout, tiny_params.ingest)
    assert table[table.segment == "LOW_1"]["n_samples"].tolist() == [0] * len(MODALITIES)


def test_a_subject_in_two_splits_is_read_as_it_is(raw_copy: Path, tiny_params: Params) -> None:
    for modality in MODALITIES:
        shutil.copy(raw_copy / "train" / modality / "S001.csv", raw_copy / "test" / modality)
    table = read_ai4pain(raw_copy, tiny_params.ingest)
    assert set(table[table.subject == "S001"]["split"]) == {"train", "test"}


# --- DataErrors -----------------------------------------------------------------------------


def _error(raw: Path, params: IngestParams) -> DataError:
    with pytest.raises(DataError) as info:
        read_ai4pain(raw, params)
    return info.value


def test_missing_raw_folder(tmp_path: Path, tiny_params: Params) -> None:
    error = _error(tmp_path / "nowhere", tiny_params.ingest)
    assert "raw data folder not found" in str(error)


def test_missing_split_folder(raw_copy: Path, tiny_params: Params) -> None:
    shutil.rmtree(raw_copy / "validation")
    error = _error(raw_copy, tiny_params.ingest)
    assert "missing split folder 'validation'" in error.rule
    assert error.file == str(raw_copy)


def test_missing_modality_folder(raw_copy: Path, tiny_params: Params) -> None:
    shutil.rmtree(raw_copy / "train" / "Resp")
    error = _error(raw_copy, tiny_params.ingest)
    assert "missing modality folder 'Resp'" in error.rule
    assert error.file == str(raw_copy / "train")


def test_missing_modality_file_for_a_subject(raw_copy: Path, tiny_params: Params) -> None:
    (raw_copy / "train" / "SpO2" / "S002.csv").unlink()
    error = _error(raw_copy, tiny_params.ingest)
    assert "'S002'" in error.rule and "no SpO2 file" in error.rule
    assert error.file == str(raw_copy / "train" / "SpO2" / "S002.csv")


def test_no_files_at_all(empty_layout: Path, tiny_params: Params) -> None:
    assert "no subject CSV files" in _error(empty_layout, tiny_params.ingest).rule


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00\x81garbage\x00\n\x9c", b"Baseline,LOW_1\n1,2\n3,4,5\n"],
    ids=["empty", "binary", "ragged"],
)
def test_unreadable_csv(raw_copy: Path, tiny_params: Params, content: bytes) -> None:
    path = raw_copy / "train" / "Eda" / "S003.csv"
    path.write_bytes(content)
    error = _error(raw_copy, tiny_params.ingest)
    assert "unreadable CSV" in error.rule
    assert error.file == str(path)


def test_non_numeric_cell_names_column_and_line(raw_copy: Path, tiny_params: Params) -> None:
    path = raw_copy / "train" / "Bvp" / "S001.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[3].split(",")
    cells[2] = "abc"
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    error = _error(raw_copy, tiny_params.ingest)
    assert error.file == str(path)
    assert error.segment == header[2]
    assert "non-numeric value 'abc' at line 4" in error.rule


def test_boolean_cells_are_not_numbers(
    empty_layout: Path, write_subject: WriteSubject, tiny_params: Params
) -> None:
    write_subject(empty_layout, "train", "S1", [("Baseline", ["True", "False"])])
    assert "non-numeric value" in _error(empty_layout, tiny_params.ingest).rule


def test_unrecognised_segment_name_in_train(raw_copy: Path, tiny_params: Params) -> None:
    path = raw_copy / "train" / "Eda" / "S004.csv"
    _rewrite(path, "LOW_1", "MEDIUM_1")
    error = _error(raw_copy, tiny_params.ingest)
    assert error.file == str(path)
    assert error.segment == "MEDIUM_1"
    assert "not a segment name" in error.rule


def test_unlabelled_names_are_allowed_only_in_test(
    empty_layout: Path, write_subject: WriteSubject, tiny_params: Params
) -> None:
    write_subject(empty_layout, "validation", "S1", [("Segment_1", [1.0])])
    assert _error(empty_layout, tiny_params.ingest).segment == "Segment_1"


def test_duplicate_segment_names(raw_copy: Path, tiny_params: Params) -> None:
    path = raw_copy / "validation" / "Bvp" / "S005.csv"
    _rewrite(path, "HIGH_2", "HIGH_1")
    error = _error(raw_copy, tiny_params.ingest)
    assert error.file == str(path)
    assert error.segment == "HIGH_1"
    assert "duplicate segment name" in error.rule


def test_segments_differ_between_modality_files(raw_copy: Path, tiny_params: Params) -> None:
    path = raw_copy / "train" / "Resp" / "S002.csv"
    frame = pd.read_csv(path)
    frame.drop(columns=["HIGH_2"]).to_csv(path, index=False)
    error = _error(raw_copy, tiny_params.ingest)
    assert error.file == str(path)
    assert error.segment == "HIGH_2"
    assert "segments differ" in error.rule


def test_error_message_names_file_column_and_rule(raw_copy: Path, tiny_params: Params) -> None:
    _rewrite(raw_copy / "train" / "Eda" / "S004.csv", "LOW_1", "MEDIUM_1")
    message = str(_error(raw_copy, tiny_params.ingest))
    assert "S004.csv" in message and "'MEDIUM_1'" in message and "segment" in message
