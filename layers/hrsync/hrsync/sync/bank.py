"""A bank split in percentages as fixed amounts, against a known pay. Pure: no I/O.

MicrOpay pays each of an employee's accounts a fixed amount and one account the balance of pay; Worknice may
split pay by percentage. A percentage becomes an amount only against a pay that is known (MicrOpay's standard
net pay), never a guessed one. Amounts are exact cents (Decimal, no floats), and the parts of a converted split
add up to the pay:

- a percentage is its share of the pay rounded down to the cent, so no account is paid more than it asked;
- the balance-of-pay account stays balance-of-pay: it is paid what the others leave, the cents they were
  rounded down by included;
- a split without a balance-of-pay account must ask for exactly the whole pay (percentages of 100 in all,
  or with fixed amounts making up the rest); its last account (by order) takes the remainder, so the rounded-off
  cents land there, and it becomes the balance-of-pay account MicrOpay needs.

A split that cannot be converted raises BankSplitError; its message names the problem, never an amount, a
percentage or an account.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from hrsync.models.employee import BankAccount, BankShare

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
PAY_UNKNOWN = "the split is in percentages and the pay to convert them against is not known"


class BankSplitError(ValueError):
    """A bank split that cannot be turned into fixed amounts; the message carries no values."""


@dataclass(frozen=True)
class FixedSplit:
    """A converted split: `accounts` as a fixed-amount payroll takes them (the balance-of-pay one without an
    amount) and `amounts`, what each of them is paid of the pay, in the same order (they add up to it)."""

    accounts: tuple[BankAccount, ...]
    amounts: tuple[Decimal, ...]


def in_percentages(split: Sequence[BankShare] | None) -> bool:
    """Whether any account of the split asks for a percentage (balance-of-pay accounts ask for none)."""
    return any(share.percentage is not None and not share.balance_of_pay for share in split or ())


def _pay(pay: Decimal | str | None) -> Decimal:
    if pay is None:
        raise BankSplitError(PAY_UNKNOWN)
    try:
        amount = Decimal(pay)
    except InvalidOperation:
        raise BankSplitError("the pay is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise BankSplitError(PAY_UNKNOWN)
    if amount != amount.quantize(CENT):
        raise BankSplitError("the pay is not in whole cents")
    return amount


def _asked(share: BankShare, pay: Decimal) -> tuple[Decimal, Decimal]:
    """What one account asks for: exactly, and rounded down to the cent."""
    if share.percentage is not None:
        if not Decimal(0) <= share.percentage <= HUNDRED:
            raise BankSplitError("a percentage is outside 0 to 100")
        exact = pay * share.percentage / HUNDRED
        return exact, exact.quantize(CENT, rounding=ROUND_DOWN)
    if share.amount is None:
        raise BankSplitError("an account has neither a percentage nor an amount nor the balance of pay")
    try:
        fixed = Decimal(share.amount)
    except InvalidOperation:
        raise BankSplitError("an amount is not a number") from None
    if not fixed.is_finite() or fixed < 0 or fixed != fixed.quantize(CENT):
        raise BankSplitError("an amount is not a non-negative number of whole cents")
    return fixed, fixed


def _account(share: BankShare, amount: Decimal | None) -> BankAccount:
    return BankAccount(
        bsb=share.bsb,
        account_number=share.account_number,
        account_name=share.account_name,
        amount=None if amount is None else format(amount, "f"),
        balance_of_pay=amount is None,
        order=share.order,
    )


def fixed_amounts(split: Sequence[BankShare], pay: Decimal | str | None) -> FixedSplit:
    """`split` as fixed amounts of `pay` (see the module's rules); BankSplitError when it cannot be."""
    if not split:
        raise BankSplitError("the split has no accounts")
    amount = _pay(pay)
    ordered = sorted(split, key=lambda share: share.order)
    balance = [i for i, share in enumerate(ordered) if share.balance_of_pay]
    if len(balance) > 1:
        raise BankSplitError("more than one account takes the balance of pay")
    if sum((s.percentage or 0 for s in ordered if not s.balance_of_pay), Decimal(0)) > HUNDRED:
        raise BankSplitError("the percentages add up to more than 100")
    asked = {i: _asked(share, amount) for i, share in enumerate(ordered) if not share.balance_of_pay}
    if balance:
        taker = balance[0]
    else:
        if sum((exact for exact, _ in asked.values()), Decimal(0)) != amount:
            raise BankSplitError("the split does not ask for exactly the whole pay and no account takes the balance")
        taker = len(ordered) - 1  # the last account takes the remainder
    parts = {i: rounded for i, (_, rounded) in asked.items() if i != taker}
    rest = amount - sum(parts.values(), Decimal(0))
    if rest < 0:
        raise BankSplitError("the accounts ask for more than the pay")
    parts[taker] = rest
    return FixedSplit(
        accounts=tuple(_account(share, None if i == taker else parts[i]) for i, share in enumerate(ordered)),
        amounts=tuple(parts[i] for i in range(len(ordered))),
    )
