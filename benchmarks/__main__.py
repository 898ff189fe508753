"""`make bench`: run every benchmark and print its ratios."""

from benchmarks import clinic, memory_choice, patient_speed, pump_core, telemetry, trials

if __name__ == "__main__":
    pump_core.report()
    print()
    telemetry.report()
    print()
    memory_choice.report()
    print()
    clinic.report()
    print()
    patient_speed.report()
    print()
    trials.report()
