"""The HTML report in a real browser: Debian's Chromium, driven by Playwright, with every
network request refused (the file must carry its own plotly.js), shows its charts."""

from __future__ import annotations

from pathlib import Path

from shared_data import MARKET_DATA
from tradeswarm.backtest.report import write_report
from tradeswarm.backtest.runner import run_backtest
from tradeswarm.bench.backtest import ours_config

CHROMIUM = Path("/usr/bin/chromium")  # installed by `make test` (apt-get install chromium)


def test_the_report_renders_its_charts_offline_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "chromium missing: `make test` installs it with apt-get"
    config = ours_config(MARKET_DATA / "orcl-1995-2014.txt", "ORCL", 100_000, 1000, "10")
    result, run = run_backtest(config, "2008-01-01", "2012-12-31")
    report = tmp_path / "report.html"
    write_report(report, result, run, run.series)
    asked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 2400})

        def refuse(route):  # type: ignore[no-untyped-def]
            asked.append(route.request.url)
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", refuse)
        page.goto(report.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg")
        titles = page.locator("svg text").evaluate_all("els => els.map(e => e.textContent)")
        lines = page.locator(".scatterlayer .trace path.js-line").evaluate_all(
            "els => els.map(e => (e.getAttribute('d') || '').length)"
        )
        bars = page.locator(".barlayer .point").count()
        markers = page.locator(".scatterlayer .trace .point").count()
        table = page.locator("table").first.inner_text()
        shot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert [u for u in asked if not u.startswith("file:")] == []  # nothing from the network
    wanted = {"Equity", "Drawdown", "Gross exposure (% of equity)", "ORCL: closes and trades"}
    assert wanted | {"Monthly returns (%)", "Realized PnL by strategy"} <= set(titles)
    assert len(lines) >= 4 and min(lines) > 100  # equity, drawdown, exposure, closes drawn
    assert markers >= result["trades"]  # every trade marked on the price chart
    assert bars >= 50  # monthly returns
    assert "PERMIT" in table  # the gate's decisions
    assert len(shot) > 50_000
