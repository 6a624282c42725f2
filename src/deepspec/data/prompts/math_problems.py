"""Templated grade-school and competition-style math problems, deterministic from a seed. One
function per template: the file is long because the templates are data, each read on its own."""
from __future__ import annotations

import random
from typing import Callable


# --------------------------------------------------------------------------------------------------
# Generated math problems
# --------------------------------------------------------------------------------------------------

_NAMES = ("Amara", "Bilal", "Chen", "Dmitri", "Elena", "Farah", "Gustavo", "Hana", "Ikechukwu", "Jonas",
          "Keiko", "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sipho", "Tamar",
          "Umar", "Valentina", "Wen", "Ximena", "Yusuf", "Zofia", "Aiden", "Beatriz", "Callum", "Deepa",
          "Emeka", "Freya", "Gideon", "Ingrid", "Jamal", "Kalani", "Leif", "Mirela", "Noor", "Olu",
          "Pavel", "Rhea", "Santiago", "Thea", "Vikram", "Wanjiru", "Yara", "Zane", "Anouk", "Bruno",
          "Corinne", "Desmond", "Esra", "Finn", "Giulia", "Hamza", "Isla", "Joaquin", "Lena", "Marcus")
_GOODS = (("notebook", "notebooks"), ("pencil case", "pencil cases"), ("mango", "mangoes"),
          ("ticket", "tickets"), ("candle", "candles"), ("bag of rice", "bags of rice"), ("puzzle", "puzzles"),
          ("scarf", "scarves"), ("plant pot", "plant pots"), ("comic book", "comic books"),
          ("loaf of bread", "loaves of bread"), ("box of tea", "boxes of tea"), ("sketchbook", "sketchbooks"),
          ("bottle of juice", "bottles of juice"), ("pair of socks", "pairs of socks"), ("phone case", "phone cases"),
          ("bar of soap", "bars of soap"), ("jar of honey", "jars of honey"), ("kite", "kites"), ("lamp", "lamps"))
_COLLECT = ("stickers", "stamps", "marbles", "seashells", "trading cards", "postcards", "coins", "buttons",
            "beads", "pebbles", "keychains", "badges")
_PLACES = ("bakery", "bookshop", "farm stand", "hardware store", "florist", "toy shop", "cafe", "garden centre",
           "market stall", "stationery shop", "bike shop", "pet store")
_VEHICLES = ("train", "bus", "cyclist", "truck", "ferry", "delivery van", "runner", "car")
_SUFFIXES = (
    "", "", "", "Show your work.", "Explain each step.", "Think it through step by step.",
    "Give the final answer as a number.", "Work it out step by step and give the final answer at the end.",
    "Put the final answer in \\boxed{}.", "Reason carefully, then write the final answer in \\boxed{}.",
    "Solve it step by step; state the answer clearly at the end.", "Briefly justify your answer.",
)


def _pick(rng: random.Random, seq):
    return seq[rng.randrange(len(seq))]


def _names(rng: random.Random, k: int) -> list[str]:
    return rng.sample(_NAMES, k)


def _money(x: float) -> str:
    return f"${x:,.2f}" if x != int(x) else f"${int(x):,}"


def _m_shopping(r):
    n = _names(r, 1)[0]
    (g1, g1s), (g2, g2s) = r.sample(_GOODS, 2)
    a, b = r.randint(2, 9), r.randint(2, 9)
    p, q = r.choice([1.5, 2, 2.25, 3, 3.5, 4, 4.75, 5, 6, 7.5, 8, 12]), r.choice([0.75, 1, 1.25, 2.5, 3, 4, 5.5, 9, 10])
    bill = r.choice([50, 100, 200]) if a * p + b * q < 50 else r.choice([100, 200])
    place = _pick(r, _PLACES)
    forms = [
        f"{n} goes to the {place} and buys {a} {g1s} at {_money(p)} each and {b} {g2s} at {_money(q)} each. "
        f"{n} pays with a {_money(bill)} bill. How much change should {n} get back?",
        f"At a {place}, {g1s} cost {_money(p)} each and {g2s} cost {_money(q)} each. If {n} buys {a} {g1s} and "
        f"{b} {g2s} and hands over {_money(bill)}, what is the change?",
        f"{n} has {_money(bill)}. After buying {a} {g1s} for {_money(p)} apiece and {b} {g2s} for {_money(q)} apiece, "
        f"how much money is left?",
    ]
    return _pick(r, forms)


