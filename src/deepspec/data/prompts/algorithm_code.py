"""Algorithmic programming tasks in the register of the code benchmarks (HumanEval stubs, MBPP one-liners,
LeetCode `class Solution` questions, Codeforces/AtCoder statements), deterministic from a seed.

Why: training prompts in a benchmark's own register transfer (competition-style LaTeX lifted math500),
while library-API code tasks did not move the code benchmarks (library_code.py). So this module asks
algorithmic puzzles, wrapped exactly as HumanEval, MBPP and LiveCodeBench wrap theirs (the wrappers are
stripped by the disjointness check, disjoint.py), with problems of our own.

Each task family is a small record: a function name, typed parameters (each with a random-input
generator), a return type, a phrase that describes the answer and a reference implementation. Every
example output, doctest and sample output shown in a prompt is computed by the reference, so all of
them are correct. Baked-in options ("divisible by {k}", "even/odd", "first/last") multiply the
families into thousands of distinct tasks.
"""
from __future__ import annotations

import json
import math
import random
import re
import textwrap
from collections import Counter, deque
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from types import SimpleNamespace
from typing import Callable

from .math_problems import _pick

# --------------------------------------------------------------------------------------------------
# Input specifications: each draws a random argument and knows how to state its own constraints
# --------------------------------------------------------------------------------------------------

_LOWER = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class _Int:
    lo: int = 1
    hi: int = 50
    type = "int"

    def draw(self, r: random.Random):
        return r.randint(self.lo, self.hi)


@dataclass(frozen=True)
class _List:
    lo: int = -20
    hi: int = 50
    n: tuple = (1, 9)
    sort: bool = False
    uniq: bool = False
    type = "List[int]"

    def draw(self, r: random.Random):
        k = r.randint(*self.n)
        xs = r.sample(range(self.lo, self.hi + 1), k) if self.uniq else [r.randint(self.lo, self.hi) for _ in range(k)]
        return sorted(xs) if self.sort else xs


@dataclass(frozen=True)
class _Str:
    alpha: str = _LOWER[:6]
    n: tuple = (1, 10)
    what: str = "lowercase English letters"    # how the constraints describe the alphabet
    type = "str"

    def draw(self, r: random.Random):
        return "".join(r.choice(self.alpha) for _ in range(r.randint(*self.n)))


_WORDS = ("apple", "stone", "river", "cloud", "tiger", "lamp", "moon", "sand", "tree", "bird", "code", "rain",
          "gold", "ink", "owl", "sky", "map", "sea", "fox", "kite", "ring", "desk", "wolf", "leaf", "salt",
          "rope", "coin", "bell", "fern", "harp", "jade", "zinc", "oak", "elm", "ash", "yak", "emu", "cat")


@dataclass(frozen=True)
class _Sentence:
    n: tuple = (1, 6)
    what: str = "lowercase English letters and single spaces between words"
    type = "str"

    def draw(self, r: random.Random):
        return " ".join(r.choice(_WORDS) for _ in range(r.randint(*self.n)))


@dataclass(frozen=True)
class _Words:
    n: tuple = (1, 6)
    alpha: str = _LOWER[:5]
    wl: tuple = (1, 6)
    real: bool = True      # real words (varied lengths) or random strings over `alpha`
    what: str = "lowercase English letters"
    type = "List[str]"

    def draw(self, r: random.Random):
        if self.real:
            return [r.choice(_WORDS) for _ in range(r.randint(*self.n))]
        return ["".join(r.choice(self.alpha) for _ in range(r.randint(*self.wl))) for _ in range(r.randint(*self.n))]


@dataclass(frozen=True)
class _Grid:
    lo: int = 0
    hi: int = 9
    h: tuple = (1, 4)
    w: tuple = (1, 4)
    square: bool = False
    pairs: bool = False     # rows of two: intervals [l, r] with l <= r, or edges [u, v]
    type = "List[List[int]]"

    def draw(self, r: random.Random):
        h = r.randint(*self.h)
        if self.pairs:
            return [sorted((r.randint(self.lo, self.hi), r.randint(self.lo, self.hi))) for _ in range(h)]
        w = h if self.square else r.randint(*self.w)
        return [[r.randint(self.lo, self.hi) for _ in range(w)] for _ in range(h)]


@dataclass(frozen=True)
class _Floats:
    lo: int = -10
    hi: int = 10
    n: tuple = (1, 6)
    type = "List[float]"

    def draw(self, r: random.Random):
        return [round(r.uniform(self.lo, self.hi) * 2) / 2 for _ in range(r.randint(*self.n))]


# --------------------------------------------------------------------------------------------------
# Task families
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    name: str                      # snake_case
    params: tuple                  # ((name, spec), ...)
    ret: str                       # return type, e.g. "int", "List[int]", "bool"
    phrase: str                    # the answer as a noun phrase (a condition for bool), {param}, {opt}
    ref: Callable                  # ref(o, *args): o holds the chosen options as attributes
    opts: tuple = ()               # axes: each a tuple of choices, each choice a dict of option values
    fix: Callable | None = None    # fix(r, args, o) -> args: relations between arguments (k <= len(nums))
    cons: tuple = ()               # extra constraints, e.g. ("1 <= {k} <= {#nums}",)

    def run(self, o, args):
        return self.ref(o, *[_copy(a) for a in args])


def _copy(a):
    return [_copy(x) for x in a] if isinstance(a, list) else a


def _ax(key: str, *values) -> tuple:
    return tuple({key: v} for v in values)


_TASKS: list[Task] = []


def _t(name, params, ret, phrase, ref, opts=(), fix=None, cons=()):
    _TASKS.append(Task(name, tuple(params.items()), ret, phrase, ref, tuple(opts), fix, tuple(cons)))


L, I, S = _List, _Int, _Str
POS = _List(1, 30)
NONNEG = _List(0, 30)
SMALL = _List(0, 5)
K = _Int(1, 9)


def _clip(i_list: int, i_k: int, lo: int = 1):
    """fix: keep the integer argument at i_k between lo and the length of the list at i_list."""
    def fix(r, args, o):
        args = list(args)
        args[i_k] = r.randint(lo, max(lo, len(args[i_list])))
        return tuple(args)
    return fix


def _same_len(i: int, j: int):
    """fix: cut two lists to the same length."""
    def fix(r, args, o):
        args = list(args)
        m = min(len(args[i]), len(args[j]))
        args[i], args[j] = args[i][:m], args[j][:m]
        return tuple(args)
    return fix


# ---- arrays: counting and aggregates

_t("count_divisible", {"nums": L(-30, 60)}, "int", "the number of elements of {nums} that are divisible by {k}",
   lambda o, a: sum(x % o.k == 0 for x in a), [_ax("k", 2, 3, 4, 5, 6, 7, 9)])
_t("sum_of_parity", {"nums": L()}, "int", "the sum of the {par} elements of {nums}",
   lambda o, a: sum(x for x in a if x % 2 == (o.par == "odd")), [_ax("par", "even", "odd")])
_t("count_greater", {"nums": L(), "x": _Int(-10, 40)}, "int",
   "the number of elements of {nums} that are strictly {cmp} than {x}",
   lambda o, a, x: sum((v > x) if o.cmp == "greater" else (v < x) for v in a), [_ax("cmp", "greater", "smaller")])
_t("second_largest", {"nums": L(0, 30)}, "int",
   "the second largest distinct value in {nums}, or -1 if {nums} holds fewer than two distinct values",
   lambda o, a: sorted(set(a))[-2] if len(set(a)) > 1 else -1)
_t("max_adjacent_gap", {"nums": L(n=(2, 9))}, "int",
   "the largest absolute difference between two neighbouring elements of {nums}",
   lambda o, a: max(abs(x - y) for x, y in zip(a, a[1:])))
_t("spread", {"nums": L()}, "int", "the difference between the largest and the smallest element of {nums}",
   lambda o, a: max(a) - min(a))
_t("count_in_range", {"nums": L(), "lo": _Int(-10, 20), "hi": _Int(10, 45)}, "int",
   "the number of elements of {nums} that lie between {lo} and {hi}, both inclusive",
   lambda o, a, lo, hi: sum(lo <= x <= hi for x in a))
_t("count_unique", {"nums": SMALL}, "int", "the number of values that occur exactly {times} in {nums}",
   lambda o, a: sum(c == o.c for c in Counter(a).values()), [({"times": "once", "c": 1}, {"times": "twice", "c": 2})])
_t("sum_of_unique", {"nums": _List(0, 9)}, "int", "the sum of the values that occur exactly once in {nums}",
   lambda o, a: sum(x for x, c in Counter(a).items() if c == 1))
_t("most_frequent", {"nums": _List(0, 6)}, "int",
   "the value that occurs most often in {nums}; if several values tie, the {sm} of them",
   lambda o, a: (min if o.sm == "smallest" else max)(x for x, c in Counter(a).items() if c == max(Counter(a).values())),
   [_ax("sm", "smallest", "largest")])
_t("alternating_sum", {"nums": L()}, "int",
   "the sum of the elements of {nums} at even indices minus the sum of those at odd indices (indices start at 0)",
   lambda o, a: sum(a[::2]) - sum(a[1::2]))
_t("count_peaks", {"nums": L(0, 9, (1, 10))}, "int",
   "the number of elements of {nums}, other than the first and the last, that are strictly {gl} than both "
   "of their neighbours",
   lambda o, a: sum((a[i] > a[i - 1] and a[i] > a[i + 1]) if o.gl == "greater" else (a[i] < a[i - 1] and a[i] < a[i + 1])
                    for i in range(1, len(a) - 1)), [_ax("gl", "greater", "smaller")])
_t("balance_index", {"nums": L(-5, 9)}, "int",
   "the smallest index i such that the sum of the elements of {nums} before position i equals the sum of the "
   "elements after position i, or -1 if there is no such index",
   lambda o, a: next((i for i in range(len(a)) if sum(a[:i]) == sum(a[i + 1:])), -1))
