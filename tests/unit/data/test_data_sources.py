"""Data sources: each format of the shared market data, resampling, the catalog, bad rows."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from shared_data import MARKET_DATA
from tradeswarm.core.errors import InvalidInput
from tradeswarm.data.catalog import Catalog
from tradeswarm.data.series import resample
from tradeswarm.data.sources import CsvFile, ParquetFile


@pytest.mark.parametrize(
    ("name", "symbol", "bars", "timeframe"),
    [
        ("orcl-1995-2014.txt", "ORCL", 5036, "1d"),
        ("2006-day-001.txt", "2006", 255, "1d"),
        ("2006-week-001.txt", "2006", 52, "1w"),
        ("2006-01-02-volume-min-001.txt", "2006", 30889, "1min"),
        ("ticksample.csv", "TICKSAMPLE", 134, "1s"),
        ("stock_prices_20.csv", "AAPL", 7126, "1d"),
    ],
)
def test_every_format_of_the_shared_data_reads(
    name: str, symbol: str, bars: int, timeframe: str
) -> None:
    series = CsvFile(MARKET_DATA / name).series(symbol)
    assert (len(series), series.timeframe) == (bars, timeframe)


def test_a_wide_file_leaves_out_the_days_before_listing() -> None:
    source = CsvFile(MARKET_DATA / "stock_prices_20.csv")
    assert len(source.symbols()) == 20
    fb = source.series("FB")
    assert len(fb) < 7126 and fb.row(0)["ts"] > source.series("AAPL").row(0)["ts"]


def test_resampling_the_daily_file_gives_backtraders_weekly_file() -> None:
    weekly = resample(CsvFile(MARKET_DATA / "2006-day-001.txt").series("2006"), "1w")
    theirs = CsvFile(MARKET_DATA / "2006-week-001.txt").series("2006")
    for field in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(weekly, field), getattr(theirs, field)), field
    assert np.array_equal(weekly.ts, theirs.ts)  # labelled by the week's last bar


def test_adjusted_prices_scale_open_high_low_like_the_close() -> None:
    raw = CsvFile(MARKET_DATA / "orcl-1995-2014.txt").series("ORCL")
    adjusted = CsvFile(MARKET_DATA / "orcl-1995-2014.txt", adjust=True).series("ORCL")
    factor = raw.close / adjusted.close
    assert np.allclose(raw.open / adjusted.open, factor)
    assert adjusted.close[-1] == pytest.approx(42.303135)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("2020-01-02,1,2,0.5,1.5,x\n", "bad.csv:2:Volume"),
        ("2020-01-02,1,2,0.5,nan,10\n", "bad.csv:2:Close"),
        ("2020-13-02,1,2,0.5,1.5,10\n", "bad.csv:2:Date"),
        ("2020-01-02,1,2,0.5,1.5\n", "bad.csv:2"),
        ("2020-01-02,1,2,0.5,1.5,10\n2020-01-01,1,2,0.5,1.5,10\n", "bad.csv:row 2:ts"),
        ("2020-01-02,1,2,1.2,1.5,10\n", "bad.csv:row 1"),  # low above the open
        ("2020-01-02,-1,2,0.5,1.5,10\n", "bad.csv:row 1:open"),
    ],
)
def test_a_bad_row_names_file_line_and_field(tmp_path: Path, body: str, field: str) -> None:
    path = _write(tmp_path / "bad.csv", "Date,Open,High,Low,Close,Volume\n" + body)
    with pytest.raises(InvalidInput) as caught:
        CsvFile(path, "X").series("X")
    assert caught.value.field == field


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.csv", "Date,Open,High,Close,Volume\n2020-01-02,1,2,1.5,1\n")
    with pytest.raises(InvalidInput, match="Low"):
        CsvFile(path, "X").series("X")


def test_gzipped_csv_reads_the_same(tmp_path: Path) -> None:
    text = (MARKET_DATA / "orcl-1995-2014.txt").read_bytes()
    (tmp_path / "orcl.csv.gz").write_bytes(gzip.compress(text))
    a = CsvFile(tmp_path / "orcl.csv.gz", "ORCL").series("ORCL")
    b = CsvFile(MARKET_DATA / "orcl-1995-2014.txt").series("ORCL")
    assert np.array_equal(a.close, b.close) and np.array_equal(a.ts, b.ts)


def test_the_catalog_round_trips_bars_through_parquet(tmp_path: Path) -> None:
    series = CsvFile(MARKET_DATA / "orcl-1995-2014.txt").series("ORCL")
    catalog = Catalog(tmp_path / "cat")
    path = catalog.write(series)
    back = catalog.series("ORCL")
    for field in ("ts", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(back, field), getattr(series, field)), field
    assert catalog.symbols() == ["ORCL"]
    assert catalog.describe()[0]["bars"] == 5036
    assert ParquetFile(path, "ORCL").series("ORCL").close[-1] == series.close[-1]


def test_a_multi_symbol_parquet_file_splits_by_symbol(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "symbol": ["B", "A", "B", "A"],
            "date": pa.array([0, 0, 1, 1], pa.int32()).cast(pa.date32()),
            "open": [2.0, 1.0, 2.0, 1.0],
            "high": [2.0, 1.0, 2.0, 1.0],
            "low": [2.0, 1.0, 2.0, 1.0],
            "close": [2.0, 1.0, 2.0, 1.0],
            "volume": [0.0, 0.0, 0.0, 0.0],
        }
    )
    pq.write_table(table, tmp_path / "two.parquet")
    source = ParquetFile(tmp_path / "two.parquet")
    assert source.symbols() == ["A", "B"]
    assert source.series("A").ts.tolist() == [0, 86_400 * 10**9]


def test_an_unknown_catalog_symbol_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no 1d bars"):
        Catalog(tmp_path).series("NOPE")
    with pytest.raises(InvalidInput):
        Catalog(tmp_path).series("../etc")


def test_intraday_times_are_read_in_the_files_zone() -> None:
    utc = CsvFile(MARKET_DATA / "2006-01-02-volume-min-001.txt", "IDXF").series("IDXF")
    berlin = CsvFile(
        MARKET_DATA / "2006-01-02-volume-min-001.txt", "IDXF", tz="Europe/Berlin"
    ).series("IDXF")
    assert int(utc.ts[0] - berlin.ts[0]) == 3600 * 10**9  # CET is UTC+1 in January
    with pytest.raises(InvalidInput, match="tz"):
        CsvFile(MARKET_DATA / "orcl-1995-2014.txt", tz="Mars/Olympus")
