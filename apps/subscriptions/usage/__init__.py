"""Usage metering with enforced limits (counters, raw events, alerts)."""
