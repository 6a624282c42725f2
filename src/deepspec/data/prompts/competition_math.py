"""Templated competition-style math problems in the register of MATH / MATH-500 (LaTeX in `$...$` and
`\\[...\\]`, common-fraction and radical-form instructions), deterministic from a seed. One function per
template, grouped by MATH subject; every number is drawn so that the problem has a well-defined, clean
answer by construction (roots chosen first, matrices from chosen entries, and so on). The problems are
written from scratch: none is taken from or modelled on a single evaluation problem."""
from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Callable

from .math_problems import _pick

# --------------------------------------------------------------------------------------------------
# Instructions and LaTeX helpers
# --------------------------------------------------------------------------------------------------

# The evaluation wrapper itself: the disjointness check strips it, so using it verbatim teaches the
# drafter the exact continuation the benchmark prompts end with.
_WRAPPER = "Please reason step by step, and put your final answer within \\boxed{}."
_GENERIC = (
    "Put your final answer in \\boxed{}.", "Show your work.", "Justify each step briefly.",
    "Give the final answer in \\boxed{}.", "Explain your reasoning, then state the answer.",
    "Work carefully and box your final answer.", "Write out the key steps before giving the answer.",
)
_FRAC = ("Express your answer as a common fraction.", "Give your answer as a fraction in lowest terms.",
         "Write your answer as a reduced common fraction.")
_RAD = ("Express your answer in simplest radical form.", "Give an exact answer in simplest radical form.")
_PI = ("Express your answer in terms of $\\pi$.", "Give your answer in terms of $\\pi$.",
       "Leave your answer in terms of $\\pi$.")
_PAIR = ("Enter your answer as an ordered pair.", "Write your answer as an ordered pair.")
_INTERVAL = ("Express your answer in interval notation.", "Write the answer using interval notation.")
_EXACT = ("Give an exact answer.", "Your answer should be exact, not a decimal approximation.")


def _ask(r: random.Random, text: str, suffixes: tuple[str, ...] = (), p: float = 0.6) -> str:
    """`text` followed, most of the time, by one of the instructions that fit its answer."""
    return f"{text} {_pick(r, suffixes)}" if suffixes and r.random() < p else text


def _frac_ask(r: random.Random, text: str, value) -> str:
    """Ask for a common fraction only where the answer is not an integer."""
    return _ask(r, text, _FRAC if Fraction(value).denominator != 1 else ())


def _terms(pairs) -> str:
    """LaTeX of a sum of (coefficient, monomial) pairs: `2x - y + 3`, never `+ -` or `1x`."""
    out = []
    for c, v in pairs:
        if c == 0:
            continue
        a = abs(c)
        t = (str(a) if a != 1 or not v else "") + v
        out.append(("-" if c < 0 else "") + t if not out else (" - " if c < 0 else " + ") + t)
    return "".join(out) or "0"


def _mono(var: str, p: int) -> str:
    return "" if p == 0 else var if p == 1 else f"{var}^{p}" if p < 10 else f"{var}^{{{p}}}"


def _poly(coeffs, var: str = "x") -> str:
    """LaTeX of a polynomial from its coefficients, highest degree first."""
    d = len(coeffs) - 1
    return _terms((c, _mono(var, d - i)) for i, c in enumerate(coeffs))


def _fr(q, cmd: str = "frac") -> str:
    """An integer, or `\\frac{p}{q}` with the sign in front."""
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator)
    return f"{'-' if q < 0 else ''}\\{cmd}{{{abs(q.numerator)}}}{{{q.denominator}}}"


def _pi(q) -> str:
    """`q` times pi: `\\pi`, `12\\pi`, `\\frac{5\\pi}{2}`."""
    q = Fraction(q)
    s, a = ("-" if q < 0 else ""), abs(q)
    num = ("" if a.numerator == 1 else str(a.numerator)) + "\\pi"
    if q == 0:
        return "0"
    return s + (num if a.denominator == 1 else f"\\frac{{{num}}}{{{a.denominator}}}")


def _surd(q, m: int) -> str:
    """`q` times the square root of a square-free `m`."""
    q = Fraction(q)
    if m == 1 or q == 0:
        return _fr(q)
    s, a = ("-" if q < 0 else ""), abs(q)
    num = ("" if a.numerator == 1 else str(a.numerator)) + f"\\sqrt{{{m}}}"
    return s + (num if a.denominator == 1 else f"\\frac{{{num}}}{{{a.denominator}}}")


def _cx(a: int, b: int) -> str:
    """The complex number a + bi."""
    return _terms([(a, ""), (b, "i")]) if a else _terms([(b, "i")])


def _pmat(rows, env: str = "pmatrix") -> str:
    body = " \\\\ ".join(" & ".join(str(v) for v in row) for row in rows)
    return f"\\begin{{{env}}} {body} \\end{{{env}}}"


def _vec(xs) -> str:
    return _pmat([[_fr(x)] for x in xs])


def _ord(k: int) -> str:
    suf = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"${k}^{{\\text{{{suf}}}}}$"


def _nz(r: random.Random, lo: int, hi: int) -> int:
    v = 0
    while v == 0:
        v = r.randint(lo, hi)
    return v


# --------------------------------------------------------------------------------------------------
# Prealgebra
# --------------------------------------------------------------------------------------------------

