"""Templated programming tasks (functions, data structures, SQL, shell, regex, debugging,
translation, concepts), deterministic from a seed."""
from __future__ import annotations

import random


from .math_problems import _pick

# --------------------------------------------------------------------------------------------------
# Generated programming tasks
# --------------------------------------------------------------------------------------------------

_LANGS = ("Python", "Python", "Python", "JavaScript", "TypeScript", "Java", "C++", "C", "Go", "Rust", "C#",
          "Ruby", "Kotlin", "Swift", "PHP")
# (snake_case name, description). Phrased as specifications, not as benchmark prompts.
_FUNC_TASKS = (
    ("run_length_encode", "compresses a string with run-length encoding, so \"aaabcc\" becomes \"a3b1c2\""),
    ("run_length_decode", "reverses run-length encoding, turning \"x2y3\" back into \"xxyyy\""),
    ("is_balanced", "checks whether the brackets (), [] and {} in a string are balanced and properly nested"),
    ("top_k_words", "returns the k most frequent words of a text, ignoring case and punctuation, ties broken "
                    "alphabetically"),
    ("merge_intervals", "merges overlapping intervals given as a list of [start, end] pairs"),
    ("rotate_matrix", "rotates a square matrix 90 degrees clockwise in place"),
    ("spiral_order", "returns the elements of a 2D grid in clockwise spiral order"),
    ("roman_to_int", "parses a Roman numeral such as \"MCMXCIV\" into an integer, rejecting invalid numerals"),
    ("int_to_words", "spells out a non-negative integer below one billion in English words"),
    ("slugify", "turns an article title into a URL slug: lowercase, ASCII only, words joined by hyphens"),
    ("camel_to_snake", "converts identifiers like \"parseHTTPResponse\" to snake_case (\"parse_http_response\")"),
    ("wrap_text", "wraps a paragraph to a given line width without breaking words"),
    ("parse_duration", "parses durations such as \"1h30m\", \"45s\" or \"2h5s\" into a number of seconds"),
    ("flatten", "flattens an arbitrarily nested list into a single flat list, preserving order"),
    ("chunk", "splits a sequence into consecutive chunks of size n, the last one possibly shorter"),
    ("group_anagrams", "groups a list of words into lists of anagrams"),
    ("longest_common_prefix", "finds the longest common prefix of a list of strings"),
    ("edit_distance", "computes the Levenshtein distance between two strings with dynamic programming"),
    ("lcs_length", "returns the length of the longest common subsequence of two sequences"),
    ("binary_search_first", "finds the index of the first element not less than a target in a sorted array"),
    ("kth_largest", "returns the k-th largest element of an unsorted array in expected linear time"),
    ("moving_average", "computes the moving average of a stream of numbers over a fixed window"),
    ("validate_ipv4", "checks whether a string is a valid dotted-quad IPv4 address"),
    ("parse_query_string", "parses a URL query string into a map from keys to lists of values, decoding percent escapes"),
    ("dedupe_preserve_order", "removes duplicates from a list while keeping the first occurrence of each item"),
    ("histogram", "prints a horizontal text histogram of word lengths in a sentence"),
    ("matrix_multiply", "multiplies two matrices given as nested lists, raising an error on mismatched shapes"),
    ("transpose_csv", "reads CSV text and returns it with rows and columns swapped"),
    ("shortest_path_grid", "finds the length of the shortest path from the top-left to the bottom-right cell of a grid "
                           "with walls, moving in four directions"),
    ("topological_sort", "orders tasks with dependencies topologically and reports a cycle if there is one"),
    ("count_islands", "counts connected groups of '1' cells in a 2D grid of '0' and '1'"),
    ("sieve_primes", "lists all primes up to n with the sieve of Eratosthenes"),
    ("prime_factors", "returns the prime factorisation of an integer as a list of (prime, exponent) pairs"),
    ("gcd_list", "computes the greatest common divisor of a list of integers"),
    ("power_set", "generates all subsets of a set"),
    ("permutations_unique", "generates all distinct permutations of a list that may contain duplicates"),
    ("n_queens_count", "counts the solutions of the n-queens puzzle for a given board size"),
    ("sudoku_valid", "checks whether a partially filled 9x9 Sudoku board breaks any rule"),
    ("caesar_cipher", "encrypts and decrypts text with a Caesar shift, leaving non-letters unchanged"),
    ("vigenere", "implements Vigenere encryption and decryption for uppercase text"),
    ("base_convert", "converts an integer between any two bases from 2 to 36"),
    ("format_bytes", "formats a byte count in human-readable units (B, KiB, MiB, GiB)"),
    ("parse_semver", "parses semantic version strings and compares two versions, including pre-release tags"),
    ("word_frequencies_file", "reads a text file and writes each word with its count to a CSV file, most frequent first"),
    ("max_subarray", "returns the maximum sum of a contiguous subarray along with its start and end indices"),
    ("two_sum_indices", "returns the indices of two numbers in an array that add up to a target, in one pass"),
    ("majority_element", "finds the element that appears more than half the time, using constant extra space"),
    ("rotate_array", "rotates an array to the right by k steps in place"),
    ("next_permutation", "rearranges a list of numbers into the lexicographically next permutation"),
    ("interleave_strings", "interleaves the characters of two strings, appending the rest of the longer one"),
    ("validate_email_simple", "does a pragmatic validation of e-mail addresses and explains what it does not catch"),
    ("markdown_table", "renders a list of records as a Markdown table with aligned columns"),
    ("diff_lines", "prints a simple line-based diff of two texts, marking added and removed lines"),
    ("retry_with_backoff", "calls a function and retries it with exponential backoff and jitter when it raises"),
    ("debounce", "wraps a function so that rapid repeated calls only trigger it once after a quiet period"),
    ("memoize", "caches the results of a pure function with an optional maximum cache size"),
    ("rate_limiter", "implements a token-bucket rate limiter"),
    ("parse_log_line", "extracts timestamp, level and message from log lines like \"2024-03-01 12:00:03 [WARN] disk low\""),
    ("bank_account_sim", "simulates deposits, withdrawals and transfers between accounts, rejecting overdrafts"),
    ("tic_tac_toe_winner", "determines the winner of a tic-tac-toe board, if any"),
    ("game_of_life_step", "computes the next generation of Conway's Game of Life on a toroidal grid"),
    ("eval_rpn", "evaluates an arithmetic expression written in reverse Polish notation"),
    ("infix_to_postfix", "converts an infix arithmetic expression to postfix with the shunting-yard algorithm"),
    ("json_path_get", "looks up a value in nested dictionaries and lists by a dotted path like \"a.b.0.c\""),
    ("deep_merge", "recursively merges two nested dictionaries, the second one winning on conflicts"),
    ("luhn_check", "validates a credit card number with the Luhn checksum"),
    ("date_diff_days", "counts the days between two dates given as YYYY-MM-DD strings without a date library"),
    ("weekday_of", "returns the weekday of a given date using Zeller's congruence"),
    ("bin_packing_first_fit", "packs items into bins of fixed capacity with the first-fit decreasing heuristic"),
    ("knapsack_01", "solves the 0/1 knapsack problem and returns the chosen items"),
    ("coin_change_ways", "counts the ways to make an amount from unlimited coins of given denominations"),
    ("reservoir_sample", "picks k items uniformly at random from a stream of unknown length"),
    ("matrix_determinant", "computes the determinant of a square matrix by Gaussian elimination"),
    ("normalize_path", "normalises a Unix file path, resolving '.', '..' and repeated slashes"),
)
_DATA_STRUCTS = (
    ("LRU cache", "get and put in O(1) time with a fixed capacity"),
    ("min-heap", "push, pop, peek and building a heap from a list"),
    ("trie", "insert, exact search and listing all words with a given prefix"),
    ("doubly linked list", "append, prepend, remove by value and reverse"),
    ("binary search tree", "insert, delete, search and in-order traversal"),
    ("union-find (disjoint set)", "find with path compression and union by rank"),
    ("circular buffer", "fixed-capacity push that overwrites the oldest element, and iteration in order"),
    ("queue built from two stacks", "enqueue, dequeue and size, with amortised O(1) operations"),
    ("hash map with separate chaining", "put, get, remove and automatic resizing"),
    ("bit set", "set, clear, test and counting the set bits"),
    ("graph with adjacency lists", "adding edges, breadth-first search and depth-first search"),
    ("priority queue of tasks", "adding tasks with priorities, popping the highest priority, and changing a priority"),
    ("sparse matrix", "setting and getting entries and multiplying by a dense vector"),
    ("interval tree", "inserting intervals and querying all intervals that overlap a point"),
    ("skip list", "insert, search and delete with randomised levels"),
    ("stack with O(1) minimum", "push, pop, top and get_min"),
    ("rope for text editing", "insert and delete at an index and convert back to a string"),
    ("time-based key-value store", "set(key, value, timestamp) and get(key, timestamp) returning the latest value at or "
                                   "before the timestamp"),
)
_SQL_SCHEMAS = (
    ("employees(id, name, department_id, salary, hired_on)", "departments(id, name)",
     ("the highest-paid employee in each department", "departments whose average salary is above the company average",
      "employees hired in the last 90 days with their department names", "the median salary per department")),
    ("orders(id, customer_id, created_at, total)", "customers(id, name, country)",
     ("the top 5 customers by total spending in 2023", "the number of orders per country per month",
      "customers who placed an order every month this year", "each customer's first and most recent order dates")),
    ("students(id, name, year)", "grades(student_id, course, score)",
     ("students whose average score is above 85", "the best student in every course",
      "courses where more than a third of students scored below 50", "a ranking of students by average score with ties")),
    ("rides(id, driver_id, started_at, distance_km, fare)", "drivers(id, name, city)",
     ("the busiest hour of the day for each city", "drivers whose total fares grew month over month",
      "the average fare per kilometre per city", "drivers with no rides in the last 30 days")),
    ("products(id, name, category, price)", "inventory(product_id, warehouse, quantity)",
     ("products out of stock in every warehouse", "the total stock value per warehouse",
      "the three most expensive products per category", "categories where stock fell below 100 units")),
)
_SHELL_TASKS = (
    "finds the 10 largest files under a directory and prints their sizes in human-readable form",
    "renames every .jpeg file in a folder to .jpg, skipping names that already exist",
    "backs up a directory to a dated tar.gz archive and deletes archives older than 14 days",
    "counts the lines of code per file extension in a git repository",
    "monitors a log file and prints lines containing ERROR with a timestamp",
    "checks a list of URLs from a file and reports which ones do not return HTTP 200",
    "extracts unique IP addresses from an nginx access log and counts requests per IP",
    "watches a directory and runs a command whenever a file in it changes",
)
_REGEX_TASKS = (
    "dates in the form DD/MM/YYYY with a valid month and day range",
    "hexadecimal color codes like #fff or #1a2B3c",
    "US ZIP codes with an optional four-digit extension",
    "strong passwords: at least 10 characters with an uppercase letter, a digit and a symbol",
    "quoted strings that may contain escaped quotes",
    "24-hour times such as 07:45 or 23:59 but not 24:00",
    "semantic version numbers such as 1.4.2 or 2.0.0-rc.1",
    "Markdown links of the form [text](url)",
)
_BUGGY_SNIPPETS = (
    ("python", "def {f}(items):\n    total = 0\n    for i in range(1, len(items)):\n        total += items[i]\n    "
               "return total / len(items)\n", "computes the average of a list"),
    ("python", "def {f}(s):\n    seen = {{}}\n    for ch in s:\n        if ch in seen:\n            return ch\n        "
               "seen[ch] = True\n    return seen\n", "returns the first repeated character or None"),
    ("python", "def {f}(xs, target):\n    lo, hi = 0, len(xs)\n    while lo < hi:\n        mid = (lo + hi) // 2\n"
               "        if xs[mid] < target:\n            lo = mid\n        else:\n            hi = mid\n    return lo\n",
     "is a binary search for the insertion point"),
    ("javascript", "function {f}(arr) {{\n  const out = [];\n  for (var i = 0; i < arr.length; i++) {{\n"
                   "    setTimeout(() => out.push(arr[i]), 0);\n  }}\n  return out;\n}}\n",
     "should copy an array asynchronously"),
    ("java", "public static int {f}(int[] a) {{\n    int best = 0;\n    for (int x : a) {{\n"
             "        if (x > best) best = x;\n"
             "    }}\n    return best;\n}}\n", "returns the maximum of an array"),
    ("c", "char *{f}(const char *s) {{\n    char buf[64];\n    strcpy(buf, s);\n    return buf;\n}}\n",
     "returns a copy of a string"),
    ("python", "def {f}(d, key, default=[]):\n    default.append(key)\n    return d.get(key, default)\n",
     "looks up a key with a default"),
    ("go", "func {f}(xs []int) []int {{\n    var out []int\n    for i := range xs {{\n"
           "        go func() {{ out = append(out, "
           "xs[i]*2) }}()\n    }}\n    return out\n}}\n", "doubles every element"),
)
_EXTRAS = (
    "", "", "", "Include a few unit tests.", "Explain the time and space complexity.",
    "Handle edge cases such as empty input.", "Add docstrings or comments where helpful.",
    "Avoid third-party libraries.", "Show example usage.", "Keep it idiomatic for the language.",
    "Write it so it is easy to read for a beginner.", "Then explain how you would test it.",
)


