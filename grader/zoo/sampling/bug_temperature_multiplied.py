"""Multiplies the logits by the temperature instead of dividing."""

HINT = "temperature_divide"


def apply_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * temperature
