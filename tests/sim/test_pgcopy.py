"""COPY encoders: binary and text rows read back exactly (NULLs, empty and hostile text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, text

from dashboard.sim.pgcopy import (
    Column,
    copy_batch,
    encode_binary,
    encode_text,
    pg_micros,
    text_field,
    text_numbers,
    text_timestamps,
)

BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TEXTS = ["plain", "", "tab\there\nnew line \\ back\\slash", "\\N", "名前 🤖", "x" * 300]


def test_pg_micros_counts_from_the_postgres_epoch() -> None:
    assert pg_micros(datetime(2000, 1, 1, tzinfo=UTC)) == 0
    assert pg_micros(datetime(2000, 1, 2, 0, 0, 1, 5, tzinfo=UTC)) == 86_401_000_005


def test_binary_and_text_rows_read_back_exactly(engine: Engine) -> None:
    n = len(TEXTS)
    ints = np.arange(n, dtype=np.int64) * 10**12
    floats = np.array([0.1, -2.5, 1e300, 3.0, 0.0, 1 / 3])
    micros = np.arange(n, dtype=np.int64) * 1_000_001
    null = np.array([False, True, False, True, False, False])
    binary = encode_binary(
        "seed_copy_probe",
        [
            Column("i", "int8", ints),
            Column("s", "int4", np.arange(n)),
            Column("f", "float8", floats, null),
            Column("t", "text", np.char.encode(np.array(TEXTS), "utf-8")),
            Column("ts", "timestamptz", micros, null[::-1].copy()),
        ],
        base=BASE,
    )
    plain = encode_text(
        "seed_copy_probe",
        {
            "i": text_numbers(ints),
            "s": text_numbers(np.arange(n)),
            "f": text_numbers(floats, null=null),
            "t": text_field(TEXTS, escape=True),
            "ts": text_timestamps(micros, base=BASE, null=null[::-1].copy()),
        },
    )
    with engine.connect() as conn:
        conn.execute(
            text(
                "CREATE TEMP TABLE seed_copy_probe "
                "(i bigint, s integer, f double precision, t text, ts timestamptz)"
            )
        )
        driver = conn.connection.driver_connection
        assert driver is not None
        for batch in (binary, plain):
            conn.execute(text("TRUNCATE seed_copy_probe"))
            copy_batch(driver, batch)
            rows = conn.execute(text("SELECT i, s, f, t, ts FROM seed_copy_probe ORDER BY s")).all()
            assert [r[0] for r in rows] == ints.tolist()
            assert [r[1] for r in rows] == list(range(n))
            assert [r[2] for r in rows] == [
                None if z else f for f, z in zip(floats, null, strict=True)
            ]
            assert [r[3] for r in rows] == TEXTS
            expected = [
                None if z else BASE + timedelta(microseconds=int(m))
                for m, z in zip(micros, null[::-1], strict=True)
            ]
            assert [r[4] for r in rows] == expected
        conn.rollback()


def test_columns_must_line_up() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        encode_binary(
            "t", [Column("a", "int8", np.arange(2)), Column("b", "int8", np.arange(3))], base=BASE
        )
    with pytest.raises(ValueError, match="different lengths"):
        encode_text("t", {"a": ["1"], "b": []})
