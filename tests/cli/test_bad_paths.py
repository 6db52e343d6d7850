"""Bad paths, configs and refs through the CLI (issue 12, round 2): each one ends in one
`error: ...` line and the exit code of its error class, and changes no file and no row.

Covered: a YAML config that is a list or a scalar (with and without ``--set``), a config path
that is a directory; a version number beyond the database's integers; a model name with a
trailing newline; ``models export -o`` onto a directory, FIFO, device, symlink or existing
file (``--force`` to replace a file); ``export -o`` onto a file (checked before a version is
registered) or a folder of an earlier export; ``predict`` on images over PIL's pixel limit
and on directories.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from neuroplast.errors import ConfigError, ModelNotFoundError
from tests._bad_input import png_header, registry_snapshot
from tests.cli.conftest import write_config
from tests.conftest import Result, small_image_config, small_text_config


def _one_error_line(result: Result, code: int, pattern: str) -> None:
    assert result.code == code, result
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err
    assert re.search(pattern, result.err), result.err


@pytest.fixture(scope="module")
def _trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a text model (rt-small:1) and an image model (digits-mlp:1)."""
    from neuroplast import Engine

    home = tmp_path_factory.mktemp("paths") / "home"
    with Engine(home) as engine:
        engine.train(small_text_config(epochs=1))
        engine.train(small_image_config(epochs=1))
    return home


