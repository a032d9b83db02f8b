"""sync/bank.py: a bank split in percentages as fixed amounts of a known pay, to the cent, adding up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrsync.models.employee import BankAccount, BankShare
from hrsync.sync.bank import PAY_UNKNOWN, BankSplitError, fixed_amounts, in_percentages

CENT = Decimal("0.01")


def pct(order: int, percentage: str, number: str | None = None) -> BankShare:
    return BankShare(bsb="062-000", account_number=number or str(order), percentage=Decimal(percentage), order=order)


def fixed(order: int, amount: str) -> BankShare:
    return BankShare(bsb="062-000", account_number=str(order), amount=amount, order=order)


def balance(order: int) -> BankShare:
    return BankShare(bsb="033-000", account_number=str(order), balance_of_pay=True, order=order)


def test_fixed_amounts_percentage_with_balance_rounds_down_and_balance_takes_the_rest() -> None:
    converted = fixed_amounts([pct(1, "30"), balance(2)], "1234.56")

    assert converted.amounts == (Decimal("370.36"), Decimal("864.20"))  # 370.368 rounded down
    assert converted.accounts == (
        BankAccount(bsb="062-000", account_number="1", amount="370.36", order=1),
        BankAccount(bsb="033-000", account_number="2", amount=None, balance_of_pay=True, order=2),
    )


def test_fixed_amounts_balance_account_stays_balance_of_pay_wherever_it_is_ordered() -> None:
    converted = fixed_amounts([pct(2, "25"), balance(1), fixed(3, "100.00")], "1000.00")

    assert [(a.order, a.amount, a.balance_of_pay) for a in converted.accounts] == [
        (1, None, True),
        (2, "250.00", False),
        (3, "100.00", False),
    ]
    assert converted.amounts == (Decimal("650.00"), Decimal("250.00"), Decimal("100.00"))


def test_fixed_amounts_without_balance_last_account_takes_the_rounded_off_cents() -> None:
    split = [pct(1, "33.33"), pct(2, "33.33"), pct(3, "33.34")]

    converted = fixed_amounts(split, "100.01")

    # 33.333333 -> 33.33 twice; the last account's 33.343334 becomes the remainder, 33.35
    assert converted.amounts == (Decimal("33.33"), Decimal("33.33"), Decimal("33.35"))
    assert [a.amount for a in converted.accounts] == ["33.33", "33.33", None]
    assert converted.accounts[-1].balance_of_pay


def test_fixed_amounts_half_and_half_of_one_cent_gives_the_cent_to_the_last_account() -> None:
    converted = fixed_amounts([pct(1, "50"), pct(2, "50")], "0.01")

    assert converted.amounts == (Decimal("0.00"), Decimal("0.01"))


def test_fixed_amounts_exact_split_has_no_remainder() -> None:
    converted = fixed_amounts([pct(1, "20"), pct(2, "80")], "2500.00")

    assert converted.amounts == (Decimal("500.00"), Decimal("2000.00"))


def test_fixed_amounts_mixed_fixed_and_percentages_covering_the_pay_convert() -> None:
    converted = fixed_amounts([fixed(1, "200.00"), pct(2, "80")], "1000.00")

    assert converted.amounts == (Decimal("200.00"), Decimal("800.00"))


def test_fixed_amounts_orders_accounts_by_their_order_not_the_list() -> None:
    converted = fixed_amounts([pct(2, "40"), pct(1, "60")], "10.00")

    assert [(a.order, a.amount) for a in converted.accounts] == [(1, "6.00"), (2, None)]
    assert converted.amounts == (Decimal("6.00"), Decimal("4.00"))


@pytest.mark.parametrize("pay", [None, "0", "0.00", "-5.00"])
def test_fixed_amounts_unknown_pay_is_refused_never_guessed(pay: str | None) -> None:
    with pytest.raises(BankSplitError, match=PAY_UNKNOWN):
        fixed_amounts([pct(1, "30"), balance(2)], pay)


@pytest.mark.parametrize(
    ("split", "pay", "message"),
    [
        ([pct(1, "60"), pct(2, "50"), balance(3)], "987.65", "add up to more than 100"),
        ([fixed(1, "900.00"), pct(2, "20"), balance(3)], "987.65", "ask for more than the pay"),
        ([pct(1, "30"), balance(2), balance(3)], "987.65", "more than one account"),
        ([pct(1, "30"), pct(2, "60")], "987.65", "does not ask for exactly the whole pay"),
        ([pct(1, "30"), BankShare(account_number="2", order=2)], "987.65", "neither a percentage nor an amount"),
        ([pct(1, "30"), balance(2)], "987.654", "whole cents"),
        ([], "987.65", "no accounts"),
    ],
)
def test_fixed_amounts_unconvertible_split_names_the_problem_not_the_values(
    split: list[BankShare], pay: str, message: str
) -> None:
    with pytest.raises(BankSplitError, match=message) as caught:
        fixed_amounts(split, pay)

    assert "987" not in str(caught.value)
    assert "062-000" not in str(caught.value)


def test_in_percentages_ignores_balance_accounts_and_fixed_amounts() -> None:
    assert in_percentages([pct(1, "30"), balance(2)])
    assert not in_percentages([fixed(1, "10.00"), balance(2)])
    assert not in_percentages([BankShare(balance_of_pay=True, percentage=Decimal(100))])
    assert not in_percentages(None)


# Properties ------------------------------------------------------------------------------------------------

pays = st.integers(min_value=1, max_value=10_000_000).map(lambda cents: Decimal(cents) / 100)
percentages = st.integers(min_value=0, max_value=10_000).map(lambda hundredths: Decimal(hundredths) / 100)


@st.composite
def splits_with_balance(draw: st.DrawFn) -> list[BankShare]:
    shares = draw(st.lists(percentages, min_size=1, max_size=6))
    kept: list[Decimal] = []
    for share in shares:  # keep the total within 100
        if sum(kept, Decimal(0)) + share <= 100:
            kept.append(share)
    split = [pct(i + 1, str(p)) for i, p in enumerate(kept)]
    split.insert(draw(st.integers(min_value=0, max_value=len(split))), balance(99))
    return split


@st.composite
def splits_of_the_whole_pay(draw: st.DrawFn) -> list[BankShare]:
    shares = draw(st.lists(percentages, min_size=0, max_size=5))
    kept: list[Decimal] = []
    for share in shares:
        if sum(kept, Decimal(0)) + share <= 100:
            kept.append(share)
    kept.append(100 - sum(kept, Decimal(0)))
    return [pct(i + 1, str(p)) for i, p in enumerate(kept)]


@given(split=splits_with_balance(), pay=pays)
def test_fixed_amounts_with_balance_parts_always_sum_to_the_pay(split: list[BankShare], pay: Decimal) -> None:
    converted = fixed_amounts(split, pay)

    assert sum(converted.amounts, Decimal(0)) == pay
    assert all(a >= 0 and a == a.quantize(CENT) for a in converted.amounts)
    ordered = sorted(split, key=lambda s: s.order)
    for share, account, amount in zip(ordered, converted.accounts, converted.amounts, strict=True):
        assert account.balance_of_pay is share.balance_of_pay
        if share.percentage is not None:
            exact = pay * share.percentage / 100
            assert exact - CENT < amount <= exact
            assert account.amount == format(amount, "f")


@given(split=splits_of_the_whole_pay(), pay=pays)
def test_fixed_amounts_of_the_whole_pay_parts_always_sum_to_the_pay(split: list[BankShare], pay: Decimal) -> None:
    converted = fixed_amounts(split, pay)

    assert sum(converted.amounts, Decimal(0)) == pay
    assert [a.balance_of_pay for a in converted.accounts] == [False] * (len(split) - 1) + [True]
    *others, last = converted.amounts
    for share, amount in zip(split, others, strict=False):
        assert pay * (share.percentage or 0) / 100 - CENT < amount <= pay * (share.percentage or 0) / 100
    # the last account gets its own share and at most the cents the others were rounded down by
    exact_last = pay * (split[-1].percentage or 0) / 100
    assert exact_last <= last < exact_last + CENT * max(1, len(split) - 1)
