"""Two recipes, one code path: the recipe scales the corpus and the schedule, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from biomoe.config import Params, load_params
from biomoe.corpus.simulate import simulate_windows

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_the_project_has_a_quick_recipe_for_make_run_and_a_longer_base() -> None:
    pretrain = load_params(REPO_ROOT / "params.yaml").pretrain
    assert pretrain.recipe == "quick"
    quick, base = pretrain.recipes["quick"], pretrain.recipes["base"]
    quick_steps = quick.corpus_scale * quick.epochs
    assert base.corpus_scale * base.epochs >= 16 * quick_steps
    assert pretrain.schedule == quick


def test_corpus_scale_multiplies_every_sources_cap(params: Params) -> None:
    user = {
        "name": "trials",
        "path": "data/external/trials.csv",
        "format": "csv",
        "signal_type": "ppg",
        "fs": 64.0,
        "max_windows": 10,
        "layout": "wide",
    }
    data = params.model_dump(by_alias=True)
    data["corpus"]["user"] = [user]
    corpus = Params.model_validate(data).corpus
    grown = corpus.scaled(3)
    assert grown.simulated.windows_per_signal == 3 * corpus.simulated.windows_per_signal
    assert grown.packaged.max_windows_per_dataset == 3 * corpus.packaged.max_windows_per_dataset
    assert grown.user[0].max_windows == 30
    assert corpus.scaled(1) is corpus
    assert grown.seed == corpus.seed and grown.window_seconds == corpus.window_seconds


def test_a_larger_corpus_holds_the_smaller_ones_simulated_windows(tiny_params: Params) -> None:
    corpus = tiny_params.corpus
    small = simulate_windows(corpus.simulated, 100, corpus.window_seconds, corpus.seed)
    large = simulate_windows(corpus.scaled(2).simulated, 100, corpus.window_seconds, corpus.seed)
    kept = large.set_index("sample_id").loc[small["sample_id"]]
    for a, b in zip(small["signal"], kept["signal"], strict=True):
        assert (a == b).all()


def test_an_unknown_recipe_is_refused_when_params_are_read(params: Params) -> None:
    data = params.model_dump(by_alias=True)
    data["pretrain"]["recipe"] = "huge"
    with pytest.raises(ValueError, match=r"pretrain\.recipe 'huge' is not one of"):
        Params.model_validate(data)