def _m_savings(r):
    n = _names(r, 1)[0]
    w, s, start = r.randint(3, 20), r.choice([5, 8, 10, 12, 15, 20, 25, 30, 40]), r.choice([0, 10, 25, 40, 60, 100])
    goal = start + s * w + r.choice([0, 5, 10, 15, 35])
    thing = _pick(r, ("bicycle", "guitar", "tablet", "pair of hiking boots", "telescope", "camera", "sewing machine",
                      "skateboard", "concert ticket", "board game collection"))
    forms = [
        f"{n} wants to buy a {thing} that costs {_money(goal)}. {n} already has {_money(start)} and saves {_money(s)} "
        f"every week. How many weeks will it take before {n} can afford it?",
        f"{n} starts with {_money(start)} and puts aside {_money(s)} each week for {w} weeks. The {thing} costs "
        f"{_money(goal)}. After the {w} weeks, how much more money does {n} need, if any?",
        f"Every week {n} saves {_money(s)}. Starting from {_money(start)}, how much will {n} have after {w} weeks, "
        f"and is that enough for a {thing} priced at {_money(goal)}?",
    ]
    return _pick(r, forms)


def _m_distance(r):
    v = _pick(r, _VEHICLES)
    s1, s2 = r.randint(8, 90), r.randint(8, 90)
    h1, h2 = r.choice([0.5, 1, 1.5, 2, 2.5, 3, 4]), r.choice([0.25, 0.5, 1, 1.5, 2, 3])
    unit = r.choice(["km", "miles"])
    forms = [
        f"A {v} travels at {s1} {unit} per hour for {h1:g} hours and then at {s2} {unit} per hour for {h2:g} hours. "
        f"What total distance does it cover, and what is its average speed for the whole trip?",
        f"For the first {h1:g} hours of a journey a {v} averages {s1} {unit}/h; for the next {h2:g} hours it averages "
        f"{s2} {unit}/h. How far does it go in total?",
        f"Two legs of a trip: {h1:g} h at {s1} {unit}/h, then {h2:g} h at {s2} {unit}/h. Find the average speed of the "
        f"{v} over the whole trip, rounded to one decimal place.",
    ]
    return _pick(r, forms)


def _m_meeting(r):
    v1, v2 = r.sample(_VEHICLES, 2)
    d = r.randint(60, 900)
    s1, s2 = r.randint(10, 120), r.randint(10, 120)
    t0 = r.randint(6, 11)
    return _pick(r, [
        f"Two towns are {d} km apart. A {v1} leaves the first town at {t0}:00 heading toward the second at "
        f"{s1} km/h, and at the same time a {v2} leaves the second town toward the first at {s2} km/h. At what time "
        f"do they meet?",
        f"A {v1} and a {v2} start {d} km apart and move toward each other at {s1} km/h and {s2} km/h. How long until "
        f"they meet, and how far has the {v1} travelled by then?",
    ])


def _m_work(r):
    a, b = _names(r, 2)
    ta, tb = r.randint(2, 12), r.randint(2, 12)
    job = _pick(r, ("paint a fence", "tile a bathroom", "sort a pile of letters", "fill a water tank",
                    "weed the garden", "assemble a bookcase", "mow a large lawn", "pack an order of boxes"))
    return _pick(r, [
        f"{a} can {job} alone in {ta} hours, and {b} can do it alone in {tb} hours. How long does it take them "
        f"working together?",
        f"Working alone, {a} needs {ta} hours to {job}; {b} needs {tb} hours. If they start together and {b} leaves "
        f"after 1 hour, how long does {a} take to finish the rest?",
    ])


