"""The error every budget-forcing and sampling gen_kwarg check raises (a leaf: config and sampling both use it)."""

from __future__ import annotations


class BudgetConfigError(ValueError):
    """A budget-forcing generation kwarg is unknown or has an invalid value."""
