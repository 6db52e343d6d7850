"""The built-in ``wordnet_glosses`` data set read from Debian's wordnet-base."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neuroplast.data import TextData, load_builtin
from neuroplast.data.builtin import WORDNET_DIR_ENV
from neuroplast.errors import DataError, DatasetNotInstalledError
from tests.conftest import load_debian_data


def test_wordnet_glosses_has_41_categories_and_real_glosses() -> None:
    data = load_debian_data("wordnet_glosses")
    assert isinstance(data, TextData)
    assert len(data) == 95277 and data.num_classes == 41
    assert data.label_names[0] == "noun.Tops" and data.label_names[-1] == "verb.weather"
    counts = np.bincount(data.labels, minlength=41)
    assert counts.min() >= 40 and counts[data.label_names.index("noun.artifact")] > 10000
    entity = data.texts.index("an entity that has physical existence")
    assert data.label_names[data.labels[entity]] == "noun.Tops"


def test_missing_wordnet_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORDNET_DIR_ENV, str(tmp_path))
    with pytest.raises(DatasetNotInstalledError, match="apt-get install wordnet-base"):
        load_builtin("wordnet_glosses")


def test_malformed_wordnet_line_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data.noun").write_text("  licence header\n00001740 99 n 01 x 0 000 | a gloss\n")
    (tmp_path / "data.verb").write_text("")
    monkeypatch.setenv(WORDNET_DIR_ENV, str(tmp_path))
    with pytest.raises(DataError, match=r"data.noun:2 has lexicographer file 99"):
        load_builtin("wordnet_glosses")