def _m_discount(r):
    price = r.choice([18, 24, 35, 40, 48, 60, 75, 80, 96, 120, 150, 199, 240, 320])
    d = r.choice([10, 15, 20, 25, 30, 35, 40, 50])
    t = r.choice([5, 6, 7.5, 8, 10, 12.5])
    g = _pick(r, _GOODS)[0]
    n = _names(r, 1)[0]
    return _pick(r, [
        f"A {g} is priced at {_money(price)}. It is on sale for {d}% off, and then a {t:g}% sales tax is added to the "
        f"sale price. What is the final cost?",
        f"{n} buys a {g} listed at {_money(price)} with a {d}% discount coupon. Sales tax of {t:g}% applies after the "
        f"discount. How much does {n} pay in total?",
        f"After a {d}% markdown, a {g} costs {_money(round(price * (1 - d / 100), 2))}. What was the original price?",
    ])


def _m_ratio(r):
    names = _names(r, 3)
    k = r.choice([2, 3])
    parts = [r.randint(1, 9) for _ in range(k)]
    total = sum(parts) * r.randint(3, 40)
    what = _pick(r, ("dollars", "marbles", "stickers", "kilograms of apples", "hours of volunteer work", "points"))
    ratio = ":".join(map(str, parts))
    who = ", ".join(names[:k - 1]) + f" and {names[k - 1]}"
    return _pick(r, [
        f"{who} share {total} {what} in the ratio {ratio}. How many does each get?",
        f"A total of {total} {what} is divided among {who} in the ratio {ratio}. How many more does the one with the "
        f"largest share get than the one with the smallest?",
    ])


def _m_age(r):
    a, b = _names(r, 2)
    y = r.randint(3, 20)
    k = r.randint(2, 5)
    n = r.randint(2, 15)
    return _pick(r, [
        f"{a} is {k} times as old as {b}. In {n} years the sum of their ages will be {k * y + y + 2 * n}. How old is each "
        f"of them now?",
        f"{b} is {y} years old and {a} is {k * y} years old. In how many years will {a} be exactly twice as old as {b}? "
        f"If that can never happen, explain why.",
        f"{n} years ago {a} was {k} times as old as {b}. Today {b} is {y + n} years old. How old is {a} today?",
    ])


def _m_recipe(r):
    s, t = r.sample(range(2, 25), 2)
    q = r.choice([1.5, 2, 2.5, 3, 4, 6])
    ing = _pick(r, ("cups of flour", "eggs", "tablespoons of butter", "cups of milk", "grams of sugar",
                    "teaspoons of vanilla", "cups of rice", "onions"))
    dish = _pick(r, ("pancakes", "a lentil soup", "banana bread", "fried rice", "a curry", "muffins", "a stew"))
    return _pick(r, [
        f"A recipe for {dish} serves {s} people and uses {q:g} {ing}. How much is needed to serve {t} people?",
        f"To make {dish} for {s}, you need {q:g} {ing}. If you only have enough for {t} servings' worth, how many "
        f"{ing} is that?",
    ])


def _m_garden(r):
    l, w = r.randint(4, 60), r.randint(3, 40)
    c = r.choice([2, 3.5, 4, 6, 7.25, 9, 12])
    u = r.choice(["m", "ft"])
    thing = _pick(r, ("garden", "playground", "parking lot", "vegetable bed", "patio", "pool deck", "field"))
    return _pick(r, [
        f"A rectangular {thing} is {l} {u} long and {w} {u} wide. Fencing costs {_money(c)} per {u}. How much does it "
        f"cost to fence the whole perimeter, and what is the area of the {thing}?",
        f"A rectangular {thing} has a perimeter of {2 * (l + w)} {u} and a length of {l} {u}. What is its area?",
        f"A {l} {u} by {w} {u} {thing} has a path {r.randint(1, 3)} {u} wide built all the way around the outside. "
        f"What is the area of the path?",
    ])


