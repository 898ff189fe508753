"""The patient's therapy manager: a dose within the physician's limits, and the patient's view of the pump."""
