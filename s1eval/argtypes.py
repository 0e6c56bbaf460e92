"""argparse types shared by the commands: a number in a range, refused with the value, the range and a fix.

argparse prefixes the option's name ("argument --tolerance: must be ..."), so the message says what was
given, what is allowed and how to fix it, in one line, with exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def bounded(cast: Callable[[str], Any], ok: Callable[[Any], bool], allowed: str, fix: str) -> Callable[[str], Any]:
    """An argparse type: `cast(value)` for which `ok(number)` holds, else 'must be ALLOWED, got VALUE; FIX'."""

    def parse(value: str) -> Any:
        try:
            number = cast(value)
        except ValueError:
            number = None
        if number is None or not ok(number):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value!r}; {fix}")
        return number

    parse.__name__ = allowed  # what argparse would print for an unnamed type
    return parse