def _m_inventory(r):
    place = _pick(r, _PLACES)
    g = _pick(r, _GOODS)[1]
    n0 = r.randint(40, 600)
    f = r.choice([("a quarter", 4), ("a third", 3), ("half", 2), ("a fifth", 5)])
    recv = r.randint(10, 200)
    p = r.choice([10, 20, 25, 30, 40, 50, 60])
    return _pick(r, [
        f"A {place} has {n0} {g} in stock. On Monday it sells {f[0]} of them. On Tuesday a delivery of {recv} more "
        f"arrives, and on Wednesday it sells {p}% of what it has. How many {g} are left?",
        f"The {place} started the week with {n0} {g}, received {recv} more midweek, and sold {p}% of its total by "
        f"Friday. How many were sold?",
    ])


def _m_average(r):
    n = _names(r, 1)[0]
    k = r.randint(3, 7)
    scores = [r.randint(55, 100) for _ in range(k)]
    target = r.randint(70, 95)
    subj = _pick(r, ("quizzes", "history tests", "chemistry labs", "spelling tests", "piano exams", "essays"))
    return _pick(r, [
        f"{n}'s scores on {k} {subj} are {', '.join(map(str, scores))}. What score does {n} need on the next one to "
        f"raise the average to {target}?",
        f"Find the mean, median and range of {n}'s scores on these {subj}: {', '.join(map(str, scores))}.",
    ])


def _m_linear(r):
    x = r.randint(-12, 15)
    a, c = r.randint(2, 9), r.randint(1, 9)
    while c == a:
        c = r.randint(1, 9)
    b = r.randint(-20, 20)
    d = a * x + b - c * x
    return _pick(r, [
        f"Solve for x: {a}x {'+' if b >= 0 else '-'} {abs(b)} = {c}x {'+' if d >= 0 else '-'} {abs(d)}.",
        f"Find the value of x that satisfies {a}(x {'+' if b >= 0 else '-'} {abs(b)}) = {c}x + {a * b + (a - c) * x}.",
        f"If {a}x {'+' if b >= 0 else '-'} {abs(b)} equals {a * x + b}, what is the value of {c}x^2 - x?",
    ])


def _m_system(r):
    x, y = r.randint(-9, 12), r.randint(-9, 12)
    a, b, c, d = (r.randint(1, 7) * r.choice([1, -1]) for _ in range(4))
    if a * d - b * c == 0:
        d += 1
    v = r.choice(["x and y", "a and b", "p and q"]).split(" and ")
    return _pick(r, [
        f"Solve the system: {a}{v[0]} + {b}{v[1]} = {a * x + b * y} and {c}{v[0]} + {d}{v[1]} = {c * x + d * y}.",
        f"Find {v[0]} and {v[1]} if {a}{v[0]} + {b}{v[1]} = {a * x + b * y} and {c}{v[0]} + {d}{v[1]} = {c * x + d * y}.",
    ]).replace("+ -", "- ")


def _m_tickets(r):
    pa, pc = r.randint(8, 30), r.randint(3, 15)
    na, nc = r.randint(20, 300), r.randint(20, 300)
    ev = _pick(r, ("school play", "museum", "zoo", "charity concert", "planetarium show", "county fair"))
    return f"Adult tickets to the {ev} cost {_money(pa)} and child tickets cost {_money(pc)}. {na + nc} tickets were " \
           f"sold for a total of {_money(pa * na + pc * nc)}. How many adult tickets were sold?"


def _m_quadratic(r):
    p, q = r.randint(-10, 10), r.randint(-10, 10)
    k = r.choice([1, 1, 1, 2, 3])
    b, c = -k * (p + q), k * p * q
    expr = f"{k if k > 1 else ''}x^2 {'-' if b < 0 else '+'} {abs(b)}x {'-' if c < 0 else '+'} {abs(c)}"
    return _pick(r, [
        f"Find all real solutions of {expr} = 0.",
        f"Factor {expr} and give its roots.",
        f"What is the sum of the squares of the roots of {expr} = 0?",
        f"For which values of x is {expr} negative?",
    ])


