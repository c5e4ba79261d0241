"""The game's rules as plain functions (METHOD §5 scoring, levels, class labels)."""

import pytest

from game import rules


def test_win_points_per_step():
    assert [rules.win_points(p) for p in range(6)] == [100, 83, 67, 50, 33, 17]


@pytest.mark.parametrize("step", [-1, 6])
def test_win_points_refuses_steps_outside_the_game(step):
    with pytest.raises(ValueError):
        rules.win_points(step)


def test_characteristic_bonus_is_capped_at_three():
    assert [rules.characteristic_bonus(n) for n in range(6)] == [0, 5, 10, 15, 15, 15]


def test_reveal_percent_follows_method():
    assert rules.REVEAL_PERCENT == (2.0, 4.5, 8.0, 13.0, 20.0, 30.0)


def test_levels_from_points():
    assert rules.level_for_points(0).level.number == 1
    assert rules.level_for_points(99).level.number == 1
    progress = rules.level_for_points(100)
    assert progress.level.name == "Observer"
    assert progress.next_level.name == "Spotter"
    assert progress.points_to_next == 200
    assert progress.fraction == 0
    top = rules.level_for_points(10**6)
    assert top.level.number == len(rules.LEVELS) and top.next_level is None and top.fraction == 1.0
    thresholds = [level.min_points for level in rules.LEVELS]
    assert thresholds == sorted(thresholds) and thresholds[0] == 0


def test_class_label_shows_the_first_imagenet_synonym():
    assert rules.class_label("tabby, tabby cat") == "tabby"
    assert rules.class_label("English springer") == "English springer"
