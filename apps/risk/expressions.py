"""The rule language: a small, safe expression language over an assessment's features.

A condition is a single expression in a restricted subset of Python's expression syntax,
for example::

    amount_minor >= 50000 and card_country != ip_country
    email_domain in ["mailinator.com", "guerrillamail.com"] or card_count_1h > 5
    not is_returning_customer and hour_utc in [1, 2, 3, 4]

It is parsed with :mod:`ast` (never ``eval``/``exec``/``compile`` to code objects) and only
these node kinds are accepted: ``and``/``or``/``not``, comparisons (``== != < <= > >= in
not in``, chained), arithmetic ``+ - * / %`` on numbers, unary minus, feature names from
:data:`apps.risk.features.FEATURES`, and constants (numbers, strings, ``True``/``False``/
``None``) and lists/tuples of constants. Anything else (calls, attributes, subscripts,
lambdas, comprehensions, unknown names) is refused with a message naming the position. A
parsed condition is compiled once into a tree of Python closures, so evaluating it costs a
few microseconds and cannot reach anything but the feature mapping it is given.

Evaluation is total, so a rule can never raise on the authorization path:

* a comparison between incompatible types (``"FR" > 3``) is False where it stands, so
  ``not ("FR" > 3)`` is True;
* arithmetic is on numbers only (never strings: ``currency * 1000000000`` would build a
  gigabyte string), and exact: numbers are integers or fractions, never floats. A decimal
  constant (``0.07``) is the fraction it reads as, ``/`` divides exactly, division by zero
  gives 0, and a float feature value is read as the decimal it prints as. So
  ``amount_minor * 0.07 == 7`` holds for an amount of 100. Arithmetic on something that is
  not a number makes the whole rule not match;
* ``and``/``or`` give the value Python would (the deciding operand), so
  ``(card_country or "US") == "US"`` reads as it is written.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from apps.common.errors import InvalidRequestError

Features = Mapping[str, Any]
Evaluator = Callable[[Features], Any]

MAX_CONDITION_LENGTH = 2000
MAX_NODES = 200

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda left, right: left in right,
    ast.NotIn: lambda left, right: left not in right,
}


def _exact(value: Any) -> Any:
    """A float as the exact decimal it prints as (0.1 → 1/10); anything else unchanged."""
    if isinstance(value, float):
        return Fraction(repr(value)) if math.isfinite(value) else None
    return value


def _number(value: Any) -> int | Fraction:
    """An arithmetic operand: an integer or a fraction; a bool, a string, None, a list...
    raise TypeError (the rule does not match)."""
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TypeError(f"not a number: {type(value).__name__}")
    return value


def _divide(left: Any, right: Any) -> Any:
    left, right = _number(left), _number(right)
    return Fraction(left) / right if right else 0


def _modulo(left: Any, right: Any) -> Any:
    left, right = _number(left), _number(right)
    return left % right if right else 0


def _numeric(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda left, right: function(_number(left), _number(right))


_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _numeric(operator.add),
    ast.Sub: _numeric(operator.sub),
    ast.Mult: _numeric(operator.mul),
    ast.Div: _divide,
    ast.Mod: _modulo,
}


class RuleSyntaxError(InvalidRequestError):
    """A condition that is not in the rule language."""

    def __init__(self, *, message: str) -> None:
        super().__init__(code="invalid_rule_condition", message=message, param="condition")


@dataclass(frozen=True, slots=True)
class CompiledCondition:
    source: str
    names: frozenset[str]
    evaluate: Evaluator

    def matches(self, features: Features) -> bool:
        try:
            return bool(self.evaluate(features))
        except (TypeError, ValueError, ArithmeticError, MemoryError, RecursionError):
            return False


def _where(node: ast.AST) -> str:
    return f" (column {getattr(node, 'col_offset', 0) + 1})"


def _constant_value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and (
        node.value is None or isinstance(node.value, bool | int | float | str)
    ):
        return _exact(node.value)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
        and not isinstance(node.operand.value, bool)
    ):
        return -_exact(node.operand.value)
    raise RuleSyntaxError(message=f"A list may contain only constants{_where(node)}.")


class _Compiler:
    def __init__(self, *, known_names: frozenset[str]) -> None:
        self.known_names = known_names
        self.names: set[str] = set()

    def compile(self, node: ast.expr) -> Evaluator:
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(value) for value in node.values]
            stop_when = not isinstance(node.op, ast.And)  # `and` stops at a falsy operand

            def evaluate_bool(f: Features) -> Any:
                value: Any = None
                for part in parts:
                    value = part(f)
                    if bool(value) is stop_when:
                        return value
                return value

            return evaluate_bool
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda f: not operand(f)
            if isinstance(node.op, ast.USub):
                return lambda f: -_number(operand(f))
            raise RuleSyntaxError(message=f"Unsupported operator{_where(node)}.")
        if isinstance(node, ast.Compare):
            left = self.compile(node.left)
            steps = []
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                compare = _COMPARE.get(type(op))
                if compare is None:
                    raise RuleSyntaxError(message=f"Unsupported comparison{_where(node)}.")
                steps.append((compare, self.compile(comparator)))

            def evaluate_compare(f: Features) -> bool:
                current = left(f)
                for compare, right in steps:
                    following = right(f)
                    try:
                        if not compare(current, following):
                            return False
                    except TypeError:  # incompatible types ("FR" > 3, 3 in None): False here
                        return False
                    current = following
                return True

            return evaluate_compare
        if isinstance(node, ast.BinOp):
            arithmetic = _ARITHMETIC.get(type(node.op))
            if arithmetic is None:
                raise RuleSyntaxError(message=f"Unsupported operator{_where(node)}.")
            left_value, right_value = self.compile(node.left), self.compile(node.right)
            return lambda f: arithmetic(left_value(f), right_value(f))
        if isinstance(node, ast.Name):
            if node.id in {"true", "false"}:
                constant = node.id == "true"
                return lambda f: constant
            if node.id not in self.known_names:
                raise RuleSyntaxError(message=f"Unknown feature {node.id!r}{_where(node)}.")
            self.names.add(node.id)
            name = node.id
            return lambda f: _exact(f.get(name))
        if isinstance(node, ast.Constant):
            value = _constant_value(node)
            return lambda f: value
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            values = frozenset(_constant_value(element) for element in node.elts)
            return lambda f: values
        raise RuleSyntaxError(
            message=f"{type(node).__name__} is not allowed in a rule condition{_where(node)}."
        )


def compile_condition(*, source: str, known_names: frozenset[str]) -> CompiledCondition:
    """Parse and compile a condition; :class:`RuleSyntaxError` if it is not in the language."""
    text = (source or "").strip()
    if not text:
        raise RuleSyntaxError(message="Give a condition.")
    if len(text) > MAX_CONDITION_LENGTH:
        raise RuleSyntaxError(message=f"A condition is at most {MAX_CONDITION_LENGTH} chars.")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise RuleSyntaxError(
            message=f"Not a valid condition: {error.msg} (column {error.offset or 0})."
        ) from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise RuleSyntaxError(message="The condition is too long; split it into rules.")
    compiler = _Compiler(known_names=known_names)
    evaluate = compiler.compile(tree.body)
    return CompiledCondition(source=text, names=frozenset(compiler.names), evaluate=evaluate)