def _m_lcm(r):
    a, b = r.sample([4, 6, 8, 9, 10, 12, 14, 15, 18, 20, 24, 25, 30, 35, 40, 45], 2)
    t = r.randint(5, 9)
    what = _pick(r, (("Bus A", "Bus B", "leaves the station"), ("One lighthouse", "another", "flashes"),
                     ("The red light", "the green light", "blinks"), ("Alarm one", "alarm two", "rings")))
    return _pick(r, [
        f"{what[0]} {what[2]} every {a} minutes and {what[1]} every {b} minutes. Both happen together at {t}:00 a.m. "
        f"When is the next time they coincide?",
        f"What are the greatest common divisor and least common multiple of {a * r.randint(2, 9)} and "
        f"{b * r.randint(2, 9)}?",
    ])


def _m_remainder(r):
    base, e, m = r.randint(2, 19), r.randint(10, 200), r.randint(3, 13)
    big = r.randint(1000, 999999)
    return _pick(r, [
        f"What is the remainder when {base}^{e} is divided by {m}?",
        f"What is the remainder when {big} is divided by {m}? Also find the units digit of {base}^{e}.",
        f"Find the smallest positive integer that leaves remainder {r.randint(1, 2)} when divided by {m}, and remainder "
        f"{r.randint(0, 2)} when divided by {m + r.randint(2, 5)}.",
    ])


def _m_sequence(r):
    a, d, n = r.randint(-20, 30), r.randint(-7, 12) or 3, r.randint(8, 60)
    g0, rr, k = r.randint(1, 9), r.choice([2, 3, -2, 5]), r.randint(5, 12)
    growth = {2: "doubles", 3: "triples"}.get(rr, f"grows {abs(rr)}-fold")
    return _pick(r, [
        f"An arithmetic sequence starts {a}, {a + d}, {a + 2 * d}, ... What is its {n}th term, and what is the sum of "
        f"its first {n} terms?",
        f"A geometric sequence has first term {g0} and common ratio {rr}. What is the sum of the first {k} terms?",
        f"A colony of bacteria {growth} "
        f"every {r.choice([20, 30, 45, 60])} minutes. Starting from {g0 * 100} cells, how many are there after "
        f"{k} periods?",
    ])


def _m_probability(r):
    s = r.randint(3, 11)
    red, blue, green = r.randint(2, 9), r.randint(2, 9), r.randint(0, 6)
    return _pick(r, [
        f"Two fair six-sided dice are rolled. What is the probability that the sum is {s}?",
        f"A bag holds {red} red, {blue} blue and {green} green marbles. Two marbles are drawn without replacement. "
        f"What is the probability that both are the same color?",
        f"A fair coin is flipped {r.randint(4, 10)} times. What is the probability of getting exactly "
        f"{r.randint(1, 4)} heads?",
        f"A bag has {red} red and {blue} blue counters. One is drawn, put back, and another is drawn. What is the "
        f"probability that at least one is red?",
    ])


def _m_combinatorics(r):
    n, k = r.randint(6, 15), r.randint(2, 5)
    word = _pick(r, ("BANANA", "LETTER", "PEPPER", "COFFEE", "ORANGE", "BALLOON", "CIRCLE", "RIDDLE", "TOMATO", "GARDEN"))
    return _pick(r, [
        f"In how many ways can a committee of {k} be chosen from {n} people?",
        f"How many distinct arrangements of the letters of the word {word} are there?",
        f"A club of {n} members must elect a president, a treasurer and a secretary (all different people). How "
        f"many ways can this be done?",
        f"How many {k}-digit numbers have all digits different and no digit equal to 0?",
    ])


def _m_interest(r):
    p = r.choice([500, 800, 1000, 1500, 2000, 2500, 5000, 10000])
    rate = r.choice([2, 3, 3.5, 4, 5, 6, 7.5, 8])
    y = r.randint(2, 10)
    n = _names(r, 1)[0]
    return _pick(r, [
        f"{n} deposits {_money(p)} in an account paying {rate:g}% simple interest per year. How much interest is "
        f"earned in {y} years?",
        f"{_money(p)} is invested at {rate:g}% interest compounded annually. What is the balance after {y} years, "
        f"to the nearest cent?",
        f"How many whole years does it take for {_money(p)} to at least double at {rate:g}% interest compounded "
        f"annually?",
    ])