@pytest.fixture()
def home(_trained: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The trained home, checked unchanged after each test unless it says otherwise."""
    monkeypatch.setenv("NEUROPLAST_HOME", str(_trained))
    before = registry_snapshot(_trained)
    yield _trained
    assert registry_snapshot(_trained) == before, "the registry changed"


# --- 2. a config that is not a mapping ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "overrides", "kind"),
    [
        ("- a\n- b\n", ["--set", "a=b"], "a list"),  # was: TypeError traceback
        ("- a\n- b\n", [], "a list"),
        ("7\n", ["--set", "a=1"], "a number"),  # was: TypeError traceback
        ("just words\n", ["--set", "train.epochs=1"], "a string"),
        ("false\n", [], "a bool"),
    ],
)
def test_a_config_that_is_not_a_mapping_is_refused(
    cli: Callable[..., Result],
    home: Path,
    tmp_path: Path,
    text: str,
    overrides: list[str],
    kind: str,
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    result = cli("train", str(path), *overrides)
    _one_error_line(result, 2, rf"run\.yaml: expected a mapping .* at the top level, got {kind}")


def test_overrides_keep_a_mapping_and_name_the_value_in_the_way(tmp_path: Path) -> None:
    from neuroplast.config import apply_overrides

    with pytest.raises(ConfigError, match=r"got a list"):
        apply_overrides(["a"], ["a=b"])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"--set 'train\.epochs\.x=1': 'train\.epochs' is a"):
        apply_overrides({"train": {"epochs": 3}}, ["train.epochs.x=1"])
    with pytest.raises(ConfigError, match=r"--set 'train\.\.epochs=1': expected KEY=VALUE"):
        apply_overrides({}, ["train..epochs=1"])
    assert apply_overrides({}, ["train.epochs=2"]) == {"train": {"epochs": 2}}


def test_a_config_path_that_is_a_directory_says_so(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    result = cli("train", str(tmp_path))  # was: "config file ... not found"
    _one_error_line(result, 2, r"config path .* is a directory, not a YAML file")


# --- 3. a version number beyond the database's integers ------------------------------------


@pytest.mark.parametrize(
    "ref",
    ["x:99999999999999999999999", "rt-small:99999999999999999999999", "rt-small:" + "9" * 5000],
)
def test_a_huge_version_number_is_not_found(
    cli: Callable[..., Result], home: Path, ref: str
) -> None:
    result = cli("models", "show", ref)  # was: OverflowError traceback (SQLite INTEGER)
    _one_error_line(result, 4, r"no model version matches .*version numbers go up to 2147483647")


def test_the_largest_version_number_is_looked_up(_trained: Path) -> None:
    from neuroplast.registry import Registry

    with Registry(_trained) as registry:
        assert registry.resolve("rt-small:0001").ref == "rt-small:1"
        with pytest.raises(
            ModelNotFoundError, match=r"no model version matches 'rt-small:2147483647' in"
        ):
            registry.resolve("rt-small:2147483647")
        with pytest.raises(ModelNotFoundError, match=r"version numbers go up to 2147483647"):
            registry.resolve("rt-small:2147483648")


# --- 4. a model name with a trailing newline -------------------------------------------------


@pytest.mark.parametrize("name", ["okname\n", "okname\r\n", "ok\nname", "\nokname"])
def test_a_name_with_a_newline_is_not_a_model_name(name: str) -> None:
    from neuroplast.config import is_valid_model_name

    assert not is_valid_model_name(name)  # `re.match` with `$` accepted "okname\n"
    assert is_valid_model_name("okname")


def test_training_under_a_name_with_a_newline_is_refused(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "run.yaml", small_text_config("okname\n", epochs=1))
    result = cli("train", str(config))
    _one_error_line(result, 2, r"name 'okname\\n' is not a valid model name")


def test_the_registry_refuses_a_name_with_a_newline(_trained: Path) -> None:
    from neuroplast.registry import Registry

    before = registry_snapshot(_trained)
    with Registry(_trained) as registry, pytest.raises(ConfigError, match=r"'okname\\n' is not"):
        registry.create_version(
            "okname\n", architecture="cnn", task="text_classification", modality="text", config={}
        )
    assert registry_snapshot(_trained) == before


# --- 5. models export -o / export -o --------------------------------------------------------


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def _device(tmp_path: Path) -> Path:
    """A character device like /dev/null, made in tmp_path (root only): a test that went
    wrong replaces this node, never the real /dev/null or /dev/full."""
    path = tmp_path / "null"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


def _symlink_to_dir(tmp_path: Path) -> Path:
    (tmp_path / "real").mkdir()
    (tmp_path / "link.tar").symlink_to(tmp_path / "real")
    return tmp_path / "link.tar"


def _dangling(tmp_path: Path) -> Path:
    (tmp_path / "gone.tar").symlink_to(tmp_path / "nowhere" / "x.tar")
    return tmp_path / "gone.tar"


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("x")
    return tmp_path / "plain" / "model.tar"


BAD_TAR_OUTPUTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "directory": (lambda d: d, r"is a directory, not a regular file; nothing was written"),
    "fifo": (_fifo, r"is a FIFO \(named pipe\), not a regular file"),
    "device": (_device, r"is a character device, not a regular file"),
    "symlink to a directory": (_symlink_to_dir, r"link\.tar \(a symlink to .*real\) is a dir"),
    "dangling symlink": (_dangling, r"gone\.tar is a symlink to .*x\.tar, which does not exist"),
    "path under a file": (_under_a_file, r"plain is a regular file, not a directory"),
}


@pytest.mark.parametrize("case", list(BAD_TAR_OUTPUTS))
def test_models_export_refuses_what_is_not_a_regular_file(
    cli: Callable[..., Result], home: Path, tmp_path: Path, case: str
) -> None:
    make, pattern = BAD_TAR_OUTPUTS[case]
    out = make(tmp_path)
    kind = out.lstat().st_mode if os.path.lexists(out) else None
    result = cli("models", "export", "rt-small", "-o", str(out), "--force")
    _one_error_line(result, 2, pattern)
    assert (out.lstat().st_mode if os.path.lexists(out) else None) == kind  # still what it was


def test_models_export_replaces_a_file_only_with_force(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kept.tar"
    out.write_text("my notes")
    result = cli("models", "export", "rt-small", "-o", str(out))  # was: silently replaced
    _one_error_line(result, 2, r"kept\.tar already exists; pass --force to replace it")
    assert out.read_text() == "my notes"
    assert cli("models", "export", "rt-small", "-o", str(out), "--force").code == 0
    with tarfile.open(out) as tar:
        assert "manifest.json" in tar.getnames()


def test_models_export_writes_through_a_symlink_to_a_file(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    (tmp_path / "target.tar").write_text("old")
    (tmp_path / "link.tar").symlink_to(tmp_path / "target.tar")
    assert (
        cli("models", "export", "rt-small", "-o", str(tmp_path / "link.tar"), "--force").code == 0
    )
    assert (tmp_path / "link.tar").is_symlink()
    assert tarfile.is_tarfile(tmp_path / "target.tar")


def test_export_onto_a_file_is_refused_before_registering(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "kept.file"
    out.write_text("my notes")
    result = cli("export", "rt-small", "--no-measure", "-o", str(out))
    # was: rt-small:2 registered, then FileExistsError from mkdir
    _one_error_line(result, 2, r"--output .*kept\.file is a regular file, not a folder")
    assert out.read_text() == "my notes"  # and `home` checks that no version was registered


def test_export_onto_a_fifo_is_refused(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    result = cli("export", "rt-small", "--no-measure", "-o", str(_fifo(tmp_path)))
    _one_error_line(result, 2, r"pipe is a FIFO \(named pipe\), not a folder")


def test_export_replaces_an_earlier_serving_folder_only_with_force(
    cli: Callable[..., Result], _trained: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEUROPLAST_HOME", str(_trained))
    serve = tmp_path / "serve"
    serve.mkdir()
    (serve / "model.json").write_text("{}")
    (serve / "model.int8.onnx").write_bytes(b"stale")
    before = registry_snapshot(_trained)
    result = cli("export", "rt-small:1", "--no-measure", "-o", str(serve))
    _one_error_line(result, 2, r"serve already holds model\.int8\.onnx, model\.json; pass --force")
    assert registry_snapshot(_trained) == before
    result = cli("export", "rt-small:1", "--no-measure", "-o", str(serve), "--force")
    assert result.code == 0, result.err
    expected = ["model.json", "model.onnx", "tokenizer.json", "vocab.json"]
    assert sorted(p.name for p in serve.iterdir()) == expected


# --- 1. predict: images over PIL's pixel limit, directories ----------------------------------


@pytest.mark.parametrize(
    ("size", "pixels"),
    [
        (20_000, "400,000,000"),  # over twice the limit: PIL raised DecompressionBombError
        (10_000, "100,000,000"),  # over the limit: PIL only warned
    ],
)
def test_predict_refuses_an_image_over_the_pixel_limit(
    cli: Callable[..., Result], home: Path, tmp_path: Path, size: int, pixels: str
) -> None:
    image = tmp_path / "huge.png"
    image.write_bytes(png_header(size, size))
    result = cli("predict", "digits-mlp", str(image))
    _one_error_line(
        result, 3, rf"image .*huge\.png has {pixels} pixels, more than PIL's limit of 89,478,485"
    )


def test_predict_refuses_the_warning_turned_into_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from neuroplast.errors import DataError
    from neuroplast.inference import load_image_files

    path = tmp_path / "small.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 144 pixels: over it, under twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as `python -W error` would
        with pytest.raises(DataError, match=r"small\.png has 144 pixels, more than .* 100 "):
            load_image_files([path], channels=1, size=8)


def test_predict_on_directories_says_they_are_directories(
    cli: Callable[..., Result], home: Path, tmp_path: Path
) -> None:
    result = cli("predict", "digits-mlp", str(tmp_path))  # was: "image ... not found"
    _one_error_line(result, 3, r"image .* is a directory; pass the image files themselves")
    result = cli("predict", "rt-small", "--file", str(tmp_path))  # was: "input file ... not found"
    _one_error_line(result, 3, r"input file .* is a directory; pass a CSV")