_t("moves_to_equal", {"nums": L(0, 20)}, "int",
   "the minimum number of moves needed to make all elements of {nums} equal, where a move adds 1 to or "
   "subtracts 1 from a single element", lambda o, a: sum(abs(x - sorted(a)[len(a) // 2]) for x in a))
_t("max_pair_product", {"nums": L(-10, 10, (2, 8))}, "int",
   "the largest product of two elements of {nums} taken from different positions",
   lambda o, a: max(x * y for x, y in combinations(a, 2)))
_t("max_triple_product", {"nums": L(-10, 10, (3, 8))}, "int",
   "the largest product of three elements of {nums} taken from distinct positions",
   lambda o, a: max(x * y * z for x, y, z in combinations(a, 3)))
_t("min_pair_gap", {"nums": L(0, 60, (2, 8))}, "int",
   "the smallest absolute difference between two elements of {nums} at different positions",
   lambda o, a: min(abs(x - y) for x, y in combinations(a, 2)))
_t("count_inversions", {"nums": L(0, 9)}, "int",
   "the number of pairs of positions i < j such that the element of {nums} at position i is strictly greater "
   "than the element at position j", lambda o, a: sum(x > y for x, y in combinations(a, 2)))
_t("count_pairs_with_sum", {"nums": L(0, 9), "target": _Int(2, 14)}, "int",
   "the number of pairs of positions i < j whose elements in {nums} add up to {target}",
   lambda o, a, t: sum(x + y == t for x, y in combinations(a, 2)))
_t("count_pairs_divisible", {"nums": L(0, 30)}, "int",
   "the number of pairs of positions i < j such that the sum of the two elements of {nums} at those positions "
   "is a multiple of {k}", lambda o, a: sum((x + y) % o.k == 0 for x, y in combinations(a, 2)),
   [_ax("k", 2, 3, 4, 5, 6)])
_t("smallest_missing_positive", {"nums": L(-5, 8)}, "int",
   "the smallest positive integer that does not occur in {nums}",
   lambda o, a: next(i for i in range(1, len(a) + 2) if i not in a))
_t("xor_of_all", {"nums": NONNEG}, "int", "the bitwise XOR of all elements of {nums}",
   lambda o, a: __import__("functools").reduce(lambda x, y: x ^ y, a, 0))
_t("gcd_of_list", {"nums": _List(1, 60)}, "int", "the greatest common divisor of all elements of {nums}",
   lambda o, a: math.gcd(*a))
_t("lcm_of_list", {"nums": _List(1, 12, (1, 5))}, "int", "the least common multiple of all elements of {nums}",
   lambda o, a: math.lcm(*a))
_t("count_odd_digit_sums", {"nums": _List(0, 999)}, "int",
   "the number of elements of {nums} whose digit sum is {par}",
   lambda o, a: sum(sum(map(int, str(x))) % 2 == (o.par == "odd") for x in a), [_ax("par", "even", "odd")])
_t("count_with_digits", {"nums": _List(0, 99999)}, "int",
   "the number of elements of {nums} that have an {par} number of digits",
   lambda o, a: sum(len(str(x)) % 2 == (o.par == "odd") for x in a), [_ax("par", "even", "odd")])
_t("sum_of_squares_of", {"nums": L(-10, 10)}, "int", "the sum of the squares of the {which} elements of {nums}",
   lambda o, a: sum(x * x for x in a if o.which == "all" or (x > 0 if o.which == "positive" else x < 0)),
   [_ax("which", "positive", "negative", "all")])
_t("count_negative_prefixes", {"nums": L(-9, 9)}, "int",
   "the number of non-empty prefixes of {nums} whose sum is {sign}",
   lambda o, a: sum((sum(a[:i]) < 0) if o.sign == "negative" else (sum(a[:i]) > 0) for i in range(1, len(a) + 1)),
   [_ax("sign", "negative", "positive")])

# ---- arrays: transformations

_t("rotate", {"nums": L(), "k": _Int(0, 12)}, "List[int]",
   "the list obtained by rotating {nums} to the {dir} by {k} positions",
   lambda o, a, k: (a[k % len(a):] + a[:k % len(a)]) if o.dir == "left" else (a[-(k % len(a)):] + a[:-(k % len(a))] if k % len(a) else a),
   [_ax("dir", "left", "right")])
_t("drop_multiples", {"nums": L(0, 40)}, "List[int]",
   "the elements of {nums} that are not multiples of {k}, in their original order",
   lambda o, a: [x for x in a if x % o.k], [_ax("k", 2, 3, 4, 5, 7)])
_t("running_extreme", {"nums": L()}, "List[int]",
   "the list whose i-th value is the {mm} of the first i + 1 elements of {nums}",
   lambda o, a: [(max if o.mm == "maximum" else min)(a[:i + 1]) for i in range(len(a))], [_ax("mm", "maximum", "minimum")])
_t("prefix_sums", {"nums": L()}, "List[int]",
   "the list of prefix sums of {nums}, whose i-th value is the sum of the first i + 1 elements",
   lambda o, a: [sum(a[:i + 1]) for i in range(len(a))])
_t("suffix_sums", {"nums": L()}, "List[int]",
   "the list whose i-th value is the sum of the elements of {nums} from position i to the end",
   lambda o, a: [sum(a[i:]) for i in range(len(a))])
_t("neighbour_products", {"nums": L(-9, 9, (2, 8))}, "List[int]",
   "the list of products of each pair of neighbouring elements of {nums}",
   lambda o, a: [x * y for x, y in zip(a, a[1:])])
_t("differences", {"nums": L(n=(2, 9))}, "List[int]",
   "the list of differences between each element of {nums} and the element before it",
   lambda o, a: [y - x for x, y in zip(a, a[1:])])
_t("move_zeros", {"nums": L(0, 5)}, "List[int]",
   "the list {nums} with every zero moved to the {end} while the other elements keep their relative order",
   lambda o, a: ([x for x in a if x] + [0] * a.count(0)) if o.end == "end" else ([0] * a.count(0) + [x for x in a if x]),
   [_ax("end", "end", "front")])
_t("sort_by_absolute", {"nums": L(-20, 20)}, "List[int]",
   "the elements of {nums} sorted by absolute value in {order} order, ties broken by the smaller value first",
   lambda o, a: sorted(a, key=lambda x: (abs(x) if o.order == "ascending" else -abs(x), x)),
   [_ax("order", "ascending", "descending")])
_t("sort_by_digit_sum", {"nums": _List(0, 500)}, "List[int]",
   "the elements of {nums} sorted by the sum of their digits in {order} order, ties broken by the value itself "
   "in ascending order",
   lambda o, a: sorted(a, key=lambda x: ((1 if o.order == "ascending" else -1) * sum(map(int, str(x))), x)),
   [_ax("order", "ascending", "descending")])
_t("sort_by_set_bits", {"nums": _List(0, 64)}, "List[int]",
   "the elements of {nums} sorted by the number of 1 bits in their binary representation (fewest first), "
   "ties broken by value", lambda o, a: sorted(a, key=lambda x: (bin(x).count("1"), x)))
_t("group_by_parity", {"nums": L(0, 30)}, "List[int]",
   "the {p1} elements of {nums} followed by the {p2} ones, each group keeping its original order",
   lambda o, a: [x for x in a if x % 2 == (o.p1 == "odd")] + [x for x in a if x % 2 != (o.p1 == "odd")],
   [({"p1": "even", "p2": "odd"}, {"p1": "odd", "p2": "even"})])
_t("leaders", {"nums": L(0, 20)}, "List[int]",
   "the elements of {nums} that are strictly greater than every element to their right, in their original order",
   lambda o, a: [x for i, x in enumerate(a) if all(x > y for y in a[i + 1:])])
_t("next_greater", {"nums": L(0, 20)}, "List[int]",
   "the list whose i-th value is the first element to the right of position i in {nums} that is strictly "
   "greater than {nums[i]}, or -1 if there is none",
   lambda o, a: [next((y for y in a[i + 1:] if y > x), -1) for i, x in enumerate(a)])
_t("wait_for_larger", {"nums": L(0, 20)}, "List[int]",
   "the list whose i-th value is how many positions one has to move right from position i of {nums} to reach "
   "a strictly larger element, or 0 if no larger element follows",
   lambda o, a: [next((j - i for j in range(i + 1, len(a)) if a[j] > a[i]), 0) for i in range(len(a))])
_t("product_except_self", {"nums": L(-5, 5, (2, 7))}, "List[int]",
   "the list whose i-th value is the product of all elements of {nums} except the one at position i",
   lambda o, a: [math.prod(a[:i] + a[i + 1:]) for i in range(len(a))])
_t("dedupe", {"nums": L(0, 8)}, "List[int]",
   "the distinct values of {nums}, each kept at the position of its {fl} occurrence, in the original order",
   lambda o, a: [x for i, x in enumerate(a) if (x not in a[:i] if o.fl == "first" else x not in a[i + 1:])],
   [_ax("fl", "first", "last")])
_t("block_sums", {"nums": L(), "k": K}, "List[int]",
   "the sums of the consecutive blocks of {k} elements of {nums}, from left to right (the last block may be "
   "shorter)", lambda o, a, k: [sum(a[i:i + k]) for i in range(0, len(a), k)], fix=_clip(0, 1))
_t("elements_at_parity_indices", {"nums": L()}, "List[int]",
   "the elements of {nums} at {par} indices, counting from 0", lambda o, a: a[o.par == "odd"::2],
   [_ax("par", "even", "odd")])
_t("clamp_all", {"nums": L(-30, 30), "lo": _Int(-10, 0), "hi": _Int(1, 15)}, "List[int]",
   "the list obtained from {nums} by replacing every element below {lo} with {lo} and every element above {hi} "
   "with {hi}", lambda o, a, lo, hi: [min(max(x, lo), hi) for x in a])
_t("reverse_segment", {"nums": L(), "left": _Int(0, 8), "right": _Int(0, 8)}, "List[int]",
   "the list {nums} with the segment from index {left} to index {right} (inclusive) reversed",
   lambda o, a, l, r: a[:l] + a[l:r + 1][::-1] + a[r + 1:],
   fix=lambda r, args, o: (args[0], *sorted((r.randrange(len(args[0])), r.randrange(len(args[0]))))),
   cons=("0 <= {left} <= {right} < {#nums}",))
_t("interleave", {"a": L(0, 9), "b": L(10, 30)}, "List[int]",
   "the list that takes elements alternately from {a} and {b}, starting with {a}; the leftover elements of the "
   "longer list go at the end",
   lambda o, a, b: [x for p in zip(a, b) for x in p] + a[len(b):] + b[len(a):])
_t("merge_sorted", {"a": _List(0, 40, sort=True), "b": _List(0, 40, sort=True)}, "List[int]",
   "the sorted list holding all elements of the two sorted lists {a} and {b}", lambda o, a, b: sorted(a + b))
_t("common_values", {"a": L(0, 12), "b": L(0, 12)}, "List[int]",
   "the sorted list of distinct values that occur in both {a} and {b}", lambda o, a, b: sorted(set(a) & set(b)))
_t("only_in_first", {"a": L(0, 12), "b": L(0, 12)}, "List[int]",
   "the sorted list of distinct values that occur in {a} but not in {b}", lambda o, a, b: sorted(set(a) - set(b)))
_t("window_distinct_counts", {"nums": L(0, 5, (1, 9)), "k": K}, "List[int]",
   "for every window of {k} consecutive elements of {nums}, from left to right, the number of distinct values "
   "in that window", lambda o, a, k: [len(set(a[i:i + k])) for i in range(len(a) - k + 1)], fix=_clip(0, 1),
   cons=("1 <= {k} <= {#nums}",))
_t("window_maxima", {"nums": L(), "k": K}, "List[int]",
   "the {mm} of every window of {k} consecutive elements of {nums}, from left to right",
   lambda o, a, k: [(max if o.mm == "maximum" else min)(a[i:i + k]) for i in range(len(a) - k + 1)],
   [_ax("mm", "maximum", "minimum")], fix=_clip(0, 1), cons=("1 <= {k} <= {#nums}",))
_t("top_k", {"nums": L(), "k": K}, "List[int]",
   "the {k} {lg} elements of {nums}, sorted in ascending order",
   lambda o, a, k: sorted(sorted(a)[-k:] if o.lg == "largest" else sorted(a)[:k]), [_ax("lg", "largest", "smallest")],
   fix=_clip(0, 1), cons=("1 <= {k} <= {#nums}",))
_t("replace_with_rank", {"nums": L(0, 30)}, "List[int]",
   "the list where every element of {nums} is replaced by its rank: 1 for the smallest distinct value, 2 for the "
   "next one, and so on", lambda o, a: [sorted(set(a)).index(x) + 1 for x in a])
_t("square_sorted", {"nums": _List(-10, 10, sort=True)}, "List[int]",
   "the squares of the elements of the sorted list {nums}, in {order} order",
   lambda o, a: sorted((x * x for x in a), reverse=o.order == "descending"), [_ax("order", "ascending", "descending")])
_t("pascal_row", {"n": _Int(0, 12)}, "List[int]",
   "row {n} of Pascal's triangle, where row 0 is [1]", lambda o, n: [math.comb(n, i) for i in range(n + 1)])
_t("bit_counts", {"n": _Int(0, 16)}, "List[int]",
   "the list whose i-th value is the number of 1 bits in the binary representation of i, for i from 0 to {n}",
   lambda o, n: [bin(i).count("1") for i in range(n + 1)])
_t("divisors", {"n": _Int(1, 120)}, "List[int]", "all positive divisors of {n} in {order} order",
   lambda o, n: sorted((d for d in range(1, n + 1) if n % d == 0), reverse=o.order == "descending"),
   [_ax("order", "ascending", "descending")])
_t("prime_factors", {"n": _Int(2, 500)}, "List[int]",
   "the prime factors of {n} in ascending order, each repeated as often as it divides {n}",
   lambda o, n: _factors(n))
_t("digits_of", {"n": _Int(0, 10 ** 6)}, "List[int]", "the decimal digits of {n}, from the {end} digit",
   lambda o, n: [int(c) for c in (str(n) if o.end == "most significant" else str(n)[::-1])],
   [_ax("end", "most significant", "least significant")])
_t("collatz_path", {"n": _Int(1, 30)}, "List[int]",
   "the odd numbers visited by the sequence that starts at {n}, halves even numbers and maps an odd number m > 1 to "
   "3m + 1, until it reaches 1, in ascending order", lambda o, n: sorted(set(x for x in _collatz(n) if x % 2)))

# ---- arrays: predicates

_t("has_duplicate", {"nums": L(0, 15)}, "bool", "{nums} contains some value more than once",
   lambda o, a: len(set(a)) < len(a))
_t("is_monotone", {"nums": _List(0, 6, (1, 6))}, "bool", "{nums} is {mono}",
   lambda o, a: all({"strictly increasing": x < y, "non-decreasing": x <= y, "strictly decreasing": x > y,
                     "non-increasing": x >= y}[o.mono] for x, y in zip(a, a[1:])),
   [_ax("mono", "strictly increasing", "non-decreasing", "strictly decreasing", "non-increasing")])
_t("has_pair_sum", {"nums": L(0, 12), "target": _Int(2, 20)}, "bool",
   "two elements of {nums} at different positions add up to {target}",
   lambda o, a, t: any(x + y == t for x, y in combinations(a, 2)))
_t("has_triple_sum", {"nums": L(-6, 9, (3, 8)), "target": _Int(-3, 15)}, "bool",
   "three elements of {nums} at distinct positions add up to {target}",
   lambda o, a, t: any(sum(c) == t for c in combinations(a, 3)))
_t("subset_sum", {"nums": _List(1, 15, (1, 7)), "target": _Int(1, 40)}, "bool",
   "some non-empty selection of elements of {nums} (each position used at most once) adds up to exactly {target}",
   lambda o, a, t: any(sum(c) == t for k in range(1, len(a) + 1) for c in combinations(a, k)))
_t("can_split_equal", {"nums": _List(1, 12, (1, 7))}, "bool",
   "{nums} can be divided into two groups of elements with equal sums",
   lambda o, a: sum(a) % 2 == 0 and any(sum(c) * 2 == sum(a) for k in range(len(a) + 1) for c in combinations(a, k)))
_t("is_mountain", {"nums": _List(0, 9, (1, 7))}, "bool",
   "{nums} has at least three elements, strictly increases up to some peak that is neither the first nor the "
   "last element, and strictly decreases after it", lambda o, a: _mountain(a))
_t("all_distinct_gaps", {"nums": _List(0, 20, (1, 6))}, "bool",
   "the differences between neighbouring elements of {nums} are all distinct",
   lambda o, a: len({y - x for x, y in zip(a, a[1:])}) == len(a) - 1)
_t("is_arithmetic", {"nums": L(0, 20, (2, 6))}, "bool",
   "{nums} can be reordered to form an arithmetic progression",
   lambda o, a: len({y - x for x, y in zip(sorted(a), sorted(a)[1:])}) <= 1)
_t("can_reach_end", {"nums": _List(0, 3, (1, 8))}, "bool",
   "one can reach the last position of {nums} starting from the first, where from position i one may jump "
   "forward by any number of positions from 1 to {nums[i]}", lambda o, a: _jumps(a) >= 0)
_t("is_permutation", {"nums": _List(1, 7, (1, 7))}, "bool",
   "{nums} contains every integer from 1 to {#nums} exactly once", lambda o, a: sorted(a) == list(range(1, len(a) + 1)))

# ---- arrays: windows, prefix sums, two pointers, DP

_t("max_subarray_sum", {"nums": L(-10, 10)}, "int",
   "the largest sum of a non-empty contiguous subarray of {nums}",
   lambda o, a: max(sum(a[i:j]) for i in range(len(a)) for j in range(i + 1, len(a) + 1)))
_t("min_subarray_sum", {"nums": L(-10, 10)}, "int",
   "the smallest sum of a non-empty contiguous subarray of {nums}",
   lambda o, a: min(sum(a[i:j]) for i in range(len(a)) for j in range(i + 1, len(a) + 1)))
_t("max_window_sum", {"nums": L(), "k": K}, "int", "the largest sum of {k} consecutive elements of {nums}",
   lambda o, a, k: max(sum(a[i:i + k]) for i in range(len(a) - k + 1)), fix=_clip(0, 1), cons=("1 <= {k} <= {#nums}",))
_t("count_subarrays_with_sum", {"nums": L(-3, 6), "k": _Int(-2, 10)}, "int",
   "the number of non-empty contiguous subarrays of {nums} whose sum equals {k}",
   lambda o, a, k: sum(sum(a[i:j]) == k for i in range(len(a)) for j in range(i + 1, len(a) + 1)))
_t("longest_within_budget", {"nums": _List(0, 10), "k": _Int(0, 25)}, "int",
   "the length of the longest contiguous subarray of {nums} whose sum is at most {k}",
   lambda o, a, k: max([j - i for i in range(len(a)) for j in range(i, len(a) + 1) if sum(a[i:j]) <= k]))
_t("shortest_reaching", {"nums": _List(1, 10), "k": _Int(1, 40)}, "int",
   "the length of the shortest contiguous subarray of {nums} whose sum is at least {k}, or 0 if there is none",
   lambda o, a, k: min([j - i for i in range(len(a)) for j in range(i + 1, len(a) + 1) if sum(a[i:j]) >= k] or [0]))
_t("count_nice_windows", {"nums": L(0, 9), "k": K}, "int",
   "the number of windows of {k} consecutive elements of {nums} whose sum is {par}",
   lambda o, a, k: sum(sum(a[i:i + k]) % 2 == (o.par == "odd") for i in range(len(a) - k + 1)),
   [_ax("par", "even", "odd")], fix=_clip(0, 1), cons=("1 <= {k} <= {#nums}",))
_t("longest_equal_run", {"nums": _List(0, 2)}, "int",
   "the length of the longest block of consecutive equal elements in {nums}", lambda o, a: _longest_run(a))
_t("longest_increasing_run", {"nums": L(0, 9)}, "int",
   "the length of the longest contiguous segment of {nums} that is strictly {inc}",
   lambda o, a: _longest_mono(a, o.inc == "increasing"), [_ax("inc", "increasing", "decreasing")])
_t("longest_increasing_subsequence", {"nums": L(0, 20)}, "int",
   "the length of the longest strictly increasing subsequence of {nums} (not necessarily contiguous)",
   lambda o, a: _lis(a))
_t("min_deletions_to_sort", {"nums": L(0, 9)}, "int",
   "the fewest elements that must be deleted from {nums} so that the remaining elements are in non-decreasing order",
   lambda o, a: len(a) - _lis(a, strict=False))
_t("longest_distinct_subarray", {"nums": _List(0, 6)}, "int",
   "the length of the longest contiguous subarray of {nums} in which no value repeats",
   lambda o, a: max(j - i for i in range(len(a)) for j in range(i + 1, len(a) + 1) if len(set(a[i:j])) == j - i))
_t("longest_with_k_ones_flipped", {"nums": _List(0, 1, (1, 10)), "k": _Int(0, 3)}, "int",
   "the length of the longest contiguous subarray of the binary list {nums} that contains only ones after "
   "changing at most {k} zeros into ones",
   lambda o, a, k: max([j - i for i in range(len(a)) for j in range(i, len(a) + 1) if a[i:j].count(0) <= k]))
_t("non_adjacent_max_sum", {"nums": NONNEG}, "int",
   "the largest total of elements of {nums} that can be chosen so that no two chosen elements are neighbours",
   lambda o, a: _rob(a))
_t("min_cost_climb", {"cost": _List(0, 20, (2, 9))}, "int",
   "the minimum total cost to go past the last step, where {cost} lists the cost of stepping on each step, "
   "one may start on step 0 or step 1, and each move climbs one or two steps",
   lambda o, c: _climb_cost(c))
_t("max_profit_once", {"prices": _List(1, 30)}, "int",
   "the largest profit from buying on one day and selling on a later day, where {prices[i]} is the price on "
   "day i, or 0 if no profit is possible",
   lambda o, p: max([0] + [p[j] - p[i] for i in range(len(p)) for j in range(i + 1, len(p))]))
_t("max_profit_many", {"prices": _List(1, 30)}, "int",
   "the largest total profit from any number of buy-then-sell trades over the daily prices {prices}, holding "
   "at most one share at a time", lambda o, p: sum(max(0, y - x) for x, y in zip(p, p[1:])))
_t("fewest_jumps", {"nums": _List(1, 3, (1, 8))}, "int",
   "the fewest jumps needed to go from the first to the last position of {nums}, where from position i one may "
   "jump forward by 1 to {nums[i]} positions", lambda o, a: _jumps(a))
_t("trapped_water", {"heights": _List(0, 6, (1, 10))}, "int",
   "the total amount of rain water trapped between bars whose heights from left to right are {heights}, each "
   "bar being one unit wide", lambda o, h: sum(max(0, min(max(h[:i + 1]), max(h[i:])) - h[i]) for i in range(len(h))))
_t("largest_rectangle", {"heights": _List(0, 8, (1, 8))}, "int",
   "the area of the largest rectangle that fits under a histogram whose bars, each one unit wide, have the "
   "heights {heights}",
   lambda o, h: max(min(h[i:j]) * (j - i) for i in range(len(h)) for j in range(i + 1, len(h) + 1)))
_t("max_water_container", {"heights": _List(0, 12, (2, 9))}, "int",
   "the largest value of (j - i) * min({heights[i]}, {heights[j]}) over all pairs of positions i < j of {heights}",
   lambda o, h: max((j - i) * min(h[i], h[j]) for i, j in combinations(range(len(h)), 2)))
_t("fewest_coins", {"coins": _List(1, 12, (1, 4), uniq=True), "amount": _Int(0, 40)}, "int",
   "the fewest coins with values from {coins} (each value usable any number of times) that add up to {amount}, "
   "or -1 if that amount cannot be made", lambda o, c, t: _coins_min(tuple(c), t))
_t("coin_combinations", {"coins": _List(1, 10, (1, 4), uniq=True), "amount": _Int(0, 30)}, "int",
   "the number of ways to make {amount} from coins with values in {coins}, each value usable any number of "
   "times, where the order of the coins does not matter", lambda o, c, t: _coin_ways(c, t))
_t("knapsack", {"weights": _List(1, 10, (1, 6)), "values": _List(1, 20, (1, 6)), "capacity": _Int(1, 25)}, "int",
   "the largest total value of items that fit within a total weight of {capacity}, where item i has weight "
   "{weights[i]} and value {values[i]} and each item can be taken at most once",
   lambda o, w, v, c: max(sum(v[i] for i in s) for k in range(len(w) + 1) for s in combinations(range(len(w)), k)
                          if sum(w[i] for i in s) <= c), fix=_same_len(0, 1), cons=("{#weights} == {#values}",))
_t("min_candies", {"ratings": _List(0, 5, (1, 9))}, "int",
   "the fewest candies to hand out to children standing in a row with scores {ratings}, if every child gets at "
   "least one candy and a child with a higher score than a neighbour gets more candies than that neighbour",
   lambda o, s: _candies(s))
_t("content_children", {"greed": _List(1, 9), "sizes": _List(1, 9)}, "int",
   "the largest number of children who can each receive one cookie, where child i needs a cookie of size at "
   "least {greed[i]}, {sizes} lists the available cookie sizes and each cookie goes to at most one child",
   lambda o, g, s: _assign(g, s))
_t("dot_product", {"a": L(-9, 9), "b": L(-9, 9)}, "int",
   "the sum of the products of the elements of {a} and {b} that stand at equal positions",
   lambda o, a, b: sum(x * y for x, y in zip(a, b)), fix=_same_len(0, 1), cons=("{#a} == {#b}",))
_t("count_equal_positions", {"a": L(0, 4), "b": L(0, 4)}, "int",
   "the number of positions at which {a} and {b} hold equal values",
   lambda o, a, b: sum(x == y for x, y in zip(a, b)), fix=_same_len(0, 1), cons=("{#a} == {#b}",))
_t("kth_smallest", {"nums": L(), "k": K}, "int", "the {k}-th {sl} element of {nums}, counting repeated values",
   lambda o, a, k: sorted(a, reverse=o.sl == "largest")[k - 1], [_ax("sl", "smallest", "largest")], fix=_clip(0, 1),
   cons=("1 <= {k} <= {#nums}",))
_t("index_of_extreme", {"nums": L(0, 9)}, "int",
   "the index of the {fl} occurrence of the {mm} element of {nums}, counting from 0",
   lambda o, a: (a.index if o.fl == "first" else lambda v: len(a) - 1 - a[::-1].index(v))((max if o.mm == "largest" else min)(a)),
   [_ax("fl", "first", "last"), _ax("mm", "largest", "smallest")])
_t("missing_number", {"nums": _List(0, 9, (1, 9))}, "int",
   "the only integer from 0 to {#nums} that does not occur in {nums}, where the elements of {nums} are distinct "
   "and lie in that range", lambda o, a: (set(range(len(a) + 1)) - set(a)).pop(),
   fix=lambda r, args, o: (r.sample(range(len(args[0]) + 1), len(args[0])),))
_t("single_number", {"nums": _List(0, 9, (1, 4))}, "int",
   "the only value that occurs exactly once in {nums}, where every other value occurs exactly twice",
   lambda o, a: next(x for x, c in Counter(a).items() if c == 1), fix=lambda r, args, o: (_singles(r, args[0]),))
_t("min_rotated", {"nums": _List(0, 50, (1, 9), uniq=True)}, "int",
   "the smallest element of {nums}, a list of distinct values that was sorted in ascending order and then "
   "rotated left by an unknown number of positions", lambda o, a: min(a),
   fix=lambda r, args, o: (_rotated(r, sorted(args[0])),))
_t("search_insert", {"nums": _List(0, 40, (1, 9), uniq=True, sort=True), "target": _Int(0, 40)}, "int",
   "the index of {target} in the sorted list of distinct values {nums}, or the index where {target} would be "
   "inserted to keep the list sorted if it is absent", lambda o, a, t: sum(x < t for x in a))
_t("count_smaller_after", {"nums": L(0, 9)}, "List[int]",
   "the list whose i-th value is the number of elements to the right of position i in {nums} that are strictly "
   "smaller than {nums[i]}", lambda o, a: [sum(y < x for y in a[i + 1:]) for i, x in enumerate(a)])

# ---- number theory and formulas

_t("digit_sum", {"n": _Int(0, 10 ** 7)}, "int", "the sum of the {par}digits of {n}",
   lambda o, n: sum(int(c) for c in str(n) if not o.par or int(c) % 2 == (o.par == "odd ")),
   [_ax("par", "", "even ", "odd ")])
_t("digital_root", {"n": _Int(0, 10 ** 6)}, "int",
   "the single digit obtained by repeatedly replacing {n} with the sum of its digits",
   lambda o, n: 0 if n == 0 else 1 + (n - 1) % 9)
_t("reverse_digits", {"n": _Int(0, 10 ** 6)}, "int", "the integer obtained by reversing the decimal digits of {n}",
   lambda o, n: int(str(n)[::-1]))
_t("digit_product", {"n": _Int(1, 10 ** 6)}, "int", "the product of the non-zero digits of {n}",
   lambda o, n: math.prod(int(c) for c in str(n) if c != "0"))
_t("count_digit", {"n": _Int(0, 10 ** 8)}, "int", "how many times the digit {d} occurs in the decimal form of {n}",
   lambda o, n: str(n).count(str(o.d)), [_ax("d", *range(10))])
_t("count_primes_below", {"n": _Int(0, 200)}, "int", "the number of primes strictly less than {n}",
   lambda o, n: sum(_is_prime(i) for i in range(n)))
_t("nth_prime", {"n": _Int(1, 60)}, "int", "the {n}-th prime number, where the first prime is 2",
   lambda o, n: _primes(n)[-1])
_t("largest_prime_factor", {"n": _Int(2, 5000)}, "int", "the largest prime factor of {n}", lambda o, n: _factors(n)[-1])
_t("count_distinct_prime_factors", {"n": _Int(2, 5000)}, "int", "the number of distinct primes that divide {n}",
   lambda o, n: len(set(_factors(n))))
_t("sum_of_divisors", {"n": _Int(1, 500)}, "int", "the sum of the {which} divisors of {n}",
   lambda o, n: sum(d for d in range(1, n + (o.which == "positive")) if n % d == 0),
   [_ax("which", "positive", "proper")])
_t("count_divisors", {"n": _Int(1, 1000)}, "int", "the number of positive divisors of {n}",
   lambda o, n: sum(n % d == 0 for d in range(1, n + 1)))
_t("lcm_up_to", {"n": _Int(1, 20)}, "int", "the least common multiple of all integers from 1 to {n}",
   lambda o, n: math.lcm(*range(1, n + 1)))
_t("gcd_of_two", {"a": _Int(1, 500), "b": _Int(1, 500)}, "int", "the {gl} of {a} and {b}",
   lambda o, a, b: math.gcd(a, b) if o.gl == "greatest common divisor" else math.lcm(a, b),
   [_ax("gl", "greatest common divisor", "least common multiple")])
_t("count_set_bits", {"n": _Int(0, 10 ** 5)}, "int", "the number of {bit} bits in the binary representation of {n}",
   lambda o, n: bin(n)[2:].count("1" if o.bit == "1" else "0"), [_ax("bit", "1", "0")])
_t("hamming_distance", {"x": _Int(0, 1000), "y": _Int(0, 1000)}, "int",
   "the number of bit positions at which the binary representations of {x} and {y} differ",
   lambda o, x, y: bin(x ^ y).count("1"))
_t("reverse_bits", {"n": _Int(1, 1000)}, "int",
   "the integer whose binary representation is that of {n} read backwards (without leading zeros)",
   lambda o, n: int(bin(n)[2:][::-1], 2))
_t("highest_power_of_two", {"n": _Int(1, 10 ** 6)}, "int", "the largest power of two that is at most {n}",
   lambda o, n: 1 << (n.bit_length() - 1))
_t("gray_code", {"n": _Int(0, 1000)}, "int", "the bitwise XOR of {n} with {n} shifted right by one bit",
   lambda o, n: n ^ (n >> 1))
_t("toggle_bit", {"n": _Int(0, 255), "k": _Int(0, 7)}, "int",
   "the value of {n} after {act} bit {k}, where bit 0 is the least significant bit",
   lambda o, n, k: {"flipping": n ^ (1 << k), "setting": n | (1 << k), "clearing": n & ~(1 << k)}[o.act],
   [_ax("act", "flipping", "setting", "clearing")])
_t("figurate_number", {"n": _Int(1, 40)}, "int", "the {n}-th {kind} number, given by {formula}",
   lambda o, n: o.f(n),
   [({"kind": "triangular", "formula": "n(n + 1) / 2", "f": lambda n: n * (n + 1) // 2},
     {"kind": "pentagonal", "formula": "n(3n - 1) / 2", "f": lambda n: n * (3 * n - 1) // 2},
     {"kind": "hexagonal", "formula": "n(2n - 1)", "f": lambda n: n * (2 * n - 1)},
     {"kind": "heptagonal", "formula": "n(5n - 3) / 2", "f": lambda n: n * (5 * n - 3) // 2},
     {"kind": "octagonal", "formula": "n(3n - 2)", "f": lambda n: n * (3 * n - 2)},
     {"kind": "centered square", "formula": "n^2 + (n - 1)^2", "f": lambda n: n * n + (n - 1) ** 2},
     {"kind": "centered hexagonal", "formula": "3n(n - 1) + 1", "f": lambda n: 3 * n * (n - 1) + 1},
     {"kind": "tetrahedral", "formula": "n(n + 1)(n + 2) / 6", "f": lambda n: n * (n + 1) * (n + 2) // 6},
     {"kind": "square pyramidal", "formula": "n(n + 1)(2n + 1) / 6", "f": lambda n: n * (n + 1) * (2 * n + 1) // 6},
     {"kind": "star", "formula": "6n(n - 1) + 1", "f": lambda n: 6 * n * (n - 1) + 1})])
_t("sequence_term", {"n": _Int(0, 30)}, "int", "the {n}-th term of the sequence with {start} and {rule}",
   lambda o, n: _linrec(o.init, o.rule_f, n),
   [({"start": "T(0) = 0, T(1) = 1", "init": (0, 1), "rule": "T(i) = T(i - 1) + T(i - 2)",
      "rule_f": lambda s: s[-1] + s[-2]},
     {"start": "T(0) = 2, T(1) = 1", "init": (2, 1), "rule": "T(i) = T(i - 1) + T(i - 2)",
      "rule_f": lambda s: s[-1] + s[-2]},
     {"start": "T(0) = 0, T(1) = 0, T(2) = 1", "init": (0, 0, 1), "rule": "T(i) = T(i - 1) + T(i - 2) + T(i - 3)",
      "rule_f": lambda s: s[-1] + s[-2] + s[-3]},
     {"start": "T(0) = 0, T(1) = 1", "init": (0, 1), "rule": "T(i) = 2 T(i - 1) + T(i - 2)",
      "rule_f": lambda s: 2 * s[-1] + s[-2]},
     {"start": "T(0) = 1, T(1) = 1, T(2) = 1", "init": (1, 1, 1), "rule": "T(i) = T(i - 2) + T(i - 3)",
      "rule_f": lambda s: s[-2] + s[-3]},
     {"start": "T(0) = 3", "init": (3,), "rule": "T(i) = 2 T(i - 1) - 1", "rule_f": lambda s: 2 * s[-1] - 1})])
_t("collatz_steps", {"n": _Int(1, 100)}, "int",
   "the number of steps needed to reach 1 from {n}, where a step halves an even number and turns an odd number "
   "m into 3m + 1", lambda o, n: len(_collatz(n)) - 1)
_t("trailing_zeros_factorial", {"n": _Int(0, 500)}, "int", "the number of trailing zeros in the factorial of {n}",
   lambda o, n: sum(n // 5 ** i for i in range(1, 5)))
_t("binomial", {"n": _Int(0, 20), "k": _Int(0, 20)}, "int",
   "the number of ways to choose {k} items out of {n} distinct items, ignoring order",
   lambda o, n, k: math.comb(n, k), fix=lambda r, args, o: (args[0], r.randint(0, args[0])), cons=("0 <= {k} <= {n}",))
_t("catalan", {"n": _Int(0, 15)}, "int",
   "the number of balanced strings made of {n} pairs of parentheses", lambda o, n: math.comb(2 * n, n) // (n + 1))
_t("stairs_ways", {"n": _Int(1, 25)}, "int",
   "the number of ways to climb a staircase of {n} steps when each move goes up between 1 and {k} steps",
   lambda o, n: _stairs(n, o.k), [_ax("k", 2, 3, 4)])
_t("grid_paths", {"m": _Int(1, 10), "n": _Int(1, 10)}, "int",
   "the number of paths from the top-left to the bottom-right cell of a grid with {m} rows and {n} columns that "
   "only move right or down", lambda o, m, n: math.comb(m + n - 2, m - 1))
_t("fewest_squares", {"n": _Int(1, 200)}, "int", "the fewest perfect squares that add up to {n}",
   lambda o, n: _squares(n))
_t("sum_of_multiples", {"n": _Int(1, 300)}, "int",
   "the sum of all positive integers less than {n} that are divisible by {a} or by {b}",
   lambda o, n: sum(i for i in range(1, n) if i % o.a == 0 or i % o.b == 0),
   [({"a": 3, "b": 5}, {"a": 2, "b": 7}, {"a": 4, "b": 6}, {"a": 3, "b": 7}, {"a": 5, "b": 8})])
_t("next_palindrome", {"n": _Int(0, 5000)}, "int", "the smallest palindromic number strictly greater than {n}",
   lambda o, n: next(i for i in range(n + 1, 10 ** 6) if str(i) == str(i)[::-1]))
_t("josephus", {"n": _Int(1, 15), "k": _Int(1, 6)}, "int",
   "the label of the last person left when {n} people labelled 1 to {n} stand in a circle and, counting from "
   "person 1, every {k}-th remaining person leaves", lambda o, n, k: _josephus(n, k))
_t("sum_digits_squared", {"n": _Int(1, 10 ** 6)}, "int", "the sum of the {pw} of the digits of {n}",
   lambda o, n: sum(int(c) ** o.p for c in str(n)), [({"pw": "squares", "p": 2}, {"pw": "cubes", "p": 3})])
_t("smallest_with_digit_sum", {"n": _Int(1, 40)}, "int", "the smallest positive integer whose digits add up to {n}",
   lambda o, n: int(str(n % 9 or "") + "9" * (n // 9)) if n % 9 else int("9" * (n // 9)))
_t("from_base", {"s": _Str("01", (1, 10), "only the characters '0' and '1'")}, "int",
   "the integer whose binary representation is {s}", lambda o, s: int(s, 2))
_t("is_prime", {"n": _Int(0, 200)}, "bool", "{n} is a prime number", lambda o, n: _is_prime(n))
_t("is_power_of", {"n": _Int(1, 300)}, "bool", "{n} is a power of {b} (including {b} to the power 0)",
   lambda o, n: _is_power(n, o.b), [_ax("b", 2, 3, 4, 5)])
_t("is_perfect", {"n": _Int(1, 500)}, "bool", "{n} equals the sum of its divisors other than itself",
   lambda o, n: n == sum(d for d in range(1, n) if n % d == 0), fix=lambda r, args, o: (_pick(r, (6, 28, 496, args[0], args[0])),))
_t("is_armstrong", {"n": _Int(1, 1000)}, "bool",
   "{n} equals the sum of its digits, each raised to the power of the number of digits",
   lambda o, n: n == sum(int(c) ** len(str(n)) for c in str(n)))
_t("is_happy", {"n": _Int(1, 100)}, "bool",
   "repeatedly replacing {n} with the sum of the squares of its digits eventually gives 1", lambda o, n: _happy(n))
_t("is_palindrome_number", {"n": _Int(0, 10 ** 5)}, "bool", "the decimal digits of {n} read the same backwards",
   lambda o, n: str(n) == str(n)[::-1])
_t("digits_increasing", {"n": _Int(1, 10 ** 5)}, "bool", "the digits of {n} are in {mono} order from left to right",
   lambda o, n: all((x < y) if o.mono == "strictly increasing" else (x <= y) for x, y in zip(str(n), str(n)[1:])),
   [_ax("mono", "strictly increasing", "non-decreasing")])
_t("is_sum_of_two_squares", {"n": _Int(0, 200)}, "bool", "{n} can be written as a*a + b*b for integers a, b >= 0",
   lambda o, n: any(math.isqrt(n - a * a) ** 2 == n - a * a for a in range(math.isqrt(n) + 1)))
_t("to_base", {"n": _Int(0, 1000)}, "str", "the representation of {n} in base {b}, as a string of digits",
   lambda o, n: _base(n, o.b), [_ax("b", 2, 3, 4, 5, 7, 8)])

# ---- strings

VOWELS = "aeiou"
LETTERS = _Str(_LOWER, (1, 12))
_t("count_vowels", {"s": LETTERS}, "int", "the number of {vc} in {s}",
   lambda o, s: sum((c in VOWELS) == (o.vc == "vowels") for c in s), [_ax("vc", "vowels", "consonants")])
_t("count_distinct_chars", {"s": LETTERS}, "int", "the number of distinct characters in {s}",
   lambda o, s: len(set(s)))
_t("longest_palindrome_substring", {"s": S("abc", (1, 10))}, "int",
   "the length of the longest substring of {s} that is a palindrome", lambda o, s: max(
       j - i for i in range(len(s)) for j in range(i + 1, len(s) + 1) if s[i:j] == s[i:j][::-1]))
_t("count_palindromic_substrings", {"s": S("ab", (1, 9))}, "int",
   "the number of non-empty substrings of {s} that are palindromes, counting equal substrings at different "
   "positions separately",
   lambda o, s: sum(s[i:j] == s[i:j][::-1] for i in range(len(s)) for j in range(i + 1, len(s) + 1)))
_t("longest_unique_substring", {"s": S("abcd", (1, 12))}, "int",
   "the length of the longest substring of {s} in which no character repeats",
   lambda o, s: max(j - i for i in range(len(s)) for j in range(i + 1, len(s) + 1) if len(set(s[i:j])) == j - i))
_t("first_unique_char", {"s": S("abcd", (1, 10))}, "int",
   "the index of the {fl} character of {s} that occurs exactly once in {s}, or -1 if there is none",
   lambda o, s: next((i for i in (range(len(s)) if o.fl == "first" else range(len(s) - 1, -1, -1)) if s.count(s[i]) == 1), -1),
   [_ax("fl", "first", "last")])
_t("count_occurrences", {"s": S("ab", (1, 12)), "t": S("ab", (1, 3))}, "int",
   "the number of positions at which {t} occurs in {s} as a substring, overlapping occurrences included",
   lambda o, s, t: sum(s.startswith(t, i) for i in range(len(s))))
_t("nesting_depth", {"s": S("()", (1, 12), "only the characters '(' and ')'")}, "int",
   "the greatest nesting depth of the balanced parentheses string {s}", lambda o, s: _depth(s),
   fix=lambda r, args, o: (_balanced(r),))
_t("min_insertions_to_balance", {"s": S("()", (1, 12), "only the characters '(' and ')'")}, "int",
   "the fewest parentheses that must be inserted into {s} to make it balanced", lambda o, s: _min_add(s))
_t("longest_valid_parentheses", {"s": S("()", (1, 12), "only the characters '(' and ')'")}, "int",
   "the length of the longest substring of {s} that is a balanced parentheses string",
   lambda o, s: max([j - i for i in range(len(s)) for j in range(i, len(s) + 1) if _min_add(s[i:j]) == 0]))
_t("count_one_blocks", {"s": S("01", (1, 14), "only the characters '0' and '1'")}, "int",
   "the number of maximal blocks of consecutive '{c}' characters in the binary string {s}",
   lambda o, s: len([b for b in re.split(f"[^{o.c}]", s) if b]), [_ax("c", "0", "1")])
_t("flips_to_alternate", {"s": S("01", (1, 14), "only the characters '0' and '1'")}, "int",
   "the fewest characters of the binary string {s} that must be flipped so that no two neighbouring characters "
   "are equal", lambda o, s: min(sum(c != "01"[(i + b) % 2] for i, c in enumerate(s)) for b in (0, 1)))
_t("longest_char_run", {"s": S("ab", (1, 14))}, "int",
   "the length of the longest block of identical consecutive characters in {s}", lambda o, s: _longest_run(s))
_t("equal_char_pairs", {"s": S("abc", (1, 12))}, "int",
   "the number of pairs of positions i < j at which {s} holds the same character",
   lambda o, s: sum(c * (c - 1) // 2 for c in Counter(s).values()))
_t("sum_of_digits_in_text", {"s": S("ab12x79", (1, 12), "lowercase English letters and digits")}, "int",
   "the sum of all digits that appear in {s}", lambda o, s: sum(int(c) for c in s if c.isdigit()))
_t("edit_distance", {"s": S("abc", (1, 7)), "t": S("abc", (1, 7))}, "int",
   "the fewest single-character insertions, deletions and replacements that turn {s} into {t}",
   lambda o, s, t: _edit(s, t))
_t("common_subsequence_length", {"s": S("abc", (1, 8)), "t": S("abc", (1, 8))}, "int",
   "the length of the longest sequence of characters that is a subsequence of both {s} and {t}", lambda o, s, t: _lcs(s, t))
_t("common_substring_length", {"s": S("abc", (1, 8)), "t": S("abc", (1, 8))}, "int",
   "the length of the longest string that is a substring of both {s} and {t}",
   lambda o, s, t: max([j - i for i in range(len(s)) for j in range(i + 1, len(s) + 1) if s[i:j] in t] or [0]))
_t("decode_ways", {"s": S("12", (1, 10), "only the digits '1' and '2'")}, "int",
   "the number of ways to split the digit string {s} into numbers from 1 to 26 (no number with a leading zero)",
   lambda o, s: _decode(s))
_t("deletions_for_anagram", {"s": S("abc", (1, 8)), "t": S("abc", (1, 8))}, "int",
   "the fewest characters that must be deleted from {s} and {t} together so that the two strings become anagrams",
   lambda o, s, t: sum(((Counter(s) - Counter(t)) + (Counter(t) - Counter(s))).values()))
_t("score_of_word", {"s": LETTERS}, "int",
   "the total score of {s}, where every letter scores its position in the alphabet (a = 1, b = 2, ..., z = 26)",
   lambda o, s: sum(ord(c) - 96 for c in s))
_t("adjacent_char_gaps", {"s": LETTERS}, "int",
   "the sum of the absolute differences between the alphabet positions of neighbouring characters of {s}",
   lambda o, s: sum(abs(ord(x) - ord(y)) for x, y in zip(s, s[1:])))
_t("reverse_words", {"s": _Sentence()}, "str",
   "the string {s} with its words in reverse order, words being separated by single spaces",
   lambda o, s: " ".join(s.split()[::-1]))
_t("capitalize_words", {"s": _Sentence()}, "str", "the string {s} with the {fl} letter of every word in upper case",
   lambda o, s: " ".join((w[0].upper() + w[1:]) if o.fl == "first" else (w[:-1] + w[-1].upper()) for w in s.split()),
   [_ax("fl", "first", "last")])
_t("longest_word", {"s": _Sentence()}, "str",
   "the longest word of the sentence {s}; if several words are equally long, the {fl} of them",
   lambda o, s: max(s.split()[::1 if o.fl == "first" else -1], key=len), [_ax("fl", "first", "last")])
_t("acronym", {"s": _Sentence((1, 6))}, "str", "the upper-case string formed by the first letters of the words of {s}",
   lambda o, s: "".join(w[0] for w in s.split()).upper())
_t("run_length_encode", {"s": S("abc", (1, 12))}, "str",
   "the run-length encoding of {s}, in which every maximal block of a repeated character is written as {fmt}",
   lambda o, s: "".join((c + str(n)) if o.cf else (str(n) + c) for c, n in _runs(s)),
   [({"fmt": "the character followed by the length of the block", "cf": True},
     {"fmt": "the length of the block followed by the character", "cf": False})])
_t("squeeze_repeats", {"s": S("abc", (1, 12))}, "str",
   "the string {s} with every block of consecutive equal characters replaced by a single copy",
   lambda o, s: "".join(c for c, _ in _runs(s)))
_t("shift_letters", {"s": LETTERS, "k": _Int(0, 25)}, "str",
   "the string obtained by moving every letter of {s} {k} places {dir} in the alphabet, wrapping around between "
   "'a' and 'z'", lambda o, s, k: "".join(chr((ord(c) - 97 + (k if o.dir == "forward" else -k)) % 26 + 97) for c in s),
   [_ax("dir", "forward", "backward")])
_t("alternate_case", {"s": LETTERS}, "str",
   "the string {s} with the letters at {par} indices (counting from 0) converted to upper case",
   lambda o, s: "".join(c.upper() if i % 2 == (o.par == "odd") else c for i, c in enumerate(s)),
   [_ax("par", "even", "odd")])
_t("remove_adjacent_pairs", {"s": S("ab", (1, 12))}, "str",
   "the string left after repeatedly deleting two neighbouring equal characters from {s} until no such pair remains",
   lambda o, s: _reduce_pairs(s))
_t("reverse_vowels", {"s": LETTERS}, "str",
   "the string {s} with the order of its vowels reversed and every other character left in place",
   lambda o, s: _reverse_vowels(s))
_t("most_common_char", {"s": S("abcde", (1, 12))}, "str",
   "the character that occurs most often in {s}; ties go to the character that comes {ab} in the alphabet",
   lambda o, s: sorted(Counter(s).items(), key=lambda p: (-p[1], p[0] if o.ab == "first" else -ord(p[0])))[0][0],
   [_ax("ab", "first", "last")])
_t("remove_char", {"s": LETTERS}, "str", "the string {s} with every {vc} removed",
   lambda o, s: "".join(c for c in s if (c in VOWELS) != (o.vc == "vowel")), [_ax("vc", "vowel", "consonant")])
_t("sort_characters", {"s": LETTERS}, "str", "the characters of {s} sorted {how}",
   lambda o, s: "".join(sorted(s, reverse=o.how == "in reverse alphabetical order")) if o.how != "by frequency, most frequent first, ties in alphabetical order"
   else "".join(sorted(s, key=lambda c: (-s.count(c), c))),
   [_ax("how", "in alphabetical order", "in reverse alphabetical order",
        "by frequency, most frequent first, ties in alphabetical order")])
_t("swap_halves", {"s": LETTERS}, "str",
   "the string formed by the second half of {s} followed by its first half, where the first half holds the "
   "shorter part when the length is odd", lambda o, s: s[len(s) // 2:] + s[:len(s) // 2])
_t("interleave_strings", {"s": S("abc", (1, 6)), "t": S("xyz", (1, 6))}, "str",
   "the string that takes characters alternately from {s} and {t}, starting with {s}, and appends what is left "
   "of the longer string", lambda o, s, t: "".join(a + b for a, b in zip(s, t)) + s[len(t):] + t[len(s):])
_t("smallest_rotation", {"s": S("abc", (1, 9))}, "str", "the {ls} of all rotations of {s}",
   lambda o, s: (min if o.ls == "lexicographically smallest" else max)(s[i:] + s[:i] for i in range(len(s))),
   [_ax("ls", "lexicographically smallest", "lexicographically largest")])
_t("longest_common_prefix", {"words": _Words((1, 5), "ab", (1, 5), real=False)}, "str",
   "the longest common prefix of all strings in {words}",
   lambda o, w: next((w[0][:i] for i in range(min(map(len, w)) + 1) if len({x[:i + 1] for x in w}) > 1 or i == min(map(len, w))), ""))
_t("longest_palindromic_prefix", {"s": S("ab", (1, 10))}, "str", "the longest prefix of {s} that is a palindrome",
   lambda o, s: next(s[:i] for i in range(len(s), 0, -1) if s[:i] == s[:i][::-1]))
_t("is_palindrome", {"s": S("abc", (1, 9))}, "bool", "{s} reads the same forwards and backwards",
   lambda o, s: s == s[::-1], fix=lambda r, args, o: ((args[0] + args[0][::-1][r.randint(0, 1):]) if r.random() < 0.5 else args[0],))
_t("is_anagram", {"s": S("abc", (1, 8)), "t": S("abc", (1, 8))}, "bool",
   "{s} and {t} hold the same characters with the same multiplicities", lambda o, s, t: sorted(s) == sorted(t),
   fix=lambda r, args, o: (args[0], "".join(r.sample(args[0], len(args[0])))) if r.random() < 0.5 else args)
_t("is_subsequence", {"s": S("ab", (1, 5)), "t": S("ab", (1, 10))}, "bool",
   "{s} can be obtained from {t} by deleting some characters without changing the order of the others",
   lambda o, s, t: _is_subseq(s, t))
_t("is_balanced", {"s": S("()[]", (1, 10), "only the characters '(', ')', '[' and ']'")}, "bool",
   "every opening bracket in {s} is closed by a bracket of the same kind and the pairs are properly nested",
   lambda o, s: _brackets_ok(s), fix=lambda r, args, o: (_balanced(r, "[]") if r.random() < 0.5 else args[0],))
_t("is_isomorphic", {"s": S("abc", (1, 7)), "t": S("xyz", (1, 7))}, "bool",
   "the characters of {s} can be replaced, consistently and one-to-one, to obtain {t}",
   lambda o, s, t: len(s) == len(t) and len(set(s)) == len(set(t)) == len(set(zip(s, t))), fix=_same_len(0, 1),
   cons=("{#s} == {#t}",))
_t("is_rotation", {"s": S("ab", (1, 7)), "t": S("ab", (1, 7))}, "bool",
   "{t} can be obtained by moving some prefix of {s} to its end", lambda o, s, t: len(s) == len(t) and t in s + s,
   fix=lambda r, args, o: (args[0], (args[0][2:] + args[0][:2]) if r.random() < 0.5 else args[1]))
_t("has_all_letters_up_to", {"s": LETTERS}, "bool", "{s} contains every letter from 'a' to '{c}'",
   lambda o, s: set(_LOWER[:_LOWER.index(o.c) + 1]) <= set(s), [_ax("c", "c", "d", "e", "f")])
_t("no_repeat_neighbours", {"s": S("abc", (1, 8))}, "bool", "no two neighbouring characters of {s} are equal",
   lambda o, s: all(x != y for x, y in zip(s, s[1:])))
_t("back_to_origin", {"moves": S("UDLR", (1, 10), "only the characters 'U', 'D', 'L' and 'R'")}, "bool",
   "a robot that starts at (0, 0) and follows {moves}, where U, D, L and R move it one unit up, down, left and "
   "right, ends where it started", lambda o, m: _walk(m) == (0, 0))
_t("final_position", {"moves": S("UDLR", (1, 10), "only the characters 'U', 'D', 'L' and 'R'")}, "Tuple[int, int]",
   "the final position (x, y) of a robot that starts at (0, 0) and follows {moves}, where U and D change y by +1 "
   "and -1 and R and L change x by +1 and -1", lambda o, m: _walk(m))
_t("distance_to_char", {"s": S("abcd", (1, 10)), "c": S("abcd", (1, 1))}, "List[int]",
   "the list whose i-th value is the distance from position i of {s} to the nearest occurrence of the character {c}",
   lambda o, s, c: [min(abs(i - j) for j, x in enumerate(s) if x == c) for i in range(len(s))],
   fix=lambda r, args, o: (args[0], r.choice(args[0])), cons=("{c} occurs in {s}",))
_t("word_lengths", {"s": _Sentence()}, "List[int]", "the lengths of the words of {s}, in order",
   lambda o, s: [len(w) for w in s.split()])
_t("vowel_positions", {"s": LETTERS}, "List[int]", "the indices of the {vc} in {s}, counting from 0",
   lambda o, s: [i for i, c in enumerate(s) if (c in VOWELS) == (o.vc == "vowels")], [_ax("vc", "vowels", "consonants")])
_t("letter_counts", {"s": S("abc", (1, 12))}, "List[int]",
   "a list of three numbers: how many times 'a', 'b' and 'c' occur in {s}", lambda o, s: [s.count(c) for c in "abc"])

# ---- lists of strings

WORDS = _Words()
_t("count_long_words", {"words": WORDS}, "int", "the number of strings in {words} with more than {m} characters",
   lambda o, w: sum(len(x) > o.m for x in w), [_ax("m", 2, 3, 4)])
_t("count_same_ends", {"words": _Words((1, 6), "ab", (1, 4), real=False)}, "int",
   "the number of strings in {words} whose first and last characters are equal",
   lambda o, w: sum(x[0] == x[-1] for x in w))
_t("words_with_prefix", {"words": _Words((1, 6), "ab", (1, 4), real=False), "p": S("ab", (1, 2))}, "List[str]",
   "the strings of {words} that {se} with {p}, in their original order",
   lambda o, w, p: [x for x in w if (x.startswith(p) if o.se == "start" else x.endswith(p))], [_ax("se", "start", "end")])
_t("sort_by_length", {"words": WORDS}, "List[str]",
   "the strings of {words} sorted by length in {order} order, ties broken alphabetically",
   lambda o, w: sorted(w, key=lambda x: ((1 if o.order == "ascending" else -1) * len(x), x)),
   [_ax("order", "ascending", "descending")])
_t("distinct_words", {"words": _Words((1, 7))}, "List[str]",
   "the distinct strings of {words} in the order of their first occurrence", lambda o, w: list(dict.fromkeys(w)))
_t("concat_lengths", {"words": WORDS}, "int", "the total number of characters in all strings of {words}",
   lambda o, w: sum(map(len, w)))
_t("most_frequent_word", {"words": _Words((1, 7))}, "str",
   "the string that occurs most often in {words}; ties go to the alphabetically smallest",
   lambda o, w: min(w, key=lambda x: (-w.count(x), x)))
_t("palindrome_words", {"words": _Words((1, 6), "ab", (1, 4), real=False)}, "List[str]",
   "the strings of {words} that are palindromes, in their original order", lambda o, w: [x for x in w if x == x[::-1]])
_t("eval_rpn", {"tokens": _Words((1, 1), what="a digit or one of '+', '-' and '*'")}, "int",
   "the value of the expression in reverse Polish notation given by {tokens}, whose elements are non-negative "
   "integers and the operators '+', '-' and '*'", lambda o, t: _rpn(t), fix=lambda r, args, o: (_rpn_tokens(r),))
_t("pair_strings_reversed", {"words": _Words((1, 6), "ab", (2, 3), real=False)}, "int",
   "the number of pairs of positions i < j such that the string of {words} at position j is the reverse of the "
   "one at position i", lambda o, w: sum(x == y[::-1] for x, y in combinations(w, 2)))

# ---- matrices and grids

GRID = _Grid(-5, 9)
BIN = _Grid(0, 1, (1, 5), (1, 5))
_t("transpose", {"grid": GRID}, "List[List[int]]", "the transpose of the matrix {grid}",
   lambda o, g: [list(c) for c in zip(*g)])
_t("line_sums", {"grid": GRID}, "List[int]", "the list of the {rc} sums of the matrix {grid}",
   lambda o, g: [sum(x) for x in (g if o.rc == "row" else zip(*g))], [_ax("rc", "row", "column")])
_t("diagonal_sum", {"grid": _Grid(-5, 9, (1, 5), square=True)}, "int",
   "the sum of the entries on the {d} of the square matrix {grid}",
   lambda o, g: sum(g[i][i if o.d == "main diagonal" else len(g) - 1 - i] for i in range(len(g))),
   [_ax("d", "main diagonal", "anti-diagonal")])
_t("rotate_matrix", {"grid": GRID}, "List[List[int]]", "the matrix {grid} rotated 90 degrees {dir}",
   lambda o, g: [list(r) for r in zip(*g[::-1])] if o.dir == "clockwise" else [list(r) for r in zip(*g)][::-1],
   [_ax("dir", "clockwise", "counterclockwise")])
_t("spiral_order", {"grid": GRID}, "List[int]",
   "the entries of the matrix {grid} in clockwise spiral order, starting from the top-left corner",
   lambda o, g: _spiral(g))
_t("flatten_matrix", {"grid": GRID}, "List[int]", "the entries of the matrix {grid} read {how}",
   lambda o, g: [x for row in (g if o.how == "row by row" else zip(*g)) for x in row],
   [_ax("how", "row by row", "column by column")])
_t("count_negative_cells", {"grid": GRID}, "int", "the number of {sign} entries of the matrix {grid}",
   lambda o, g: sum((x < 0) if o.sign == "negative" else (x > 0) for row in g for x in row),
   [_ax("sign", "negative", "positive")])
_t("best_row", {"grid": GRID}, "int",
   "the index of the row of {grid} with the {lg} sum, choosing the smallest index on ties",
   lambda o, g: min(range(len(g)), key=lambda i: ((-1 if o.lg == "largest" else 1) * sum(g[i]), i)),
   [_ax("lg", "largest", "smallest")])
_t("is_symmetric", {"grid": _Grid(0, 2, (1, 4), square=True)}, "bool", "the square matrix {grid} equals its transpose",
   lambda o, g: all(g[i][j] == g[j][i] for i in range(len(g)) for j in range(len(g))),
   fix=lambda r, args, o: ([[min(i, j) + args[0][0][0] for j in range(len(args[0]))] for i in range(len(args[0]))]
                           if r.random() < 0.4 else args[0],))
_t("is_toeplitz", {"grid": _Grid(0, 2, (1, 4), (1, 4))}, "bool",
   "every diagonal of {grid} running from top-left to bottom-right holds equal entries",
   lambda o, g: all(g[i][j] == g[i - 1][j - 1] for i in range(1, len(g)) for j in range(1, len(g[0]))))
_t("min_path_sum", {"grid": _Grid(0, 9)}, "int",
   "the smallest sum of the entries along a path from the top-left to the bottom-right cell of {grid} that only "
   "moves right or down", lambda o, g: _min_path(g))
_t("max_path_sum", {"grid": _Grid(0, 9)}, "int",
   "the largest sum of the entries along a path from the top-left to the bottom-right cell of {grid} that only "
   "moves right or down", lambda o, g: -_min_path([[-x for x in row] for row in g]))
_t("paths_around_walls", {"grid": BIN}, "int",
   "the number of paths from the top-left to the bottom-right cell of {grid} that only move right or down and "
   "never enter a cell holding 1", lambda o, g: _paths(g))
_t("count_islands", {"grid": BIN}, "int",
   "the number of groups of cells holding 1 in {grid}, where cells sharing a side belong to the same group",
   lambda o, g: len(_components(g)))
_t("largest_island", {"grid": BIN}, "int",
   "the size of the largest group of side-connected cells holding 1 in {grid}, or 0 if there is none",
   lambda o, g: max(map(len, _components(g)), default=0))
_t("island_perimeter", {"grid": BIN}, "int",
   "the total length of the boundary of the cells holding 1 in {grid}, counting every side of a 1-cell that "
   "borders a 0-cell or the edge of the grid", lambda o, g: _perimeter(g))
_t("shortest_grid_path", {"grid": BIN}, "int",
   "the fewest moves from the top-left to the bottom-right cell of {grid}, where a move steps to a side-adjacent "
   "cell holding 0, or -1 if it cannot be reached", lambda o, g: _bfs(g),
   fix=lambda r, args, o: ([[0 if (i, j) in ((0, 0), (len(args[0]) - 1, len(args[0][0]) - 1)) else x
                             for j, x in enumerate(row)] for i, row in enumerate(args[0])],),
   cons=("the top-left and bottom-right cells of {grid} hold 0",))
_t("count_local_maxima", {"grid": _Grid(0, 9, (1, 4), (1, 4))}, "int",
   "the number of cells of {grid} whose value is strictly greater than the values of all side-adjacent cells",
   lambda o, g: _local_max(g))
_t("max_square_of_ones", {"grid": BIN}, "int",
   "the side length of the largest square block of {grid} made only of 1s", lambda o, g: _square(g))
_t("lucky_cells", {"grid": _Grid(1, 30, (1, 4), (1, 4))}, "List[int]",
   "the values in {grid} that are the smallest in their row and the largest in their column, in row-major order",
   lambda o, g: [x for row in g for j, x in enumerate(row) if x == min(row) and x == max(r[j] for r in g)])

# ---- intervals and graphs

SEGS = _Grid(0, 20, (1, 6), pairs=True)
_t("max_overlap", {"intervals": SEGS}, "int",
   "the largest number of intervals in {intervals} that share a common point, where each interval [l, r] "
   "includes both ends", lambda o, iv: max(sum(l <= p <= r for l, r in iv) for p in range(0, 21)))
_t("max_disjoint_intervals", {"intervals": SEGS}, "int",
   "the largest number of intervals from {intervals} that can be chosen so that no two chosen intervals share a "
   "point, each interval [l, r] including both ends", lambda o, iv: _disjoint(iv))
_t("covered_length", {"intervals": SEGS}, "int",
   "the total length of the union of the intervals [l, r] in {intervals}, where [l, r] has length r - l",
   lambda o, iv: sum(any(l <= p and p + 1 <= r for l, r in iv) for p in range(0, 21)))
_t("merge_intervals", {"intervals": SEGS}, "List[List[int]]",
   "the result of merging every pair of overlapping or touching intervals in {intervals}, as a list of "
   "[start, end] pairs sorted by start", lambda o, iv: _merge(iv))
_t("count_components", {"n": _Int(1, 8), "edges": _Grid(0, 7, (0, 6), pairs=True)}, "int",
   "the number of connected components of the undirected graph with {n} vertices numbered 0 to {n} - 1 and the "
   "edges listed in {edges}", lambda o, n, e: len({_find(n, e, v) for v in range(n)}),
   fix=lambda r, args, o: (args[0], _edges(r, args[0])))
_t("shortest_hops", {"n": _Int(2, 8), "edges": _Grid(0, 7, (0, 6), pairs=True)}, "int",
   "the fewest edges on a path from vertex 0 to vertex {n} - 1 in the undirected graph with {n} vertices numbered "
   "0 to {n} - 1 and the edges listed in {edges}, or -1 if there is no such path",
   lambda o, n, e: _hops(n, e), fix=lambda r, args, o: (args[0], _edges(r, args[0])))
_t("has_cycle", {"n": _Int(1, 7), "edges": _Grid(0, 7, (0, 6), pairs=True)}, "bool",
   "the undirected graph with {n} vertices numbered 0 to {n} - 1 and the edges listed in {edges} (no self-loops, "
   "no repeated edges) contains a cycle", lambda o, n, e: len(e) > n - len({_find(n, e, v) for v in range(n)}),
   fix=lambda r, args, o: (args[0], _edges(r, args[0])))
_t("max_degree", {"n": _Int(1, 8), "edges": _Grid(0, 7, (0, 6), pairs=True)}, "int",
   "the largest number of edges touching a single vertex in the undirected graph with {n} vertices numbered 0 to "
   "{n} - 1 and the edges listed in {edges}",
   lambda o, n, e: max(sum(v in ed for ed in e) for v in range(n)), fix=lambda r, args, o: (args[0], _edges(r, args[0])))

# ---- floats (HumanEval and MBPP only: the stdin forms would need a printing rule)

_t("mean_of", {"numbers": _Floats()}, "float", "the arithmetic mean of {numbers}, rounded to 2 decimal places",
   lambda o, a: round(sum(a) / len(a), 2))
_t("closest_pair_gap", {"numbers": _Floats(n=(2, 6))}, "float",
   "the smallest distance between two numbers of {numbers} at different positions",
   lambda o, a: min(abs(x - y) for x, y in combinations(a, 2)))
_t("rescale_min", {"numbers": _Floats(n=(1, 6))}, "List[float]",
   "the list {numbers} with the smallest value subtracted from every element",
   lambda o, a: [x - min(a) for x in a])
_t("count_above_mean", {"numbers": _Floats()}, "int", "how many numbers of {numbers} are strictly above their mean",
   lambda o, a: sum(x * len(a) > sum(a) for x in a))


# --------------------------------------------------------------------------------------------------
# Helpers of the reference implementations
# --------------------------------------------------------------------------------------------------


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


@lru_cache(maxsize=None)
def _primes(n: int) -> tuple:
    out, k = [], 1
    while len(out) < n:
        k += 1
        if _is_prime(k):
            out.append(k)
    return tuple(out)


def _factors(n: int) -> list:
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    return out + ([n] if n > 1 else [])


def _collatz(n: int) -> list:
    out = [n]
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        out.append(n)
    return out


def _mountain(a) -> bool:
    if len(a) < 3:
        return False
    p = a.index(max(a))
    return 0 < p < len(a) - 1 and all(x < y for x, y in zip(a[:p], a[1:p + 1])) and all(
        x > y for x, y in zip(a[p:], a[p + 1:]))


def _jumps(a) -> int:
    """Fewest jumps from the first to the last position (BFS), -1 when unreachable."""
    dist = {0: 0}
    q = deque([0])
    while q:
        i = q.popleft()
        for j in range(i + 1, min(len(a), i + a[i] + 1)):
            if j not in dist:
                dist[j] = dist[i] + 1
                q.append(j)
    return dist.get(len(a) - 1, -1)


def _longest_run(a) -> int:
    best = cur = 1
    for x, y in zip(a, a[1:]):
        cur = cur + 1 if x == y else 1
        best = max(best, cur)
    return best


def _longest_mono(a, inc: bool) -> int:
    best = cur = 1
    for x, y in zip(a, a[1:]):
        cur = cur + 1 if (x < y if inc else x > y) else 1
        best = max(best, cur)
    return best


def _lis(a, strict: bool = True) -> int:
    best = [1] * len(a)
    for i in range(len(a)):
        for j in range(i):
            if a[j] < a[i] or (not strict and a[j] == a[i]):
                best[i] = max(best[i], best[j] + 1)
    return max(best)


def _rob(a) -> int:
    take = skip = 0
    for x in a:
        take, skip = skip + x, max(take, skip)
    return max(take, skip)


def _climb_cost(c) -> int:
    best = [0, 0]
    for i in range(2, len(c) + 1):
        best.append(min(best[-1] + c[i - 1], best[-2] + c[i - 2]))
    return best[-1]


@lru_cache(maxsize=None)
def _coins_min(coins: tuple, t: int) -> int:
    best = [0] + [math.inf] * t
    for v in range(1, t + 1):
        best[v] = min([best[v - c] + 1 for c in coins if c <= v] or [math.inf])
    return -1 if best[t] == math.inf else best[t]


def _coin_ways(coins, t: int) -> int:
    ways = [1] + [0] * t
    for c in coins:
        for v in range(c, t + 1):
            ways[v] += ways[v - c]
    return ways[t]


def _candies(s) -> int:
    c = [1] * len(s)
    for i in range(1, len(s)):
        if s[i] > s[i - 1]:
            c[i] = c[i - 1] + 1
    for i in range(len(s) - 2, -1, -1):
        if s[i] > s[i + 1]:
            c[i] = max(c[i], c[i + 1] + 1)
    return sum(c)


def _assign(g, s) -> int:
    g, s, i = sorted(g), sorted(s), 0
    for size in s:
        if i < len(g) and g[i] <= size:
            i += 1
    return i


def _singles(r: random.Random, base) -> list:
    vals = r.sample(range(10), len(base) + 1)
    out = vals[:1] + vals[1:] * 2
    r.shuffle(out)
    return out


def _rotated(r: random.Random, a: list) -> list:
    k = r.randrange(len(a))
    return a[k:] + a[:k]


def _linrec(init, rule, n: int) -> int:
    s = list(init)
    while len(s) <= n:
        s.append(rule(s))
    return s[n]


def _stairs(n: int, k: int) -> int:
    w = [1]
    for i in range(1, n + 1):
        w.append(sum(w[max(0, i - k):i]))
    return w[n]


def _squares(n: int) -> int:
    best = [0] + [n] * n
    for v in range(1, n + 1):
        best[v] = min(best[v - s * s] + 1 for s in range(1, math.isqrt(v) + 1))
    return best[n]


def _josephus(n: int, k: int) -> int:
    people, i = list(range(1, n + 1)), 0
    while len(people) > 1:
        i = (i + k - 1) % len(people)
        people.pop(i)
    return people[0]


def _is_power(n: int, b: int) -> bool:
    while n % b == 0:
        n //= b
    return n == 1


def _happy(n: int) -> bool:
    seen = set()
    while n != 1 and n not in seen:
        seen.add(n)
        n = sum(int(c) ** 2 for c in str(n))
    return n == 1


def _base(n: int, b: int) -> str:
    out = ""
    while n:
        out = str(n % b) + out
        n //= b
    return out or "0"


def _depth(s: str) -> int:
    d = best = 0
    for c in s:
        d += 1 if c == "(" else -1
        best = max(best, d)
    return best


def _min_add(s: str) -> int:
    d = add = 0
    for c in s:
        d += 1 if c == "(" else -1
        if d < 0:
            add, d = add + 1, 0
    return add + d


def _balanced(r: random.Random, kinds: str = "()") -> str:
    """A random balanced bracket string (pairs from `kinds`, two characters per kind)."""
    out, stack = [], []
    for _ in range(r.randint(1, 5) * 2):
        if stack and (r.random() < 0.5 or len(stack) + len(out) >= 10):
            out.append(stack.pop())
        else:
            k = r.randrange(0, len(kinds), 2)
            out.append(kinds[k])
            stack.append(kinds[k + 1])
    return "".join(out + stack[::-1])


def _brackets_ok(s: str) -> bool:
    stack = []
    for c in s:
        if c in "([":
            stack.append(")" if c == "(" else "]")
        elif not stack or stack.pop() != c:
            return False
    return not stack


def _edit(s: str, t: str) -> int:
    prev = list(range(len(t) + 1))
    for i, a in enumerate(s, 1):
        cur = [i]
        for j, b in enumerate(t, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1]


def _lcs(s: str, t: str) -> int:
    prev = [0] * (len(t) + 1)
    for a in s:
        cur = [0]
        for j, b in enumerate(t, 1):
            cur.append(prev[j - 1] + 1 if a == b else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _decode(s: str) -> int:
    ways = [1] + [0] * len(s)
    for i in range(1, len(s) + 1):
        ways[i] = (ways[i - 1] if s[i - 1] != "0" else 0) + (
            ways[i - 2] if i > 1 and s[i - 2] != "0" and 10 <= int(s[i - 2:i]) <= 26 else 0)
    return ways[-1]


def _runs(s: str) -> list:
    out = []
    for c in s:
        if out and out[-1][0] == c:
            out[-1][1] += 1
        else:
            out.append([c, 1])
    return out


def _reduce_pairs(s: str) -> str:
    stack = []
    for c in s:
        if stack and stack[-1] == c:
            stack.pop()
        else:
            stack.append(c)
    return "".join(stack)


def _reverse_vowels(s: str) -> str:
    vs = [c for c in s if c in VOWELS]
    return "".join(vs.pop() if c in VOWELS else c for c in s)


def _is_subseq(s: str, t: str) -> bool:
    it = iter(t)
    return all(c in it for c in s)


def _walk(m: str) -> tuple:
    x = m.count("R") - m.count("L")
    y = m.count("U") - m.count("D")
    return (x, y)


def _rpn_tokens(r: random.Random) -> list:
    """A random valid RPN expression: a few numbers, then operators interleaved so the stack never runs dry."""
    toks, depth = [str(r.randint(0, 9))], 1
    for _ in range(r.randint(1, 3)):
        toks.append(str(r.randint(0, 9)))
        depth += 1
        if r.random() < 0.5:
            toks.append(r.choice("+-*"))
            depth -= 1
    toks += [r.choice("+-*") for _ in range(depth - 1)]
    return toks


def _rpn(toks) -> int:
    st = []
    for t in toks:
        if t in "+-*":
            b, a = st.pop(), st.pop()
            st.append(a + b if t == "+" else a - b if t == "-" else a * b)
        else:
            st.append(int(t))
    return st[-1]


def _spiral(g) -> list:
    out, g = [], [row[:] for row in g]
    while g:
        out += g.pop(0)
        g = [list(r) for r in zip(*g)][::-1]
    return out


def _min_path(g) -> int:
    h, w = len(g), len(g[0])
    best = [[0] * w for _ in range(h)]
    for i in range(h):
        for j in range(w):
            prev = [best[a][b] for a, b in ((i - 1, j), (i, j - 1)) if a >= 0 and b >= 0]
            best[i][j] = g[i][j] + (min(prev) if prev else 0)
    return best[-1][-1]


def _paths(g) -> int:
    h, w = len(g), len(g[0])
    ways = [[0] * w for _ in range(h)]
    for i in range(h):
        for j in range(w):
            if g[i][j] == 0:
                ways[i][j] = 1 if i == j == 0 else (ways[i - 1][j] if i else 0) + (ways[i][j - 1] if j else 0)
    return ways[-1][-1]


def _components(g) -> list:
    seen, comps = set(), []
    for i, row in enumerate(g):
        for j, x in enumerate(row):
            if x == 1 and (i, j) not in seen:
                comp, stack = [], [(i, j)]
                seen.add((i, j))
                while stack:
                    a, b = stack.pop()
                    comp.append((a, b))
                    for c, d in ((a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)):
                        if 0 <= c < len(g) and 0 <= d < len(row) and g[c][d] == 1 and (c, d) not in seen:
                            seen.add((c, d))
                            stack.append((c, d))
                comps.append(comp)
    return comps


def _perimeter(g) -> int:
    h, w = len(g), len(g[0])
    return sum(not (0 <= i + a < h and 0 <= j + b < w and g[i + a][j + b] == 1)
               for i in range(h) for j in range(w) if g[i][j] == 1
               for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1)))


def _bfs(g) -> int:
    h, w = len(g), len(g[0])
    dist, q = {(0, 0): 0}, deque([(0, 0)])
    while q:
        a, b = q.popleft()
        for c, d in ((a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)):
            if 0 <= c < h and 0 <= d < w and g[c][d] == 0 and (c, d) not in dist:
                dist[(c, d)] = dist[(a, b)] + 1
                q.append((c, d))
    return dist.get((h - 1, w - 1), -1)


def _local_max(g) -> int:
    h, w = len(g), len(g[0])
    return sum(all(g[i][j] > g[i + a][j + b] for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))
                   if 0 <= i + a < h and 0 <= j + b < w) for i in range(h) for j in range(w))


def _square(g) -> int:
    h, w = len(g), len(g[0])
    return max([k for i in range(h) for j in range(w) for k in range(1, min(h - i, w - j) + 1)
                if all(g[a][b] == 1 for a in range(i, i + k) for b in range(j, j + k))] or [0])


def _disjoint(iv) -> int:
    end, n = -1, 0
    for l, r in sorted(iv, key=lambda p: p[1]):
        if l > end:
            n, end = n + 1, r
    return n


def _merge(iv) -> list:
    out = []
    for l, r in sorted(iv):
        if out and l <= out[-1][1]:
            out[-1][1] = max(out[-1][1], r)
        else:
            out.append([l, r])
    return out


def _edges(r: random.Random, n: int) -> list:
    pairs = [[u, v] for u in range(n) for v in range(u + 1, n)]
    return r.sample(pairs, r.randint(0, min(len(pairs), n + 1)))


def _find(n: int, e, v: int) -> int:
    """The smallest vertex in v's component (a representative)."""
    seen, stack = {v}, [v]
    while stack:
        a = stack.pop()
        for x, y in e:
            for b in ((y,) if x == a else (x,) if y == a else ()):
                if b not in seen:
                    seen.add(b)
                    stack.append(b)
    return min(seen)


def _hops(n: int, e) -> int:
    dist, q = {0: 0}, deque([0])
    while q:
        a = q.popleft()
        for x, y in e:
            for b in ((y,) if x == a else (x,) if y == a else ()):
                if b not in dist:
                    dist[b] = dist[a] + 1
                    q.append(b)
    return dist.get(n - 1, -1)


# --------------------------------------------------------------------------------------------------
# Rendering: names, values and constraints in each benchmark's notation
# --------------------------------------------------------------------------------------------------

# The benchmarks' own wrappers, verbatim: the disjointness check strips them (disjoint._EVAL_BOILERPLATE).
_HE_HEAD = "Write a solution to the following problem and make sure that it passes the tests:\n```python\n"
_LCB_HEAD = ("You are an expert Python programmer. You will be given a question (problem specification) and will "
             "generate a correct Python program that matches the specification and passes all tests. You will NOT "
             "return anything except for the program\n\n### Question:\n")
_LC_TAIL = "\n\n### Format: Use the following code structure:\n```python\nclass Solution:\n    def {name}(self, {args}) -> {ret}:\n        \n```\n\n### Answer: (use the provided format with backticks)"
_CF_TAIL = ("\n\n### Format: Write your code in the following format:\n```python\n# YOUR CODE HERE\n```\n\n"
            "### Answer: (use the provided format with backticks)")
_FORMS = (("humaneval", 30), ("mbpp", 25), ("leetcode", 25), ("stdin", 20))
_STDIN_PARAMS = ("int", "str", "List[int]", "List[str]", "List[List[int]]")
_STDIN_RETS = ("int", "bool", "str", "List[int]", "List[str]", "Tuple[int, int]")
_NAMES = ("Alice", "Bob", "Carol", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keiko", "Luis",
          "Mira", "Nikolai", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tanya", "Umar", "Vera", "Wen", "Yuki")
_PH = re.compile(r"\{(#?)(\w+)(?:\[(\w+)\])?\}")


def stdin_ok(task: Task) -> bool:
    """Whether the task can be asked with standard input and output (the Codeforces/AtCoder form)."""
    return task.ret in _STDIN_RETS and all(s.type in _STDIN_PARAMS for _, s in task.params)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _symbols(task: Task, upper: bool) -> dict:
    """Math names of the parameters for the stdin forms: {param: (symbol, length symbol or None)}. Lists get
    lengths n, m, p; a matrix gets h rows and w columns; one-letter integers keep their names when free."""
    lens, out, reserved = iter("nmp"), {}, set()
    for p, spec in task.params:
        if spec.type in ("List[int]", "List[str]") or (spec.type == "List[List[int]]" and spec.pairs):
            out[p] = [None, next(lens)]
        elif spec.type == "List[List[int]]":
            out[p] = [None, "h"]
            reserved |= {"h", "w"}
        else:
            out[p] = [None, None]
    reserved |= {v[1] for v in out.values() if v[1]}
    pools = {"List[int]": "abc", "str": "stu", "List[str]": "wv", "List[List[int]]": "ge", "int": "kxyqlr"}
    for p, spec in task.params:
        cands = ([p] if len(p) == 1 else []) + list(pools[spec.type]) + list("xyzqrdf")
        out[p][0] = next(c for c in cands if c not in reserved)
        reserved.add(out[p][0])
    return {p: ((s.upper(), l.upper() if l else None) if upper else (s, l)) for p, (s, l) in out.items()}


def _fill(task: Task, o: dict, form: str, syms: dict | None = None) -> str:
    """The task's phrase with its placeholders in the notation of `form`."""
    types = dict(task.params)
    count = Counter(s.type for _, s in task.params)
    seen: dict = {}

    def sub(m):
        hash_, key, idx = m.groups()
        if key not in types:
            v = o[key]
            return f"${v}$" if form == "cf" and isinstance(v, int) else str(v)
        spec = types[key]
        if form in ("humaneval", "leetcode"):
            if hash_:
                return f"len({key})" if form == "humaneval" else f"the length of {key}"
            return f"{key}[{idx}]" if idx else key
        if form == "mbpp":
            return _mbpp_name(key, spec, hash_, idx, count, seen, [p for p, s in task.params if s.type == spec.type])
        sym, ln = syms[key]
        if form == "cf":
            return f"${ln or sym}$" if hash_ else f"${sym}_{idx}$" if idx else f"${sym}$"
        return (ln or sym) if hash_ else f"{sym}_{idx}" if idx else sym

    return _PH.sub(sub, task.phrase)


_MBPP_NOUN = {"List[int]": ("list of integers", "list"), "List[float]": ("list of numbers", "list"),
              "str": ("string", "string"), "List[str]": ("list of strings", "list"),
              "List[List[int]]": ("matrix", "matrix")}


def _mbpp_name(key, spec, hash_, idx, count, seen, same) -> str:
    """MBPP speaks of 'a given list' first and 'the list' after; integers keep their names."""
    if spec.type == "int":
        return key
    long, short = _MBPP_NOUN[spec.type]
    if spec.type == "List[List[int]]" and spec.pairs:
        long, short = "list of pairs", "list of pairs"
    if count[spec.type] > 1:
        nth = ("first", "second", "third")[same.index(key)]
        long, short = f"{nth} {long}", f"{nth} {short}"
    if idx:
        return f"the element of the {short} at position {idx}"
    if hash_:
        return f"the length of the {short}"
    first = key not in seen
    seen[key] = True
    if first:
        return f"a given {long}" if count[spec.type] == 1 or same.index(key) == 0 else f"a {long}"
    return f"the {short}"


def _lc(v) -> str:
    """A LeetCode literal: [1,2,3], "abc", true."""
    if isinstance(v, tuple):
        v = list(v)
    return json.dumps(v, separators=(",", ":"))


def _out_lines(v, ret: str, style: str) -> list:
    """How a stdin-form answer is printed: one line per test case."""
    if ret == "bool":
        return [("YES" if v else "NO") if style == "cf" else ("Yes" if v else "No")]
    if isinstance(v, (list, tuple)):
        return [" ".join(map(str, v))]
    return [str(v)]


def _in_lines(task: Task, args) -> list:
    """Standard-input lines of one case: a header with the lengths and integers, then one line per list or
    string, one line per row of a matrix or per string of a list of strings."""
    head, body = [], []
    for (p, spec), v in zip(task.params, args):
        if spec.type == "int":
            head.append(str(v))
        elif spec.type == "List[int]":
            head.append(str(len(v)))
            body.append(" ".join(map(str, v)))
        elif spec.type == "str":
            body.append(v)
        elif spec.type == "List[str]":
            head.append(str(len(v)))
            body += v
        else:
            head += [str(len(v))] if spec.pairs else [str(len(v)), str(len(v[0]))]
            body += [" ".join(map(str, row)) for row in v]
    return ([" ".join(head)] if head else []) + body


def read_case(task: Task, lines: list) -> tuple:
    """Parse one case back from the front of `lines` (consumed): the inverse of _in_lines."""
    head = list(map(int, lines.pop(0).split())) if any(s.type != "str" for _, s in task.params) else []
    args = []
    for p, spec in task.params:
        if spec.type == "int":
            args.append(head.pop(0))
        elif spec.type == "List[int]":
            head.pop(0)
            args.append(list(map(int, lines.pop(0).split())))
        elif spec.type == "str":
            args.append(lines.pop(0))
        elif spec.type == "List[str]":
            args.append([lines.pop(0) for _ in range(head.pop(0))])
        else:
            h = head.pop(0)
            if not spec.pairs:
                head.pop(0)
            args.append([list(map(int, lines.pop(0).split())) for _ in range(h)])
    return tuple(args)


# --------------------------------------------------------------------------------------------------
# Drawing a task instance
# --------------------------------------------------------------------------------------------------


def _choose_opts(r: random.Random, task: Task) -> dict:
    o = {}
    for axis in task.opts:
        o.update(_pick(r, axis))
    return o


def _draw_args(r: random.Random, task: Task, o: dict) -> tuple:
    args = tuple(s.draw(r) for _, s in task.params)
    return task.fix(r, args, SimpleNamespace(**o)) if task.fix else args


def _examples(r: random.Random, task: Task, o: dict, k: int) -> list:
    """k distinct (args, result) pairs, results from the reference implementation."""
    out, seen = [], set()
    for _ in range(k * 4):
        args = _draw_args(r, task, o)
        key = repr(args)
        if key in seen:
            continue
        seen.add(key)
        out.append((args, task.run(SimpleNamespace(**o), args)))
        if len(out) == k:
            break
    return out


def _sentence(task: Task, text: str, form: str) -> str:
    """'Return ...' for the function forms; bool phrases are conditions."""
    if task.ret != "bool":
        return f"Return {text}."
    if form == "leetcode":
        return f"Return true if {text}, or false otherwise."
    return _pick(random.Random(text), (f"Return True if {text}, and False otherwise.",
                                        f"Return True if {text}; otherwise return False."))


# --------------------------------------------------------------------------------------------------
# The four forms
# --------------------------------------------------------------------------------------------------


def _humaneval(r: random.Random, task: Task, o: dict) -> str:
    """A HumanEval stub: signature and docstring with doctests (sometimes prose examples, as HumanEval has)."""
    typed = r.random() < 0.85
    sig = ", ".join(f"{p}: {s.type}" if typed else p for p, s in task.params)
    ret = f" -> {task.ret}" if typed else ""
    names = [n for n in ("List", "Tuple") if typed and n in sig + ret]
    head = f"from typing import {', '.join(names)}\n\n\n" if names else "\n\n" if typed else "\n"
    desc = _sentence(task, _fill(task, o, "humaneval"), "humaneval")
    if r.random() < 0.3 and task.params[0][1].type in ("List[int]", "str", "List[str]"):
        p, spec = task.params[0]
        what = {"List[int]": "a list of integers", "str": "a string", "List[str]": "a list of strings"}[spec.type]
        desc = f"Given {what} {p}, {desc[0].lower()}{desc[1:]}"
    lines = textwrap.wrap(desc, 86)
    exs = _examples(r, task, o, r.randint(1, 3))
    call = lambda args: f"{task.name}({', '.join(map(repr, args))})"
    style = r.random()
    q = '"""' if r.random() < 0.85 else "'''"
    if style < 0.55:
        doc = [f"{q} {lines[0]}"] + lines[1:] + [x for a, v in exs for x in (f">>> {call(a)}", repr(v))]
    elif style < 0.8:
        doc = [q] + lines + ["", _pick(r, ("For example:", "Examples:", "Example:"))]
        doc += [x for a, v in exs for x in (f">>> {call(a)}", repr(v))]
    else:
        arrow = _pick(r, ("==", "==>", "should return"))
        doc = [q] + lines + ["", _pick(r, ("For example:", "Examples:", "Example:"))]
        doc += [f"{call(a)} {arrow} {v!r}" for a, v in exs]
    body = "\n".join(("    " + x) if x else "" for x in doc + [q])
    return f"{_HE_HEAD}{head}def {task.name}({sig}){ret}:\n{body}\n\n```"


def _mbpp(r: random.Random, task: Task, o: dict) -> str:
    """One MBPP sentence: 'Write a (python) function to ...'."""
    text = _fill(task, o, "mbpp")
    fn = _pick(r, ("function", "python function", "python function"))
    if task.ret == "bool":
        return f"Write a {fn} to {_pick(r, ('check whether', 'check if', 'determine whether'))} {text}."
    return f"Write a {fn} to {_pick(r, ('find', 'find', 'compute', 'return', 'calculate', 'get'))} {text}."


def _lc_cons(task: Task) -> list:
    out = []
    for p, s in task.params:
        if s.type in ("List[int]", "List[float]"):
            out += [f"{s.n[0]} <= {p}.length <= {100 if s.n[1] <= 10 else 1000}", f"{s.lo} <= {p}[i] <= {s.hi}"]
            out += [f"{p} is sorted in ascending order."] if getattr(s, "sort", False) else []
            out += [f"All the values of {p} are unique."] if getattr(s, "uniq", False) else []
        elif s.type == "str":
            out += [f"{s.n[0]} <= {p}.length <= {100 if s.n[1] <= 20 else 1000}", f"{p} consists of {s.what}."]
        elif s.type == "List[str]":
            out += [f"{s.n[0]} <= {p}.length <= 100", f"{p}[i] consists of {s.what}."]
        elif s.type == "int":
            out.append(f"{s.lo} <= {p} <= {s.hi}")
        elif s.pairs:
            out += [f"{s.h[0]} <= {p}.length <= 100", f"{p}[i].length == 2", f"{s.lo} <= {p}[i][0] <= {p}[i][1] <= {s.hi}"]
        else:
            out += [f"m == {p}.length", f"n == {p}[i].length", "1 <= m, n <= 50", f"{s.lo} <= {p}[i][j] <= {s.hi}"]
    for c in task.cons:
        out.append(_PH.sub(lambda m: f"{m.group(2)}.length" if m.group(1) else m.group(2), c))
    return out


_LC_INTRO = {"List[int]": ("a 0-indexed integer array {p}", "an integer array {p}", "an array of integers {p}"),
             "List[float]": ("an array of real numbers {p}",), "str": ("a string {p}",),
             "List[str]": ("an array of strings {p}", "a 0-indexed array of strings {p}"),
             "List[List[int]]": ("a 2D integer array {p}", "a matrix {p} of integers")}


def _leetcode(r: random.Random, task: Task, o: dict) -> str:
    intros = []
    for p, s in task.params:
        if s.type == "int":
            intros.append(f"{p}, {'a positive' if s.lo >= 1 else 'an'} integer")
        elif s.type == "List[List[int]]" and s.pairs:
            intros.append(f"{p}, a 2D integer array in which each {p}[i] is a pair of two integers")
        else:
            intros.append(f"{p}, " + _pick(r, _LC_INTRO[s.type]).format(p="").strip())
    # "You are given a 0-indexed integer array nums and an integer k." is LeetCode's stock opening and shares
    # 12-word runs with the evaluation prompts; name first, then describe.
    given = intros[0] if len(intros) == 1 else ", ".join(intros[:-1]) + " and " + intros[-1]
    stmt = f"{_pick(r, ('You are given', 'The input consists of', 'Consider'))} {given}.\n{_sentence(task, _fill(task, o, 'leetcode'), 'leetcode')}"
    exs = _examples(r, task, o, r.randint(1, 3))
    blocks = [f"Example {i}:\n\nInput: " + ", ".join(f"{p} = {_lc(v)}" for (p, _), v in zip(task.params, a))
              + f"\nOutput: {_lc(res)}" for i, (a, res) in enumerate(exs, 1)]
    args = ", ".join(f"{p}: {s.type}" for p, s in task.params)
    tail = _LC_TAIL.format(name=_camel(task.name), args=args, ret=task.ret)
    return (f"{_LCB_HEAD}{stmt}\n \n" + "\n\n".join(blocks) + "\n\n \nConstraints:\n\n"
            + "\n".join(_lc_cons(task)) + tail)


def _items(task: Task, syms: dict, style: str) -> str:
    """'an array a of n integers a_1, ..., a_n and an integer k' in the notation of the style."""
    out = []
    m = (lambda x: f"${x}$") if style == "cf" else (lambda x: x)
    for p, s in task.params:
        sym, ln = syms[p]
        if s.type == "List[int]":
            seq = f"{sym}_1, {sym}_2, " + "\\ldots" + f", {sym}_{ln}"
            out.append(f"an array {m(sym)} of {m(ln)} integers {m(seq)}" if style == "cf"
                       else f"a sequence of {ln} integers {sym}=({sym}_1,{sym}_2,\\ldots,{sym}_{ln})")
        elif s.type == "str":
            out.append(f"a string {m(sym)}")
        elif s.type == "List[str]":
            seq = f"{sym}_1, {sym}_2, " + "\\ldots" + f", {sym}_{ln}"
            out.append(f"{m(ln)} strings {m(seq)}, which we call {m(sym)}")
        elif s.type == "int":
            out.append(f"an integer {m(sym)}")
        elif s.pairs:
            out.append(f"a list {m(sym)} of {m(ln)} pairs of integers")
        else:
            out.append(f"a grid {m(sym)} of integers with {m(ln)} rows and {m('w' if style == 'cf' else 'W')} columns")
    return out[0] if len(out) == 1 else ", ".join(out[:-1]) + " and " + out[-1]


def _cons_stdin(task: Task, syms: dict, style: str) -> list:
    """Constraint lines in LaTeX: '1 \\leq N \\leq 100' (without the surrounding $ for cf)."""
    le = "\\le" if style == "cf" else "\\leq"
    out = []
    for p, s in task.params:
        sym, ln = syms[p]
        if s.type == "List[int]":
            out += [f"{s.n[0]} {le} {ln} {le} 100", f"{s.lo} {le} {sym}_i {le} {s.hi}"]
        elif s.type == "int":
            out.append(f"{s.lo} {le} {sym} {le} {s.hi}")
        elif s.type == "List[str]":
            out.append(f"{s.n[0]} {le} {ln} {le} 100")
        elif s.type == "List[List[int]]":
            out += [f"{s.h[0]} {le} {ln} {le} 50", f"{s.lo} {le} {'entries' if style == 'cf' else 'every entry'} {le} {s.hi}"]
    return out


def _extra_cons(task: Task, syms: dict, style: str) -> list:
    out = []
    for c in task.cons:
        if re.search(r"<=|==|<", c):
            t = _PH.sub(lambda m: syms[m.group(2)][1] if m.group(1) else syms[m.group(2)][0], c)
            t = t.replace("<=", "\\le" if style == "cf" else "\\leq").replace("==", "=")
            out.append(f"${t}$" if style == "cf" else t)
        else:
            out.append(_fill(Task(task.name, task.params, task.ret, c, task.ref), {}, style, syms))
    return out


def _stdin(r: random.Random, task: Task, o: dict) -> str:
    """A Codeforces statement (t test cases) or, more often as in LiveCodeBench, an AtCoder one (one case)."""
    style = "cf" if r.random() < 0.35 else "atcoder"
    syms = _symbols(task, upper=style == "atcoder")
    name = _pick(r, _NAMES)
    phrase = _fill(task, o, style, syms)
    items = _items(task, syms, style)
    lead = _pick(r, (f"{name} has {items}.", f"{name} wrote down {items}.", f"You are given {items}.",
                     f"{name} found {items} in an old notebook.", f"{name} received {items} as a present."))
    if task.ret == "bool":
        ask = _pick(r, (f"Determine whether {phrase}.", f"{name} wants to know whether {phrase}."))
    else:
        ask = _pick(r, (f"Find {phrase}.", f"{name} asks you to find {phrase}.", f"Compute {phrase}."))
    extra = _extra_cons(task, syms, style)
    if style == "cf":
        return _codeforces(r, task, o, syms, f"{lead} {ask}", extra)
    return _atcoder(r, task, o, syms, f"{lead}\n{ask}", extra)


def _stdin_case(r: random.Random, task: Task, o: dict, style: str) -> tuple:
    """(args, output lines) of a sample case whose output is not an empty line (an empty answer such as '' or
    [] prints nothing visible, which reads as a broken sample)."""
    for _ in range(30):
        a = _draw_args(r, task, o)
        out = _out_lines(task.run(SimpleNamespace(**o), a), task.ret, style)
        if all(out):
            break
    return a, out


_CF_OUT = {"int": "print a single integer — the answer.", "str": "print the resulting string.",
           "bool": 'print "YES" if the condition holds and "NO" if it does not.',
           "List[int]": "print the numbers of the answer in order on one line, separated by spaces.",
           "List[str]": "print the strings of the answer in order on one line, separated by spaces.",
           "Tuple[int, int]": "print the two numbers of the answer separated by a space."}


def _codeforces(r, task, o, syms, stmt, extra) -> str:
    cons = _cons_stdin(task, syms, "cf")
    tmax = _pick(r, ("100", "1000", "10^4"))
    parts, hdr = [], []
    for p, s in task.params:
        sym, ln = syms[p]
        if s.type == "int":
            hdr.append(f"${sym}$")
        elif s.type in ("List[int]", "List[str]") or getattr(s, "pairs", False):
            hdr.append(f"${ln}$")
        elif s.type == "List[List[int]]":
            hdr += ["$h$", "$w$"]
    if hdr:
        what = "a single integer " + hdr[0] if len(hdr) == 1 else "the integers " + ", ".join(hdr[:-1]) + " and " + hdr[-1]
        lim = [c for c in cons if any(h.strip("$") in c.split() for h in hdr)]
        parts.append(f"Each test case starts with a line holding {what}" + (f" (${'$, $'.join(lim)}$)." if lim else "."))
    for p, s in task.params:
        sym, ln = syms[p]
        if s.type == "str" and not parts:
            alone = sum(x.type == "str" for _, x in task.params) == 1
            parts.append(f"{'The only' if alone else 'The first'} line of a test case holds the string ${sym}$, "
                         f"made of {s.what}.")
        elif s.type == "List[int]":
            parts.append(f"The next line contains {ln} integers ${sym}_1, {sym}_2, \\ldots, {sym}_{ln}$ "
                         f"(${s.lo} \\le {sym}_i \\le {s.hi}$).".replace(f" {ln} integers", f" ${ln}$ integers"))
        elif s.type == "str":
            parts.append(f"The next line contains the string ${sym}$, made of {s.what}.")
        elif s.type == "List[str]":
            parts.append(f"Each of the next ${ln}$ lines contains one string of {s.what}.")
        elif s.type == "List[List[int]]":
            parts.append(f"Each of the next ${ln}$ lines contains " + ("two integers." if s.pairs else
                                                                        "$w$ integers, one row of the grid."))
    if extra:
        parts.append("It is guaranteed that " + "; ".join(extra) + ".")
    cases = [_stdin_case(r, task, o, "cf") for _ in range(r.randint(2, 5))]
    ins = [str(len(cases))] + [x for a, _ in cases for x in _in_lines(task, a)]
    outs = [x for _, out in cases for x in out]
    text = (f"{_LCB_HEAD}{stmt}\n\nInput\n\nThe first line holds one integer $t$ ($1 \\le t \\le {tmax}$) "
            f"— how many test cases follow.\n\n" + "\n\n".join(parts) + f"\n\nOutput\n\nFor each test case, "
            f"{_CF_OUT[task.ret]}Sample Input 1:\n" + "\n\n".join(ins) + "\n\n\n\nSample Output 1:\n\n" + "\n".join(outs) + "\n")
    if r.random() < 0.35:
        text += f"\n\nNote\n\nFor the first test case the expected output is {outs[0]}."
    return text + _CF_TAIL


# Our own wording around the samples: the stock AtCoder sentences ("The input is given from Standard Input in
# the following format", "Print the answer.") would share 12-word runs with the evaluation prompts.
_AT_IN = ("Standard Input holds the data laid out like this:", "Read the data from Standard Input, laid out as:",
          "The data arrives on Standard Input in this layout:")
_AT_OUT = {"int": ("Print, on one line, the value asked for.", "Output one integer: the value described above."),
           "str": ("Print the resulting string on one line.", "Output the string described above."),
           "bool": ("Print Yes when the condition holds and No when it fails.",
                    "Output Yes if it does, or No if it does not."),
           "List[int]": ("Print the values of the result in order on one line, separated by spaces.",),
           "List[str]": ("Print the strings of the result in order on one line, separated by spaces.",),
           "Tuple[int, int]": ("Print the two values of the result on one line, separated by a space.",)}


def _atcoder(r, task, o, syms, stmt, extra) -> str:
    hdr, body = [], []
    for p, s in task.params:
        sym, ln = syms[p]
        if s.type == "int":
            hdr.append(sym)
        elif s.type == "List[int]":
            hdr.append(ln)
            body.append(f"{sym}_1 {sym}_2 \\ldots {sym}_{ln}")
        elif s.type == "str":
            body.append(sym)
        elif s.type == "List[str]":
            hdr.append(ln)
            body += [f"{sym}_1", f"{sym}_2", "\\vdots", f"{sym}_{ln}"]
        elif s.pairs:
            hdr.append(ln)
            body += [f"{sym}_{{1,1}} {sym}_{{1,2}}", "\\vdots", f"{sym}_{{{ln},1}} {sym}_{{{ln},2}}"]
        else:
            hdr += [ln, "W"]
            body += [f"{sym}_{{1,1}} \\ldots {sym}_{{1,W}}", "\\vdots", f"{sym}_{{{ln},1}} \\ldots {sym}_{{{ln},W}}"]
    fmt = ([" ".join(hdr)] if hdr else []) + body
    cons = [c for c in _cons_stdin(task, syms, "atcoder")]
    for p, s in task.params:
        if s.type == "str":
            cons.append(f"The length of {syms[p][0]} is from {s.n[0]} to 100; its characters are {s.what}.")
        elif s.type == "List[str]":
            cons.append(f"Each {syms[p][0]}_i consists of {s.what}.")
    cons += extra
    if any(s.type != "str" for _, s in task.params):
        cons.append("Every number in the input is an integer.")
    text = (f"{_LCB_HEAD}{stmt}\n\nInput\n\n{_pick(r, _AT_IN)}\n"
            + "\r\n".join(fmt) + f"\n\nOutput\n\n{_pick(r, _AT_OUT[task.ret])}\n\nConstraints\n\n\n- " + "\n- ".join(cons))
    samples = []
    for i in range(1, r.randint(1, 3) + 1):
        a, out = _stdin_case(r, task, o, "atcoder")
        samples.append(f"Sample Input {i}\n\n" + "\r\n".join(_in_lines(task, a)) + f"\n\nSample Output {i}\n\n"
                       + "\r\n".join(out))
    return text + "\n\n" + "\n\n".join(samples) + _CF_TAIL


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

_BUILDERS = {"humaneval": _humaneval, "mbpp": _mbpp, "leetcode": _leetcode, "stdin": _stdin}
_FLOATY = ("float", "List[float]")


@dataclass(frozen=True)
class Drawn:
    form: str
    task: Task
    opts: dict
    text: str


def _eligible(form: str) -> list:
    if form == "stdin":
        return [t for t in _TASKS if stdin_ok(t)]
    if form == "leetcode":
        return [t for t in _TASKS if t.ret not in _FLOATY]
    return list(_TASKS)


def _draw(r: random.Random) -> Drawn:
    form = r.choices([f for f, _ in _FORMS], [w for _, w in _FORMS])[0]
    task = _pick(r, _ELIGIBLE[form])
    o = _choose_opts(r, task)
    return Drawn(form, task, o, _BUILDERS[form](r, task, o))


_ELIGIBLE = {f: _eligible(f) for f, _ in _FORMS}
_MAX_CHARS = 2000


def draw_algorithm_tasks(n: int, seed: int) -> list[Drawn]:
    """n distinct drawn prompts with what made them (form, task, options): the tests recompute from these."""
    r = random.Random(f"algorithm-code-{seed}")
    out, seen = [], set()
    while len(out) < n:
        d = _draw(r)
        if d.text in seen or len(d.text) > _MAX_CHARS:    # drawn again: a prefix never depends on n
            continue
        seen.add(d.text)
        out.append(d)
    return out


def generate_algorithm_tasks(n: int, seed: int) -> list[str]:
    """n distinct algorithmic programming prompts in the four benchmark forms, deterministic for a seed."""
    return [d.text for d in draw_algorithm_tasks(n, seed)]
