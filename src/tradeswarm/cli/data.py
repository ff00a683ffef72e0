"""`tradeswarm data`: a local catalog of bars (one Parquet file per symbol and timeframe)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tradeswarm.cli.common import cli_errors, console

data_app = typer.Typer(
    help="Import, list and show the bars of a local catalog.", no_args_is_help=True
)
CatalogOption = Annotated[Path, typer.Option("--catalog", help="The catalog's folder.")]


@data_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV (or .csv.gz) or Parquet file of bars.")],
    catalog: CatalogOption,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="The symbol of a single-symbol file.")
    ] = None,
    adjust: Annotated[bool, typer.Option("--adjust", help="Use Yahoo's adjusted close.")] = False,
    timeframe: Annotated[
        str | None, typer.Option("--timeframe", help="Resample to this timeframe (e.g. 1w).")
    ] = None,
    tz: Annotated[
        str, typer.Option("--tz", help="The zone the file's times are written in.")
    ] = "UTC",
) -> None:
    """Validate every row of FILE and store its bars in the catalog, per symbol."""
    from tradeswarm.data.catalog import Catalog
    from tradeswarm.data.series import resample
    from tradeswarm.data.sources import CsvFile, ParquetFile

    with cli_errors():
        source = (
            ParquetFile(file, symbol)
            if file.suffix == ".parquet"
            else CsvFile(file, symbol, adjust, tz)
        )
        store = Catalog(catalog)
        for name in source.symbols():
            series = source.series(name)
            if timeframe and timeframe != series.timeframe:
                series = resample(series, timeframe)
            path = store.write(series)
            console.print(f"{name}: {len(series):,} {series.timeframe} bars -> {path}")


@data_app.command("list")
def list_(
    catalog: CatalogOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every symbol and timeframe the catalog holds, with its bar count and span."""
    from tradeswarm.data.catalog import Catalog

    with cli_errors():
        rows = Catalog(catalog).describe()
    if as_json:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        console.print(
            f"{r['symbol']:<8} {r['timeframe']:<6} {r['bars']:>8,}  {r['first']} .. {r['last']}"
        )


@data_app.command("show")
def show(
    symbol: Annotated[str, typer.Argument(help="The symbol.")],
    catalog: CatalogOption,
    timeframe: Annotated[str, typer.Option("--timeframe", help="Its timeframe.")] = "1d",
    tail: Annotated[int, typer.Option("--tail", help="How many of the last bars.")] = 10,
) -> None:
    """The last bars of one symbol."""
    import datetime as dt

    from tradeswarm.data.catalog import Catalog

    with cli_errors():
        series = Catalog(catalog, timeframe).series(symbol)
    console.print(f"{symbol} {timeframe}: {len(series):,} bars")
    for k in range(max(0, len(series) - tail), len(series)):
        r = series.row(k)
        stamp = dt.datetime.fromtimestamp(int(r["ts"]) / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        console.print(
            f"  {stamp}  O {r['open']:g}  H {r['high']:g}  L {r['low']:g}  C {r['close']:g}"
            f"  V {r['volume']:g}"
        )