def _m_fractions(r):
    a, b, c, d = r.randint(1, 9), r.randint(2, 12), r.randint(1, 9), r.randint(2, 12)
    op = r.choice(["+", "-", "\\times", "\\div"])
    word = {"+": "sum", "-": "difference", "\\times": "product", "\\div": "quotient"}[op]
    return _pick(r, [
        f"Compute $\\frac{{{a}}}{{{b}}} {op} \\frac{{{c}}}{{{d}}}$ and write the result in lowest terms.",
        f"What is the {word} of {a}/{b} and {c}/{d}, written as a simplified fraction?",
        f"A jug is {a}/{b + a} full. After {c}/{d + c} of a jug of water is added, how full is it? Express the answer "
        f"as a fraction.",
    ])


def _m_circle(r):
    rad, h = r.randint(2, 25), r.randint(3, 40)
    u = r.choice(["cm", "m", "in"])
    return _pick(r, [
        f"A circle has radius {rad} {u}. Find its area and circumference in terms of pi.",
        f"A cylindrical tank has radius {rad} {u} and height {h} {u}. What is its volume? Leave the answer in terms "
        f"of pi.",
        f"A circular pizza with diameter {2 * rad} {u} is cut into {r.choice([6, 8, 10, 12])} equal slices. What is "
        f"the area of one slice, to two decimal places?",
        f"A sphere has radius {rad} {u}. What are its surface area and volume?",
    ])


def _m_pythagoras(r):
    trip = r.choice([(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41)])
    k = r.randint(1, 4)
    a, b, c = (t * k for t in trip)
    return _pick(r, [
        f"A {c}-foot ladder leans against a wall with its foot {a} feet from the wall. How high up the wall does it "
        f"reach?",
        f"A right triangle has legs of length {a} and {b}. What is the length of the hypotenuse, and what is the "
        f"triangle's area?",
        f"A rectangular screen is {a} inches wide and {b} inches tall. How long is its diagonal?",
    ])


def _m_clock(r):
    hh, mm = r.randint(1, 11), r.randint(0, 59)
    dur = r.randint(25, 400)
    n = _names(r, 1)[0]
    act = _pick(r, ("a road trip", "a baking session", "a hike", "a study marathon", "a film festival screening",
                    "a volunteer shift"))
    return _pick(r, [
        f"{n} starts {act} at {hh}:{mm:02d} a.m. and it lasts {dur} minutes. At what time does it end?",
        f"{act.capitalize()} begins at {hh}:{mm:02d} and ends at {(hh + dur // 60) % 12 or 12}:{(mm + dur) % 60:02d} "
        f"the same day. How long did it last, in hours and minutes?",
    ])


def _m_wages(r):
    n = _names(r, 1)[0]
    rate = r.choice([12, 14.5, 15, 16, 18, 20, 22.5, 25, 30])
    hrs = r.randint(30, 58)
    return _pick(r, [
        f"{n} earns {_money(rate)} per hour and gets time-and-a-half for every hour over 40 in a week. Last week "
        f"{n} worked {hrs} hours. How much did {n} earn?",
        f"{n} is paid {_money(rate)} an hour. After {r.choice([10, 15, 20, 22])}% of the pay is withheld for taxes, "
        f"how much does {n} take home for a {hrs}-hour week with no overtime?",
    ])


def _m_mixture(r):
    v1, v2 = r.randint(2, 20), r.randint(2, 20)
    c1, c2 = r.sample([5, 10, 12, 15, 20, 25, 30, 40, 50, 60], 2)
    sub = _pick(r, ("salt", "alcohol", "sugar", "acid", "juice concentrate"))
    return _pick(r, [
        f"{v1} liters of a {c1}% {sub} solution are mixed with {v2} liters of a {c2}% {sub} solution. What is the "
        f"concentration of the mixture?",
        f"How many liters of a {max(c1, c2)}% {sub} solution must be added to {v1} liters of a {min(c1, c2)}% solution "
        f"to get a {(c1 + c2) // 2}% solution?",
    ])