def _a(noun: str) -> str:
    return ("an " if noun[0].lower() in "aeiou" else "a ") + noun


def _ident(name: str, lang: str) -> str:
    if lang in ("Python", "Ruby", "Rust", "C", "PHP"):
        return name
    parts = name.split("_")
    camel = parts[0] + "".join(p.capitalize() for p in parts[1:])
    return camel[0].upper() + camel[1:] if lang in ("Go", "C#") else camel


def _c_function(r):
    name, desc = _pick(r, _FUNC_TASKS)
    lang = _pick(r, _LANGS)
    ident = _ident(name, lang)
    forms = [
        f"Write a {lang} function `{ident}` that {desc}.",
        f"In {lang}, implement `{ident}`, which {desc}.",
        f"I need {lang} code for a routine named {ident} that {desc}. Can you write it?",
        f"Implement a {lang} function that {desc}. Call it {ident}.",
        f"Could you show me how to write a function in {lang} that {desc}?",
        f"Create {ident} in {lang}: it {desc}.",
    ]
    return f"{_pick(r, forms)} {_pick(r, _EXTRAS)}".strip()


def _c_struct(r):
    ds, ops = _pick(r, _DATA_STRUCTS)
    lang = _pick(r, _LANGS)
    return _pick(r, [
        f"Implement {_a(ds)} in {lang} supporting {ops}.",
        f"Write a {lang} class for {_a(ds)}. It should support {ops}. {_pick(r, _EXTRAS)}",
        f"Show a clean {lang} implementation of {_a(ds)} ({ops}) and explain the design choices.",
    ]).strip()


