"""COPY payloads built from numpy columns, and a background thread that streams them in.

Two encoders: PostgreSQL's binary COPY format for numeric, time and low-cardinality text
columns (the rows are grouped by the byte width of their variable fields, so each group is
one numpy structured array written with a single ``tobytes``), and the text format for
tables full of free text (agent names, metadata). Time stamps are integer microseconds since
the seeding period's start, so every value written is exact and comparisons are integer ones.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import numpy as np
import psycopg

Kind = Literal["int2", "int4", "int8", "float8", "timestamptz", "text"]

_FIXED: Final[dict[str, str]] = {
    "int2": ">i2",
    "int4": ">i4",
    "int8": ">i8",
    "float8": ">f8",
    "timestamptz": ">i8",
}
PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
BINARY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
BINARY_TRAILER: Final = b"\xff\xff"
# Text-format escapes for untrusted text: backslash first, then the three separators.
_TEXT_ESCAPES: Final = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class Column:
    """One column of a COPY: its name, type, values and optional NULL mask (True = NULL).

    timestamptz values are int64 microseconds since ``CopyBatch.base``; text values are a
    numpy bytes array (dtype ``S``), UTF-8 encoded.
    """

    name: str
    kind: Kind
    values: np.ndarray
    null: np.ndarray | None = None


@dataclass(frozen=True)
class CopyBatch:
    """Rows for one table, ready to stream with COPY (payload without header or trailer)."""

    table: str
    columns: tuple[str, ...]
    payload: bytes
    rows: int
    binary: bool


def pg_micros(moment: datetime) -> int:
    """Microseconds between PostgreSQL's epoch (2000-01-01 UTC) and ``moment``."""
    delta = moment.astimezone(UTC) - PG_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_binary(table: str, columns: Sequence[Column], *, base: datetime) -> CopyBatch:
    """Binary COPY rows for ``columns`` (all of the same length)."""
    n = len(columns[0].values)
    if any(len(c.values) != n for c in columns):
        raise ValueError(f"{table}: columns of different lengths")
    names = tuple(c.name for c in columns)
    if n == 0:
        return CopyBatch(table, names, b"", 0, True)
    base_us = pg_micros(base)
    widths: list[np.ndarray | None] = []  # per column: byte width per row (-1 = NULL), or None
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        if col.kind == "text":
            width = np.char.str_len(col.values).astype(np.int64)
        elif col.null is not None:
            width = np.full(n, np.dtype(_FIXED[col.kind]).itemsize, dtype=np.int64)
        else:
            widths.append(None)
            continue
        if col.null is not None:
            width = np.where(col.null, -1, width)
        span = int(width.max()) + 2
        if span > 1 and key.max() > (np.iinfo(np.int64).max // span):
            raise ValueError(f"{table}: too many distinct row shapes to encode in binary")
        key = key * span + (width + 1)
        widths.append(width)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    ends = np.r_[starts[1:], n]
    parts: list[bytes] = []
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = order[lo:hi]
        first = int(rows[0])
        fields: list[tuple[str, str]] = [("n", ">i2")]
        for j, col in enumerate(columns):
            fields.append((f"l{j}", ">i4"))
            w = widths[j]
            size = -2 if w is None else int(w[first])
            if size == -1:
                continue  # NULL: the length -1 and no bytes
            if col.kind == "text":
                if size > 0:
                    fields.append((f"v{j}", f"S{size}"))
            else:
                fields.append((f"v{j}", _FIXED[col.kind]))
        arr = np.empty(len(rows), dtype=np.dtype(fields))
        arr["n"] = len(columns)
        for j, col in enumerate(columns):
            w = widths[j]
            size = -2 if w is None else int(w[first])
            if size == -1:
                arr[f"l{j}"] = -1
                continue
            if col.kind == "text":
                arr[f"l{j}"] = size
                if size > 0:
                    arr[f"v{j}"] = col.values[rows]
                continue
            arr[f"l{j}"] = np.dtype(_FIXED[col.kind]).itemsize
            values = col.values[rows]
            arr[f"v{j}"] = values + base_us if col.kind == "timestamptz" else values
        parts.append(arr.tobytes())
    return CopyBatch(table, names, b"".join(parts), n, True)


def text_field(values: Sequence[str | None] | np.ndarray, *, escape: bool = False) -> list[str]:
    """Text-format field strings (NULL as \\N); ``escape`` for free text (names, JSON)."""
    out: list[str] = []
    for v in values.tolist() if isinstance(values, np.ndarray) else values:
        if v is None:
            out.append("\\N")
        elif escape:
            out.append(str(v).translate(_TEXT_ESCAPES))
        else:
            out.append(str(v))
    return out


def text_timestamps(
    micros: np.ndarray, *, base: datetime, null: np.ndarray | None = None
) -> list[str]:
    """ISO-8601 UTC strings for microsecond offsets from ``base`` (NULL where ``null``)."""
    stamps = np.datetime64(base.astimezone(UTC).replace(tzinfo=None), "us") + micros.astype(
        "timedelta64[us]"
    )
    text = np.char.add(np.datetime_as_string(stamps, unit="us"), "Z").astype(object)
    if null is not None:
        text[null] = "\\N"
    return list(text.tolist())


def text_numbers(values: np.ndarray, *, null: np.ndarray | None = None) -> list[str]:
    """repr() of each number (exact for floats), NULL where ``null``."""
    out = [repr(v) if isinstance(v, float) else str(v) for v in values.tolist()]
    if null is not None:
        for i in np.flatnonzero(null).tolist():
            out[i] = "\\N"
    return out


def encode_text(table: str, columns: dict[str, list[str]]) -> CopyBatch:
    """Text-format COPY rows from pre-rendered field strings (see the text_* helpers)."""
    names = tuple(columns)
    lists = list(columns.values())
    n = len(lists[0])
    if any(len(values) != n for values in lists):
        raise ValueError(f"{table}: columns of different lengths")
    if n == 0:
        return CopyBatch(table, names, b"", 0, False)
    body = "\n".join(map("\t".join, zip(*lists, strict=True))) + "\n"
    return CopyBatch(table, names, body.encode(), n, False)


def copy_batch(conn: psycopg.Connection[Any], batch: CopyBatch) -> None:
    """Stream one batch with COPY ... FROM STDIN (table and column names are constants)."""
    if batch.rows == 0:
        return
    fmt = "binary" if batch.binary else "text"
    statement = f"COPY {batch.table} ({', '.join(batch.columns)}) FROM STDIN (FORMAT {fmt})"
    view = memoryview(batch.payload)
    step = 1 << 22
    with conn.cursor() as cur, cur.copy(statement) as copy:
        if batch.binary:
            copy.write(BINARY_HEADER)
        for start in range(0, len(view), step):
            copy.write(view[start : start + step])
        if batch.binary:
            copy.write(BINARY_TRAILER)


class BackgroundCopier:
    """Streams batches to PostgreSQL on a thread of its own while the caller generates more.

    The queue is bounded, so memory stays bounded however large the data set; the first
    error of the thread is raised again in the caller at the next put() or at close().
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        on_copied: Callable[[CopyBatch, float], None],
        depth: int = 3,
    ) -> None:
        self._conn = conn
        self._on_copied = on_copied
        self._queue: queue.Queue[CopyBatch | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self.waited_s = 0.0  # time the generator spent waiting for the database
        self._thread = threading.Thread(target=self._run, name="orca-seed-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so put() never blocks after a failure
            try:
                started = time.perf_counter()
                copy_batch(self._conn, batch)
                self._on_copied(batch, time.perf_counter() - started)
            except BaseException as exc:  # re-raised in the caller's thread
                self._error = exc

    def put(self, batch: CopyBatch) -> None:
        """Queue a batch; blocks while the queue is full (then the database is the bottleneck)."""
        if self._error is not None:
            raise self._error
        if batch.rows:
            started = time.perf_counter()
            self._queue.put(batch)
            self.waited_s += time.perf_counter() - started

    def close_quietly(self) -> None:
        """Stop after the batch being written (on the caller's own failure); errors dropped."""
        self._error = self._error or RuntimeError("seeding stopped")
        self._queue.put(None)
        self._thread.join()

    def close(self) -> None:
        """Wait until everything queued is written; raise the thread's error if any."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
