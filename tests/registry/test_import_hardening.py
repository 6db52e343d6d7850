"""``neuroplast models import`` against hostile bundles.

Every bundle here is a real export (a text CNN trained on 600 real reviews) changed in one
way. A refused bundle must give exit code 5 (``ArtifactError``), exactly one ``error:``
line on stderr, and leave the registry it was imported into as it was: the same model,
version (drafts included) and artifact rows, the same files and folders under
``artifacts/``. The size limits are checked with a gzip bomb, and memory with tracemalloc.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import resource
import shutil
import tarfile
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from neuroplast.errors import ArtifactError, ConfigError
from neuroplast.registry import Registry
from neuroplast.registry.transfer import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, import_bundle
from tests.conftest import Result, one_torch_thread, small_text_config

Run = Callable[..., Result]
Edit = Callable[[dict[str, Any]], Any]

BOMB_BYTES = 300 * 1024**2
MiB = 1024**2


# ---- bundles --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real export of ``rt-small:1``."""
    from neuroplast.engine import Engine

    home = tmp_path_factory.mktemp("source-home")
    with one_torch_thread(), Engine(home) as engine:
        engine.train(small_text_config(epochs=1))
        return engine.export("rt-small:1", home.parent / "rt-small.tar")


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def manifest_of(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(members(path)["manifest.json"])
    return document


def model_json(path: Path, edit: Edit) -> bytes:
    meta = json.loads(members(path)["files/model.json"])
    edit(meta)
    return json.dumps(meta).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tamper(
    source: Path,
    out: Path,
    *,
    manifest: Edit | None = None,
    files: Mapping[str, bytes] | None = None,
    declare: bool = True,
    drop: Sequence[str] = (),
    extra: Sequence[tuple[tarfile.TarInfo, bytes | None]] = (),
) -> Path:
    """``source`` with ``files`` replaced or added (and, with ``declare``, their sha256 and
    size written in the manifest) and ``drop`` removed (from the manifest too), then the
    manifest changed by ``manifest`` (which edits it in place or returns what to write
    instead), then the raw ``extra`` members appended."""
    contents = members(source)
    document: Any = json.loads(contents.pop("manifest.json"))
    for name in drop:
        del contents[f"files/{name}"], document["files"][name], document["sizes"][name]
    for name, data in (files or {}).items():
        contents[f"files/{name}"] = data
        if declare:
            document["files"][name] = sha(data)
            document["sizes"][name] = len(data)
    if manifest is not None:
        replaced = manifest(document)
        document = document if replaced is None else replaced
    with tarfile.open(out, "w") as tar:
        for name, data in [("manifest.json", json.dumps(document).encode()), *contents.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return out


class Zeros:
    """``size`` zero bytes, read in chunks (so the test never holds the bomb in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


def zeros_sha(size: int) -> str:
    digest, reader = hashlib.sha256(), Zeros(size)
    while chunk := reader.read(MiB):
        digest.update(chunk)
    return digest.hexdigest()


def bomb(
    source: Path,
    out: Path,
    *,
    mode: str = "w:gz",
    size: int = BOMB_BYTES,
    declare_size: bool = True,
    lie: bool = False,
    **options: int,
) -> Path:
    """``source`` as a compressed tar that holds one more listed file, ``zeros.bin``: ``size``
    zero bytes (with a wrong sha256 in the manifest with ``lie``; with no ``sizes`` in the
    manifest, as older exports, unless ``declare_size``)."""
    contents = members(source)
    document = json.loads(contents.pop("manifest.json"))
    document["files"]["zeros.bin"] = sha(b"not zeros") if lie else zeros_sha(size)
    document["sizes"]["zeros.bin"] = size
    if not declare_size:
        del document["sizes"]
    with tarfile.open(out, mode, **options) as tar:  # type: ignore[call-overload]
        for name, data in [("manifest.json", json.dumps(document).encode()), *contents.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("files/zeros.bin")
        info.size = size
        tar.addfile(info, Zeros(size))  # type: ignore[arg-type]
    return out


# ---- the registry an import goes into ---------------------------------------------------------
@pytest.fixture()
def target(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home that already holds ``rt-small:1`` (imported from ``bundle``)."""
    monkeypatch.delenv("NEUROPLAST_DB_URL", raising=False)
    monkeypatch.delenv("NEUROPLAST_ARTIFACT_URL", raising=False)
    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    home = tmp_path / "target"
    with Registry(home) as registry:
        assert import_bundle(registry, bundle).ref == "rt-small:1"
    return home


def registry_state(home: Path) -> dict[str, list[Any]]:
    """Every model, version (drafts included) and artifact row, and every file and folder
    under the artifact root."""
    from sqlalchemy import create_engine, text

    with Registry(home) as registry:
        url, root = registry.url, registry.artifacts_root
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = {
            table: [tuple(r) for r in connection.execute(text(query)).all()]
            for table, query in {
                "models": "SELECT id, name, architecture FROM models ORDER BY id",
                "versions": "SELECT id, model_id, version, status FROM versions ORDER BY id",
                "artifacts": "SELECT version_id, name, sha256 FROM artifacts ORDER BY id",
            }.items()
        }
    engine.dispose()
    rows["files"] = sorted(
        (str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")
    )
    return rows


def assert_refused(result: Result, match: str) -> None:
    """Exit 5, nothing on stdout, one ``error:`` line on stderr that matches ``match``."""
    lines = result.err.splitlines()
    assert result.code == ArtifactError.exit_code == 5, result
    assert result.out == "" and len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert re.search(match, lines[0]), lines[0]


def refuse(cli: Run, home: Path, path: Path, match: str, *args: str) -> None:
    before = registry_state(home)
    assert_refused(cli("models", "import", str(path), "--home", str(home), *args), match)
    assert registry_state(home) == before


# ---- what is wrong with the manifest ------------------------------------------------------------
def _missing(key: str) -> Edit:
    def edit(m: dict[str, Any]) -> None:
        del m[key]

    return edit


def _set(key: str, value: Any) -> Edit:
    return lambda m: m.update({key: value})


def _clash(m: dict[str, Any]) -> None:
    m["files"]["plots"] = sha(b"")
    m["sizes"]["plots"] = 0


MANIFESTS: dict[str, tuple[Edit, str]] = {
    "a list": (lambda m: list(m), r"manifest\.json must be a JSON object, got a list"),
    "a string": (lambda m: "hello", r"must be a JSON object, got a str"),
    "lacks version": (_missing("version"), r"manifest\.json is not valid: lacks 'version'"),
    "lacks files": (_missing("files"), r"lacks 'files'"),
    "lacks format": (_missing("format"), r"is not a neuroplast bundle"),
    "params_count a string": (
        _set("params_count", "many"),
        r"'params_count': input should be a valid integer \(got 'many'\)",
    ),
    "version a float": (_set("version", 1.5), r"'version': input should be a valid integer"),
    "files a list": (_set("files", ["model.json"]), r"'files': input should be a valid dict"),
    "sha not hex": (
        lambda m: m["files"].update({"model.json": "x" * 64}),
        r"'files\.model\.json': string should match pattern",
    ),
    "lineage of strings": (_set("lineage", ["rt-small:1"]), r"'lineage\.0': input should be"),
    "unknown key": (_set("surprise", 1), r"has an unknown key 'surprise'"),
    "newer schema": (_set("schema_version", 99), r"newer neuroplast.*upgrade"),
    "modality unknown": (_set("modality", "audio"), r"'modality': input should be 'text' or"),
    "file and folder": (_clash, r"names 'plots' as a file and also 'plots/\S+' inside it"),
    "names differing in case": (
        lambda m: m["files"].update({"Model.json": m["files"]["model.json"]}),
        r"names both 'model\.json' and 'Model\.json', which differ only in case",
    ),
    "sizes for other files": (
        lambda m: m["sizes"].update({"ghost.bin": 1}),
        r"'sizes' and 'files' name different files \('ghost\.bin'\)",
    ),
    "unknown architecture": (
        _set("architecture", "resnet9000"),
        r"its manifest names the architecture 'resnet9000', which this neuroplast does not",
    ),
}


@pytest.mark.parametrize("case", MANIFESTS, ids=str)
def test_a_bad_manifest_is_refused_before_anything_is_written(
    cli: Run, target: Path, bundle: Path, tmp_path: Path, case: str
) -> None:
    edit, match = MANIFESTS[case]
    refuse(cli, target, tamper(bundle, tmp_path / "bad.tar", manifest=edit), match)


@pytest.mark.parametrize(
    "name", ["../evil.bin", "/etc/passwd", "a/../../b", "./x", ".hidden", "a//b", "a\\b", ""]
)
def test_an_unsafe_file_name_is_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path, name: str
) -> None:
    bad = tamper(bundle, tmp_path / "bad.tar", files={name: b"x"})
    refuse(cli, target, bad, r"unsafe file name .* in the manifest")


def test_a_file_that_is_also_a_folder_is_refused_before_anything_is_written(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    """The old reader wrote ``a``, then failed to make the folder ``a`` for ``a/b``: a
    traceback, a draft version and five orphaned files."""
    bad = tamper(bundle, tmp_path / "bad.tar", files={"a": b"1", "a/b": b"2"})
    refuse(cli, target, bad, r"the manifest names 'a' as a file and also 'a/b' inside it")


# ---- what is wrong with the model ---------------------------------------------------------------
def _arch(key: str, value: Any) -> Edit:
    return lambda meta: meta["arch_config"].update({key: value})


def _vocab_size(bundle: Path) -> int:
    return int(json.loads(members(bundle)["files/model.json"])["arch_config"]["vocab_size"])


MODELS: dict[str, tuple[Callable[[Path], Edit], str]] = {
    "unknown architecture": (
        lambda b: lambda meta: meta.update({"architecture": "resnet9000"}),
        r"model\.json names the architecture 'resnet9000', which this neuroplast does not "
        r"know \(it knows .*cnn.*transformer\)",
    ),
    "vocab_size off by one": (
        lambda b: _arch("vocab_size", _vocab_size(b) + 1),
        r"embedding\.weight is \[\d+, 32\] in the weights but \[\d+, 32\] for the config "
        r"\(vocab_size=\d+ disagrees with the weights\)",
    ),
    "vocab_size 10**12": (
        lambda b: _arch("vocab_size", 10**12),
        r"but \[1000000000000, 32\] for the config \(vocab_size=1000000000000 disagrees",
    ),
    "num_classes 3": (
        lambda b: _arch("num_classes", 3),
        r"model\.json names 2 labels for num_classes=3",
    ),
    "num_classes and labels 3": (
        lambda b: (
            lambda meta: meta.update(
                label_names=[*meta["label_names"], "meh"],
                arch_config={**meta["arch_config"], "num_classes": 3},
            )
        ),
        r"classifier\.weight is \[2, \d+\] in the weights but \[3, \d+\] .*num_classes=3",
    ),
    "a config key the cnn has not": (
        lambda b: _arch("num_layers", 2),
        r"invalid config for architecture 'cnn': unknown key 'num_layers'",
    ),
    "100,000 convolutions": (
        lambda b: _arch("filter_sizes", [3] * 100_000),
        r"asks for a cnn with far more layers than weights\.safetensors holds tensors",
    ),
    "an image model's modality": (
        lambda b: lambda meta: meta.update(modality="image"),
        r"model\.json says modality 'image' but the manifest says 'text'",
    ),
    "labels not a list": (
        lambda b: lambda meta: meta.update(label_names="rotten,fresh"),
        r"model\.json is not a valid model description \(label_names: input should be",
    ),
    "min_length 10**12": (
        lambda b: lambda meta: meta["preprocessing"].update(min_length=10**12),
        r"preprocessing has a bad min_length",
    ),
}


@pytest.mark.parametrize("case", MODELS, ids=str)
def test_a_model_that_disagrees_with_its_weights_is_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path, case: str
) -> None:
    edit, match = MODELS[case]
    changed = model_json(bundle, edit(bundle))
    bad = tamper(bundle, tmp_path / "bad.tar", files={"model.json": changed})
    refuse(cli, target, bad, match)


def test_weights_that_are_not_safetensors_or_a_vocabulary_too_big_are_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    bad = tamper(bundle, tmp_path / "w.tar", files={"weights.safetensors": b"\xff" * 64})
    refuse(cli, target, bad, r"weights\.safetensors is not a valid safetensors file")
    vocab = json.loads(members(bundle)["files/vocab.json"])
    vocab["tokens"] += [f"extra{i}" for i in range(_vocab_size(bundle))]
    bad = tamper(bundle, tmp_path / "v.tar", files={"vocab.json": json.dumps(vocab).encode()})
    refuse(cli, target, bad, r"vocab\.json holds \d+ tokens but the model's vocab_size is")
    vocab["tokens"] = ["<pad>", "<unk>", "a", "a"]
    bad = tamper(bundle, tmp_path / "d.tar", files={"vocab.json": json.dumps(vocab).encode()})
    refuse(cli, target, bad, r"vocab\.json repeats tokens")


def test_a_model_json_without_weights_is_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    bad = tamper(bundle, tmp_path / "x.tar", drop=["weights.safetensors"])
    refuse(cli, target, bad, r"holds model\.json but no weights\.safetensors; a model needs both")
    bad = tamper(bundle, tmp_path / "y.tar", drop=["model.json"])
    refuse(cli, target, bad, r"holds weights\.safetensors but no model\.json")


# ---- what is wrong with the tar -----------------------------------------------------------------
def _link(name: str, kind: bytes, to: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, to
    return info, None


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_a_member_the_manifest_does_not_list_is_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    bad = tamper(bundle, tmp_path / "bad.tar", extra=[_file("files/extra.bin", b"surprise")])
    refuse(cli, target, bad, r"holds 'files/extra\.bin', which its manifest does not list")
    bad = tamper(bundle, tmp_path / "up.tar", extra=[_file("../escape.txt", b"x")])
    refuse(cli, target, bad, r"holds '\.\./escape\.txt', which its manifest does not list")


def test_a_member_larger_than_declared_is_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    weights = members(bundle)["files/weights.safetensors"]
    bigger = {"weights.safetensors": weights + bytes(4096)}
    bad = tamper(bundle, tmp_path / "bad.tar", files=bigger, declare=False)
    declared = manifest_of(bundle)["sizes"]["weights.safetensors"]
    refuse(
        cli,
        target,
        bad,
        rf"weights\.safetensors is {declared + 4096} bytes but the manifest declares {declared}",
    )


def test_a_lying_hash_is_refused(cli: Run, target: Path, bundle: Path, tmp_path: Path) -> None:
    weights = members(bundle)["files/weights.safetensors"]
    same_size = {"weights.safetensors": weights[:-8] + bytes(8)}
    bad = tamper(bundle, tmp_path / "bad.tar", files=same_size, declare=False)
    refuse(cli, target, bad, r"weights\.safetensors is missing or does not match its sha256")


@pytest.mark.parametrize(
    "extra",
    [
        [_link("files/weights.safetensors", tarfile.SYMTYPE, "/etc/passwd")],
        [_link("files/weights.safetensors", tarfile.LNKTYPE, "manifest.json")],
        [_file("files/model.json", b"{}")],
        [_file("manifest.json", b"{}")],
    ],
    ids=["symlink", "hardlink", "duplicate file", "second manifest"],
)
def test_links_and_duplicate_members_are_refused(
    cli: Run,
    target: Path,
    bundle: Path,
    tmp_path: Path,
    extra: list[tuple[tarfile.TarInfo, bytes | None]],
) -> None:
    bad = tamper(bundle, tmp_path / "bad.tar", extra=extra)
    refuse(
        cli,
        target,
        bad,
        r"holds '(files/weights\.safetensors|files/model\.json|manifest\.json)' twice",
    )


def test_a_link_in_place_of_a_listed_file_is_refused(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    contents = members(bundle)
    with tarfile.open(tmp_path / "bad.tar", "w") as tar:
        for name, data in contents.items():
            info, payload = (
                _link(name, tarfile.SYMTYPE, "/etc/passwd")
                if name == "files/vocab.json"
                else _file(name, data)
            )
            tar.addfile(info, None if payload is None else io.BytesIO(payload))
    refuse(
        cli,
        target,
        tmp_path / "bad.tar",
        r"'files/vocab\.json' is a symbolic link to '/etc/passwd'",
    )


def test_what_is_not_a_bundle_is_refused(cli: Run, target: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"not a tar at all" * 100)
    refuse(cli, target, junk, r"is not a readable neuroplast bundle \(tar\)")
    refuse(cli, target, tmp_path / "absent.tar", r"bundle \S+absent\.tar not found")
    first = tmp_path / "first.tar"
    with tarfile.open(first, "w") as tar:
        info, data = _file("files/model.json", b"{}")
        tar.addfile(info, io.BytesIO(data))
    refuse(cli, target, first, r"does not start with manifest\.json")


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT], ids=["pax", "gnu"])
def test_a_huge_extended_header_is_refused_before_it_is_read(
    cli: Run, target: Path, bundle: Path, tmp_path: Path, fmt: int
) -> None:
    """A member name of 2 MiB travels in a header that tarfile would read whole."""
    bad = tmp_path / "long.tar.gz"
    with tarfile.open(bad, "w:gz", format=fmt) as tar:
        for name, data in members(bundle).items():
            info, payload = _file(name, data)
            tar.addfile(info, io.BytesIO(payload))
        info, payload = _file("files/" + "x" * (2 * MiB), b"")
        tar.addfile(info, io.BytesIO(payload))
    refuse(cli, target, bad, r"an extended tar header of \d+ bytes \(at most 1048576\)")


# ---- unbounded work -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gzip_bomb(bundle: Path) -> Path:
    """A ~0.3 MB .tar.gz that unpacks to 300 MiB (declared, with the right hash)."""
    return bomb(bundle, bundle.parent / "bomb.tar.gz", compresslevel=1)


def test_a_gzip_bomb_is_refused_by_the_limit_before_it_is_unpacked(
    cli: Run,
    target: Path,
    bundle: Path,
    gzip_bomb: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert gzip_bomb.stat().st_size < 2 * MiB
    monkeypatch.setenv(MAX_BYTES_ENV, "64M")
    refuse(
        cli,
        target,
        gzip_bomb,
        rf"declares 30\d\.\d MiB of files, more than the import limit of 64\.0 MiB; if you "
        rf"trust it, raise the limit: {MAX_BYTES_ENV}=30\dM",
    )
    # An older manifest declares no sizes: the member's header is checked as it comes.
    legacy = bomb(bundle, tmp_path / "legacy.tar.gz", declare_size=False, compresslevel=1)
    refuse(cli, target, legacy, r"holds at least 30\d\.\d MiB of files, more than the import")


def test_a_gzip_bomb_within_the_limit_is_unpacked_in_flat_memory(
    cli: Run, target: Path, gzip_bomb: Path
) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    try:
        result = cli("models", "import", str(gzip_bomb), "--home", str(target))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    assert result.code == 0, result.err
    assert "as rt-small:2" in result.out
    stored = target / "artifacts" / "rt-small" / "v2" / "zeros.bin"
    assert stored.stat().st_size == BOMB_BYTES
    print(
        f"bomb import: tracemalloc peak {peak / MiB:.1f} MiB, max RSS growth "
        f"{rss_growth / MiB:.1f} MiB for {BOMB_BYTES / MiB:.0f} MiB unpacked"
    )
    assert peak < 16 * MiB  # the old reader held the whole member: > 300 MiB
    assert rss_growth < 100 * MiB
    shutil.rmtree(target)  # 300 MiB: do not leave it to pytest's retention


@pytest.mark.parametrize(
    ("mode", "options"),
    [("w:bz2", {"compresslevel": 1}), ("w:xz", {"preset": 0})],
    ids=["bz2", "xz"],
)
def test_bz2_and_xz_bombs_are_read_in_flat_memory(
    cli: Run, target: Path, bundle: Path, tmp_path: Path, mode: str, options: dict[str, int]
) -> None:
    """bz2 packs 100 MiB of zeros in a few hundred bytes; tarfile's own ``r|bz2`` made them in
    one piece (300 MiB traced). Here the member is read whole, then its hash is refused."""
    packed = bomb(bundle, tmp_path / "b.tar", mode=mode, size=100 * MiB, lie=True, **options)
    assert packed.stat().st_size < MiB
    tracemalloc.start()
    try:
        refuse(cli, target, packed, r"zeros\.bin is missing or does not match its sha256")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB


# ---- what still works --------------------------------------------------------------------------
def test_an_older_bundle_without_sizes_still_imports(
    cli: Run, target: Path, bundle: Path, tmp_path: Path
) -> None:
    legacy = tamper(bundle, tmp_path / "old.tar", manifest=_missing("sizes"))
    result = cli("models", "import", str(legacy), "--home", str(target), "--name", "old")
    assert result.code == 0, result.err
    assert "as old:1" in result.out
    with Registry(target) as registry:
        version = registry.resolve("old:1")
        assert version.params_count == manifest_of(bundle)["params_count"] > 0
        assert sorted(version.artifacts) == sorted(manifest_of(bundle)["files"])


def test_export_streams_the_files_with_their_sizes_and_replaces_only_with_force(
    target: Path, bundle: Path, tmp_path: Path
) -> None:
    from neuroplast.registry.transfer import export_version

    out, link = tmp_path / "again.tar", tmp_path / "link.tar"
    with Registry(target) as registry:
        export_version(registry, "rt-small:1", out, force=False)
        again = members(out)
        files = {n: d for n, d in again.items() if n != "manifest.json"}
        assert files == {n: d for n, d in members(bundle).items() if n != "manifest.json"}
        document = manifest_of(out)
        assert document["sizes"] == {n: len(again[f"files/{n}"]) for n in document["files"]}
        with pytest.raises(ConfigError, match=r"again\.tar already exists; pass --force"):
            export_version(registry, "rt-small:1", out, force=False)
        link.symlink_to(out)
        export_version(registry, "rt-small:1", link)
    assert link.is_symlink() and members(out) == again


def test_the_limit_comes_from_the_keyword_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from neuroplast.registry._bundle import import_limit

    monkeypatch.delenv(MAX_BYTES_ENV, raising=False)
    assert import_limit() == DEFAULT_MAX_BYTES == 4 * 1024**3
    assert import_limit(1000) == 1000
    for raw, expected in {
        "8G": 8 * 1024**3,
        "500m": 500 * MiB,
        "123": 123,
        "2 GiB": 2 << 30,
    }.items():
        monkeypatch.setenv(MAX_BYTES_ENV, raw)
        assert import_limit() == expected
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(ConfigError, match=rf"{MAX_BYTES_ENV}='lots' is not a size; .*=8G"):
        import_limit()
    with pytest.raises(ConfigError, match=r"max_bytes must be a positive number of bytes, got 0"):
        import_limit(0)