def _m_coins(r):
    nd, nq = r.randint(3, 40), r.randint(3, 40)
    n = _names(r, 1)[0]
    return _pick(r, [
        f"{n} has {nd + nq} coins, all dimes and quarters, worth {_money((10 * nd + 25 * nq) / 100)} in total. How "
        f"many of each coin does {n} have?",
        f"A jar holds nickels and dimes. There are {nd} more dimes than nickels and the total is "
        f"{_money((5 * nq + 10 * (nq + nd)) / 100)}. How many nickels are in the jar?",
    ])


def _m_reading(r):
    n = _names(r, 1)[0]
    pages, per, days = r.randint(120, 900), r.randint(8, 60), r.randint(2, 9)
    return _pick(r, [
        f"{n}'s book has {pages} pages. {n} reads {per} pages a day for {days} days, then doubles the pace. How "
        f"many more days does it take to finish the book?",
        f"A novel is {pages} pages long. If {n} reads {per} pages on weekdays and {per + r.randint(5, 30)} pages on "
        f"each weekend day, how many full weeks does it take to finish?",
    ])


def _m_fuel(r):
    km = r.randint(80, 1200)
    use = r.choice([4.5, 5.2, 6, 6.8, 7.5, 8, 9.4, 11])
    price = r.choice([1.45, 1.6, 1.72, 1.89, 2.05])
    mpg = r.randint(18, 45)
    return _pick(r, [
        f"A car uses {use:g} liters of fuel per 100 km. Fuel costs {_money(price)} per liter. How much does the fuel "
        f"for a {km} km trip cost?",
        f"A car gets {mpg} miles per gallon. Gas is {_money(price + 1.5)} a gallon. What does it cost to drive "
        f"{km} miles, and how many gallons are used?",
    ])


def _m_angles(r):
    a, b, c = r.randint(1, 7), r.randint(1, 7), r.randint(1, 7)
    n = r.randint(5, 12)
    return _pick(r, [
        f"The angles of a triangle are in the ratio {a}:{b}:{c}. What is the largest angle, in degrees?",
        f"What is the measure of each interior angle of a regular polygon with {n} sides?",
        f"Two angles are supplementary and one is {r.randint(10, 60)} degrees more than "
        f"{r.choice(['twice', 'three times'])} "
        f"the other. Find both angles.",
    ])


def _m_digits(r):
    k = r.randint(3, 17)
    lo, hi = r.choice([(100, 999), (1, 500), (10, 99), (1000, 9999), (50, 350)])
    return _pick(r, [
        f"How many integers from {lo} to {hi} inclusive are divisible by {k}?",
        f"How many integers from {lo} to {hi} are divisible by {k} or by {k + r.randint(1, 5)}?",
        f"What is the sum of the digits of the smallest {len(str(hi))}-digit multiple of {k}?",
    ])


def _m_function(r):
    a, b, c = r.randint(-5, 6) or 1, r.randint(-9, 9), r.randint(-12, 12)
    m, k = r.randint(-4, 5) or 2, r.randint(-6, 6)
    x0 = r.randint(-5, 6)
    f = f"{a}x^2 + {b}x + {c}".replace("+ -", "- ")
    g = f"{m}x + {k}".replace("+ -", "- ")
    return _pick(r, [
        f"Let f(x) = {f}. Compute f({x0}).",
        f"Let f(x) = {f} and g(x) = {g}. Find f(g({x0})) and g(f({x0})).",
        f"Let g(x) = {g}. Find the inverse function g^(-1)(x) and evaluate it at {k + m * x0}.",
        f"Find the vertex of the parabola y = {f}.",
    ])


