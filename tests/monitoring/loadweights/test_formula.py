"""nanny's formula on plain numbers (piranha reference 3.4)."""

import math

import pytest

from monitoring.loadweights.formula import MAX_WEIGHT, ceiling, next_weight


def test_an_idle_server_gains_half_its_weight_per_reading():
    assert next_weight(100, 100, 0.0) == 150


def test_a_light_load_gains_by_the_cube_root():
    # (100/2) x cbrt(1 - 0.488) = 50 x 0.8 = 40
    assert next_weight(100, 100, 0.488) == 140


def test_a_busy_server_loses_by_the_cube_root_down_to_its_configured_weight():
    # (100/2) x cbrt(9 - 1) = 100
    assert next_weight(500, 100, 9.0) == 400
    assert next_weight(150, 100, 9.0) == 100  # never below W
    assert next_weight(100, 100, 9.0) is None


def test_a_change_below_a_quarter_of_the_weight_is_not_made():
    # 50 x cbrt(1 - 0.99) = 10.8: less than 25
    assert next_weight(100, 100, 0.99) is None
    assert next_weight(100, 100, 1.0) is None


def test_the_weight_stops_at_scale_times_the_configured_weight():
    assert next_weight(960, 100, 0.0) == 1000
    assert next_weight(1000, 100, 0.0) is None
    assert ceiling(100) == 1000


def test_the_last_small_step_to_a_bound_is_made_unlike_nanny():
    # nanny left these 20 short of the bound for as long as the load lasted (20 < W/4).
    assert next_weight(980, 100, 0.0) == 1000
    assert next_weight(120, 100, 9.0) == 100


def test_a_small_step_between_the_bounds_is_not_made():
    assert next_weight(500, 100, 0.99) is None  # 50 x cbrt(0.01) = 10.8 < 25


def test_never_above_what_ipvs_takes():
    assert ceiling(20000) == MAX_WEIGHT
    assert next_weight(60000, 20000, 0.0) == MAX_WEIGHT
    assert next_weight(MAX_WEIGHT, 20000, 0.0) is None


@pytest.mark.parametrize("load", [0.0, 0.5, 2.0, 50.0])
def test_a_weight_of_zero_never_moves(load):
    assert next_weight(0, 0, load) is None


def test_a_reading_that_is_not_a_number_changes_nothing():
    assert next_weight(100, 100, math.nan) is None


def test_repeated_readings_walk_between_w_and_ten_w():
    weight, seen = 10, []
    for _ in range(30):
        weight = next_weight(weight, 10, 0.0) or weight
        seen.append(weight)
    assert seen[:3] == [15, 20, 25] and seen[-1] == 100
    for _ in range(30):
        weight = next_weight(weight, 10, 5.0) or weight
    assert weight == 10