def _c_percent(r: random.Random) -> str:
    p = r.choice([5, 8, 12, 15, 20, 25, 30, 35, 40, 45, 60, 65, 75, 80, 90, 120, 125, 150])
    base = r.randint(1, 40) * (100 // math.gcd(p, 100))
    part = base * p // 100
    q = r.choice([10, 20, 25, 40, 50])
    d = r.choice([5, 10, 15, 20, 25, 30, 40, 60])
    orig = r.randint(1, 30) * (100 // math.gcd(100 - d, 100))
    item = _pick(r, ("jacket", "bicycle", "lamp", "pair of boots", "backpack", "desk chair", "blender", "tent"))
    return _pick(r, [
        f"What is ${p}\\%$ of ${base}$?",
        f"The number ${part}$ is ${p}\\%$ of what number?",
        f"What percent of ${base}$ is ${part}$?",
        f"A number is increased by ${p}\\%$, and the result is then decreased by ${q}\\%$. The final number is what "
        f"percent of the original number?",
        f"After a ${d}\\%$ discount, the sale price of a {item} is $\\${orig * (100 - d) // 100}$. What was the "
        f"original price, in dollars?",
    ])


def _c_ratio(r: random.Random) -> str:
    a, b = r.sample(range(1, 10), 2)
    g = math.gcd(a, b)
    a, b = a // g, b // g
    k = r.randint(2, 25)
    x, y, where, what = _pick(r, (("boys", "girls", "a chess club", "members"),
                                  ("red marbles", "blue marbles", "a jar", "marbles"),
                                  ("fiction books", "nonfiction books", "a library cart", "books"),
                                  ("adults", "children", "a theater audience", "people"),
                                  ("cats", "dogs", "an animal shelter", "animals"),
                                  ("oak trees", "maple trees", "a park", "trees")))
    p, q, s, t = (r.randint(1, 9) for _ in range(4))
    xz = Fraction(p, q) * Fraction(s, t)
    return _pick(r, [
        f"In {where}, the ratio of {x} to {y} is ${a}:{b}$. If there are ${(a + b) * k}$ {what} in total, how many "
        f"are {y}?",
        f"Two positive numbers are in the ratio ${a}:{b}$ and their sum is ${(a + b) * k}$. What is the positive "
        f"difference between the two numbers?",
        _frac_ask(r, f"If $\\frac{{x}}{{y}} = {_fr(Fraction(p, q))}$ and $\\frac{{y}}{{z}} = {_fr(Fraction(s, t))}$, "
                     f"what is the value of $\\frac{{x}}{{z}}$?", xz),
    ])


def _c_polygon_angles(r: random.Random) -> str:
    n = r.choice([3, 4, 5, 6, 8, 9, 10, 12, 15, 18, 20, 24, 30, 36, 40, 45, 60, 72, 90, 120, 180])
    m = r.randint(5, 40)
    return _pick(r, [
        f"What is the degree measure of one interior angle of a regular polygon with ${n}$ sides?",
        f"Each exterior angle of a regular polygon measures ${360 // n}^\\circ$. How many sides does the polygon have?",
        f"The measure of every interior angle of a regular polygon is ${180 - 360 // n}^\\circ$. How many sides "
        f"does it have?",
        f"What is the sum, in degrees, of the measures of the interior angles of a convex polygon with ${m}$ sides?",
        f"How many diagonals can be drawn in a convex polygon with ${m}$ sides?",
        f"The interior angles of a convex polygon add up to ${180 * (m - 2)}^\\circ$. How many sides does the "
        f"polygon have?",
    ])


def _c_mean(r: random.Random) -> str:
    vals = [r.randint(1, 40) for _ in range(4)]
    x = r.randint(1, 60)
    m = Fraction(sum(vals) + x, 5)
    while m.denominator != 1:
        x += 1
        m = Fraction(sum(vals) + x, 5)
    k, avg, delta = r.randint(3, 9), r.randint(70, 90), r.choice([-3, -2, -1, 1, 2])
    if not 0 <= avg + (k + 1) * delta <= 100:
        delta = -1
    a, b, xx = r.randint(1, 12), r.randint(1, 12), r.randint(2, 15)
    c = r.randint(1, 12)
    c += -(6 * xx + a - b + c) % 3
    mean3 = (6 * xx + a - b + c) // 3
    return _pick(r, [
        f"The average of the five numbers ${', '.join(map(str, vals))}$, and $x$ is ${m}$. What is $x$?",
        f"A student's average on ${k}$ quizzes is ${avg}$. After one more quiz the average becomes "
        f"${avg + delta}$. What score did the student get on the last quiz?",
        f"The three expressions $x + {a}$, $2x - {b}$ and $3x + {c}$ have an average of ${mean3}$. Find $x$.",
        f"What is the median of the numbers ${', '.join(map(str, r.sample(range(1, 99), 2 * r.randint(2, 4))))}$?",
    ])


def _c_fraction_arith(r: random.Random) -> str:
    fs = [Fraction(r.randint(1, 11), r.randint(2, 12)) for _ in range(3)]
    cmd = r.choice(["frac", "frac", "dfrac"])
    a, b, c = (_fr(f, cmd) for f in fs)
    k, whole = r.randint(2, 3), r.randint(2, 9) * 60
    ops = [
        (f"Compute ${a} + {b} - {c}$.", fs[0] + fs[1] - fs[2]),
        (f"Find ${a} \\div {b} \\cdot {c}$.", fs[0] / fs[1] * fs[2]),
        (f"Simplify ${a} \\cdot {b} + {c}$.", fs[0] * fs[1] + fs[2]),
        (f"What is $\\left({a}\\right)^{{-{k}}}$?", fs[0] ** -k),
        (f"What is ${a}$ of ${b}$ of ${whole}$?", fs[0] * fs[1] * whole),
    ]
    return _frac_ask(r, *_pick(r, ops))


def _c_order_of_operations(r: random.Random) -> str:
    a, b, c, e, k = (r.randint(2, 15) for _ in range(5))
    d = e * r.randint(2, 12)
    q, s = r.randint(2, 9), r.randint(2, 9)
    return _pick(r, [
        f"What is the value of ${a} + {b} \\cdot {c} - {d} \\div {e}$?",
        f"Evaluate $({a} - {b})^2 \\cdot {c} - {k}^2 + {e}$.",
        f"Compute $[{q * s + b * c} - ({b} \\cdot {c})] \\div {s} + {a}^2$.",
        f"Find $-{a}^2 + (-{q})^3 - {d} \\div (-{e})$.",
        f"What is ${a} \\cdot {b} - {c} \\cdot {e} + {k}^3 \\div {k}$?",
    ])


def _c_repeating_decimal(r: random.Random) -> str:
    def block():
        while True:
            s = "".join(str(r.randint(0, 9)) for _ in range(r.randint(1, 3)))
            if set(s) not in ({"0"}, {"9"}):
                return s
    pre = "".join(str(r.randint(0, 9)) for _ in range(r.choice([0, 0, 1, 2])))
    w = r.choice([0, 0, 0, 1, 2, 3])
    x, y = block(), block()
    dec = f"{w}.{pre}\\overline{{{x}}}"
    return _pick(r, [
        _ask(r, f"Write ${dec}$ as a fraction in lowest terms.", _FRAC),
        f"Add $0.\\overline{{{x}}}$ and $0.\\overline{{{y}}}$, writing the result as a common fraction.",
        f"When ${dec}$ is written as a fraction $\\frac{{a}}{{b}}$ in lowest terms with $b > 0$, what is $b$?",
        _ask(r, f"Compute the product of ${dec}$ and ${r.randint(2, 12)}$.", _FRAC),
    ])


def _c_unit_conversion(r: random.Random) -> str:
    k, a, b = r.randint(2, 40), r.randint(2, 15), r.randint(2, 15)
    q = r.choice([2, 3, 4, 5, 6, 10, 12, 15, 20])
    p = r.randint(1, q - 1)
    v = 15 * r.randint(1, 6)
    return _pick(r, [
        f"How many square feet are in ${k}$ square yards?",
        f"A box holds ${27 * k}$ cubic feet of sand. How many cubic yards is that?",
        f"A rectangular rug measures ${a}$ feet by ${b}$ feet. What is its area in square inches?",
        f"How many minutes are there in ${_fr(Fraction(p, q))}$ of an hour?",
        f"A car travels at ${v}$ miles per hour. How many feet does it travel in one second? (There are $5280$ feet "
        f"in a mile.)",
        f"How many cubic inches are in ${k}$ cubic feet?",
    ])


def _c_exponent_arith(r: random.Random) -> str:
    a, b, c = r.randint(3, 9), r.randint(3, 9), r.randint(2, 5)
    m, n, k, j = r.randint(2, 6), r.randint(2, 5), r.randint(2, 9), r.randint(2, 9)
    base, qq, pp = r.randint(2, 6), r.randint(2, 3), _nz(r, -4, 4)
    pp += pp == qq
    p, q = r.sample(range(2, 8), 2)
    e1 = r.randint(4, 9)
    e2 = r.randint(1, e1 - 2)
    v = Fraction(base) ** pp
    return _pick(r, [
        f"Compute $\\frac{{2^{{{a}}} \\cdot 3^{{{b}}}}}{{6^{{{c}}}}}$.",
        f"Simplify $(x^{{{m}}})^{{{n}}} \\cdot x^{{{k}}} \\div x^{{{j}}}$ and write it as a single power of $x$.",
        _frac_ask(r, f"Evaluate ${base ** qq}^{{{_fr(Fraction(pp, qq))}}}$.", v),
        _frac_ask(r, f"What is $\\left(\\frac{{{p}}}{{{q}}}\\right)^{{{e1}}} \\cdot "
                     f"\\left(\\frac{{{q}}}{{{p}}}\\right)^{{{e1 - e2}}}$?", Fraction(p, q) ** e2),
    ])


def _c_multiples_count(r: random.Random) -> str:
    k = r.randint(3, 40)
    lo, hi = r.randint(1, 300), r.randint(400, 3000)
    a, b = r.sample(range(2, 16), 2)
    return _pick(r, [
        f"How many positive multiples of ${k}$ are less than ${hi}$?",
        f"How many integers between ${lo}$ and ${hi}$, inclusive, are divisible by ${k}$?",
        f"How many positive three-digit integers are divisible by both ${a}$ and ${b}$?",
        f"How many positive integers less than ${hi}$ are divisible by ${a}$ but not by ${b}$?",
    ])


# --------------------------------------------------------------------------------------------------
# Algebra
# --------------------------------------------------------------------------------------------------

def _c_quadratic_roots(r: random.Random) -> str:
    p, q = r.sample(range(-12, 13), 2)
    a = r.choice([1, 1, 1, 2, 3])
    eq = _poly([a, -a * (p + q), a * p * q])
    rhs = _terms([(a * (p + q), "x"), (-a * p * q, "")])
    return _pick(r, [
        f"Find the sum of all values of $x$ such that ${eq} = 0$.",
        f"What is the product of the two solutions of ${eq} = 0$?",
        f"The equation ${eq} = 0$ has two solutions. What is the positive difference between them?",
        f"Solve ${eq} = 0$. Enter all the solutions, separated by commas.",
        f"What is the largest value of $x$ for which ${_terms([(a, 'x^2')])} = {rhs}$?",
    ])


def _c_factor_quadratic(r: random.Random) -> str:
    m, n = r.sample(range(-15, 16), 2)
    m, n = max(m, n), min(m, n)
    expr = _poly([1, m + n, m * n])
    big, small = r.randint(40, 150), r.randint(5, 39)
    return _pick(r, [
        f"Factor the expression ${expr}$.",
        f"If ${expr} = (x {'+' if m >= 0 else '-'} a)(x {'+' if n >= 0 else '-'} b)$ where $a$ and $b$ are "
        f"nonnegative integers, what is $a + b$?",
        f"Compute ${big}^2 - {small}^2$ without a calculator.",
        f"The expression ${expr}$ can be written as $(x + p)(x + q)$ with integers $p > q$. What is $2p - q$?",
    ])


def _c_linear_system(r: random.Random) -> str:
    x, y = r.randint(-9, 9), r.randint(-9, 9)
    cs = [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7]
    while True:
        a, b, c, d = (r.choice(cs) for _ in range(4))
        if a * d - b * c:
            break
    e1, e2 = _terms([(a, "x"), (b, "y")]), _terms([(c, "x"), (d, "y")])
    s1, s2 = a * x + b * y, c * x + d * y
    t1, t2 = r.randint(1, 5), r.randint(1, 5)
    return _pick(r, [
        f"If ${e1} = {s1}$ and ${e2} = {s2}$, what is the value of ${_terms([(t1, 'x'), (t2, 'y')])}$?",
        _ask(r, f"Solve the following system for $x$ and $y$:\n\\begin{{align*}}\n{e1} &= {s1}, \\\\\n"
                f"{e2} &= {s2}.\n\\end{{align*}}", ("Enter your answer as an ordered pair $(x, y)$.",), 0.8),
        f"Find the point of intersection of the lines ${e1} = {s1}$ and ${e2} = {s2}$.",
        f"The sum of two numbers is ${x + y + 20}$ and their difference is ${abs(x - y)}$. What is the larger "
        f"number?",
    ])


def _c_composition(r: random.Random) -> str:
    while True:
        specs = []
        for _ in range(2):
            kind = r.randrange(3)
            a, b, c = _nz(r, -5, 6), r.randint(-9, 9), r.randint(-9, 9)
            if kind == 0:
                specs.append((_poly([a, b]), lambda t, a=a, b=b: a * t + b))
            elif kind == 1:
                specs.append((_poly([1, b, c]), lambda t, b=b, c=c: t * t + b * t + c))
            else:
                k = abs(a) + 1
                specs.append((f"\\frac{{{k}}}{{{_poly([1, c])}}}", lambda t, k=k, c=c: Fraction(k) / (t + c)))
        (ft, f), (gt, g) = specs
        x0 = r.randint(-5, 6)
        form = r.randrange(4)
        try:
            v = (f(g(Fraction(x0))) if form in (0, 3) else g(f(Fraction(x0))) if form == 1 else f(f(Fraction(x0))))
        except ZeroDivisionError:
            continue
        break
    defs = f"$f(x) = {ft}$ and $g(x) = {gt}$"
    return _frac_ask(r, [
        f"Let {defs}. What is $f(g({x0}))$?",
        f"If {defs}, find $g(f({x0}))$.",
        f"Given $f(x) = {ft}$, compute $f(f({x0}))$.",
        f"Suppose {defs}. Evaluate $f(g(x))$ at $x = {x0}$.",
    ][form], v)


def _c_domain(r: random.Random) -> str:
    p, q = r.sample(range(-10, 11), 2)
    a, b = r.randint(1, 9), r.randint(-20, 20)
    lo, hi = sorted(r.sample(range(-15, 16), 2))
    c, h = r.randint(1, 12), r.randint(-9, 9)
    den = _poly([1, -(p + q), p * q])
    return _pick(r, [
        _ask(r, f"What is the domain of the function $f(x) = \\frac{{{_poly([1, r.randint(-9, 9)])}}}{{{den}}}$?",
             _INTERVAL, 0.8),
        f"Find the sum of all real numbers $x$ that are not in the domain of $g(x) = \\frac{{{r.randint(1, 9)}}}"
        f"{{{den}}}$.",
        _frac_ask(r, f"What is the smallest real number $x$ in the domain of $f(x) = \\sqrt{{{_poly([a, -b])}}}$?",
                  Fraction(b, a)),
        _ask(r, f"Find the domain of $h(x) = \\sqrt{{{_poly([1, -lo])}}} + \\sqrt{{{_poly([-1, hi])}}}$.",
             _INTERVAL, 0.8),
        f"How many integers are in the domain of $k(x) = \\sqrt{{{c} - |x {'-' if h >= 0 else '+'} {abs(h)}|}}$?",
    ])


def _c_slope(r: random.Random) -> str:
    x1, x2 = r.sample(range(-10, 11), 2)
    y1, y2 = r.randint(-10, 10), r.randint(-10, 10)
    a, b, c = _nz(r, -9, 9), _nz(r, -9, 9), r.randint(-20, 20)
    m, k = r.randint(-6, 6), r.randint(-10, 10)
    px, py = r.randint(-8, 8), r.randint(-8, 8)
    line = f"{_terms([(a, 'x'), (b, 'y')])} = {c}"
    return _pick(r, [
        _frac_ask(r, f"What is the slope of the line through the points $({x1}, {y1})$ and $({x2}, {y2})$?",
                  Fraction(y2 - y1, x2 - x1)),
        _frac_ask(r, f"What is the slope of a line perpendicular to the line ${line}$?", Fraction(b, a)),
        f"The line through $({x1}, {m * x1 + k})$ and $({x2}, {m * x2 + k})$ has equation $y = mx + b$. What is "
        f"$m + b$?",
        f"A line is parallel to $y = {_poly([m or 2, k])}$ and passes through the point $({px}, {py})$. What is its "
        f"$y$-intercept?",
        _frac_ask(r, f"At what $x$-coordinate does the line ${line}$ cross the $x$-axis?", Fraction(c, a)),
    ])


def _c_distance_midpoint(r: random.Random) -> str:
    x1, y1, x2, y2 = (r.randint(-12, 12) for _ in range(4))
    if (x1, y1) == (x2, y2):
        x2 += r.randint(1, 5)
    d2 = (x2 - x1) ** 2 + (y2 - y1) ** 2
    sq = math.isqrt(d2) ** 2 == d2
    z1, z2 = r.randint(-6, 6), r.randint(-6, 6)
    return _pick(r, [
        _ask(r, f"What is the distance between the points $({x1}, {y1})$ and $({x2}, {y2})$?", () if sq else _RAD),
        _ask(r, f"Find the midpoint of the segment with endpoints $({x1}, {y1})$ and $({x2}, {y2})$.", _PAIR),
        f"One endpoint of a line segment is $({x1}, {y1})$ and its midpoint is $({x2}, {y2})$. What is the sum of the "
        f"coordinates of the other endpoint?",
        _ask(r, f"How far is the point $({x1}, {y1}, {z1})$ from the point $({x2}, {y2}, {z2})$?",
             () if math.isqrt(d2 + (z2 - z1) ** 2) ** 2 == d2 + (z2 - z1) ** 2 else _RAD),
    ])


def _c_arithmetic_sequence(r: random.Random) -> str:
    a, d, n = r.randint(-20, 30), _nz(r, -6, 9), r.randint(8, 60)
    last = a + (n - 1) * d
    i, j = sorted(r.sample(range(1, 12), 2))
    k = r.randint(13, 60)
    seq = f"{a}, {a + d}, {a + 2 * d}, \\ldots, {last}"
    return _pick(r, [
        f"What is the sum of the arithmetic sequence ${seq}$?",
        f"How many numbers are in the list ${seq}$?",
        f"The {_ord(i)} and {_ord(j)} terms of an arithmetic sequence are ${a + (i - 1) * d}$ and "
        f"${a + (j - 1) * d}$, respectively. What is the {_ord(k)} term?",
        f"Compute the sum of the first ${n}$ terms of the arithmetic sequence whose first term is ${a}$ and whose "
        f"common difference is ${d}$.",
    ])


def _c_geometric_sequence(r: random.Random) -> str:
    a = Fraction(r.randint(1, 12) * r.choice([1, 1, -1]), r.choice([1, 1, 2, 3]))
    ratio = Fraction(_nz(r, -3, 3), r.choice([1, 2, 3])) if r.random() < 0.7 else Fraction(r.randint(2, 3))
    if ratio in (1, -1):
        ratio = Fraction(2)
    k, n = r.randint(5, 9), r.randint(4, 7)
    terms = ", ".join(_fr(a * ratio ** i) for i in range(3))
    b, rr = r.randint(1, 6), _nz(r, -3, 4)
    if rr == 1:
        rr = 3
    return _pick(r, [
        _frac_ask(r, f"What is the {_ord(k)} term of the geometric sequence ${terms}, \\ldots$?",
                  a * ratio ** (k - 1)),
        f"The second term of a geometric sequence is ${b * rr}$ and the fifth term is ${b * rr ** 4}$. What is the "
        f"common ratio?",
        _frac_ask(r, f"Find the sum of the first ${n}$ terms of the geometric sequence ${terms}, \\dots$.",
                  sum(a * ratio ** i for i in range(n))),
    ])


def _c_exponent_equation(r: random.Random) -> str:
    bases = {2: (2, 4, 8, 16, 32), 3: (3, 9, 27, 81), 5: (5, 25, 125)}
    B = r.choice(list(bases))
    (i, u), (j, w) = r.sample(list(enumerate(bases[B], 1)), 2)
    c, e = r.randint(-5, 5), r.randint(-5, 5)
    x = Fraction(j * e - i * c, i - j)
    f = r.randint(2, 5)
    t = r.randint(2, 6)
    lhs = f"{u}^{{{_poly([1, c])}}}"
    rhs = f"{w}^{{{_poly([1, e])}}}"
    return _pick(r, [
        _frac_ask(r, f"Solve for $x$: ${lhs} = {rhs}$.", x),
        f"If ${B}^{{x}} = {B ** t}$, what is the value of ${B ** 2}^{{x - 1}}$?",
        _frac_ask(r, f"Find $x$ such that ${u}^{{x}} \\cdot {w}^{{{f}}} = {B}^{{{i * j + abs(c)}}}$.",
                  Fraction(i * j + abs(c) - j * f, i)),
    ])


def _c_absolute_value(r: random.Random) -> str:
    a, b, c = _nz(r, -6, 6), r.randint(-15, 15), r.randint(1, 20)
    h, k = r.randint(-9, 9), r.randint(1, 12)
    lin = _poly([a, b])
    return _pick(r, [
        _frac_ask(r, f"What is the sum of all solutions of $|{lin}| = {c}$?", Fraction(-2 * b, a)),
        _frac_ask(r, f"Find the product of all values of $x$ satisfying $|{lin}| = {c}$.",
                  Fraction(b * b - c * c, a * a)),
        f"How many integers $x$ satisfy $|{_poly([1, -h])}| \\le {k}$?",
        _ask(r, f"Solve the inequality $|{lin}| < {c}$.", _INTERVAL, 0.8),
        f"How many integers $n$ satisfy $|{_poly([1, -h], 'n')}| < {k}$?",
    ])


def _c_vertex(r: random.Random) -> str:
    a, h, k = _nz(r, -4, 4), r.randint(-9, 9), r.randint(-20, 20)
    f = _poly([a, -2 * a * h, a * h * h + k])
    return _pick(r, [
        _ask(r, f"The graph of $y = {f}$ is a parabola. What are the coordinates of its vertex?", _PAIR),
        f"What is the {'minimum' if a > 0 else 'maximum'} value of ${f}$ over all real numbers $x$?",
        f"The vertex of the parabola $y = {f}$ is $(p, q)$. What is $p + q$?",
        f"For what value of $x$ does the expression ${f}$ attain its {'least' if a > 0 else 'greatest'} value?",
    ])


def _c_inverse_function(r: random.Random) -> str:
    a, b, t = _nz(r, -7, 7), r.randint(-15, 15), r.randint(-8, 8)
    if a == 1:
        a = 3
    c = r.randint(2, 6)
    k, s = r.randint(1, 12), r.randint(-9, 9)
    w = r.randint(-20, 20)
    v = Fraction(Fraction(w - b, a) - b, a)
    return _pick(r, [
        f"If $f(x) = {_poly([a, b])}$, what is $f^{{-1}}({a * t + b})$?",
        f"Let $g(x) = \\frac{{{_poly([1, b])}}}{{{c}}}$. Find $g^{{-1}}({t})$.",
        f"If $h(x) = {_poly([1, 0, 0, s])}$, what is $h^{{-1}}({t ** 3 + s})$?",
        _frac_ask(r, f"Let $f(x) = {_poly([a, b])}$. Compute $f^{{-1}}(f^{{-1}}({w}))$.", v),
        _frac_ask(r, f"If $f(x) = \\frac{{{k}}}{{{_poly([1, -s])}}}$, for what value of $x$ is $f^{{-1}}(x) = "
                     f"{s + t if t else s + 1}$?", Fraction(k, t if t else 1)),
    ])


def _c_radicals(r: random.Random) -> str:
    m = r.choice([2, 3, 5, 6, 7, 10, 11, 13, 14, 15, 17, 19, 21, 22])
    k1, k2, k3 = r.sample(range(2, 11), 3)
    a, b = r.randint(2, 30), r.choice([2, 3, 5, 6, 7, 10, 11, 12, 15, 18, 20])
    c = r.randint(1, 6)
    while c * c == b:
        c += 1
    cube = r.randint(2, 6)
    return _pick(r, [
        _ask(r, f"Simplify $\\sqrt{{{k1 * k1 * m}}}$.", _RAD),
        _ask(r, f"Simplify $\\sqrt{{{k1 * k1 * m}}} + \\sqrt{{{k2 * k2 * m}}} - \\sqrt{{{k3 * k3 * m}}}$.", _RAD),
        _ask(r, f"Rationalize the denominator of $\\frac{{{a}}}{{\\sqrt{{{b}}}}}$.", _RAD, 0.4),
        _ask(r, f"Rationalize the denominator: $\\frac{{{c + 1}}}{{\\sqrt{{{b}}} - {c}}}$.", _RAD, 0.4),
        f"Simplify $\\sqrt[3]{{{cube ** 3 * m}}}$.",
        _ask(r, f"Simplify $\\sqrt{{{k1 * m}}} \\cdot \\sqrt{{{k2 * m}}}$.", _RAD),
    ])


def _c_rational_expression(r: random.Random) -> str:
    p, q, s = r.sample(range(-9, 10), 3)
    num, den = _poly([1, -(p + q), p * q]), _poly([1, -(p + s), p * s])
    t = r.randint(-9, 9)
    while t in (p, s):
        t += 1
    dbl = r.random() < 0.3
    den2 = _poly([1, -2 * p, p * p]) if dbl else den
    return _pick(r, [
        f"Simplify $\\frac{{{num}}}{{{den}}}$.",
        f"For how many real values of $x$ is $\\frac{{{_poly([1, -q])}}}{{{den2}}}$ undefined?",
        _frac_ask(r, f"What is the value of $\\frac{{{num}}}{{{den}}}$ when $x = {t}$?", Fraction(t - q, t - s)),
        f"What is the value of $\\frac{{x^2 - {p * p}}}{{{_poly([1, -p])}}}$ when $x = {t}$?" if p else
        f"What is the value of $\\frac{{x^2 - {q * q}}}{{{_poly([1, -q])}}}$ when $x = {t + (t == q)}$?",
    ])


def _c_rational_equation(r: random.Random) -> str:
    a, b = r.sample(range(1, 10), 2)
    p, q = r.sample(range(-9, 10), 2)
    c = r.choice([2, 3, 4, 5, -1, -2, -3])
    s = r.randint(-9, 9)
    while (s + c * q) == q * (c - 1):
        s += 1
    k, m = r.sample(range(2, 20), 2)
    return _pick(r, [
        _frac_ask(r, f"Solve for $x$: $\\frac{{{a}}}{{{_poly([1, -p])}}} = \\frac{{{b}}}{{{_poly([1, -q])}}}$.",
                  Fraction(a * q - b * p, a - b)),
        _frac_ask(r, f"Find all $x$ such that $\\frac{{{_poly([1, s])}}}{{{_poly([1, -q])}}} = {c}$.",
                  Fraction(s + c * q, c - 1)),
        _frac_ask(r, f"If $\\frac{{1}}{{x}} + \\frac{{1}}{{{k}}} = \\frac{{1}}{{{m}}}$, what is $x$?",
                  Fraction(k * m, k - m)),
    ])


def _piece(lines) -> str:
    body = " \\\\\n".join(f"{e} & \\text{{if }} {cond}" for e, cond in lines)
    return f"\\[f(x) = \\left\\{{\n\\begin{{array}}{{cl}}\n{body}.\n\\end{{array}}\n\\right.\\]"


def _c_piecewise(r: random.Random) -> str:
    a, b, c = _nz(r, -5, 5), r.randint(-9, 9), r.randint(-4, 4)
    d, e = r.randint(-6, 6), r.randint(-9, 9)
    lo, hi = _poly([a, b]), _poly([1, d, e])
    f = _piece([(lo, f"x < {c}"), (hi, f"x \\ge {c}")])
    u, v = r.randint(-8, c - 1), r.randint(c, 8)
    cc = _nz(r, -4, 4)
    g = _piece([(_terms([(1, "ax"), (b, "")]), f"x > {cc}"), (_poly([1, 0, -e]), f"x \\le {cc}")])
    return _pick(r, [
        f"Let {f}Find $f({u}) + f({v})$.",
        f"Define {f}What is $f(f({u}))$?",
        _frac_ask(r, f"Let {g}Find $a$ if the graph of $y = f(x)$ has no breaks, i.e. $f$ is continuous.",
                  Fraction(cc * cc - e - b, cc)),
        f"For the function {f}compute $f({v}) - f({u})$.",
    ])


def _c_sigma_sum(r: random.Random) -> str:
    a, b, n = _nz(r, -5, 6), r.randint(-9, 9), r.randint(5, 40)
    m = r.randint(2, 10)
    k = r.choice([1, 2, 3])
    return _pick(r, [
        f"Compute $\\sum_{{k=1}}^{{{n}}} ({_poly([a, b], 'k')})$.",
        f"Evaluate $\\sum_{{k={m}}}^{{{m + n}}} k^2$.",
        _ask(r, f"Find the value of $\\sum_{{k=1}}^{{{n}}} \\frac{{1}}{{k(k+{k})}}$.", _FRAC, 0.8),
        f"What is $\\displaystyle\\sum_{{j=0}}^{{{n % 9 + 3}}} {m}^j$?",
    ])


# --------------------------------------------------------------------------------------------------
# Number theory
# --------------------------------------------------------------------------------------------------

def _c_power_mod(r: random.Random) -> str:
    a, b, k, j, m = r.randint(2, 40), r.randint(2, 40), r.randint(10, 400), r.randint(10, 400), r.randint(4, 13)
    return _pick(r, [
        f"What is the remainder when ${a}^{{{k}}}$ is divided by ${m}$?",
        f"Find the remainder when ${a}^{{{k}}} + {b}^{{{j}}}$ is divided by ${m}$.",
        f"What integer $n$ with $0 \\le n < {m}$ satisfies $n \\equiv {a}^{{{k}}} \\pmod{{{m}}}$?",
        f"Compute ${a}^{{{k}}} \\cdot {b}^{{{j}}}$ modulo ${m}$.",
    ])


def _c_divisors(r: random.Random) -> str:
    while True:
        ps = r.sample([2, 3, 5, 7, 11, 13], r.randint(1, 3))
        es = [r.randint(1, 5) for _ in ps]
        n = math.prod(p ** e for p, e in zip(ps, es))
        if 12 <= n <= 200000:
            break
    p = r.choice(ps)
    return _pick(r, [
        f"How many positive divisors does ${n}$ have?",
        f"What is the sum of all positive divisors of ${n}$?",
        f"How many of the positive divisors of ${n}$ are odd?",
        f"How many positive divisors of ${n}$ are perfect squares?",
        f"How many positive divisors of ${n}$ are multiples of ${p}$?",
    ])


def _c_gcd_lcm(r: random.Random) -> str:
    g = r.randint(2, 40)
    a, b = r.sample(range(2, 25), 2)
    c = r.randint(2, 25)
    A, B, C = g * a, g * b, g * c
    return _pick(r, [
        f"What is the greatest common divisor of ${A}$ and ${B}$?",
        f"Find the least common multiple of ${A}$ and ${B}$.",
        f"What is the sum of the greatest common divisor and the least common multiple of ${A}$ and ${B}$?",
        f"Find $\\gcd({A}, {B}, {C})$.",
        f"Compute $\\mathop{{\\text{{lcm}}}}[{a}, {b}, {c}]$.",
    ])


def _digits(n: int, b: int) -> str:
    out = ""
    while n:
        out = "0123456789"[n % b] + out
        n //= b
    return out or "0"


def _c_base_conversion(r: random.Random) -> str:
    b = r.randint(2, 9)
    n, m = r.randint(20, 3000), r.randint(20, 3000)
    n, m = max(n, m), min(n, m)
    dn, dm = _digits(n, b), _digits(m, b)
    c = r.choice([x for x in range(2, 10) if x != b])
    return _pick(r, [
        f"Express ${dn}_{{{b}}}$ in base $10$.",
        f"Convert ${n}_{{10}}$ to base ${b}$.",
        f"Compute ${dn}_{{{b}}} + {dm}_{{{b}}}$. Express your answer in base ${b}$.",
        f"Find ${dn}_{{{b}}} - {dm}_{{{b}}}$ and write the answer in base ${b}$.",
        f"Write ${dn}_{{{b}}}$ in base ${c}$.",
    ])


def _c_units_digit(r: random.Random) -> str:
    a, b, k, j = r.randint(2, 99), r.randint(2, 99), r.randint(5, 3000), r.randint(5, 3000)
    n = r.randint(5, 40)
    return _pick(r, [
        f"What is the units digit of ${a}^{{{k}}}$?",
        f"Determine the units digit of ${a}^{{{k}}} + {b}^{{{j}}}$.",
        f"What is the tens digit of ${a}^{{{k}}}$?",
        f"What is the units digit of the product of all odd integers from $1$ to ${2 * n + 1}$ that are not "
        f"multiples of $5$?",
    ])


def _c_modular_inverse(r: random.Random) -> str:
    m = r.choice([7, 9, 11, 13, 14, 15, 16, 17, 19, 21, 23, 25, 27, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71])
    a = r.choice([x for x in range(2, m) if math.gcd(x, m) == 1])
    b = r.randint(1, m - 1)
    return _pick(r, [
        f"Find ${a}^{{-1}} \\pmod{{{m}}}$, as a residue between $0$ and ${m - 1}$ inclusive.",
        f"What is the smallest positive integer $x$ such that ${a}x \\equiv {b} \\pmod{{{m}}}$?",
        f"Find the integer $n$ with $0 \\le n < {m}$ such that ${a}n \\equiv {b} \\pmod{{{m}}}$.",
        f"What is the multiplicative inverse of ${a}$ modulo ${m}$? Give a residue from $0$ to ${m - 1}$.",
    ])


def _c_crt(r: random.Random) -> str:
    while True:
        m1, m2 = r.sample(range(3, 14), 2)
        if math.gcd(m1, m2) == 1:
            break
    r1, r2 = r.randint(0, m1 - 1), r.randint(0, m2 - 1)
    thing = _pick(r, ("marbles", "coins", "cookies", "stamps", "pencils", "beads"))
    return _pick(r, [
        f"What is the least positive integer $n$ such that $n$ leaves remainder ${r1}$ on division by ${m1}$ and "
        f"remainder ${r2}$ on division by ${m2}$?",
        f"Find the smallest three-digit integer $n$ with $n \\equiv {r1} \\pmod{{{m1}}}$ and "
        f"$n \\equiv {r2} \\pmod{{{m2}}}$.",
        f"A jar holds fewer than ${m1 * m2}$ {thing}. Split into groups of ${m1}$, ${r1}$ are left over; split "
        f"into groups of ${m2}$, ${r2}$ are left over. How many {thing} are in the jar, if it is not empty?"
        if r1 or r2 else f"What is the least integer greater than ${r.randint(50, 400)}$ that is divisible by both "
        f"${m1}$ and ${m2}$?",
    ])


def _c_factorial_zeros(r: random.Random) -> str:
    n, p = r.randint(10, 2000), r.choice([2, 3, 5, 7])
    return _pick(r, [
        f"How many zeros are at the end of the decimal representation of ${n}!$?",
        f"What is the largest integer $k$ such that ${p}^k$ divides ${n}!$?",
        f"When ${n}!$ is written out in full, how many consecutive zeros does it end with?",
    ])


def _c_prime_factors(r: random.Random) -> str:
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101]
    while True:
        fs = [r.choice(primes) for _ in range(r.randint(2, 5))]
        n = math.prod(fs)
        if 100 <= n <= 10 ** 6:
            break
    return _pick(r, [
        f"What is the largest prime factor of ${n}$?",
        f"Find the sum of the distinct prime factors of ${n}$.",
        f"How many distinct prime numbers divide ${n}$?",
        f"What is the smallest prime that divides ${n}$ and the largest prime that divides it? Give their product.",
    ])


# --------------------------------------------------------------------------------------------------
# Counting and probability
# --------------------------------------------------------------------------------------------------

def _c_binomial(r: random.Random) -> str:
    n = r.randint(6, 40)
    k = r.randint(2, min(n - 2, 8))
    c, m = _nz(r, -5, 5), r.randint(4, 10)
    j = r.randint(2, m - 1)
    return _pick(r, [
        f"Evaluate $\\binom{{{n}}}{{{k}}}$.",
        f"What is $\\binom{{{n}}}{{{k}}} + \\binom{{{n}}}{{{k + 1}}}$?",
        f"Find the coefficient of $x^{{{j}}}$ in the expansion of $({_poly([1, c])})^{{{m}}}$.",
        f"What is the value of $\\binom{{{n}}}{{{n - k}}}$?",
        f"What is the constant term in the expansion of $\\left(x {'+' if c > 0 else '-'} \\frac{{{abs(c)}}}{{x}}"
        f"\\right)^{{{2 * (m // 2)}}}$?",
    ])


_WORDS = ("BANANA", "COFFEE", "PEPPER", "LETTER", "BALLOON", "TOMATO", "GIRAFFE", "COOKIE", "TATTOO", "RACCOON",
          "SUCCESS", "ASSESS", "BOOKKEEPER", "PAPAYA", "LLAMA", "COCONUT", "ALFALFA", "PUPPET", "BUBBLE",
          "MAMMAL", "NINETEEN", "GOOGOL", "KAYAK", "RADAR", "STREET", "ADDRESS", "ELEVEN", "PARALLEL",
          "ATTRACT", "CHEETAH", "EMBEDDED", "REDDER", "HULLABALOO", "ABRACADABRA", "CANNON", "DAZZLED",
          "FLUFFY", "GAGGLE", "HAPPINESS", "JIGSAW", "LOLLIPOP", "MUUMUU", "NOON", "OREGANO", "PIZZAZZ", "QUEUE",
          "RIVIERA", "SEESAW", "TEEPEE", "VOODOO", "WALLABY", "ZIGZAG", "CARAVAN", "DIVIDED", "PINEAPPLE")


def _c_arrangements(r: random.Random) -> str:
    w = _pick(r, _WORDS)
    letter = _pick(r, sorted(set(w)))
    digits = "".join(sorted(str(r.randint(1, 9)) for _ in range(r.randint(5, 8))))
    shown = "".join(r.sample(digits, len(digits)))
    return _pick(r, [
        f"The word {w} has ${len(w)}$ letters. How many distinct arrangements of its letters are there?",
        f"In how many distinct ways can the ${len(w)}$ letters of {w} be arranged if the first letter must be "
        f"{letter}?",
        f"How many different ${len(digits)}$-digit positive integers can be formed by rearranging the digits of "
        f"${shown}$?",
        f"Count the distinct orderings of the letters of the word {w} (identical letters are indistinguishable), "
        f"and compare with the ${math.factorial(len(w))}$ orderings if all letters were distinct. What is the ratio "
        f"of the second number to the first?",
    ])


def _c_dice(r: random.Random) -> str:
    s = r.choice([4, 6, 6, 6, 8, 10, 12, 20])
    t = r.randint(3, 2 * s - 1)
    k, v = r.randint(2, 5), r.randint(1, 6)
    return _ask(r, _pick(r, [
        f"Two fair ${s}$-sided dice, each numbered $1$ through ${s}$, are rolled. What is the probability that the "
        f"sum of the two numbers shown is ${t}$?",
        f"Roll two standard dice and multiply the two numbers that come up. What is the probability that this "
        f"product exceeds ${t % 30 + 1}$?",
        f"${k}$ standard six-sided dice are rolled. What is the probability that at least one of them shows a ${v}$?",
        f"A fair ${s}$-sided die is rolled twice. What is the probability that the second roll is strictly greater "
        f"than the first?",
        f"Two fair ${s}$-sided dice are rolled. What is the probability that the sum is greater than ${t}$?",
    ]), _FRAC, 0.75)


def _c_coins(r: random.Random) -> str:
    n = r.randint(3, 12)
    k = r.randint(1, n - 1)
    p, q = r.choice([(1, 3), (2, 3), (1, 4), (3, 4), (2, 5), (3, 5)])
    return _ask(r, _pick(r, [
        f"A fair coin is flipped ${n}$ times. What is the probability of getting exactly ${k}$ heads?",
        f"A fair coin is tossed ${n}$ times. What is the probability that at least ${k}$ of the tosses come up "
        f"heads?",
        f"We flip a fair coin ${n}$ times. What is the probability that we get more heads than tails?",
        f"A biased coin lands heads with probability $\\frac{{{p}}}{{{q}}}$. If it is flipped ${n}$ times, what is "
        f"the probability of exactly ${k}$ heads?",
    ]), _FRAC, 0.75)


def _c_marbles(r: random.Random) -> str:
    c1, c2, c3 = r.sample(("red", "blue", "green", "yellow", "white", "black", "purple", "orange"), 3)
    a, b, c = r.randint(2, 9), r.randint(1, 9), r.randint(1, 9)
    box = _pick(r, ("bag", "box", "jar", "urn"))
    head = f"{'An' if box == 'urn' else 'A'} {box} contains ${a}$ {c1}, ${b}$ {c2}, and ${c}$ {c3} marbles."
    return _ask(r, _pick(r, [
        f"{head} Two marbles are drawn at random without replacement. What is the probability that both are {c1}?",
        f"{head} Two marbles are drawn without replacement. What is the probability that they are the same color?",
        f"{head} A marble is drawn, its color is noted, and it is put back; then a second marble is drawn. What is "
        f"the probability that the two marbles have different colors?",
        f"{head} Three marbles are drawn at random without replacement. What is the probability that one of each "
        f"color is drawn?",
    ]), _FRAC, 0.75)


def _c_committees(r: random.Random) -> str:
    b, g = r.randint(4, 15), r.randint(4, 15)
    k = r.randint(3, 6)
    j = r.randint(max(1, k - b), min(k - 1, g))
    n = r.randint(5, 25)
    return _pick(r, [
        f"A club has ${b}$ boys and ${g}$ girls. In how many ways can a ${k}$-person committee with exactly ${j}$ "
        f"girls be chosen?",
        f"A team has ${b}$ seniors and ${g}$ juniors. How many ${k}$-member subcommittees contain at least one "
        f"senior?",
        f"From a group of ${n}$ students, a captain, a vice-captain, and a scorekeeper are to be picked, with no "
        f"student given two of these jobs. How many ways is this possible?",
        f"In how many ways can ${n % 8 + 4}$ people be seated at a circular table, if two seatings that differ only "
        f"by a rotation are considered the same?",
        f"In how many ways can ${n % 8 + 4}$ people stand in a line if two particular people insist on standing next "
        f"to each other?",
    ])


def _c_expected_value(r: random.Random) -> str:
    s = r.choice([4, 6, 8, 10, 12, 20])
    w, l = r.randint(1, 10), r.randint(1, 10)
    n, p, q = r.randint(5, 60), r.randint(1, 4), r.randint(5, 9)
    return _pick(r, [
        _ask(r, f"A fair ${s}$-sided die with faces $1$ through ${s}$ is rolled. What is the expected value of the "
                f"square of the number shown?", _FRAC),
        f"A game costs nothing to play: roll a fair ${s}$-sided die, win $\\${w}$ if the number is even and lose "
        f"$\\${l}$ if it is odd. What is the expected gain, in dollars?",
        _ask(r, f"Two fair ${s}$-sided dice are rolled. What is the expected value of the larger of the two "
                f"numbers?", _FRAC),
        f"A coin comes up heads with probability $\\frac{{{p}}}{{{q}}}$. What is the expected number of heads in "
        f"${n * q}$ flips?",
    ])


def _c_lattice_paths(r: random.Random) -> str:
    a, b = r.randint(2, 9), r.randint(2, 9)
    c, d = r.randint(1, a - 1), r.randint(1, b - 1)
    return _pick(r, [
        f"How many paths from $(0,0)$ to $({a},{b})$ are there if each step moves one unit right or one unit up?",
        f"A bug walks on the grid from $(0,0)$ to $({a},{b})$, each move going one unit in the positive $x$ or "
        f"positive $y$ direction. How many such walks pass through $({c},{d})$?",
        f"How many shortest routes along the streets of a ${a} \\times {b}$ grid of city blocks lead from one "
        f"corner to the opposite corner?",
    ])


# --------------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------------

def _c_triangle_area(r: random.Random) -> str:
    while True:
        pts = [(r.randint(-9, 9), r.randint(-9, 9)) for _ in range(3)]
        (x1, y1), (x2, y2), (x3, y3) = pts
        twice = abs((x2 - x1) * (y3 - y1) - (x3 - x1) * (y2 - y1))
        if twice:
            break
    P = ", ".join(f"$({x}, {y})$" for x, y in pts)
    suf = ("Express your answer as a decimal to the nearest tenth.",) if twice % 2 else ()
    base, h = r.randint(2, 20), r.randint(2, 20)
    return _pick(r, [
        _ask(r, f"What is the area, in square units, of the triangle whose vertices are {P}?", suf),
        _ask(r, f"Triangle $ABC$ has vertices $A({x1},{y1})$, $B({x2},{y2})$ and $C({x3},{y3})$. Find the area of "
                f"$\\triangle ABC$.", suf),
        f"A triangle has area ${base * h}$ square units and a base of length ${2 * base}$ units. What is the length of "
        f"the altitude to that base?",
    ])


def _c_circle_equation(r: random.Random) -> str:
    h, k, rad = r.randint(-9, 9), r.randint(-9, 9), r.randint(1, 12)
    s = r.choice([1, 1, 1, 2, 3])
    eq = _terms([(s, "x^2"), (s, "y^2"), (-2 * s * h, "x"), (-2 * s * k, "y"), (s * (h * h + k * k - rad * rad), "")])
    return _pick(r, [
        _ask(r, f"Find the center of the circle with equation ${eq} = 0$.", _PAIR),
        f"What is the radius of the circle whose equation is ${eq} = 0$?",
        _ask(r, f"What is the area of the region enclosed by the graph of ${eq} = 0$?", _PI),
        f"The circle ${eq} = 0$ has center $(a, b)$ and radius $r$. What is $a + b + r$?",
    ])


_TRIPLES = ((3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41), (12, 35, 37),
            (11, 60, 61), (28, 45, 53), (33, 56, 65))


def _c_right_triangle(r: random.Random) -> str:
    a, b, c = _pick(r, _TRIPLES)
    if r.random() < 0.5:
        a, b = b, a
    k = r.randint(1, 6)
    u, v = r.randint(2, 15), r.randint(2, 15)
    return _pick(r, [
        f"A right triangle has legs of lengths ${a * k}$ and ${b * k}$. What is the length of its hypotenuse?",
        f"The hypotenuse of a right triangle is ${c * k}$ units and one leg is ${a * k}$ units. What is the area of "
        f"the triangle, in square units?",
        _frac_ask(r, f"In right triangle $PQR$ with $\\angle Q = 90^\\circ$, we have $PQ = {a * k}$ and "
                     f"$QR = {b * k}$. What is the length of the altitude from $Q$ to $\\overline{{PR}}$?",
                  Fraction(a * b * k, c)),
        _ask(r, f"A right triangle has legs ${u}$ and ${v}$. How long is its hypotenuse?",
             () if math.isqrt(u * u + v * v) ** 2 == u * u + v * v else _RAD),
    ])


def _c_solids(r: random.Random) -> str:
    rad, h = r.randint(1, 12), r.randint(1, 20)
    k = r.randint(1, 9)
    a, b, c = r.randint(1, 12), r.randint(1, 12), r.randint(1, 12)
    return _pick(r, [
        _ask(r, f"A right circular cone has base radius ${rad}$ cm and height ${h}$ cm. What is its volume, in cubic "
                f"centimeters?", _PI),
        _ask(r, f"What is the volume of a sphere of radius ${rad}$ inches?", _PI),
        f"A sphere has volume ${_pi(Fraction(4, 3) * (3 * k) ** 3)}$ cubic units. What is its radius?",
        _ask(r, f"A cylinder has radius ${rad}$ and height ${h}$. What is its total surface area, including both "
                f"bases?", _PI),
        _ask(r, f"What is the length of the longest segment that fits inside a rectangular box measuring ${a}$ by "
                f"${b}$ by ${c}$?", () if math.isqrt(a * a + b * b + c * c) ** 2 == a * a + b * b + c * c else _RAD),
        f"A cube has surface area ${6 * k * k * 4}$ square feet. What is its volume, in cubic feet?",
    ])


def _c_similar_triangles(r: random.Random) -> str:
    ad, db, de = r.randint(2, 12), r.randint(1, 12), r.randint(2, 15)
    k1, k2 = r.sample(range(1, 10), 2)
    area = r.randint(2, 40) * k1 * k1
    return _pick(r, [
        _frac_ask(r, f"In $\\triangle ABC$, points $D$ and $E$ lie on $\\overline{{AB}}$ and $\\overline{{AC}}$ so "
                     f"that $\\overline{{DE}} \\parallel \\overline{{BC}}$. If $AD = {ad}$, $DB = {db}$, and "
                     f"$DE = {de}$, what is $BC$?", Fraction(de * (ad + db), ad)),
        f"Two similar triangles have corresponding sides in the ratio ${k1}:{k2}$. If the smaller triangle has area "
        f"${area}$, what is the area of the other one?" if k1 < k2 else
        f"Two similar triangles have corresponding sides in the ratio ${k2}:{k1}$. If the larger triangle has area "
        f"${area}$, what is the area of the smaller one?",
        _frac_ask(r, f"A ${ad}$-foot pole casts a ${db}$-foot shadow. At the same time, a tree casts a "
                     f"${de}$-foot shadow. How tall is the tree, in feet?", Fraction(ad * de, db)),
    ])


def _c_arcs_sectors(r: random.Random) -> str:
    theta = r.choice([20, 30, 36, 40, 45, 60, 72, 80, 90, 100, 120, 135, 150, 160, 200, 225, 240, 270, 300])
    rad = r.randint(2, 18)
    return _ask(r, _pick(r, [
        f"A circle has radius ${rad}$. What is the length of an arc subtended by a central angle of "
        f"${theta}^\\circ$?",
        f"What is the area of a sector of a circle of radius ${rad}$ whose central angle measures ${theta}^\\circ$?",
        f"A central angle of ${theta}^\\circ$ cuts off an arc of a circle with diameter ${2 * rad}$. How long is the "
        f"arc?",
        f"The minute hand of a clock is ${rad}$ cm long. How far does its tip travel in ${theta // 6}$ minutes?",
    ]), _PI, 0.8)


# --------------------------------------------------------------------------------------------------
# Intermediate algebra
# --------------------------------------------------------------------------------------------------

def _c_remainder_theorem(r: random.Random) -> str:
    d = r.randint(3, 6)
    coeffs = [_nz(r, -4, 5)] + [r.randint(-9, 9) for _ in range(d)]
    a = _nz(r, -4, 4)
    p = _poly(coeffs)
    div = _poly([1, -a])
    return _pick(r, [
        f"What is the remainder when ${p}$ is divided by ${div}$?",
        f"Find the remainder when the polynomial $p(x) = {p}$ is divided by ${div}$.",
        f"For what constant $k$ is ${div}$ a factor of ${p} + k$?",
        f"Let $p(x) = {p}$. What is the remainder of $p(x)$ upon division by ${_poly([1, 0, -a * a])}$? Give it in "
        f"the form $ax + b$.",
    ])


def _c_vieta_cubic(r: random.Random) -> str:
    while True:
        roots = [_nz(r, -7, 7) for _ in range(3)]
        lead = r.choice([1, 1, 1, 2, 3])
        s1, s2, s3 = sum(roots), roots[0] * roots[1] + roots[0] * roots[2] + roots[1] * roots[2], math.prod(roots)
        if s1 or s2:
            break
    eq = _poly([lead, -lead * s1, lead * s2, -lead * s3])
    return _pick(r, [
        f"Let $a$, $b$, and $c$ be the roots of ${eq} = 0$. Compute $a^2 + b^2 + c^2$.",
        _frac_ask(r, f"If $r$, $s$, and $t$ are the roots of ${eq} = 0$, find $\\frac{{1}}{{r}} + \\frac{{1}}{{s}} + "
                     f"\\frac{{1}}{{t}}$.", Fraction(s2, s3)),
        f"What is the product of the roots of ${eq} = 0$?",
        f"The roots of ${eq} = 0$ are $p$, $q$, $r$. Find $(p + 1)(q + 1)(r + 1)$.",
        f"Find the sum of the squares of the roots of the cubic ${eq}$.",
    ])


def _c_complex_modulus(r: random.Random) -> str:
    a, b, c, d = (_nz(r, -12, 12) for _ in range(4))
    t = _pick(r, _TRIPLES[:6])
    n = r.randint(2, 8)
    z2 = a * a + b * b
    sq = math.isqrt(z2) ** 2 == z2
    return _pick(r, [
        _ask(r, f"Evaluate $|{_cx(a, b)}|$.", () if sq else _RAD),
        f"What is $|({_cx(a, b)})({_cx(c, d)})|^2$?",
        f"Compute $\\left|({_cx(t[0] * r.choice([1, -1]), t[1] * r.choice([1, -1]))})^{{{n}}}\\right|$.",
        _frac_ask(r, f"Find $\\left|\\frac{{{_cx(a, b)}}}{{{_cx(c, d)}}}\\right|^2$.", Fraction(z2, c * c + d * d)),
    ])


def _c_floor_ceiling(r: random.Random) -> str:
    n = r.randint(2, 2000)
    if math.isqrt(n) ** 2 == n:
        n += 1
    p, q, s, t = r.randint(1, 60), r.randint(2, 9), r.randint(1, 60), r.randint(2, 9)
    k, f = r.randint(1, 40), r.choice([0.2, 0.25, 0.4, 0.5, 0.6, 0.75, 0.8])
    m = r.randint(3, 40)
    return _pick(r, [
        f"Evaluate $\\lfloor \\sqrt{{{n}}} \\rfloor$.",
        f"Compute $\\left\\lceil -\\frac{{{p}}}{{{q}}} \\right\\rceil + \\left\\lfloor \\frac{{{s}}}{{{t}}} "
        f"\\right\\rfloor$.",
        f"Find the real number $x$ such that $\\lfloor x \\rfloor + x = {2 * k + f:g}$.",
        f"Evaluate $\\left\\lceil \\left(\\frac{{{p}}}{{{q}}}\\right)^2 \\right\\rceil$.",
        f"How many positive integers $n$ satisfy $\\lfloor \\sqrt{{n}} \\rfloor = {m}$?",
    ])


def _c_logarithms(r: random.Random) -> str:
    c, i, j = r.randint(2, 7), r.randint(1, 3), _nz(r, -4, 6)
    b, N = c ** i, Fraction(c) ** j
    bb, kk, cc = r.randint(2, 6), r.randint(1, 4), r.randint(-20, 20)
    M2, k = r.randint(2, 30), r.randint(1, 3)
    lb, lk = r.choice([2, 3, 4, 5, 6, 10]), r.randint(2, 4)
    M = lb ** lk
    us = [u for u in range(2, M + 1) if M % u == 0 and u * u > M]
    u = r.choice(us) if us else M
    return _pick(r, [
        _frac_ask(r, f"Evaluate $\\log_{{{b}}} {_fr(N)}$.", Fraction(j, i)),
        f"Solve for $x$: $\\log_{{{bb}}} ({_poly([1, cc])}) = {kk}$.",
        f"Find $x$ if $\\log_{{{lb}}} x + \\log_{{{lb}}} ({_poly([1, -(u - M // u)])}) = {lk}$.",
        f"Compute $\\log_{{{c}}} {M2 * c ** k} - \\log_{{{c}}} {M2}$.",
        _frac_ask(r, f"If $\\log_{{{c}}} x = {j}$, what is $\\log_{{{c * c}}} x^{{{i + 1}}}$?",
                  Fraction(j * (i + 1), 2)),
    ])


def _series(terms) -> str:
    out = _fr(terms[0])
    for t in terms[1:]:
        out += (" - " + _fr(-t)) if t < 0 else (" + " + _fr(t))
    return out + (" - \\dotsb" if terms[-1] * (terms[1] / terms[0]) < 0 else " + \\dotsb")


def _c_infinite_geometric(r: random.Random) -> str:
    a = Fraction(r.randint(1, 30), r.choice([1, 1, 2, 3, 4, 5]))
    q = r.randint(2, 9)
    ratio = Fraction(_nz(r, -(q - 1), q - 1), q)
    S = a / (1 - ratio)
    return _frac_ask(r, *_pick(r, [
        (f"Evaluate the infinite geometric series ${_series([a * ratio ** i for i in range(4)])}$.", S),
        (f"An infinite geometric series has common ratio ${_fr(ratio)}$ and sum ${_fr(S)}$. What is its first "
         f"term?", a),
        (f"An infinite geometric series has first term ${_fr(a)}$ and sum ${_fr(S)}$. What is its common ratio?",
         ratio),
    ]))


def _c_odd_function(r: random.Random) -> str:
    e1, e2 = r.choice([(5, 3), (7, 3), (7, 5), (9, 5), (9, 3), (11, 7), (13, 5)])
    d, k, m = _nz(r, -9, 9), r.randint(2, 9), r.randint(-30, 30)
    f = f"a{_mono('x', e1)} + b{_mono('x', e2)} + cx {'+' if d > 0 else '-'} {abs(d)}"
    return _pick(r, [
        f"Let $f(x) = {f}$, where $a$, $b$, $c$ are constants. Given that $f(-{k}) = {m}$, compute $f({k})$.",
        f"Suppose $g(x) = {f}$ for some real constants $a$, $b$, $c$, and $g({k}) = {m}$. What is $g(-{k})$?",
    ])


def _c_poly_coefficient(r: random.Random) -> str:
    p = [_nz(r, -5, 5)] + [r.randint(-7, 7) for _ in range(r.randint(1, 3))]
    q = [_nz(r, -5, 5)] + [r.randint(-7, 7) for _ in range(r.randint(1, 3))]
    deg = len(p) + len(q) - 2
    j = r.randint(1, deg)
    return _pick(r, [
        f"What is the coefficient of ${_mono('x', j)}$ when $({_poly(p)})({_poly(q)})$ is expanded?",
        f"Find the sum of the coefficients of the polynomial obtained by expanding $({_poly(p)})({_poly(q)})$.",
        f"When $({_poly(p)})({_poly(q)})$ is multiplied out and like terms are combined, what is the constant term?",
    ])


# --------------------------------------------------------------------------------------------------
# Precalculus
# --------------------------------------------------------------------------------------------------

def _c_determinant(r: random.Random) -> str:
    m2 = [[r.randint(-9, 9) for _ in range(2)] for _ in range(2)]
    m3 = [[r.randint(-6, 6) for _ in range(3)] for _ in range(3)]
    d, c, n = _nz(r, -9, 9), r.choice([-3, -2, 2, 3, 4, 5]), r.choice([2, 3])
    e = r.randint(2, 4)
    return _pick(r, [
        f"Compute the $2 \\times 2$ determinant\n\\[{_pmat(m2, 'vmatrix')}.\\]",
        f"Evaluate the determinant of the $3 \\times 3$ matrix below:\n\\[{_pmat(m3, 'vmatrix')}.\\]",
        f"Let $\\mathbf{{A}}$ be a ${n} \\times {n}$ matrix with $\\det \\mathbf{{A}} = {d}$. Find "
        f"$\\det ({c} \\mathbf{{A}})$.",
        _ask(r, f"If $\\det \\mathbf{{M}} = {d}$, find $\\det (\\mathbf{{M}}^{{-1}})$.", _FRAC if abs(d) > 1 else ()),
        f"Given $\\det \\mathbf{{B}} = {d}$, compute $\\det (\\mathbf{{B}}^{{{e}}})$.",
        f"Find $\\det (\\mathbf{{A}} \\mathbf{{B}})$ where $\\mathbf{{A}} = {_pmat(m2)}$ and "
        f"$\\det \\mathbf{{B}} = {d}$.",
    ])


def _c_matrix_product(r: random.Random) -> str:
    A = [[r.randint(-6, 6) for _ in range(2)] for _ in range(2)]
    B = [[r.randint(-6, 6) for _ in range(2)] for _ in range(2)]
    v = [r.randint(-9, 9) for _ in range(2)]
    C = [[r.randint(-5, 5) for _ in range(3)] for _ in range(2)]
    w = [r.randint(-5, 5) for _ in range(3)]
    return _pick(r, [
        f"Compute ${_pmat(A)} {_pmat(B)}$.",
        f"Find ${_pmat(A)} {_vec(v)}$.",
        f"Multiply the $2 \\times 3$ matrix by the vector:\n\\[{_pmat(C)} {_vec(w)}.\\]",
        f"Let $\\mathbf{{A}} = {_pmat(A)}$. Compute $\\mathbf{{A}}^2$.",
        f"If $\\mathbf{{M}} = {_pmat(A)}$ and $\\mathbf{{N}} = {_pmat(B)}$, what is $\\mathbf{{M}} - "
        f"2\\mathbf{{N}}$?",
    ])


def _c_vectors(r: random.Random) -> str:
    u = [r.randint(-8, 8) for _ in range(3)]
    v = [r.randint(-8, 8) for _ in range(3)]
    v[2] = v[2] or 3
    u2 = [r.randint(-8, 8) for _ in range(2)]
    v2 = [_nz(r, -6, 6), r.randint(-6, 6)]
    dot2, nn = sum(a * b for a, b in zip(u2, v2)), sum(b * b for b in v2)
    k = Fraction(-(u[0] * v[0] + u[1] * v[1]), v[2])
    return _pick(r, [
        f"Compute ${_vec(u)} \\cdot {_vec(v)}$.",
        _frac_ask(r, f"Find $k$ so that the vectors ${_pmat([[u[0]], [u[1]], ['k']])}$ and ${_vec(v)}$ are "
                     f"orthogonal.", k),
        f"Find the projection of ${_vec(u2)}$ onto ${_vec(v2)}$." if dot2 else
        f"Compute $\\operatorname{{proj}}_{{\\mathbf{{w}}}} {_vec(u2)}$, where $\\mathbf{{w}} = {_vec(v2)}$.",
        _ask(r, f"What is the length of the vector ${_vec(u)}$?", () if math.isqrt(sum(x * x for x in u)) ** 2 ==
             sum(x * x for x in u) else _RAD),
        _frac_ask(r, f"For what scalar $t$ is ${_vec(u2)} - t {_vec(v2)}$ orthogonal to ${_vec(v2)}$?",
                  Fraction(dot2, nn)),
    ])


_ANG = (0, 30, 45, 60, 90, 120, 135, 150, 180, 210, 225, 240, 270, 300, 315, 330)


def _cos_sin(deg: int):
    """(cos, sin) of a multiple of 30 or 45 degrees, each as (rational coefficient, radicand)."""
    ref = {0: ((1, 1), (0, 1)), 30: ((Fraction(1, 2), 3), (Fraction(1, 2), 1)),
           45: ((Fraction(1, 2), 2), (Fraction(1, 2), 2)), 60: ((Fraction(1, 2), 1), (Fraction(1, 2), 3)),
           90: ((0, 1), (1, 1))}
    d = deg % 360
    q, a = divmod(d, 90)
    base = a if a in ref and a != 90 else 0
    (cr, cm), (sr, sm) = ref[base]
    if q == 0:
        return (cr, cm), (sr, sm)
    if q == 1:
        return (-sr, sm), (cr, cm)
    if q == 2:
        return (-cr, cm), (-sr, sm)
    return (sr, sm), (-cr, cm)


def _c_polar(r: random.Random) -> str:
    deg = _pick(r, _ANG)
    k = r.randint(1, 8)
    (cr, cm), (sr, sm) = _cos_sin(deg)
    th = _pi(Fraction(deg, 180))
    if deg % 90 == 45:
        x, y = _fr(k * (1 if cr > 0 else -1)), _fr(k * (1 if sr > 0 else -1))
    else:
        x, y = _surd(2 * k * Fraction(cr), cm), _surd(2 * k * Fraction(sr), sm)
    z = r.randint(-9, 9)
    return _pick(r, [
        f"Convert the point $({x}, {y})$ from rectangular to polar coordinates. Give $(r, \\theta)$ with $r > 0$ and "
        f"$\\theta$ in $[0, 2\\pi)$.",
        _ask(r, f"Convert the point $\\left({2 * k}, {th}\\right)$ in polar coordinates to rectangular coordinates.",
             _PAIR),
        f"Convert the point $\\left({2 * k}, {th}, {z}\\right)$ from cylindrical to rectangular coordinates.",
        f"A point has rectangular coordinates $({x}, {y})$. What is its distance from the origin, and what angle "
        f"$\\theta$ with $0 \\le \\theta < 2\\pi$ does it make with the positive $x$-axis?",
    ])


def _c_complex_arith(r: random.Random) -> str:
    a, b, c, d = (_nz(r, -9, 9) for _ in range(4))
    e, f = _nz(r, -6, 6), _nz(r, -6, 6)
    num = (e * c - f * d, e * d + f * c)
    n, m = r.randint(5, 200), r.randint(5, 200)
    k = r.randint(2, 8)
    return _pick(r, [
        f"Simplify $({_cx(a, b)})({_cx(c, d)})$.",
        _ask(r, f"Simplify $\\dfrac{{{_cx(*num)}}}{{{_cx(c, d)}}}$.", ("Write your answer in the form $a + bi$.",)),
        f"Compute $({_cx(a, b)})^2 - ({_cx(c, d)})$.",
        f"Evaluate $i^{{{n}}} + i^{{{m}}}$.",
        f"What is $(1 + i)^{{{2 * k}}}$?",
        f"If $z = {_cx(a, b)}$, find $z \\overline{{z}} + ({_cx(c, d)})$.",
    ])


def _c_roots_of_unity(r: random.Random) -> str:
    a, b = r.sample(range(2, 60), 2)
    n = r.randint(3, 30)
    k = r.randint(1, n - 1)
    e1, e2 = 3 * r.randint(1, 20) + 1, 3 * r.randint(0, 20) + 2
    return _pick(r, [
        f"How many complex numbers $z$ satisfy both $z^{{{a}}} = 1$ and $z^{{{b}}} = 1$?",
        f"Let $\\omega$ be a nonreal complex number with $\\omega^3 = 1$. Compute $\\omega^{{{e1}}} + "
        f"\\omega^{{{e2}}}$.",
        f"Let $z \\ne 1$ be a complex number with $z^{{{n}}} = 1$. Evaluate $z + z^2 + z^3 + \\dots + z^{{{n - 1}}}$.",
        f"What is the product of all ${n}$ complex roots of $z^{{{n}}} = 1$?",
        f"The number $e^{{2\\pi i \\cdot {k}/{n}}}$ is a primitive $m$th root of unity. What is $m$?",
    ])


def _angle_tex(deg: int, use_rad: bool) -> str:
    if not use_rad:
        return f"({deg}^\\circ)" if deg < 0 else f"{deg}^\\circ"
    t = _pi(Fraction(deg, 180))
    return f"\\left({t}\\right)" if deg < 0 else t


def _c_trig_values(r: random.Random) -> str:
    fns = ("sin", "cos", "tan", "sec", "csc", "cot")
    while True:
        deg, fn = 15 * r.randint(-24, 48), _pick(r, fns)
        if not ((fn in ("tan", "sec") and deg % 180 == 90) or (fn in ("csc", "cot") and deg % 180 == 0)):
            break
    deg2 = 30 * r.randint(-6, 12)
    use_rad = r.random() < 0.5
    a = _angle_tex(deg, use_rad)
    b = _angle_tex(deg2, use_rad)
    inv, val = _pick(r, (("arcsin", "\\frac{\\sqrt{3}}{2}"), ("arcsin", "-\\frac{\\sqrt{2}}{2}"),
                         ("arcsin", "1"), ("arccos", "-\\frac{1}{2}"), ("arccos", "\\frac{\\sqrt{2}}{2}"),
                         ("arccos", "-\\frac{\\sqrt{3}}{2}"), ("arccos", "0"), ("arctan", "\\sqrt{3}"),
                         ("arctan", "-1"), ("arctan", "-\\frac{\\sqrt{3}}{3}"), ("arccos", "-1")))
    return _pick(r, [
        f"Compute $\\{fn} {a}$.",
        _ask(r, f"Find the exact value of $\\{fn} {a}$.", _EXACT, 0.4),
        f"Evaluate $\\sin^2 {b} + \\cos {a}$." if fn in ("sin", "cos") else f"What is $\\{fn} {a}$?",
        f"Find $\\{inv} \\left( {val} \\right)$ in radians.",
        f"What is the value of $\\{inv} {val}$, measured in radians?",
    ])


def _c_trig_identity(r: random.Random) -> str:
    a, b, c = _pick(r, _TRIPLES)
    if r.random() < 0.5:
        a, b = b, a
    quad = r.choice(["I", "II", "III", "IV"])
    sgn_s = 1 if quad in ("I", "II") else -1
    sgn_c = 1 if quad in ("I", "IV") else -1
    k = r.randint(1, 5)
    target = _pick(r, ("\\cos \\theta", "\\tan \\theta", "\\sin 2\\theta", "\\cos 2\\theta", "\\sec \\theta"))
    target2 = target if target != "\\cos \\theta" else "\\sin \\theta"
    rng_txt = {"I": "0 < \\theta < \\frac{\\pi}{2}", "II": "\\frac{\\pi}{2} < \\theta < \\pi",
               "III": "\\pi < \\theta < \\frac{3\\pi}{2}", "IV": "\\frac{3\\pi}{2} < \\theta < 2\\pi"}[quad]
    return _ask(r, _pick(r, [
        f"If $\\sin \\theta = {_fr(Fraction(sgn_s * a, c))}$ and ${rng_txt}$, find ${target}$.",
        f"Given that $\\cos \\theta = {_fr(Fraction(sgn_c * b, c))}$ and $\\theta$ lies in quadrant {quad}, "
        f"compute ${target2}$.",
        f"In right triangle $ABC$ with $\\angle C = 90^\\circ$, we have $AB = {c * k}$ and $BC = {a * k}$. What is "
        f"$\\tan A$?",
        f"In right triangle $XYZ$ with $\\angle Y = 90^\\circ$, $XZ = {c * k}$ and $XY = {b * k}$. Find "
        f"$\\cos X$.",
    ]), _FRAC, 0.5)


def _c_cross_product(r: random.Random) -> str:
    u = [r.randint(-7, 7) for _ in range(3)]
    v = [r.randint(-7, 7) for _ in range(3)]
    w = [r.randint(-5, 5) for _ in range(3)]
    n2 = ((u[1] * v[2] - u[2] * v[1]) ** 2 + (u[2] * v[0] - u[0] * v[2]) ** 2 + (u[0] * v[1] - u[1] * v[0]) ** 2)
    return _pick(r, [
        f"Let $\\mathbf{{u}} = {_vec(u)}$ and $\\mathbf{{v}} = {_vec(v)}$. Find "
        f"$\\mathbf{{u}} \\times \\mathbf{{v}}$.",
        f"Compute ${_vec(u)} \\times {_vec(v)}$.",
        f"Compute the scalar triple product ${_vec(u)} \\cdot \\left({_vec(v)} \\times {_vec(w)}\\right)$.",
        _ask(r, f"What is the area of the parallelogram spanned by ${_vec(u)}$ and ${_vec(v)}$?",
             () if math.isqrt(n2) ** 2 == n2 else _RAD),
    ])


# --------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------

_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    # prealgebra
    _c_percent, _c_ratio, _c_polygon_angles, _c_mean, _c_fraction_arith, _c_order_of_operations,
    _c_repeating_decimal, _c_unit_conversion, _c_exponent_arith, _c_multiples_count,
    # algebra
    _c_quadratic_roots, _c_factor_quadratic, _c_linear_system, _c_composition, _c_domain, _c_slope,
    _c_distance_midpoint, _c_arithmetic_sequence, _c_geometric_sequence, _c_exponent_equation,
    _c_absolute_value, _c_vertex, _c_inverse_function, _c_radicals, _c_rational_expression,
    _c_rational_equation, _c_piecewise, _c_sigma_sum,
    # number theory
    _c_power_mod, _c_divisors, _c_gcd_lcm, _c_base_conversion, _c_units_digit, _c_modular_inverse, _c_crt,
    _c_factorial_zeros, _c_prime_factors,
    # counting and probability
    _c_binomial, _c_arrangements, _c_dice, _c_coins, _c_marbles, _c_committees, _c_expected_value,
    _c_lattice_paths,
    # geometry
    _c_triangle_area, _c_circle_equation, _c_right_triangle, _c_solids, _c_similar_triangles, _c_arcs_sectors,
    # intermediate algebra
    _c_remainder_theorem, _c_vieta_cubic, _c_complex_modulus, _c_floor_ceiling, _c_logarithms,
    _c_infinite_geometric, _c_odd_function, _c_poly_coefficient,
    # precalculus
    _c_determinant, _c_matrix_product, _c_vectors, _c_polar, _c_complex_arith, _c_roots_of_unity,
    _c_trig_values, _c_trig_identity, _c_cross_product,
)


def generate_competition_math(n: int, seed: int) -> list[str]:
    """`n` competition-style problems (MATH subjects, LaTeX notation), deterministic for `seed`.
    About a third end with the evaluation's step-by-step wrapper on a new line, a sixth with a
    generic instruction; templates add their own answer-format instructions."""
    rng = random.Random(f"competition-math-{seed}")
    out = []
    for _ in range(n):
        text = _pick(rng, _TEMPLATES)(rng)
        u = rng.random()
        if u < 1 / 3:
            text = f"{text}\n{_WRAPPER}"
        elif u < 0.5:
            text = f"{text} {_pick(rng, _GENERIC)}"
        out.append(text)
    return out
