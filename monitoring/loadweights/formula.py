"""nanny's load-to-weight arithmetic (piranha 0.8.6 nanny.c), on plain numbers.

With load_monitor set, nanny read each real server's 1-minute load and moved its weight between
the configured weight W and scale x W (nanny's `-S`, default 10):

- load < 1: the weight goes up by (W/2) x cbrt(1 - load), at most to scale x W;
- load > 1: the weight goes down by (W/2) x cbrt(load - 1), at least to W;
- a change smaller than W/4 is not made (a weight edit costs a kernel call, and a load that
  wobbles around 1 must not make the weight wobble with it).

Kept as nanny wrote it, with two changes:

- the result never exceeds 65535, the largest weight IPVS takes (W x 10 would overflow it for W
  above 6553);
- a step that reaches a bound (W or scale x W) is made even when it is smaller than W/4. nanny
  left a busy server stuck up to W/4 above its configured weight (and an idle one below its
  ceiling) for as long as the load lasted: the last step towards the bound was always too small.
"""

from __future__ import annotations

import math

DEFAULT_SCALE = 10
MAX_WEIGHT = 65535


def ceiling(weight: int, scale: int = DEFAULT_SCALE) -> int:
    """The highest weight the load may give a server configured with `weight`."""
    return min(MAX_WEIGHT, weight * scale)


def next_weight(current: int, weight: int, load: float, scale: int = DEFAULT_SCALE) -> int | None:
    """The weight after one reading of `load`, or None when nanny would leave it as it is.

    `current` is the weight the server has now, `weight` its configured weight (W)."""
    if weight <= 0 or math.isnan(load):
        return None
    if load < 1:
        wanted = current + (weight / 2) * math.cbrt(1 - max(load, 0.0))
    elif load > 1:
        wanted = current - (weight / 2) * math.cbrt(load - 1)
    else:
        return None
    top = ceiling(weight, scale)
    new = int(round(min(max(wanted, weight), top)))
    if new == current or (abs(new - current) < weight / 4 and new not in (weight, top)):
        return None
    return new
