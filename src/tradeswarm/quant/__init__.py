"""Pure numeric functions on arrays: indicators, regime, risk, portfolio, execution, drift."""