def _c_sql(r):
    t1, t2, asks = _pick(r, _SQL_SCHEMAS)
    ask = _pick(r, asks)
    dialect = _pick(r, ("PostgreSQL", "MySQL", "SQLite", "standard SQL", "SQL Server"))
    return _pick(r, [
        f"Given tables {t1} and {t2}, write a {dialect} query that returns {ask}.",
        f"Tables: {t1}; {t2}. I need a {dialect} query for {ask}. Please explain how it works.",
    ])


def _c_shell(r):
    t = _pick(r, _SHELL_TASKS)
    sh = _pick(r, ("bash", "a POSIX shell script", "PowerShell", "a Python script", "zsh"))
    return f"Write {sh if sh.startswith('a ') else sh + ' code'} that {t}."


def _c_regex(r):
    t = _pick(r, _REGEX_TASKS)
    lang = _pick(r, ("Python", "JavaScript", "Java", "Go", "PCRE"))
    return _pick(r, [
        f"Write a {lang} regular expression that matches {t}, and explain each part of it.",
        f"What regex would match {t}? Show how to use it in {lang} with a couple of test strings.",
    ])


def _c_debug(r):
    lang, code, what = _pick(r, _BUGGY_SNIPPETS)
    f = _pick(r, ("process", "helper", "compute", "run", "calc", "handle", "transform", "do_work", "f", "solve"))
    if lang != "python" and "_" in f:
        f = _ident(f, "Java")
    code = code.format(f=f)
    return _pick(r, [
        f"This {lang} function {what}, but something is wrong with it. Find the bug(s) and fix them:\n```{lang}\n{code}```",
        f"Review the following {lang} code, which {what}. What problems do you see?\n```{lang}\n{code}```",
        f"Why doesn't this work as intended? It {what}.\n```{lang}\n{code}```\nPlease give a corrected version.",
    ])


