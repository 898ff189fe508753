"""`make bench`: run every benchmark and print its ratios."""

from benchmarks import pump_core, telemetry

if __name__ == "__main__":
    pump_core.report()
    print()
    telemetry.report()