def _m_inequality(r):
    a, b, c = r.randint(2, 13), r.randint(-30, 30), r.randint(20, 400)
    return _pick(r, [
        f"What is the smallest integer n such that {a}n {'+' if b >= 0 else '-'} {abs(b)} > {c}?",
        f"Solve the inequality |x - {r.randint(-5, 9)}| < {r.randint(2, 12)} and write the answer as an interval.",
        f"What is the largest integer n for which n^2 + {abs(b)}n is less than {c * 3}?",
    ])


def _m_stats(r):
    k = r.randint(5, 11)
    data = [r.randint(1, 60) for _ in range(k)]
    return _pick(r, [
        f"Find the mean, median and mode of the data set {data}.",
        f"For the numbers {', '.join(map(str, data))}, compute the population standard deviation, to two decimals.",
        f"If the number {r.randint(61, 99)} is added to the list {data}, by how much does the mean change?",
    ])


def _m_units(r):
    x = r.randint(2, 500)
    conv = _pick(r, (
        f"How many seconds are in {x} hours?", f"Convert {x} kilometers per hour to meters per second.",
        f"A recipe needs {x} grams of flour. How many kilograms is that, and how many 250-gram scoops?",
        f"How many square centimeters are in {x} square meters?",
        f"A water tank holds {x * 10} liters. How many cubic meters is that?",
        f"A marathon runner keeps a pace of {r.randint(4, 7)} minutes {r.randint(0, 59)} seconds per kilometer. How "
        f"long does a {x % 40 + 2} km run take?",
    ))
    return conv


def _m_collection(r):
    a, b = _names(r, 2)
    item = _pick(r, _COLLECT)
    x, y, z = r.randint(10, 200), r.randint(2, 30), r.randint(2, 6)
    return _pick(r, [
        f"{a} has {x} {item}. {b} has {y} fewer than {z} times as many as {a}. How many {item} do they have "
        f"together?",
        f"{a} collected {x} {item} and gave {y} to {b}. Then {a} bought {z} packs of {r.randint(5, 12)} {item} each. "
        f"How many {item} does {a} have now?",
        f"{a} and {b} together have {x + y} {item}. {a} has {y} more than {b}. How many does {b} have?",
    ])


def _m_exponents(r):
    a, b, c = r.randint(2, 9), r.randint(2, 8), r.randint(2, 8)
    return _pick(r, [
        f"Simplify ({a}^{b} * {a}^{c}) / {a}^{b + c - 1}.",
        f"Solve for x: {a}^(x + {b}) = {a}^{b * c}.",
        f"Evaluate log base {a} of {a ** b} plus log base {c} of {c ** 2}.",
        f"Which is larger, {a}^{b * 2} or {b}^{a * 2}? Justify without a calculator.",
    ])


_MATH_TEMPLATES: tuple[Callable[[random.Random], str], ...] = (
    _m_shopping, _m_savings, _m_distance, _m_meeting, _m_work, _m_discount, _m_ratio, _m_age, _m_recipe,
    _m_garden, _m_inventory, _m_average, _m_linear, _m_system, _m_tickets, _m_quadratic, _m_lcm, _m_remainder,
    _m_sequence, _m_probability, _m_combinatorics, _m_interest, _m_fractions, _m_circle, _m_pythagoras,
    _m_clock, _m_wages, _m_mixture, _m_coins, _m_reading, _m_fuel, _m_angles, _m_digits, _m_function,
    _m_inequality, _m_stats, _m_units, _m_collection, _m_exponents,
)


def generate_math_problems(n: int, seed: int = 0) -> list[str]:
    """`n` templated math problems (grade-school word problems, algebra, geometry, number theory,
    probability), deterministic for `seed`. Draws are independent: repeats are possible but rare."""
    rng = random.Random(f"deepspec-math-{seed}")
    out = []
    for _ in range(n):
        text = _pick(rng, _MATH_TEMPLATES)(rng)
        suffix = _pick(rng, _SUFFIXES)
        out.append(f"{text}\n{suffix}" if suffix and rng.random() < 0.5 else f"{text} {suffix}".strip())
    return out
