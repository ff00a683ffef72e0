"""Fill rules of the backtest's simulated exchange: one resting order against one bar.

An order fills only in a bar after the one it was proposed at (``order.ts_event <
bar ts``): a market order at the bar's open; a limit when the bar's range reaches it, at
the better of the open and the limit; a stop when the bar's range touches it, at the
worse of the open and the stop. Slippage moves market and stop prices against the order;
prices with slippage are rounded to the instrument's tick. Participation caps the
quantity at floor(participation x volume).
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from tradeswarm.backtest.config import FillConfig
from tradeswarm.data.series import price_of
from tradeswarm.model.enums import OrderType, Side
from tradeswarm.model.messages import TradeIntent
from tradeswarm.strategy.market import BarRef

BPS = Decimal(10_000)
CENT = Decimal("0.01")


def _slipped(price: Decimal, side: Side, bps: Decimal, tick: Decimal) -> Decimal:
    if not bps:
        return price
    moved = price * (1 + side.sign * bps / BPS)
    return (moved / tick).to_integral_value(ROUND_HALF_EVEN) * tick


def fill_price(intent: TradeIntent, bar: BarRef, cfg: FillConfig, tick: Decimal) -> Decimal | None:
    buy = intent.side is Side.BUY
    open_ = price_of(bar.open)
    if intent.order_type is OrderType.MARKET:
        return _slipped(open_, intent.side, cfg.slippage_bps, tick)
    if intent.order_type is OrderType.LIMIT:
        limit = intent.limit_price
        assert limit is not None
        if buy:
            return min(limit, open_) if price_of(bar.low) <= limit else None
        return max(limit, open_) if price_of(bar.high) >= limit else None
    stop = intent.stop_price
    assert stop is not None
    touched = price_of(bar.high) >= stop if buy else price_of(bar.low) <= stop
    if not touched:
        return None
    base = max(stop, open_) if buy else min(stop, open_)
    return _slipped(base, intent.side, cfg.slippage_bps, tick)


def fill_quantity(remaining: Decimal, bar: BarRef, cfg: FillConfig) -> Decimal:
    if cfg.participation is None:
        return remaining
    cap = (cfg.participation * price_of(bar.volume)).to_integral_value(ROUND_FLOOR)
    return max(Decimal(0), min(remaining, cap))


def fee(qty: Decimal, price: Decimal, multiplier: Decimal, cfg: FillConfig) -> Decimal:
    notional = qty * price * multiplier
    amount = max(cfg.fee_min, notional * cfg.fee_bps / BPS) + cfg.fee_per_share * qty
    return amount.quantize(CENT, ROUND_HALF_EVEN) if cfg.round_fees else amount
