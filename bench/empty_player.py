"""Benchmark player in Python: an empty action (python3 -m donki_player --script bench/empty_player.py)."""


def action(trigger, params):
    pass
