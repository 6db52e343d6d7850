"""The inputs a user names on the command line: texts from a file, image files or folders."""

from __future__ import annotations

from pathlib import Path

from neuroplast.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "image_paths", "texts_from_file"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def texts_from_file(path: Path, text_column: str) -> list[str]:
    """The texts of a .txt file (one a line, blank lines skipped) or of a table's column."""
    if path.is_dir():
        raise DataError(
            f"input file {path} is a directory; pass a CSV / JSONL / Parquet / .txt file"
        )
    if not path.is_file():
        raise DataError(f"input file {path} not found")
    if path.suffix.lower() == ".txt":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as e:
            raise DataError(
                f"{path} is not valid UTF-8 (byte {e.start}); re-encode it, e.g. "
                f"`iconv -f latin1 -t utf-8 {path}`"
            ) from e
        return [line for line in lines if line.strip()]
    from neuroplast.data.files import read_table

    frame = read_table(path)
    if text_column not in frame.columns:
        raise DataError(
            f"{path} has no column {text_column!r}; columns: {', '.join(map(str, frame.columns))}. "
            "Choose one with --text-column"
        )
    return [str(t) for t in frame[text_column].fillna("").tolist()]


def image_paths(items: list[str], file: Path | None) -> list[Path]:
    """The image files named as arguments, then ``file`` (a folder: its images, sorted)."""
    paths = [Path(p) for p in items]
    if file is not None:
        if file.is_dir():
            paths += sorted(p for p in file.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            paths.append(file)
    return paths