def _c_translate(r):
    name, desc = _pick(r, _FUNC_TASKS)
    a, b = r.sample(("Python", "JavaScript", "Java", "C++", "Go", "Rust", "C#", "Kotlin", "TypeScript"), 2)
    return _pick(r, [
        f"Write a function in {a} that {desc}, then port it to {b} and point out the differences.",
        f"Compare how you would implement a function that {desc} in {a} and in {b}.",
    ])


def _c_concept(r):
    topic = _pick(r, (
        "the difference between a process and a thread", "how Python's GIL affects multithreaded code",
        "what a closure is, with an example in JavaScript", "how hash tables handle collisions",
        "when to use a linked list instead of an array", "how garbage collection works in Java",
        "what Big-O notation means, with examples", "the difference between TCP and UDP for a chat app",
        "how async/await works in JavaScript", "what memoization is and when it helps",
        "how Rust's borrow checker prevents data races", "the CAP theorem with practical examples",
        "database indexing and when an index hurts", "how to design a REST API for a todo app",
        "the visitor pattern, with a small code example", "how git rebase differs from git merge",
        "how to structure unit tests for code that talks to a database", "what a race condition is and how to fix one",
    ))
    return _pick(r, [f"Explain {topic}.", f"Can you explain {topic}? Keep it practical.",
                     f"I'm preparing for an interview. Explain {topic} and show code where it helps."])


_CODE_TEMPLATES = ((_c_function, 10), (_c_struct, 3), (_c_sql, 2), (_c_shell, 1), (_c_regex, 1), (_c_debug, 2),
                   (_c_translate, 2), (_c_concept, 1))


def generate_code_tasks(n: int, seed: int = 0) -> list[str]:
    """`n` templated programming tasks (functions in several languages, data structures, SQL, shell,
    regexes, debugging, concepts), deterministic for `seed`."""
    rng = random.Random(f"deepspec-code-{seed}")
    fns = [f for f, _ in _CODE_TEMPLATES]
    weights = [w for _, w in _CODE_TEMPLATES]
    return [rng.choices(fns, weights)[0](rng) for _ in range(n)]
