"""Value objects and messages. Money, prices and quantities are Decimal, never float."""
