"""Where suite rows come from: plain files, the published ``.zip`` archives read as a stream, the
built-in sample suite, and directories of suite files."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from core.errors import InputError

SAMPLE = "sample"
SAMPLE_RESOURCE = "data/sample_suite.jsonl"

Format = Literal["jsonl", "csv"]
_BOM = b"\xef\xbb\xbf"
_FORMATS: dict[str, Format] = {".jsonl": "jsonl", ".csv": "csv"}


class SuiteError(InputError):
    """A suite file cannot be read at all (missing, unsupported type, broken archive, bad mapping).

    Problems with single rows are never raised: they are reported as skipped rows.
    """


@dataclass(frozen=True, slots=True)
class SuiteFile:
    """One file to read. ``name`` is how rows cite it (the path as given, or ``sample``)."""

    name: str
    path: Path | None
    format: Format

    @property
    def inner_name(self) -> str:
        """The data file's own name: ``S-Eval_attack_en_small.jsonl`` for ``...jsonl.zip``."""
        if self.path is None:
            return PurePosixPath(SAMPLE_RESOURCE).name
        name = self.path.name
        return name[: -len(".zip")] if name.lower().endswith(".zip") else name

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The data as a binary stream, read lazily (a zip member is decompressed as it is read)."""
        if self.path is None:
            with resources.files("gateway").joinpath(SAMPLE_RESOURCE).open("rb") as stream:
                yield stream
            return
        if not self.path.name.lower().endswith(".zip"):
            try:
                stream = self.path.open("rb")
            except OSError as exc:
                raise SuiteError(f"{self.name}: cannot open: {exc.strerror or exc}") from None
            with stream:
                yield stream
            return
        try:
            archive = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise SuiteError(f"{self.name}: not a readable zip archive: {exc}") from None
        with archive, archive.open(_data_member(archive, self)) as member:
            yield member


def iter_lines(file: SuiteFile) -> Iterator[tuple[int, bytes]]:
    """``(line number, raw bytes)`` for every physical line, 1-based, without the line ending.

    A UTF-8 byte-order mark on the first line is dropped. A file that breaks off mid-read (bad zip
    checksum, truncated archive, I/O error) raises ``SuiteError``: it is not a row problem.
    """
    with file.open() as stream:
        try:
            for number, raw in enumerate(stream, start=1):
                if number == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]
                yield number, raw.rstrip(b"\r\n")
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise SuiteError(f"{file.name}: read failed: {exc}") from None


def _data_member(archive: zipfile.ZipFile, file: SuiteFile) -> str:
    # The published archives carry macOS resource forks (__MACOSX/._name) beside the data.
    members = [
        n
        for n in archive.namelist()
        if not n.endswith("/")
        and not n.startswith("__MACOSX/")
        and not PurePosixPath(n).name.startswith("._")
    ]
    for name in members:
        if PurePosixPath(name).name == file.inner_name:
            return name
    if len(members) == 1:
        return members[0]
    raise SuiteError(
        f"{file.name}: expected one data file in the archive (or one named {file.inner_name!r}), "
        f"found {len(members)}: {', '.join(members[:5])}"
    )


def format_of(name: str) -> Format | None:
    """``jsonl`` or ``csv`` from a file name (``x.jsonl``, ``x.jsonl.zip``, ``x.csv``), else None."""
    lowered = name.lower().removesuffix(".zip")
    for suffix, fmt in _FORMATS.items():
        if lowered.endswith(suffix):
            return fmt
    return None


def resolve_paths(paths: Sequence[str | Path]) -> list[SuiteFile]:
    """The files named by ``paths``: ``sample``, files, or directories (their suite files, sorted).

    Raises ``SuiteError`` naming the first path that does not exist or is not a suite file.
    """
    files: list[SuiteFile] = []
    for raw in paths:
        if str(raw) == SAMPLE and not Path(raw).exists():
            files.append(SuiteFile(SAMPLE, None, "jsonl"))
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and format_of(p.name) is not None)
            if not found:
                raise SuiteError(f"{raw}: no .jsonl, .jsonl.zip, .csv or .csv.zip files in this directory")
            files.extend(SuiteFile(str(p), p, _fmt(p)) for p in found)
        elif path.is_file():
            files.append(SuiteFile(str(raw), path, _fmt(path)))
        else:
            raise SuiteError(f"{raw}: no such file or directory (or say 'sample' for the built-in suite)")
    return files


def _fmt(path: Path) -> Format:
    fmt = format_of(path.name)
    if fmt is None:
        raise SuiteError(f"{path}: unsupported suite file type; use .jsonl, .jsonl.zip, .csv or .csv.zip")
    return fmt
