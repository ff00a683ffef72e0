"""The instrument master: reference data per instrument and its trading-session calendar.

The gate takes an instrument's asset class, multiplier, tick and lot size, and whether
it trades now, from here, never from the agent that proposes the trade.
"""

from tradeswarm.instruments.calendar import SessionCalendar, calendar_for
from tradeswarm.instruments.master import InstrumentMaster, load_master

__all__ = ["InstrumentMaster", "SessionCalendar", "calendar_for", "load_master"]
