"""Open-ended assistant-chat prompts with a follow-up turn, in the register of MT-Bench's first turns
(writing, roleplay, extraction, STEM, humanities, reasoning, and a little math and coding), deterministic
from a seed.

Why: the chat benchmark asks two-turn, open-ended requests (write an email, play a part, pull facts out of
a passage, explain a concept, solve a small puzzle, then a follow-up that rewrites or extends the
answer). ShareGPT holds only so many such prompts, and the other generators cover code and math. This
module writes them from templates of our own: every template, vocabulary entry and follow-up here was
written for this repository (none is taken from the benchmark, whose prompts are only checked against,
disjoint.py).

Each template is a function of a random generator that returns the first user turn, the slot values
that made it, and follow-ups that fit it (a question in the scene of a roleplay, a changed clue of a
puzzle, another field or output format for an extraction). The second user turn is drawn from those,
from a pool for the category, or from a generic pool (rewrite for an audience, a length, a form, a tone,
a letter each sentence starts with; critique and improve; expand a point; give examples; argue the other
side). Template strings use ``[a|b|c]`` for a choice of phrasing, ``[?text]`` for an optional clause and
``{slot}`` for a slot value (inserted after the choices are made, so slot values may hold any text).

Extraction passages (company figures, book records, reviews, sales tables, schedules, meeting notes,
listings, grades, news items, a paragraph whose words are to be counted) are composed from slot values,
and every fact the instruction asks about is in the passage. Reasoning puzzles state enough facts for a
single answer; the answer is computed (into ``Drawn.slots["answer"]``) but never shown.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable

# --------------------------------------------------------------------------------------------------
# Template expansion
# --------------------------------------------------------------------------------------------------

_ALT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


def _x(r: random.Random, tpl: str, **slots) -> str:
    """Expand `tpl`: choices ``[a|b]`` and optional parts ``[?text]`` (innermost first), then ``{slot}``s."""
    t = tpl
    while True:
        m = _ALT.search(t)
        if not m:
            break
        body = m.group(1)
        if body.startswith("?"):
            rep = body[1:] if r.random() < 0.5 else ""
        else:
            rep = r.choice(body.split("|"))
        t = t[:m.start()] + rep + t[m.end():]
    t = re.sub(r"[ \t]{2,}", " ", t)
    t = re.sub(r" +([,.;:?!])", r"\1", t)
    t = _SLOT.sub(lambda m: str(slots[m.group(1)]), t)
    t = t.strip()
    return t[:1].upper() + t[1:]


def _an(phrase: str) -> str:
    """The phrase with its indefinite article."""
    p = phrase.lower()
    vowel = p[:1] in "aeiou" and not p.startswith(("uni", "use", "one", "eu", "usu"))
    return ("an " if vowel or p.startswith(("hour", "honest")) else "a ") + phrase


def _mine(s: str) -> str:
    """Second person to first: 'your landlord' -> 'my landlord'."""
    return re.sub(r"\byour\b", "my", re.sub(r"\bYour\b", "My", s))


def _noart(s: str) -> str:
    return re.sub(r"^(a|an|the) ", "", s)


_NUM = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")
_ORD = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _nth(k: int) -> str:
    suf = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suf}"


def _join(items: list[str], conj: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} {conj} {items[1]}"
    return ", ".join(items[:-1]) + f", {conj} {items[-1]}"


# --------------------------------------------------------------------------------------------------
# Shared vocabularies
# --------------------------------------------------------------------------------------------------

_FEMALE = ("Ana", "Priya", "Lena", "Maya", "Sofia", "Amara", "Ingrid", "Yuki", "Fatima", "Chloe", "Nadia", "Rosa",
           "Mei", "Zara", "Hannah", "Leila", "Greta", "Aisha", "Elena", "Tara", "Ines", "Keiko", "Olga", "Bea",
           "Carmen", "Daria", "Esther", "Freya", "Gloria", "Hana", "Irene", "Joy", "Kavya", "Lucia", "Mira",
           "Noor", "Paula", "Ruth", "Sana", "Vera")
_MALE = ("Omar", "Ben", "Ravi", "Tomas", "Kenji", "Luca", "Diego", "Samuel", "Felix", "Arjun", "Hugo", "Jonas",
         "Malik", "Pavel", "Theo", "Wei", "Yusuf", "Emil", "Nico", "Oscar", "Amir", "Bruno", "Carlos", "Dmitri",
         "Elias", "Farid", "Gabriel", "Henrik", "Ivan", "Jamal", "Kofi", "Leo", "Marco", "Nate", "Owen", "Pedro",
         "Rafael", "Sami", "Tariq", "Victor")
_NAMES = _FEMALE + _MALE
_SURNAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Haddad", "Novak", "Fernandes", "Kowalski", "Mensah",
             "Ibrahim", "Schneider", "Costa", "Nakamura", "O'Brien", "Petrov", "Alvarez", "Chen", "Rossi",
             "Bakker", "Singh", "Dubois", "Eriksen", "Park", "Mwangi", "Hughes", "Varga", "Yilmaz", "Santos",
             "Kaur", "Lambert", "Nguyen", "Fischer", "Adeyemi", "Romero", "Sato", "Berg", "Khan", "Morales",
             "Walsh", "Horvat", "Abebe", "Jensen", "Pereira", "Suzuki", "Reyes", "Wójcik", "Murphy", "Ortiz")
_CITIES = ("Porto", "Nairobi", "Ljubljana", "Osaka", "Valparaíso", "Tampere", "Leeds", "Cork", "Ghent", "Tbilisi",
           "Montreal", "Adelaide", "Bergen", "Kraków", "Seville", "Hanoi", "Dakar", "Brno", "Lyon", "Quito",
           "Halifax", "Wellington", "Gdańsk", "Bologna", "Aarhus", "Izmir", "Mysore", "Cusco", "Graz", "Tartu",
           "Bilbao", "Kyoto", "Accra", "Riga", "Salzburg", "Cluj", "Perth", "Utrecht", "Galway", "Busan")
_AUDIENCES = ("first-year university students", "busy parents", "retired teachers", "small-business owners",
              "teenagers who are new to cooking", "people who have just moved to a new country",
              "nurses working night shifts", "amateur gardeners", "software developers", "people who dislike exercise",
              "young professionals living alone", "grandparents learning to use tablets",
              "members of a local history society", "hobby photographers", "first-time home buyers",
              "people on a tight budget", "secondary school teachers", "freelancers", "volunteers at a food bank",
              "keen cyclists", "people recovering from burnout", "students preparing for exams", "new managers",
              "commuters with long train rides", "families with young children", "book lovers",
              "people who have never travelled abroad", "outdoor enthusiasts", "a general audience",
              "readers of a community newsletter")
_EXPLAIN_AUD = ("a ten-year-old", "first-year university students", "retired teachers", "a general audience",
                "high-school students", "someone who left school at sixteen", "a group of nurses",
                "software developers",
                "an art student", "parents helping with homework", "readers of a popular-science magazine",
                "museum visitors", "a book club", "new employees at an engineering firm", "a curious grandparent",
                "a class of adult learners", "journalists", "policy makers with little time", "primary-school teachers",
                "a podcast audience")
_TONES = ("warm", "playful", "thoughtful", "lively", "down-to-earth", "witty", "reflective", "practical",
          "enthusiastic", "calm", "light-hearted", "serious", "encouraging", "conversational", "gently humorous",
          "honest", "upbeat", "no-nonsense", "friendly", "inspiring")
_LEARNERS = ("a nursing student", "a history student taking a science elective", "a retired accountant",
             "a high-school student", "a self-taught programmer", "a parent helping with homework",
             "an art student", "a journalist covering the topic for the first time", "a curious twelve-year-old",
             "a mechanic who likes to know how things work")
_TAILS = ("Keep it under {n} words.", "Use an everyday analogy.", "Finish with a one-sentence summary.",
          "Avoid jargon where you can.", "Use bullet points where they help.", "Include one concrete example.",
          "Write it as three short paragraphs.", "Assume I know nothing about the subject.",
          "Be precise; I'm comfortable with technical terms.", "Mention one mistake people often make.",
          "Keep the tone friendly.", "Add a short list of key terms at the end.", "Please be brief.",
          "Go into as much depth as you think is useful.", "Use a table if it makes things clearer.",
          "End with a question I could think about.", "Start with the big picture, then the details.",
          "Point out anything that is still debated.")


_RP_TAILS = ("Stay in character throughout.", "Keep it grounded in everyday detail.",
             "Use the words the character would "
             "really use.", "Don't mention that you're an AI.", "Be warm but honest.",
             "Ask me one question back at the "
             "end.", "Keep it conversational.", "Use short paragraphs.", "Don't be afraid to show some personality.",
             "Keep it realistic.", "Please be specific rather than general.")


def _rp_tail(r: random.Random, p: float = 0.55) -> str:
    return " " + r.choice(_RP_TAILS) if r.random() < p else ""


def _opt(r: random.Random, tpl: str, p: float = 0.5) -> str:
    """An optional sentence to append (with its leading space), or nothing."""
    return " " + _x(r, tpl) if r.random() < p else ""


def _tail(r: random.Random, p: float = 0.6) -> str:
    if r.random() >= p:
        return ""
    return " " + _x(r, r.choice(_TAILS), n=r.choice((100, 150, 200, 250, 300)))


# --------------------------------------------------------------------------------------------------
# Follow-up turns: generic, and by category (template-specific ones come from the templates)
# --------------------------------------------------------------------------------------------------

_F_AUD = ("a curious eight-year-old", "an expert in the field", "a busy executive",
          "someone whose first language isn't English", "a group of teenagers", "a retired professor",
          "a complete beginner", "a sceptical journalist", "a room full of engineers", "my grandmother",
          "a class of primary-school children", "a lawyer who wants every claim pinned down")
_F_FORM = ("a short rhyming poem", "a single post of under 280 characters", "a two-column table",
           "a bulleted list of at most six points", 'a JSON object with the keys "summary" and "points"',
           "a set of three haiku", "a short dialogue between two friends", "a numbered step-by-step guide",
           "a limerick", "flashcards, with a question on one line and its answer on the next",
           "a newspaper headline plus a two-sentence lead", "an FAQ with four questions", "a sonnet",
           "a recipe, with ingredients and method", "a text message to a friend", "a children's picture-book page")
_F_TONE = ("formal", "casual", "enthusiastic", "neutral", "humorous", "poetic", "urgent", "gentle", "persuasive",
           "understated", "dramatic", "old-fashioned")
_F_PERSP = ("a sceptic", "someone living a hundred years from now", "a child", "a journalist covering the story",
            "the person most affected by it", "a visitor from another planet", "someone who strongly disagrees",
            "a historian looking back")

# Follow-ups that fit after any answer (a puzzle's solution, an extracted table, code) ...
_GENERIC_FOLLOW = (
    "Now rewrite your answer for {aud}.",
    "Could you adapt that for {aud}? [Keep the main points.|Change whatever you need to.|Keep it about as long.]",
    "Cut it down to about {nwords} words without losing anything essential.",
    "Say the same thing in {nsent} sentences.",
    "Turn your answer into {form}.",
    "Present that again as {form}, please.",
    "Redo your answer so that every sentence begins with the letter {letter}.",
    "Try it once more, but each sentence has to open with a word starting with \"{letter}\".",
    "Look back at your answer critically. What are its weakest points? Then give an improved version.",
    "Is anything in your answer inaccurate or too vague? Fix it and say what you changed.",
    "Which part of your answer are you least sure about, and why?",
    "Give me a new version that uses no more than {maxw} words per sentence.",
)
# ... and those that fit after prose (writing, roleplay, explanations)
_PROSE_FOLLOW = (
    "Make it sound more {tone}.",
    "Rewrite it in {a_tone} tone[ and make it a little shorter|].",
    "Act as a tough editor: list three things you would change in your answer, then make those changes.",
    "Expand the {ordinal} point into a full paragraph with an example.",
    "Pick the {ordinal} idea you mentioned and go deeper into it.",
    "Give me two concrete examples that illustrate what you said.",
    "Add a short real-life example for each main idea.",
    "Now tell it from the point of view of {persp}.",
    "What would someone who disagrees with you say? Answer them.",
    "Summarise everything in a single sentence a busy person could read in five seconds.",
    "Turn that into a checklist of {nsteps} steps.",
    "Write it again without using the words \"very\", \"really\" or \"just\".",
    "Give it a title and a one-line subtitle.",
    "Rewrite it as a short conversation between two people.",
)
_PROSE_CATEGORIES = ("writing", "roleplay", "stem", "humanities")

_CAT_FOLLOW = {
    "writing": (
        "Give me three alternative titles or subject lines, and say which you prefer.",
        "Make a much shorter version that would fit on a postcard.",
        "Strip out every adjective you can and show me the leaner version.",
        "Now write a version for {aud}.",
        "Add a memorable closing line and explain why it works.",
        "Point out the two weakest sentences and rewrite them.",
    ),
    "roleplay": (
        "Stay in character and tell me about the hardest day you've had in this role.",
        "Step out of character for a moment: which details did you choose to make the voice convincing?",
        "Still in character, what would you say to someone who is just starting out?",
        "Keep going in character, but now you're in a hurry and a little impatient.",
    ),
    "extraction": (
        "Now present the same result as {fmt}.",
        "Add a one-sentence summary of what the data shows.",
        "Double-check your answer against the text and correct anything you missed.",
        "Explain briefly how you found each value.",
    ),
    "stem": (
        "How would you explain this to {aud}?",
        "What's a common misconception about this topic, and why do people believe it?",
        "Give a numerical example with realistic values.",
        "What is one open question researchers are still working on here?",
        "How has our understanding of this changed over the last hundred years?",
        "Design a simple experiment or observation that would test one claim from your answer.",
        "What are the limits of the explanation you just gave?",
        "What assumptions does your answer rely on, and when would they fail?",
    ),
    "humanities": (
        "Pick one of your points and argue the opposite side as well as you can.",
        "How does this apply to the present day?",
        "Write a short dialogue between two people who disagree about this.",
        "Which of your points would historians or scholars argue about most, and why?",
        "Give a concrete case study that illustrates your answer.",
        "How would you explain this to {aud}?",
        "What primary sources would help someone check what you said?",
    ),
    "reasoning": (
        "Explain your reasoning as a numbered list of steps.",
        "Write a similar puzzle with a different answer, and include its solution.",
        "How could someone check your answer without redoing the whole thing?",
        "Which single fact in the puzzle is most important, and why?",
    ),
    "math": (
        "Show a different way to check the answer.",
        "Explain it again as if I'm not good with numbers.",
        "Give me a similar question to try on my own, without the answer.",
    ),
    "coding": (
        "Now add error handling for bad input.",
        "Write a couple of unit tests for it.",
        "How would the same thing look in {lang}?",
        "What would you change if the input were a million times larger?",
        "Explain the code line by line for a beginner.",
    ),
}
_F_FMT = ("a markdown table", "CSV", "YAML", "a JSON array", "a bulleted list", "plain sentences")
_LANGS = ("Python", "JavaScript", "Go", "Rust", "Java", "C#", "Ruby", "Bash", "Kotlin", "TypeScript", "PHP", "Swift")


def _follow_slots(r: random.Random) -> dict:
    tone = r.choice(_F_TONE)
    return {"aud": r.choice(_F_AUD), "nwords": r.randrange(40, 160, 10), "nsent": r.choice(_NUM[2:7]),
            "form": r.choice(_F_FORM), "letter": r.choice("BCDFGHLMNPRSTW"), "tone": tone, "a_tone": _an(tone),
            "ordinal": r.choice(("first", "second", "third", "last")), "persp": r.choice(_F_PERSP),
            "nsteps": r.choice(_NUM[4:9]), "maxw": r.randint(8, 15), "fmt": r.choice(_F_FMT),
            "lang": r.choice(_LANGS)}


# --------------------------------------------------------------------------------------------------
# The template registry
# --------------------------------------------------------------------------------------------------

# A template: r -> (first turn, slots, follow-ups written for this prompt)
Template = Callable[[random.Random], "tuple[str, dict, list[str]]"]
_TEMPLATES: dict[str, list[tuple[str, Template]]] = {}

CATEGORIES = (("writing", 22), ("roleplay", 16), ("extraction", 14), ("stem", 14), ("humanities", 14),
              ("reasoning", 12), ("math", 4), ("coding", 4))


def _template(category: str):
    def deco(fn):
        _TEMPLATES.setdefault(category, []).append((fn.__name__.lstrip("_"), fn))
        return fn
    return deco


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------

_EMAILS = (
    ("your landlord", "asking for the leaking kitchen tap to be repaired before the weekend"),
    ("a professor", "requesting a one-week extension on a term paper after a family emergency"),
    ("a colleague in another team",
     "proposing a short meeting to sort out overlapping responsibilities on a shared project"),
    ("your manager", "asking to try a four-day working week for three months"),
    ("a customer who received a damaged order", "apologising and explaining how the replacement will be handled"),
    ("the organiser of a neighbourhood festival", "offering to run a children's craft stall"),
    ("a hiring manager who interviewed you last week", "politely following up on the decision"),
    ("your team", "announcing that the office will close early on Friday for maintenance work"),
    ("a supplier", "pointing out that the last three deliveries arrived late and asking for a plan to fix it"),
    ("a former mentor", "catching up and asking whether they would act as a reference"),
    ("your child's teacher", "asking how you can support your child's reading at home"),
    ("a gym", "cancelling a membership and asking for written confirmation"),
    ("a venue manager", "asking about availability and prices for a fortieth birthday party"),
    ("a volunteer group", "thanking them after a successful beach clean-up"),
    ("a new client", "welcoming them and setting out what happens in the first month"),
    ("a software vendor", "reporting a bug that deletes saved drafts and asking when it will be fixed"),
    ("an author you admire", "inviting them to speak to a small book club"),
    ("the residents of your building", "proposing a shared composting scheme"),
    ("a conference committee", "withdrawing your talk and suggesting a colleague instead"),
    ("your insurance company", "disputing a rejected claim for storm damage"),
    ("a freelance designer", "giving feedback on the first draft of a logo"),
    ("your bank", "asking why an unfamiliar fee appeared on your statement"),
    ("the local council", "asking for a pedestrian crossing near a primary school"),
    ("a potential investor", "introducing a small business that makes reusable food wraps"),
    ("a hotel", "asking for a quiet room and an early check-in"),
    ("a coworker who covered your shifts", "thanking them for stepping in"),
    ("a group of parents", "organising a rota for the school run"),
    ("a researcher whose lab you'd like to join", "asking about research assistant openings"),
    ("a builder", "asking for a revised quote after the kitchen plans changed"),
    ("an online shop", "asking to return a jacket that arrived in the wrong size"),
    ("your book club", "suggesting next month's title and a new place to meet"),
    ("a recruiter", "turning down a job offer while keeping the door open"),
    ("your team", "sharing the results of a customer survey and three next steps"),
    ("a museum's education office", "booking a guided visit for a class of twelve-year-olds"),
    ("a neighbour", "raising the problem of loud music late at night"),
    ("a journal editor", "asking about the status of a submitted article"),
    ("a guest speaker", "confirming the arrangements for their talk next Tuesday"),
    ("your manager", "asking for a budget to attend a course on data visualisation"),
    ("a charity", "offering to donate the used laptops from your office"),
    ("a former classmate", "inviting them to a ten-year reunion"),
    ("your tenants", "giving notice of roof repairs planned for next month"),
    ("a car repair shop", "asking them to explain a bill that came out higher than the quote"),
)
_EMAIL_TONES = ("polite but firm", "friendly", "warm and grateful", "concise and professional", "apologetic",
                "upbeat", "diplomatic", "formal", "relaxed", "confident", "tactful", "respectful", "cheerful",
                "matter-of-fact", "courteous")
_EMAIL_EXTRAS = ("include a clear subject line", "end with a specific question", "propose two possible dates",
                 "keep paragraphs to two sentences at most", "avoid jargon", "mention a deadline",
                 "add a short postscript", "use bullet points for the key details",
                 "offer an alternative in case the request can't be met", "keep it under 150 words",
                 "sign off with a first name only", "open with one friendly line before getting to the point")


@_template("writing")
def _email(r):
    to, why = r.choice(_EMAILS)
    tone = r.choice(_EMAIL_TONES)
    s = dict(to=to, why=why, tone=tone, a_tone=_an(tone), extra=r.choice(_EMAIL_EXTRAS), my_to=_mine(to),
             my_why=_mine(why))
    first = _x(r, r.choice((
        "Write {a_tone} email to {to} {why}.[? Please {extra}.]",
        "Draft an email to {to}, {why}. [Make it|It should be|Aim for something] {tone}[?, and {extra}].",
        "I have to write to {my_to}, {my_why}. Could you draft the email for me? "
        "[I want it to come across as {tone}.|The tone should be {tone}.][? Also, {extra}.]",
        "Help me put together a message to {my_to} {my_why}. Keep it {tone}[? and {extra}].",
        "Compose an email to {to} {why}. Tone: {tone}.[? One more thing: {extra}.]",
    )), **s)
    own = [_x(r, "Now write the reply [I|you] might get back."),
           _x(r, "A week has passed with no answer. Write a short, [polite|friendly] reminder."),
           _x(r, "Rewrite the email so it fits in [three|four|five] sentences."),
           _x(r, "Make the email more {t2} without changing what it asks for.", t2=r.choice(_F_TONE))]
    return first, s, own


_BLOG_TOPICS = (
    "what a month of cycling to work taught you about your city", "a beginner's guide to growing herbs on a windowsill",
    "why you swapped your smartphone for a basic phone for a year", "how to host a dinner party on a tight budget",
    "lessons from learning the cello as an adult", "the hidden costs of fast fashion", "a weekend in Ljubljana on foot",
    "how to start running again after a long break", "restoring an old bicycle, frustrations included",
    "working well from a small apartment", "what your grandparents' recipes say about family history",
    "how a neighbourhood tool library works", "five overlooked habits that improve sleep",
    "learning a second language after forty", "a first-timer's experience of a silent retreat",
    "choosing a first telescope", "making a small garden friendly to bees",
    "a year spent without buying new clothes", "why board games are having a revival",
    "the everyday science of baking sourdough", "what volunteering at an animal shelter taught you",
    "a slow train journey along the Norwegian coast", "keeping houseplants alive while travelling",
    "planning a low-waste camping trip", "reading more books without forcing it",
    "getting started with watercolour painting", "birdwatching in the middle of a city",
    "how small cafés survive next to big chains", "visiting the night markets of Taipei",
    "keeping chickens in a suburban backyard", "what makes a good walking shoe",
    "preparing for your first half-marathon", "lessons from running a school bake sale",
    "how public libraries have changed in twenty years", "why everyone should learn basic bike repair",
    "exploring Lisbon's hills without a car", "clearing out a family home after a parent moves into care",
    "composting indoors for beginners", "photographing the night sky with a phone",
    "a local market that has run for a century", "cooking with seasonal vegetables in winter",
    "budgeting for a gap year", "what you wish you'd known before adopting a rescue dog",
    "tips for a first solo hiking trip", "setting up a reading corner for children",
    "the pros and cons of living in a tiny house", "a family trip to the Scottish Highlands",
    "making a small balcony feel like a garden", "a day in the life of a night-shift nurse",
    "learning to cook curries from scratch", "fixing things instead of replacing them",
    "how to say no at work without burning bridges",
)
_BLOG_SHAPES = ("with a catchy title and three subheadings", "that ends with a question for readers",
                "of around 600 words", "that opens with a short anecdote", "with a numbered list of practical tips",
                "written in the first person", "with a two-line summary at the top",
                "that includes a short checklist readers can save", "of no more than 400 words",
                "with a pull quote in the middle")


@_template("writing")
def _blog_post(r):
    tone = r.choice(_TONES)
    s = dict(topic=r.choice(_BLOG_TOPICS), aud=r.choice(_AUDIENCES), tone=tone, a_tone=_an(tone),
             shape=r.choice(_BLOG_SHAPES))
    first = _x(r, r.choice((
        "Write a blog post about {topic} for {aud}[?, {shape}].",
        "Compose {a_tone} blog post on {topic}[? {shape}].",
        "I run a small blog for {aud}. Can you write a post about {topic}? "
        "[I'd like it to be {tone}.|Keep the tone {tone}.][? It should be one {shape}.]",
        "Draft {a_tone} post for my blog: {topic}. [My readers are mostly {aud}.|It's aimed at {aud}.]",
        "Could you write a blog entry on {topic}? Make it {tone}, {shape}.",
    )), **s)
    own = [_x(r, "Write [three|five] social media posts to promote the blog post."),
           _x(r, "Add a section that answers the most likely objection from a reader."),
           _x(r, "Now write a short email newsletter that introduces this post to subscribers.")]
    return first, s, own


_OCCASIONS = (
    "the retirement party of a school caretaker who worked there for thirty years", "the opening of a community garden",
    "your best friend's wedding reception", "the graduation ceremony of a nursing school",
    "the launch of a small independent bookshop", "a farewell lunch for a colleague who is moving abroad",
    "the first day of a summer coding camp for teenagers", "an awards night for local volunteers",
    "the fiftieth anniversary of a village football club", "a fundraising dinner for a children's hospital ward",
    "the unveiling of a mural painted by local students", "the end-of-season dinner of an amateur choir",
    "a memorial gathering for a well-loved neighbour", "the welcome session for new employees at a mid-sized company",
    "the reopening of a renovated public library", "a town meeting about a proposed cycle lane",
    "your sister's fortieth birthday party", "a school science fair prize-giving",
    "the final round of a youth chess tournament", "a staff meeting after a difficult year",
    "the naming ceremony of a new research ship", "the start line of a charity fun run",
    "the last assembly of the school year", "your parents' fortieth wedding anniversary",
    "a union meeting about workplace safety", "the launch of a neighbourhood repair café",
    "the opening night of a small film festival", "a dinner honouring a long-serving firefighter",
)
_SPEECH_LEN = ("about two minutes long when read aloud", "no longer than 300 words",
               "short enough to fit on one index card", "around five minutes long", "between 200 and 250 words",
               "under a minute and a half to deliver")
_SPEECH_INC = ("a light joke near the start", "one short personal story", "a call to action at the end",
               "thanks to the people who made it possible", "a closing line that echoes the opening",
               "a pause for the audience to raise a glass", "one vivid image people will remember")
_SPEAKER = ("as the organiser", "as a long-time friend", "on behalf of the whole team", "as a volunteer",
            "as a former student", "as the youngest person in the room", "as the host")


@_template("writing")
def _speech(r):
    tone = r.choice(_TONES)
    s = dict(occ=r.choice(_OCCASIONS), tone=tone, a_tone=_an(tone), slen=r.choice(_SPEECH_LEN),
             inc=r.choice(_SPEECH_INC), role=r.choice(_SPEAKER))
    first = _x(r, r.choice((
        "Write {a_tone} speech for {occ}[?, to be given {role}]. It should be {slen}.",
        "I've been asked to say a few words at {occ}[? {role}]. Could you write something {tone} and {slen}?",
        "Prepare a short, {tone} address for {occ}[? that includes {inc}].",
        "Help me with a speech for {occ}. I'm speaking {role}, and I want it {slen}.[? Please include {inc}.]",
    )), **s)
    own = [_x(r, "Make a thirty-second version for when time runs short."),
           _x(r, "Suggest where I should pause or slow down, and mark those places in the text."),
           _x(r, "Now rewrite it so that it suits a much more formal audience.")]
    return first, s, own


_HEROES = (
    "a night-shift baker", "a retired cartographer", "a twelve-year-old beekeeper",
    "a lighthouse keeper who has never left the island", "a translator who hears lies as a faint ringing",
    "a street musician with a cracked violin", "a nurse on her last shift before retirement",
    "a robot that repairs clocks", "a shy librarian", "a delivery cyclist in a city of canals",
    "an elderly chess champion", "a marine biologist stuck on a research boat", "a fox who keeps a diary",
    "a conductor on the last night train", "a young architect designing her first bridge",
    "a ghost who is afraid of the dark", "twin brothers who run rival cafés", "a gardener who can hear plants",
    "a retired astronaut living in a small village", "a detective who has lost her sense of smell",
    "a teenager who finds a map in a second-hand coat", "a tailor who sews memories into coats",
    "a museum guard on the night of a power cut", "an inventor whose machines only work on Tuesdays",
    "a postwoman in a mountain village", "a sea turtle returning to the beach where it hatched",
    "a supply teacher on her first day", "a grandmother learning to skateboard",
    "a cook on a cargo ship", "a weather forecaster who is always wrong", "a boy who collects lost keys",
    "an android learning to tell jokes", "a violin maker who never plays", "a park ranger in a snowstorm",
)
_STORY_SETTINGS = (
    "in a city where it never stops raining", "on a generation ship halfway to another star",
    "in a village cut off by floods", "in a night market that appears once a year",
    "during a blackout in a huge apartment block", "on a ferry that has been delayed for three days",
    "in a desert town with a single petrol station", "in an underwater research station",
    "at a country fair in the 1950s", "in a library that rearranges itself at night",
    "on the last day of the summer holidays", "in a mountain hut during an avalanche warning",
    "in a hospital on New Year's Eve", "in a bakery at four in the morning", "on an island with no cars",
    "in a town where everyone shares the same dream", "in a lighthouse during a storm",
    "at a wedding where nothing goes to plan", "in a half-abandoned shopping centre",
    "on a slow train across the steppe", "in a greenhouse on the Moon", "in an orchard on the night of the first frost",
    "at a chess tournament in a crumbling hotel", "in a museum after closing time",
)
_TWISTS = (
    "a letter arrives twenty years late", "a stranger already knows the hero's name",
    "the power goes out at the worst possible moment", "an old friend turns up with a secret",
    "a lost dog leads the way to something unexpected", "a mistake turns out to be a lucky one",
    "someone has to choose between two promises", "a locked box must be opened before sunrise",
    "the weather refuses to change", "a small lie grows out of control", "a rival becomes an ally",
    "a photograph shows something that should not be there", "an ordinary object turns out to be priceless",
    "a long-held belief turns out to be wrong", "a message is hidden inside a recipe",
)
_STORY_FORMS = ("a short story", "a piece of flash fiction", "the opening scene of a novella", "a bedtime story",
                "a short mystery", "a fable with a clear moral", "a very short science-fiction story",
                "a gentle comic story")
_STORY_RULES = ("Keep it under 500 words.", "Tell it in the first person.", "Use the second person throughout.",
                "Give it a bittersweet ending.", "Let the dialogue carry most of the plot.",
                "Use exactly five paragraphs.", "End on a cliffhanger.", "Put a twist in the very last line.",
                "Make it suitable for children aged six to eight.", "Write it in the present tense.",
                "Don't reveal the hero's name until the end.", "Open with a line of dialogue.")


@_template("writing")
def _story(r):
    rules = r.sample(_STORY_RULES, r.choice((0, 1, 1, 2)))
    if {"Tell it in the first person.", "Use the second person throughout."} <= set(rules):
        rules = rules[:1]            # one point of view
    s = dict(form=r.choice(_STORY_FORMS), hero=r.choice(_HEROES), where=r.choice(_STORY_SETTINGS),
             twist=r.choice(_TWISTS), rules=" ".join(rules))
    first = _x(r, r.choice((
        "Write {form} about {hero} {where}, in which {twist}. {rules}",
        "Could you write {form} set {where}? The main character is {hero}, and at some point {twist}. {rules}",
        "Here's a premise: {hero} {where}; {twist}. Turn it into {form}. {rules}",
        "I'd love {form} featuring {hero}. Set it {where}. {rules}",
        "Tell me {form}: {hero}, {where}. [Somewhere along the way|At the turning point], {twist}. {rules}",
    )), **s)
    own = [_x(r, "Continue the story for [two|three|four] more paragraphs[? and introduce a new character]."),
           _x(r, "Retell the same events from the point of view of a minor character."),
           _x(r, "Write a short sequel set [ten years|one week|a hundred years] later."),
           _x(r, "Summarise the story in three bullet points, then suggest a better title.")]
    return first, s, own


_POEM_SUBJECTS = (
    "the first snowfall in a city", "a grandmother's kitchen", "the sound of a train at night",
    "an abandoned greenhouse", "learning to swim as an adult", "a dog waiting by the door",
    "the smell of rain on hot pavement", "a lighthouse at dawn", "moving house", "a phone that never rings",
    "the last tram of the evening", "the tide going out", "a pair of old boots", "the night before an exam",
    "a market on a Saturday morning", "the hum of a refrigerator at three in the morning", "a friendship that faded",
    "autumn leaves in a gutter", "the first cup of coffee", "a power cut on a winter night", "an empty playground",
    "bees in a lavender bush", "a letter never sent", "the moon over a car park", "waiting at an airport gate",
    "fixing a bicycle with a child", "city pigeons", "a thunderstorm seen from a window",
    "the quiet after a party", "a jar of odd buttons", "stars seen from a farm", "a stream in spring",
    "the last day of school", "a bus stop in the rain", "a wind turbine on a hill", "a stray cat's routine",
    "the weight of a full backpack", "an old map", "the smell of a bookshop", "a kite caught in a tree",
    "the start of a long walk", "a cracked teacup", "a street at four in the morning", "a garden after frost",
    "learning a new language", "a crowded train at rush hour", "a lost glove on a fence",
    "a message in a bottle", "the sound of a typewriter", "a balcony full of tomato plants",
)
_POEM_FORMS = ("a sonnet", "a sequence of three haiku", "a free-verse poem", "a limerick", "a villanelle",
               "a ballad of four stanzas", "a short rhyming poem", "a prose poem", "a poem in rhyming couplets",
               "an ode", "a poem of exactly eight lines", "a cinquain", "a list poem", "a tanka")
_MOODS = ("wistful", "joyful", "quietly hopeful", "funny", "melancholy", "tender", "playful", "eerie",
          "celebratory", "calm", "restless", "nostalgic")
_POEM_USES = ("a friend's birthday card", "a school poetry wall", "a community newsletter",
              "a reading at a café open-mic night", "the back page of a zine", "a wedding programme",
              "a short video project", "a get-well card")
_ACROSTIC = ("RAIN", "HOME", "SPRING", "LIGHT", "DREAM", "WINTER", "FRIEND", "OCEAN", "MORNING", "GARDEN", "TRAIN",
             "HARBOUR", "SUMMER", "PEACE")


@_template("writing")
def _poem(r):
    mood = r.choice(_MOODS)
    s = dict(form=r.choice(_POEM_FORMS), subj=r.choice(_POEM_SUBJECTS), mood=mood, a_mood=_an(mood),
             use=r.choice(_POEM_USES), word=r.choice(_ACROSTIC))
    first = _x(r, r.choice((
        "Write {form} about {subj}.[? The mood should be {mood}.]",
        "Compose {form} on {subj}, with {a_mood} feel to it.",
        "Could you write me {form}? The subject is {subj}[?, and I'd like it to feel {mood}].",
        "I need {form} for {use}. Make it about {subj}[? and keep it {mood}].",
        "Write an acrostic poem about {subj} in which the first letters of the lines spell {word}.",
    )), **s)
    own = [_x(r, "Add one more stanza that changes the mood to something {m2}.", m2=r.choice(_MOODS)),
           _x(r, "Explain the images you chose and what each one is meant to suggest."),
           _x(r, "Now rewrite it as {f2}.", f2=r.choice(_POEM_FORMS))]
    return first, s, own


_PRODUCTS = (
    ("a collapsible silicone water bottle", ("folds flat when empty", "keeps drinks cold for six hours",
     "is dishwasher safe")),
    ("a solar-powered bike light", ("charges in daylight", "has three brightness settings", "clips on without tools")),
    ("a wool blanket woven from recycled sweaters", ("is machine washable", "comes in six colours",
     "is made in a small mill")),
    ("a modular bookshelf", ("assembles without screws", "grows one cube at a time", "is made of bamboo")),
    ("a pocket-sized weather station", ("measures humidity and air pressure", "syncs with a phone app",
     "runs a year on one battery")),
    ("a pair of noise-reducing earplugs for concerts", ("keeps music clear while lowering the volume",
     "comes in three sizes", "fits in a keyring case")),
    ("a smart plant pot", ("waters the plant itself", "warns you when the soil is too dry",
     "has a built-in grow light")),
    ("a travel backpack", ("opens flat like a suitcase", "has a hidden pocket for a passport",
     "fits airline cabin limits")),
    ("a cast-iron pan", ("comes pre-seasoned", "works on induction hobs", "is light enough to lift with one hand")),
    ("a children's bike helmet", ("has a built-in rear light", "adjusts with a single dial",
     "comes with reflective stickers")),
    ("a refillable fountain pen", ("writes on cheap paper without bleeding", "has a steel nib", "holds a week of ink")),
    ("an electric kettle", ("has five temperature settings for tea", "keeps water warm for half an hour",
     "boils a cup in under a minute")),
    ("a foldable standing desk", ("sets up in ten seconds", "holds two monitors", "tucks behind a door")),
    ("a dog harness", ("stops pulling without hurting the dog", "is padded and breathable",
     "has a handle for crossing roads")),
    ("a beeswax food wrap set", ("replaces plastic film", "lasts about a year", "is washable in cold water")),
    ("a digital meat thermometer", ("reads in two seconds", "has a magnet on the back", "is waterproof")),
    ("a reading lamp for musicians", ("lights a whole music stand evenly", "runs on rechargeable batteries",
     "folds into its case")),
    ("a compact sewing machine", ("has twelve stitch types", "is quiet enough for a flat",
     "comes with a beginner's guide")),
    ("a hiking pole", ("folds to thirty centimetres", "has a cork grip", "weighs under two hundred grams")),
    ("a sleep mask with built-in headphones", ("is washable", "blocks all light", "lasts a full night on one charge")),
    ("a board game about running a city farm", ("plays in under an hour", "works for two to five players",
     "teaches where food comes from")),
    ("a rain jacket made from ocean plastic", ("packs into its own pocket", "has taped seams",
     "comes in sizes for children and adults")),
    ("a wooden puzzle box", ("needs twelve moves to open", "is hand-finished", "has a secret compartment")),
    ("a coffee grinder", ("has forty grind settings", "is almost silent", "cleans with a single brush")),
    ("a portable power bank", ("charges a laptop", "shows the exact charge left", "is allowed on planes")),
    ("a set of stackable food containers", ("is oven safe", "stacks into a single neat tower", "has leak-proof lids")),
    ("a smart doorbell for renters", ("installs without drilling", "sends alerts to a phone", "stores video locally")),
    ("a weighted jump rope", ("counts your jumps", "has ball-bearing handles", "adjusts to any height")),
    ("a kids' science kit about crystals", ("has ten experiments", "uses safe household ingredients",
     "comes with a colour guide")),
    ("a heated bird bath", ("keeps water from freezing", "uses very little power", "is easy to clean")),
    ("a reusable notebook", ("wipes clean with a damp cloth", "scans pages to the cloud", "works with any gel pen")),
    ("a tent for festival-goers", ("pitches in two minutes", "has a blackout inner", "fits in a rucksack")),
)
_PRODUCT_PLACES = ("crowdfunding page", "packaging", "shop's front page", "catalogue entry", "trade-fair flyer",
                   "listing on a handmade-goods marketplace")
_PRODUCT_LENS = ("under 120 words", "to three short paragraphs", "to five bullet points plus a one-line summary",
                 "to about 80 words", "short enough for a phone screen")


@_template("writing")
def _product_description(r):
    prod, feats = r.choice(_PRODUCTS)
    f1, f2 = r.sample(feats, 2)
    tone = r.choice(_TONES)
    s = dict(prod=prod, f1=f1, f2=f2, aud=r.choice(_AUDIENCES), plen=r.choice(_PRODUCT_LENS),
             place=r.choice(_PRODUCT_PLACES), tone=tone, a_tone=_an(tone))
    first = _x(r, r.choice((
        "Write a product description for {prod}. Mention that it {f1} and that it {f2}.[? Aim it at {aud}.]"
        "[? Keep it {plen}.]",
        "Create {a_tone} listing for an online shop selling {prod}. Key selling points: it {f1}, and it {f2}.",
        "I'm launching {prod}. Could you write the text for its {place}? Highlight that it {f1}."
        "[? The buyers are mostly {aud}.]",
        "Give me copy for {prod} that would appeal to {aud}. It {f1} and {f2}; keep it {plen}.",
    )), **s)
    own = [_x(r, "Write three short customer reviews of it: one glowing, one mixed, one disappointed."),
           _x(r, "Turn it into a fifteen-second radio advert script."),
           _x(r, "Rewrite the description for a shop that sells only to businesses.")]
    return first, s, own


_ROLES = ("junior data analyst at a regional hospital", "barista at a specialty coffee shop",
          "museum education assistant", "mechanical engineer at a bicycle manufacturer",
          "marketing coordinator at a non-profit", "summer camp counsellor", "library assistant",
          "customer support specialist at a software start-up", "laboratory technician in a food-safety lab",
          "project coordinator at a construction firm", "graphic designer at a small publishing house",
          "research assistant in a psychology department", "sous chef at a farm-to-table restaurant",
          "park ranger", "copy editor at a local newspaper", "user researcher at a design agency",
          "teaching assistant at a primary school", "sales assistant at an outdoor-gear shop", "junior accountant",
          "events coordinator at a concert venue", "veterinary nurse", "translator for a travel company",
          "warehouse team leader", "social media manager for a theatre", "IT support technician at a university",
          "paralegal at an immigration law firm", "environmental field technician", "hotel receptionist",
          "junior web developer at an agency", "fundraising officer for a wildlife charity")
_BACKGROUNDS = (
    ("has just finished a degree in history", "have just finished a degree in history"),
    ("is changing careers after eight years in retail", "am changing careers after eight years in retail"),
    ("is returning to work after five years of raising children",
     "am returning to work after five years of raising children"),
    ("has mostly freelance experience", "have mostly freelance experience"),
    ("recently moved here from abroad", "recently moved here from abroad"),
    ("has volunteered for years but has little paid experience",
     "have volunteered for years but have little paid experience"),
    ("is a recent graduate with one strong internship", "am a recent graduate with one strong internship"),
    ("was a semi-professional athlete until an injury", "was a semi-professional athlete until an injury"),
    ("has done a similar job in a different industry", "have done a similar job in a different industry"),
    ("is finishing a part-time evening course", "am finishing a part-time evening course"),
    ("spent two years teaching English overseas", "spent two years teaching English overseas"),
)
_CL_EXTRAS = ("Emphasise transferable skills.", "Address a gap in the CV honestly.",
              "Mention one specific achievement with a number.", "Avoid clichés such as \"team player\".",
              "Keep it under 300 words.", "Open with something other than \"I am writing to apply\".")


@_template("writing")
def _cover_letter(r):
    bg3, bg1 = r.choice(_BACKGROUNDS)
    tone = r.choice(_TONES)
    role = r.choice(_ROLES)
    s = dict(role=role, a_role=_an(role), bg=bg3, bg_me=bg1, extra=r.choice(_CL_EXTRAS), tone=tone,
             name=f"{r.choice(_NAMES)} {r.choice(_SURNAMES)}")
    first = _x(r, r.choice((
        "Write a cover letter for someone applying to be {a_role}. The applicant {bg}.[? {extra}]",
        "Help me draft a cover letter. I'm applying for a job as {a_role}, and I {bg_me}. "
        "[Keep it to one page.|Make it {tone} but professional.|{extra}]",
        "Could you write a short cover letter for {name}, who {bg} and wants to work as {a_role}?[? {extra}]",
        "I {bg_me}, and I've just seen an opening for {a_role}. Can you write a cover letter that makes the most "
        "of my background?",
    )), **s)
    own = [_x(r, "Now write a short thank-you email to send after the interview."),
           _x(r, "Condense the letter into a message of under 100 words for a professional networking site."),
           _x(r, "What questions should I expect in the interview for this role?")]
    return first, s, own


_REVIEW_SUBJECTS = (
    "a ramen shop that opened last month near your office", "a cooperative board game about restoring coral reefs",
    "a budget pair of noise-cancelling headphones", "a novel about two rival lighthouse keepers",
    "a community theatre production of an old comedy", "a guided kayak tour along a rocky coast",
    "a meal-kit delivery service", "a small gallery's exhibition of paper sculptures",
    "an electric scooter you used for a month", "a bed-and-breakfast in a converted mill",
    "a language-learning app", "a documentary about urban foxes", "a family-run pizzeria",
    "a pair of trail-running shoes", "a weekend pottery course", "a science museum's new space gallery",
    "a smart thermostat", "a jazz trio's album of standards", "an indie video game about a lighthouse",
    "a cookbook of one-pot recipes", "a budget airline's new route", "your city's bike-sharing scheme",
    "an escape room with a pirate theme", "a second-hand bookshop with a café", "a robot vacuum cleaner",
    "a farmers' market that moved to a new site", "a podcast about the history of everyday objects",
    "a yoga class for beginners", "a wireless keyboard", "a hiking guidebook to a national park",
)
_STANCES = ("enthusiastic", "mixed", "disappointed", "fair but critical", "mostly positive", "lukewarm")
_REVIEW_INC = ("a star rating out of five", "one thing you would change", "who it is best suited for",
               "a short pros-and-cons list", "a comparison with what you expected")
_REVIEW_SITES = ("a local newspaper", "a review website", "a student magazine", "a neighbourhood forum",
                 "a personal blog")
_REVIEW_LENS = ("under 200 words", "to two paragraphs", "around 300 words", "punchy")


@_template("writing")
def _review(r):
    stance = r.choice(_STANCES)
    s = dict(subj=r.choice(_REVIEW_SUBJECTS), stance=stance, a_stance=_an(stance), inc=r.choice(_REVIEW_INC),
             site=r.choice(_REVIEW_SITES), rlen=r.choice(_REVIEW_LENS))
    first = _x(r, r.choice((
        "Write {a_stance} review of {subj}.[? Include {inc}.][? Keep it {rlen}.]",
        "Pretend you've just tried {subj}. Write {a_stance} review of it for {site}.",
        "Draft a review of {subj} for {site}. The overall verdict is {stance}, so "
        "[balance praise with criticism|explain what worked and what didn't|be specific about why].",
        "Could you write a review of {subj}? [I'd like it {stance}.|Make the verdict {stance}.][? Include {inc}.]",
    )), **s)
    own = [_x(r, "Now write the owner's or maker's public reply to the review."),
           _x(r, "Rewrite the review as if the experience had been much better."),
           _x(r, "Boil the review down to a single headline and three bullet points.")]
    return first, s, own


_OUTLINE_KINDS = ("an essay", "a ten-minute presentation", "a half-day workshop", "a podcast episode",
                  "a research report", "an explainer video", "a school assembly talk", "a short e-book", "a webinar",
                  "an evening class", "a magazine feature", "a public talk at the library")
_OUTLINE_TOPICS = (
    "reducing food waste at home", "the history of public libraries", "how new medicines are tested",
    "starting a community radio station", "the basics of personal budgeting", "why cities plant street trees",
    "the ethics of self-driving cars", "running meetings that people don't dread", "the life cycle of a smartphone",
    "protecting wetlands", "the rise of remote work", "learning to code as a hobby", "how bridges are inspected",
    "caring for elderly relatives", "the economics of music streaming", "how weather forecasts are made",
    "resolving conflict in small teams", "basic first aid", "urban beekeeping", "writing a grant application",
    "digital privacy for teenagers", "the science of sleep", "planning a school garden", "how recycling is sorted",
    "introducing a four-day week", "what makes a good museum exhibit", "the history of the bicycle",
    "saving water in dry regions", "preparing for a job interview", "the role of fungi in forests",
    "making a village easier to get around in a wheelchair", "how votes are counted", "the craft of brewing tea",
    "how earthquakes are measured", "planning a low-carbon holiday", "negotiating a salary",
    "how coffee spread around the world", "designing a good board game", "why sleep matters for athletes",
    "how open-source software is funded",
)


@_template("writing")
def _outline(r):
    tone = r.choice(_TONES)
    s = dict(kind=r.choice(_OUTLINE_KINDS), topic=r.choice(_OUTLINE_TOPICS), aud=r.choice(_EXPLAIN_AUD),
             nsec=r.choice(_NUM[3:8]), tone=tone)
    first = _x(r, r.choice((
        "Create an outline for {kind} on {topic}[? aimed at {aud}]. [Use {nsec} main sections, each with two or "
        "three sub-points.|Include a one-line purpose for each section.|Give each section a working title.]",
        "I'm preparing {kind} about {topic}. Can you sketch a structure with {nsec} sections"
        "[? and a rough time or word count for each]?",
        "Draft a detailed outline for {kind}. Topic: {topic}. Audience: {aud}. Tone: {tone}.",
        "What would a good structure for {kind} on {topic} look like? [I'm presenting it to {aud}.|Keep it to {nsec} parts.]",
    )), **s)
    own = [_x(r, "Write out the introduction in full."),
           _x(r, "Which section is likely to lose the audience's attention, and how would you fix that?"),
           _x(r, "Expand the {o} section into a full draft.", o=r.choice(_ORD[:3]))]
    return first, s, own


_SLOGAN_FOR = (
    "a library that lends tools instead of books", "a campaign encouraging people to mend their clothes",
    "a bakery that only uses local grain", "a city bike-sharing scheme",
    "a charity that teaches older adults to use the internet", "a recycling drive at a university",
    "a small company that repairs old phones", "a summer reading challenge for children",
    "a walking tour of a historic harbour", "a plant-based food truck",
    "a campaign to reduce speeding near schools", "a community orchestra looking for new members",
    "an app that helps neighbours share leftover food", "a blood-donation drive",
    "a start-up that rents out camping gear", "a museum's late-night opening",
    "a hardware shop celebrating fifty years", "a water-saving campaign during a drought",
    "a language exchange café", "a voter registration drive", "a dog-walking service run by students",
    "a solar panel cooperative", "a second-hand furniture shop", "a zero-waste grocery store",
    "a night-time safety campaign for cyclists", "a rural broadband project", "a children's coding club",
    "a pick-your-own strawberry farm", "a campaign to adopt older cats", "a river clean-up day",
    "a coffee roastery in a former fire station", "a hospital's hand-washing campaign", "a community choir",
    "a ferry service returning after twenty years", "a poetry festival",
)
_SLOGAN_RULES = ("Each one should be under eight words.", "At least one should rhyme.",
                 "Avoid the words \"best\" and \"better\".", "Make one of them a pun.",
                 "Keep them readable on a poster from across the street.", "Range from serious to silly.",
                 "Mark the one you think is strongest.", "Don't use exclamation marks.")


@_template("writing")
def _slogans(r):
    s = dict(what=r.choice(_SLOGAN_FOR), n=r.choice(_NUM[3:11]), rule=r.choice(_SLOGAN_RULES))
    first = _x(r, r.choice((
        "Come up with {n} slogans for {what}.[? {rule}]",
        "Suggest {n} catchy taglines for {what}. {rule}",
        "We need a short motto for {what}. Give me {n} options[? and tell me which you'd pick and why].",
        "Brainstorm {n} possible slogans for {what}. {rule}",
    )), **s)
    own = [_x(r, "Pick the strongest one and describe a poster that would use it."),
           _x(r, "Now give me {n2} more, but aimed at teenagers.", n2=r.choice(_NUM[3:7])),
           _x(r, "Explain what makes a slogan memorable, using your own list as examples.")]
    return first, s, own


_NEWS = (
    ("a neighbourhood bakery", "is launching a rye loaf made with grain from a nearby farm"),
    ("a public library", "is now open until nine in the evening on weekdays"),
    ("a small bike shop", "is offering free safety checks every Saturday in May"),
    ("a community theatre", "is holding auditions for its winter show"),
    ("an animal shelter", "has twelve senior dogs looking for homes"),
    ("a climbing gym", "has opened a new wall for beginners"),
    ("a local museum", "is lending out telescopes for the meteor shower"),
    ("a vegetarian restaurant", "has won a regional award for its tasting menu"),
    ("a start-up", "has just released the first version of its budgeting app"),
    ("a youth football club", "is looking for volunteer coaches"),
    ("a repair café", "has fixed its thousandth appliance"),
    ("a bookshop", "is hosting a late-night reading marathon"),
    ("a swimming pool", "is reopening after a six-month refurbishment"),
    ("a city orchestra", "is playing a free concert in the park"),
    ("a farm shop", "now delivers by electric cargo bike"),
    ("a language school", "is starting a free conversation club for refugees"),
    ("a zoo", "has welcomed a pair of red panda cubs"),
    ("a community garden", "is giving away seedlings this weekend"),
    ("a design studio", "has moved to a bigger office in the old town"),
    ("a charity shop", "is running a week-long sale of winter coats"),
    ("a science centre", "is opening a new gallery about the human brain"),
    ("a coworking space", "is starting a weekly lunchtime talk series"),
    ("a hiking club", "is celebrating its twenty-fifth anniversary with a night walk"),
    ("a school", "has raised enough money to build a new playground"),
)
_PLATFORMS = ("a photo-sharing app", "a professional networking site", "a short-video app", "a neighbourhood forum",
              "a microblogging site", "a community noticeboard page")


@_template("writing")
def _social_posts(r):
    who, news = r.choice(_NEWS)
    tone = r.choice(_TONES)
    s = dict(who=who, news=news, our=_noart(who), n=r.choice(_NUM[2:7]), platform=r.choice(_PLATFORMS), tone=tone)
    first = _x(r, r.choice((
        "Write {n} social media posts for {who} that {news}.[? Keep each under 280 characters.]"
        "[? Vary the style between them.]",
        "Draft a post for {platform} announcing that {who} {news}. Make it {tone}[? and add a few hashtags].",
        "Our {our} {news}. Could you write {n} short posts about it for {platform}?",
        "Help me announce on {platform} that our {our} {news}. I'd like {n} versions, from {tone} to formal.",
    )), **s)
    own = [_x(r, "Someone comments: \"Why should I care?\" Write a friendly reply."),
           _x(r, "Turn the best post into a short email to our mailing list."),
           _x(r, "Suggest an image or short video to go with each post.")]
    return first, s, own


_LETTER_TO = ("your grandmother", "your future self in ten years", "a pen pal in {city}",
              "a teacher who helped you years ago", "your new neighbours", "an old friend you lost touch with",
              "your sixteen-year-old self", "a child starting school", "a friend who is moving abroad",
              "your sibling on their wedding day", "a stranger who returned your lost wallet",
              "whoever lives in your flat after you")
_LETTER_WHY = ("to say thank you", "to share some big news", "to apologise for a long silence",
               "to offer encouragement", "to describe how your life has changed this year",
               "to pass on three pieces of advice", "to recall a favourite shared memory",
               "to explain a difficult decision")
_LETTER_DETAILS = ("a trip we took together", "a recipe that reminds me of them", "a song we both loved",
                   "the garden I've started", "my new job", "a pet we once had", "the town we grew up in")


@_template("writing")
def _personal_letter(r):
    to = r.choice(_LETTER_TO).replace("{city}", r.choice(_CITIES))
    tone = r.choice(_TONES)
    s = dict(to=to, my_to=_mine(to), why=r.choice(_LETTER_WHY), tone=tone, a_tone=_an(tone),
             detail=r.choice(_LETTER_DETAILS))
    first = _x(r, r.choice((
        "Write {a_tone} letter to {to} {why}.[? Keep it under [250|300|400] words.]",
        "Help me write a letter to {my_to}. I want {why}[? and to mention {detail}].",
        "Compose a short, heartfelt note to {to} {why}.",
        "I'd like to write to {my_to} {why}. Could you draft it? [Keep it {tone}.|Don't make it too sentimental.]",
    )), **s)
    own = [_x(r, "Now write the reply I might receive."),
           _x(r, "Make it half as long but keep the warmest line."),
           _x(r, "Add a postscript with a small surprise.")]
    return first, s, own


_PAIRS = ("a nervous job applicant and a friendly receptionist", "two siblings clearing out their parents' attic",
          "a chef and a food critic who used to be friends", "a lost tourist and a grumpy bus driver",
          "an astronaut and mission control during a minor emergency",
          "a teenager and a grandparent learning to use a smartphone",
          "two rival gardeners at a village show", "a detective and a witness who saw very little",
          "a shopkeeper and a customer trying to return a gift", "two strangers stuck in a lift",
          "a librarian and a student who has lost a rare book", "a coach and a player who wants to quit",
          "a landlord and a tenant with a pet they never mentioned", "two robots debating whether to learn to dance",
          "a ferry captain and a passenger who missed their stop", "a wedding planner and a very indecisive couple",
          "a time traveller and a confused café owner", "two old friends meeting after twenty years")
_DIALOGUE_WHEN = ("on a rainy Monday morning", "at the end of a very long day", "just after a power cut",
                  "on the day of an important deadline", "during a town festival", "while waiting for news")
_DIALOGUE_TOPICS = ("who should apologise first", "a misplaced set of keys", "whether to move to the countryside",
                    "a decision made years ago", "how to spend an unexpected windfall",
                    "what to do about a noisy neighbour",
                    "the last slice of cake", "a mistake nobody wants to admit")
_DIALOGUE_RULES = ("Keep it under twenty lines.", "Let the tension build slowly.", "Use stage directions sparingly.",
                   "End with an unexpected reconciliation.", "Neither character should state their feelings directly.",
                   "Make it funny.", "Format it as a script.", "Give each character a distinctive way of speaking.")


@_template("writing")
def _dialogue(r):
    s = dict(pair=r.choice(_PAIRS), when=r.choice(_DIALOGUE_WHEN), topic=r.choice(_DIALOGUE_TOPICS),
             rule=r.choice(_DIALOGUE_RULES))
    first = _x(r, r.choice((
        "Write a dialogue between {pair} {when}. {rule}",
        "Write a short scene, mostly in dialogue, in which {pair} [argue about|try to agree on|talk around] {topic}. {rule}",
        "Give me a conversation between {pair}. They are discussing {topic}.[? {rule}]",
    )), **s)
    own = [_x(r, "Continue the scene, but bring in a third character who changes the mood."),
           _x(r, "Rewrite the scene as a short piece of prose from one character's point of view."),
           _x(r, "Add stage directions that show what the characters are really feeling.")]
    return first, s, own


_ORG_NEWS = (
    ("a secondary school", "parents", "a new after-school robotics club"),
    ("a housing cooperative", "residents", "the replacement of all the building's windows next month"),
    ("a small software company", "staff", "a switch to a new holiday-booking system"),
    ("a sports club", "members", "new opening hours for the changing rooms"),
    ("a hospital ward", "visitors", "changes to the visiting hours"),
    ("a public library", "readers", "the launch of a seed-lending shelf"),
    ("a cycling club", "members", "a charity ride along the coast"),
    ("a food bank", "volunteers", "a new sorting process for donations"),
    ("a café", "customers", "a discount for bringing your own cup"),
    ("a university department", "students", "a peer-mentoring scheme for first-years"),
    ("a village council", "residents", "the new weekly bulky-waste collection"),
    ("a theatre", "subscribers", "the programme for the coming season"),
    ("a children's choir", "parents", "a concert tour to a twin town"),
    ("an accounting firm", "staff", "a new policy on working from home"),
    ("a dog-training school", "customers", "classes moving to a new field"),
    ("a community centre", "members", "a free course on using online banking safely"),
    ("a primary school", "parents", "a new walking bus to and from school"),
    ("a regional bus company", "passengers", "a new night route on Fridays and Saturdays"),
    ("a rowing club", "members", "the purchase of two new boats"),
    ("a dental practice", "patients", "the arrival of a new hygienist and longer opening hours"),
    ("a law firm", "staff", "a volunteering day with a local charity"),
    ("an allotment society", "plot holders", "new rules on water use during dry spells"),
    ("a bookshop", "customers", "a loyalty card that rewards bringing friends"),
    ("a research institute", "staff", "the opening of a new shared laboratory"),
    ("a residents' association", "neighbours", "a street party planned for late June"),
    ("a youth orchestra", "parents", "a change of rehearsal venue"),
)
_ANN_INC = ("the key dates", "who to contact with questions", "what people need to do, if anything",
            "a short thank-you to those involved", "what will change and what will stay the same")


@_template("writing")
def _announcement(r):
    org, aud, news = r.choice(_ORG_NEWS)
    tone = r.choice(_TONES)
    s = dict(org=org, aud=aud, news=news, tone=tone, inc=r.choice(_ANN_INC),
             alen=r.choice(("under 150 words", "to one short page", "to three paragraphs", "brief")))
    first = _x(r, r.choice((
        "Write an announcement from {org} to its {aud} about {news}. Keep it {alen}.",
        "Draft a newsletter item for {org} about {news}.[? Include {inc}.]",
        "Our {o2} needs to tell its {aud} about {news}. Could you write a {tone} notice?[? Please include {inc}.]",
        "Help me tell the {aud} of our {o2} about {news}. Keep it {alen} and {tone}.",
    )), o2=_noart(org), **s)
    own = [_x(r, "Now write a text-message version of under 160 characters."),
           _x(r, "Write three questions people are likely to ask, with short answers."),
           _x(r, "Rewrite it for people who will be unhappy about the change.")]
    return first, s, own


_FAQ_THINGS = ("a community bike repair workshop", "a new recycling scheme in an apartment block",
               "a weekend coding course for beginners", "a pet-sitting service",
               "a university's new late-night study space",
               "a food bank's volunteer programme", "a small theatre's pay-what-you-can nights", "a car-sharing club",
               "a city's new library app", "an allotment waiting list", "a summer sports camp",
               "a tenants' association",
               "a grant for installing solar panels", "a language exchange meetup", "a hospital's rules for visitors",
               "a museum membership", "a home composting trial", "a community fridge", "a guided birdwatching walk",
               "a coworking space for parents")


@_template("writing")
def _faq(r):
    s = dict(thing=r.choice(_FAQ_THINGS), n=r.choice(_NUM[4:11]), aud=r.choice(("newcomers", "first-time visitors",
                                                                             "people who are sceptical", "families",
                                                                             "older residents", "busy people")))
    first = _x(r, r.choice((
        "Write an FAQ page for {thing} with {n} questions and answers.[? Assume the readers are {aud}.]",
        "Put together {n} frequently asked questions, with short answers, for {thing}.[? Keep each answer under fifty words.]",
        "We're setting up {thing}. Can you write the FAQ for our website? About {n} questions[?, written with {aud} in mind].",
    )), **s)
    own = [_x(r, "Add two more questions about costs and accessibility."),
           _x(r, "Which of these questions should come first on the page, and why?"),
           _x(r, "Turn the FAQ into a one-page leaflet layout with headings.")]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# Roleplay
# --------------------------------------------------------------------------------------------------

_PROFESSIONS = (
    ("veterinarian", ("My cat has started drinking much more water than usual and sleeps most of the day.",
                      "My puppy chews everything when I leave the house for more than an hour.",
                      "We're adopting a rescue rabbit next week and I have no idea what it needs.")),
    ("personal trainer", ("I'm 45, I sit at a desk all day, and I get out of breath climbing two flights of stairs.",
                          "I've been lifting weights for a year, but my progress has completely stalled.",
                          "I want to run my first 10k in three months, but I've never run for more than twenty minutes.")),
    ("financial planner", ("I've just started my first full-time job and have no idea how to split my salary between saving and spending.",
                           "My partner and I want to buy a flat in five years, but we both have student loans.",
                           "I inherited a small sum from my aunt and I'm tempted to spend all of it on travel.")),
    ("interior designer", ("My living room is narrow and dark, and it has only one small window.",
                           "My partner and I share a studio flat and we both work from home.",
                           "I want my rented bedroom to feel calmer, but I'm not allowed to paint the walls.")),
    ("career counsellor", ("I've been an accountant for twelve years and I'm bored, but I'm scared to change.",
                           "I've been offered two jobs: one pays more, the other sounds more interesting.",
                           "I keep getting interviews but never any offers.")),
    ("chef", ("I have chickpeas, spinach, a lemon and some stale bread. What can I make tonight?",
              "I'm cooking for ten people on Saturday and two of them are vegan.",
              "My homemade bread always comes out dense and flat.")),
    ("gardener", ("The lower leaves of my tomato plants are turning yellow.",
                  "I've got a shady, north-facing yard and I want something that flowers.",
                  "Slugs have eaten half of my lettuce seedlings.")),
    ("travel agent", ("I have ten days and a modest budget, and I want mountains and good food.",
                      "I'm travelling with my elderly parents and a toddler next spring.",
                      "I want a two-week holiday that doesn't involve flying at all.")),
    ("librarian", ("My twelve-year-old says reading is boring.",
                   "I want to get into classic novels, but they always feel slow to me.",
                   "I'm researching my family history and don't know where to begin.")),
    ("car mechanic", ("My car squeals when I brake on cold mornings.",
                      "The engine warning light came on yesterday, but the car seems to drive fine.",
                      "I'm about to buy a ten-year-old hatchback from a private seller.")),
    ("sleep coach", ("I wake up at three every night and can't get back to sleep.",
                     "I work rotating shifts and feel exhausted all the time.",
                     "My teenager goes to bed at two in the morning at weekends.")),
    ("wedding planner", ("We have a small budget and ninety guests.",
                         "My fiancé wants a huge party and I want something tiny.",
                         "Our outdoor venue has no plan for rain.")),
    ("museum curator", ("Our small town museum gets almost no visitors under thirty.",
                        "Someone has donated a box of old letters from a local family.",
                        "I have to plan an exhibition about the history of our local railway.")),
    ("speech therapist", ("I stammer when I'm nervous, especially on the phone.",
                          "I have to give a wedding speech and my voice shakes whenever I speak in public.")),
    ("nutritionist", ("I skip breakfast and then snack all afternoon.",
                      "I've just become vegetarian and I worry about getting enough protein.",
                      "I'm training for a long bike ride and don't know what to eat on the day.")),
    ("estate agent", ("We want to sell our house quickly, but the market is slow.",
                      "I'm a first-time buyer and I can't tell whether a flat is overpriced.",
                      "The house I love has a damp basement.")),
    ("software architect", ("Our small team's web app slows down badly every Monday morning.",
                            "We're deciding whether to split our app into several services.",
                            "Our start-up keeps all its customer data in one shared spreadsheet.")),
    ("park ranger", ("We're planning our first overnight hike with the kids.",
                     "I found an injured bird on a trail this morning.",
                     "A group of teenagers keeps lighting fires near the lake.")),
    ("bicycle mechanic", ("My gears keep slipping on hills.",
                          "I want to turn my old road bike into something for commuting.")),
    ("etiquette expert", ("I've been invited to a colleague's wedding, but I can't afford anything on the gift list.",
                          "A friend keeps borrowing money and never mentions paying it back.")),
    ("negotiation coach", ("My boss offered me a promotion without a pay rise.",
                           "I want to ask my landlord to lower the rent.")),
    ("family counsellor", ("My two children fight every time they have to share a screen.",
                           "My teenager won't talk to me about school any more.")),
    ("barista trainer", ("My espresso shots taste sour.",
                         "I want to learn latte art at home with a cheap machine.")),
    ("architect", ("We want to add a small extension to a 1930s terraced house.",
                   "Our village hall needs step-free access on a tiny budget.")),
    ("study skills tutor", ("I have exams in six weeks and haven't started revising.",
                            "I read my notes over and over, but nothing sticks.")),
    ("event organiser", ("I'm organising a school fundraiser and only four parents have volunteered.",
                         "Attendance at our annual conference dropped by half this year.")),
    ("photographer", ("My photos of my kids indoors always come out blurry.",
                      "A friend has asked me to photograph her small wedding and I'm nervous.")),
    ("beekeeper", ("I want to keep bees on my roof in the city.",
                   "My hive seems much quieter than it was last month.")),
    ("language teacher", ("I've studied Spanish for three years, but I freeze in conversation.",
                          "I'm moving to Japan in six months and know no Japanese at all.")),
    ("carpenter", ("My wooden front door sticks every winter.",
                   "I want to build simple shelves in an alcove whose walls aren't straight.")),
    ("fitness instructor for older adults", ("I'm 72 and I'd like to improve my balance.",
                                             "My knees ache after long walks, but I don't want to stop walking.")),
    ("tailor", ("I bought a suit for a wedding and the sleeves are too long.",
                "I have a favourite coat with a torn lining. Is it worth repairing?")),
)
_MONEY = ("fifty dollars", "a hundred pounds", "two hundred euros", "very little money", "a few hours a week")
_RELATIONS = ("partner", "mother", "flatmate", "brother", "best friend", "sister", "dad")


@_template("roleplay")
def _professional_advice(r):
    prof, sits = r.choice(_PROFESSIONS)
    sit = r.choice(sits)
    ask = "" if sit.endswith("?") else " " + r.choice(("What would you advise?", "What should I do?",
                                                        "Where should I start?", "What do you suggest?"))
    s = dict(prof=prof, a_prof=_an(prof), sit=sit, ask=ask, years=r.choice(_NUM[5:21]))
    first = _x(r, r.choice((
        "Act as {a_prof}. {sit}{ask}",
        "I want you to take on the role of {a_prof} for this conversation.[? Answer as they would, with practical "
        "detail.] Here's my situation: {sit}{ask}",
        "Imagine you're {a_prof} with {years} years of experience. A client comes to you and says: \"{sit}\" "
        "How do you respond?",
        "Pretend to be {a_prof} and give me your honest opinion. {sit}[? Please keep your answer under 200 words.]",
        "You are {a_prof}, and I'm your next client. {sit}{ask}",
    )), **s) + _rp_tail(r)
    own = [_x(r, "That sounds good, but I can only spare {m} for this. What would you change?", m=r.choice(_MONEY)),
           _x(r, "And if that hasn't helped after [two weeks|a month], what then?"),
           _x(r, "I've tried something like that before and it didn't work. Any other ideas?"),
           _x(r, "Could you go through the first step more slowly? I'm not sure I follow."),
           _x(r, "What's the most common mistake people in my position make?"),
           _x(r, "My {rel} thinks your advice is over the top. How would you convince them?", rel=r.choice(_RELATIONS)),
           _x(r, "Is there anything I should definitely not do?")]
    return first, s, own


_CHARACTERS = (
    "a retired pirate captain who now runs a bakery", "a dragon who guards a public library",
    "a time traveller from the year 2350", "a Victorian plant collector",
    "a robot barista with opinions about everything",
    "a medieval court jester", "a very old and very patient tortoise", "a ghost who haunts a theatre",
    "a hard-boiled detective from a black-and-white film", "the cheerful cook of an Antarctic research station",
    "an alien anthropologist studying humans", "a grumpy lighthouse keeper", "a fairy-tale wolf who has reformed",
    "a houseplant that has become self-aware", "a Roman centurion who has woken up in the present day",
    "a knight who is terrified of horses", "a 1920s radio announcer",
    "a mountain guide who has climbed every peak in the range",
    "a cat who believes it owns the house", "a retired superhero who now runs a garden centre",
    "a sea captain's talkative parrot", "a wizard who only knows cooking spells", "an old-fashioned butler",
    "a maintenance robot on a space station", "an opera singer who can only speak dramatically",
    "a snowman who is worried about spring", "a detective who is also a golden retriever",
)
_CHAR_QUESTIONS = (
    "What is the secret to a good morning routine?", "How do you cope with a bad day?",
    "What do you think of smartphones?", "What's the best advice anyone has ever given you?",
    "What would you cook for a first date?", "How should I spend a rainy Sunday?", "What scares you most?",
    "What do you think of people who are always late?", "Describe your idea of a perfect holiday.",
    "What do you make of social media?", "How do I make friends in a new city?",
    "What's the most overrated thing in the world?", "How do you stay calm under pressure?",
    "What would you change about your job?", "What should I name my new goldfish?",
    "Is it ever acceptable to eat dessert first?", "What's the best way to learn something difficult?",
    "What do you think of today's music?", "What was the proudest moment of your life?",
    "How do you feel about Mondays?", "What gift should I buy my grandmother?",
    "Would you rather live in the mountains or by the sea?", "What's your view on working from home?",
    "How do you settle an argument?", "What do you do to relax?",
)


@_template("roleplay")
def _character_qa(r):
    q1, q2 = r.sample(_CHAR_QUESTIONS, 2)
    s = dict(who=r.choice(_CHARACTERS), q=q1)
    first = _x(r, r.choice((
        "From now on, speak as {who}. [Stay in character for the whole conversation.|Don't break character.|"
        "Answer the way they would really talk.] My first question: {q}",
        "Let's play a game: you are {who}, and I'll ask you questions.[? Skip any introduction.] {q}",
        "Take on the persona of {who} and answer this: {q}",
        "Respond as if you were {who}. {q}[? Keep it under 150 words.]",
        "For this chat, you're {who}. [Don't open by saying who you are.|Keep the voice consistent.] {q}",
    )), **s) + _rp_tail(r)
    own = [_x(r, "[Next question|Another one for you|Here's my next question]: {q2}", q2=q2),
           _x(r, "Still in character, tell me about a day when everything went wrong."),
           _x(r, "Now meet another character: {o}. Write the conversation between the two of you.",
              o=r.choice(_CHARACTERS))]
    return first, s, own


_OBJECTS = (
    "an umbrella forgotten on a night bus", "a lighthouse on a foggy coast",
    "the last book left on a library sale table",
    "a violin in a pawnshop window", "a shopping trolley abandoned in a canal",
    "a park bench that has stood for sixty years",
    "a snowman on the first warm day", "a kite stuck in an oak tree", "a retired steam locomotive in a museum",
    "a message in a bottle that has drifted for years", "a teddy bear left behind in a hotel room",
    "a satellite nearing the end of its mission", "a cactus on an office windowsill",
    "the front door of a busy family home",
    "a bicycle chained to a railing all winter", "a street lamp in a quiet village",
    "a letterbox that only gets junk mail",
    "the coffee machine in a hospital staff room", "an old oak in a school playground",
    "a chess piece that has lost every game",
    "a sandcastle as the tide comes in", "a pair of hiking boots after a long trek",
    "a scarecrow in a field with no crows",
    "a map pinned to a traveller's wall", "a ferry that has crossed the same strait for forty years",
)
_OBJECT_ASKS = ("Describe your day from your own point of view.", "How do you feel about the people who pass you by?",
                "What would you say to the person who left you there?",
                "Tell me about the strangest thing you have seen.",
                "What do you hope will happen to you next?", "Describe the changes you have seen over the years.",
                "What is the best moment you remember?", "What do you worry about at night?")


@_template("roleplay")
def _object_perspective(r):
    ask = r.choice(_OBJECT_ASKS)
    s = dict(obj=r.choice(_OBJECTS), ask=ask, ask_l=ask[0].lower() + ask[1:])
    first = _x(r, r.choice((
        "Imagine you are {obj}. {ask}",
        "Picture yourself as {obj}. {ask}[? Use vivid sensory details.]",
        "Write in the voice of {obj}: {ask_l}",
        "You are {obj}. Speaking in character, {ask_l}",
        "Pretend to be {obj} for a moment. {ask}[? Keep it to [one|two] paragraphs.]",
    )), **s) + _rp_tail(r)
    own = [_x(r, "Now write a short letter from you to {to}.",
              to=r.choice(("the person who owns you", "the city council", "a child who noticed you",
                           "your replacement"))),
           _x(r, "Continue: someone finally comes back for you. What happens?"),
           _x(r, "Tell the same moment from the point of view of a passer-by.")]
    return first, s, own


_COMPANY_KINDS = ("a small family business", "a fast-growing start-up", "a large public hospital", "a city council",
                  "an international charity", "a mid-sized manufacturer", "a national newspaper", "a university")
_INTERVIEW_QS = ("Why do you want this job?", "Tell me about a time you disagreed with a colleague.",
                 "Where do you see yourself in five years?", "What's a mistake you learned from?",
                 "How do you prioritise when everything is urgent?", "Describe a project you're proud of.",
                 "What would your last manager say about you?", "Why are you leaving your current job?")
_CANNED = ("I'm a quick learner and I work well under pressure.",
           "I once reorganised our team's shared files and it saved everyone time.",
           "My biggest weakness is that I take on too much.",
           "I want to grow, and this role seems like the right next step.")


@_template("roleplay")
def _interview(r):
    role = re.split(r" (?:at|in|for) ", r.choice(_ROLES))[0]     # the job title, without its employer
    s = dict(role=role, a_role=_an(role), co=r.choice(_COMPANY_KINDS), q=r.choice(_INTERVIEW_QS))
    first = _x(r, r.choice((
        "Act as a hiring manager interviewing me for a job as {a_role} at {co}. Ask me your first question and "
        "wait for my answer.",
        "You're a candidate applying to be {a_role} at {co}, and I'm the interviewer. First question: {q}",
        "Let's practise a job interview. You are the interviewer at {co}, and I'm applying to be {a_role}. "
        "[Start with a hard question.|Begin however you like.]",
        "Play a nervous but well-prepared applicant for the post of {role}. I'm on the panel at {co}. {q}",
    )), **s) + _rp_tail(r)
    own = [_x(r, "Here's my answer: \"{c}\" How would you rate it, and what would you ask next?", c=r.choice(_CANNED)),
           _x(r, "Now switch roles: give me feedback on how a strong candidate would have answered."),
           _x(r, "The panel asks about salary expectations. How do you handle it?")]
    return first, s, own


_COMPLAINTS = (
    ("a broadband provider", "My internet has dropped out every evening for a week, and I work from home."),
    ("an online bookshop", "I ordered a hardback and got a paperback with a torn cover."),
    ("a train company", "My train was cancelled and I missed a connecting flight."),
    ("a food delivery app", "My order arrived an hour late and stone cold."),
    ("a furniture store", "The wardrobe I bought is missing half its screws."),
    ("a gym chain", "You've charged me twice this month."),
    ("a phone maker", "Since the last update my battery barely lasts half a day."),
    ("an airline", "My suitcase came back with a broken handle."),
    ("a hotel booking site", "The hotel says it has no record of my reservation."),
    ("a streaming service", "I can't cancel my subscription; the button doesn't do anything."),
    ("a bike rental company", "The bike I rented had a flat tyre ten minutes into the ride."),
    ("an energy supplier", "My bill is three times higher than last month's."),
    ("a pet food subscription", "You sent dog food, but I have a cat."),
    ("a bank's card team", "My card was blocked while I was abroad."),
    ("a ticket seller", "The concert was moved and I can't make the new date."),
    ("a car rental agency", "The car smelled of smoke and now you're charging me a cleaning fee."),
    ("a grocery delivery service", "Half my order was swapped for things I didn't ask for."),
    ("a print shop", "The wedding invitations have the wrong date printed on them."),
    ("a cinema chain", "The film stopped halfway through and nobody told us what was happening."),
    ("a parcel courier", "The tracking says my parcel was delivered, but it never arrived."),
    ("a mobile network", "I'm being charged for roaming even though I never left the country."),
    ("a dry cleaner", "My coat came back with a stain that wasn't there before."),
    ("a kitchen fitter", "The new worktop has a crack along the edge."),
    ("a software company", "Your update deleted all my saved templates."),
    ("a language school", "My course was cancelled a day before it started."),
    ("a garden centre", "The tree I bought died within a month."),
)
_CUSTOMER_REPLIES = ("That's not good enough. I want a full refund.", "Thanks, but how long will that take?",
                     "This is the third time this has happened.", "Fine, but can you put that in writing?",
                     "I don't have time to send anything back.")


@_template("roleplay")
def _customer_service(r):
    svc, comp = r.choice(_COMPLAINTS)
    tone = r.choice(_TONES)
    s = dict(svc=svc, comp=comp, tone=tone)
    first = _x(r, r.choice((
        "You are a customer support agent for {svc}. A customer writes: \"{comp}\" Write your reply.[? Be {tone}.]",
        "Play the role of a support representative at {svc}. Respond to this message from an upset customer: "
        "\"{comp}\"[? Offer a concrete solution.]",
        "Imagine you work on the help desk of {svc}. How would you answer a customer who says: \"{comp}\"",
        "Act as the customer care team of {svc}. Here's today's first message: \"{comp}\" [Reply in character.|"
        "Keep it short and human.]",
    )), **s) + _rp_tail(r)
    own = [_x(r, "The customer replies: \"{c}\" How do you respond?", c=r.choice(_CUSTOMER_REPLIES)),
           _x(r, "Now the customer asks for a manager. Play the manager."),
           _x(r, "Write the internal note you would leave for your team about this case.")]
    return first, s, own


_TOUR_PLACES = ("a salt mine that is now a museum", "the old harbour district of a fishing town",
                "a botanical garden's tropical glasshouse", "a ruined castle on a cliff", "a working lighthouse",
                "a chocolate factory", "a lava field", "a Roman bath house", "a city's oldest covered market",
                "a former prison on an island", "a vineyard in autumn", "an observatory on a mountain",
                "a tea plantation in the hills", "a neighbourhood famous for its street art", "a shipwreck museum",
                "a rainforest canopy walkway", "a cathedral bell tower", "an old railway tunnel turned cycle path",
                "a cheese-making farm", "an old textile mill")
_TOUR_GROUPS = ("a class of ten-year-olds", "a group of retired engineers", "visitors who speak little English",
                "a family reunion of thirty people", "exchange students", "a group of architects",
                "visitors who are short on time", "a teenager's birthday party")
_CHILD_QS = ("Is it haunted?", "Why is it so cold in here?", "Did anyone ever get lost here?",
             "What's the oldest thing here?", "Can we touch that?", "Where's the toilet?")


@_template("roleplay")
def _tour_guide(r):
    s = dict(place=r.choice(_TOUR_PLACES), group=r.choice(_TOUR_GROUPS))
    first = _x(r, r.choice((
        "Pretend you're a tour guide showing {group} around {place}. Give your welcome speech and describe the "
        "first stop.",
        "Act as a guide at {place}. I'm part of {group}. [What should we see first, and why?|Tell us a story about "
        "the place.]",
        "You are the guide for a walking tour of {place}, and today's group is {group}. Introduce the tour"
        "[? in under 250 words].",
    )), **s) + _rp_tail(r)
    own = [_x(r, "A child in the group asks: \"{q}\" How do you answer, still as the guide?", q=r.choice(_CHILD_QS)),
           _x(r, "It starts pouring with rain halfway through. What do you do with the group?"),
           _x(r, "Now write the short sign that hangs at the first stop.")]
    return first, s, own


_COACHING = (
    ("running", "running",
     "I want to finish a half-marathon in four months, and right now I can run about five kilometres."),
    ("public-speaking", "public speaking", "I have to present to the whole company in three weeks and I'm terrified."),
    ("productivity", "productivity", "I work from home and lose hours to my phone every day."),
    ("chess", "chess", "I'm rated around 1200 online and I keep losing in the middle game."),
    ("writing", "writing", "I've started three novels and finished none."),
    ("language", "Portuguese", "I want to hold a basic conversation in Portuguese before a trip in two months."),
    ("swimming", "swimming", "I can swim a length, but I panic in deep water."),
    ("career", "career planning", "I'm a junior designer and I want a senior role within two years."),
    ("mindfulness", "mindfulness", "I get anxious before every meeting."),
    ("cooking", "cooking", "I can only make pasta and toast, and I want to cook for friends."),
    ("money", "budgeting", "I keep overspending on takeaway food."),
    ("climbing", "climbing", "I've been bouldering for three months and my fingers always hurt."),
    ("piano", "piano", "I'm an adult beginner with twenty minutes a day to practise."),
    ("study", "studying", "I'm preparing for a professional exam while working full time."),
    ("cycling", "cycling", "I want to commute by bike, but the route has a long, steep hill."),
    ("sleep", "better sleep", "I scroll on my phone until one in the morning and wake up tired."),
    ("tennis", "tennis", "My serve falls apart whenever a match gets close."),
    ("drawing", "drawing", "I can only draw stick figures, but I'd love to sketch people in cafés."),
    ("yoga", "yoga", "I'm stiff from sitting all day and can't touch my knees, let alone my toes."),
    ("negotiation", "negotiating", "I always accept the first offer because I hate conflict."),
    ("habit", "building habits", "I start every January with big plans and give up by February."),
    ("hiking", "hiking", "I want to walk a long-distance trail next summer but I've only done day hikes."),
    ("networking", "networking", "I'm new in my industry and freeze at professional events."),
    ("guitar", "guitar", "I've learned five chords but changing between them is painfully slow."),
    ("decluttering", "decluttering",
     "My flat is full of things I never use and I can't bring myself to throw them out."),
)


@_template("roleplay")
def _coach(r):
    adj, noun, goal = r.choice(_COACHING)
    s = dict(adj=adj, noun=noun, goal=goal)
    first = _x(r, r.choice((
        "Be my {adj} coach. {goal} [Give me a plan for the first month.|What should I do this week?|Set me three "
        "goals and tell me how we'll track them.]",
        "Act as an encouraging but demanding {adj} coach. {goal} Where do we start?",
        "I want you to coach me in {noun}. {goal}[? Ask me two questions before you give any advice.]",
        "You're a {adj} coach who has seen it all. {goal} Be straight with me.",
    )), **s) + _rp_tail(r)
    own = [_x(r, "It's week two and I've already missed three sessions. What now, coach?"),
           _x(r, "Be honest: is my goal realistic?"),
           _x(r, "Give me a short pep talk I can read before each session."),
           _x(r, "What should I track to know whether it's working?")]
    return first, s, own


_ADVENTURES = ("a flooded city where people travel by boat", "a space station whose crew has vanished",
               "a haunted boarding school", "an island of clockwork animals", "a desert caravan crossing a salt flat",
               "a kingdom where music is forbidden", "a submarine at the bottom of the ocean",
               "a mountain monastery during a blizzard", "a carnival that moves every night",
               "a forest where the trees whisper rumours", "a steam-powered airship", "a city built on the back of a "
               "giant turtle", "an abandoned theme park at night", "a lighthouse at the edge of the known world",
               "a market where people trade memories",
               "a detective agency in a rainy 1930s city", "a colony on a frozen moon", "a library with endless floors",
               "a pirate port during a festival")
_ADV_CHARS = ("a retired thief", "a young apprentice mapmaker", "a doctor with a secret", "a wandering musician",
              "a disgraced knight", "a curious engineer", "a journalist chasing a story",
              "a cook with a gift for languages")
_ADV_ACTS = ("talk my way out of it", "climb to the highest point nearby", "hide and listen",
             "ask the nearest stranger for help", "go back the way I came")


@_template("roleplay")
def _game_master(r):
    s = dict(world=r.choice(_ADVENTURES), me=r.choice(_ADV_CHARS))
    first = _x(r, r.choice((
        "Act as the narrator of a text adventure set in {world}. Describe the opening scene and give me three "
        "choices.[? I'm playing {me}.]",
        "Let's play an interactive story. You're the game master, and the setting is {world}. I'm {me}. Start the "
        "story and stop when I need to decide something.",
        "Run a short role-playing game for me set in {world}. My character is {me}. Describe what I see and ask "
        "what I do.",
    )), **s) + _rp_tail(r)
    own = [_x(r, "I take the {o} option, but I also quietly pocket anything useful I can see. What happens?",
              o=r.choice(_ORD[:3])),
           _x(r, "I ignore the choices and try to {a}. What happens?", a=r.choice(_ADV_ACTS)),
           _x(r, "Pause the game: list the places I've seen so far and how they connect.")]
    return first, s, own


_ERA_ROLES = ("a scribe in a medieval monastery", "a telephone switchboard operator in the 1920s",
              "a lamplighter in a nineteenth-century city", "a farmer in ancient Egypt during the Nile flood",
              "a sailor on a spice-trade ship in the 1600s", "an apprentice in one of the first printing workshops",
              "a coal miner in the early 1900s", "a potter in a Bronze Age village", "a baker in Roman Pompeii",
              "a silk merchant on a caravan route", "a telegraph operator during a gold rush",
              "a weaver in an early textile mill", "a stonemason building a cathedral",
              "a teacher in a one-room prairie school", "a ship's cook on a nineteenth-century whaling voyage",
              "the keeper of a medieval toll bridge", "a mapmaker in a sixteenth-century port",
              "a nurse in a field hospital a century ago", "a glassblower in Renaissance Venice",
              "a shepherd on a Scottish hillside in the 1700s", "a street vendor in Edo-period Japan",
              "a lighthouse keeper in the 1890s", "a railway navvy in the 1840s", "a scribe in ancient Mesopotamia")
_ERA_ASPECTS = ("your working day from dawn to dusk", "what you eat in a typical week", "your biggest worry this year",
                "how you learned your trade", "what you do on a rare day off",
                "the tools you use and how you care for them",
                "the news everyone in your town is talking about", "what you hope for your children",
                "the hardest winter you remember", "what you think of the people who rule over you")


@_template("roleplay")
def _historical_life(r):
    s = dict(who=r.choice(_ERA_ROLES), what=r.choice(_ERA_ASPECTS))
    first = _x(r, r.choice((
        "Imagine you are {who}. Describe {what}.[? Stay in character and mention nothing your character couldn't know.]",
        "Speak to me as {who}. I'd like to hear about {what}.",
        "Pretend you're {who}, and a visitor asks about {what}. What do you tell them?",
    )), **s) + _rp_tail(r)
    own = [_x(r, "Someone from our century shows you a smartphone. How do you react?"),
           _x(r, "What would surprise you most about life today?"),
           _x(r, "Step out of character: which details in your answer are historically uncertain?")]
    return first, s, own


_NEGOTIATIONS = (
    ("a flea-market trader selling a vintage desk lamp for 80", "a buyer who wants to pay 45"),
    ("a landlord renewing a lease with a ten per cent rent rise",
     "a long-standing tenant who wants the rent unchanged"),
    ("a used-car dealer", "a student buying a first car on a tight budget"),
    ("a client who wants a website built in two weeks", "a freelance designer who needs four"),
    ("a hiring manager offering a salary at the bottom of the range", "a candidate with two other offers"),
    ("a farmer selling apples in bulk", "a café owner who wants a weekly discount"),
    ("a hotel manager with one room left", "a traveller arriving at midnight"),
    ("a supplier who is raising prices", "the owner of a small bakery"),
    ("a parent setting screen-time rules", "a teenager with a counter-proposal"),
    ("a gallery owner", "an artist who wants a bigger share of sales"),
    ("a wedding caterer quoting for 120 guests", "a couple whose budget covers 80"),
    ("a publisher offering a small advance", "a first-time author"),
    ("a car mechanic who quoted for a full repair", "a driver who only wants the brakes fixed"),
    ("a festival organiser", "a band that wants a better slot and a higher fee"),
    ("a roommate who wants to split the bills evenly", "a roommate who is away half the month"),
    ("a shop owner selling a second-hand piano", "a music teacher who can only pay in instalments"),
    ("a neighbour who wants to cut down a shared hedge", "a neighbour who loves the hedge"),
    ("a software vendor pushing a three-year contract", "an IT manager who wants one year"),
    ("a boat-rental owner at the end of the season", "a family who turned up without a booking"),
    ("a school head asking staff to run an extra club", "a teacher who is already overloaded"),
)


@_template("roleplay")
def _negotiation(r):
    you, me = r.choice(_NEGOTIATIONS)
    s = dict(you=you, me=me)
    first = _x(r, r.choice((
        "Let's role-play a negotiation. You are {you}; I'm {me}. Open the negotiation.[? Be tough but fair.]",
        "Play {you} in a negotiation with me. I'll be {me}. Make your first offer and explain it briefly.",
        "I want to practise negotiating. Take the part of {you}, and I'll play {me}. You go first.",
    )), **s) + _rp_tail(r)
    own = [_x(r, "I say: \"That's more than I can do. Meet me halfway and we have a deal today.\" How do you respond?"),
           _x(r, "I walk away. Do you call me back, and what do you say?"),
           _x(r, "Step out of the role and tell me what I could have done better.")]
    return first, s, own


_TUTOR_TOPICS = ("dividing fractions", "why the seasons change", "how interest on a loan is calculated",
                 "why the sky is blue", "what makes a number prime", "how a bill becomes law",
                 "how the heart pumps blood",
                 "why ice floats", "finding the main idea of a paragraph", "subject-verb agreement",
                 "how sound travels",
                 "why we have time zones", "probability with coin flips", "writing a thesis statement",
                 "how mountains form", "why metals conduct electricity", "converting between units of length",
                 "what inflation means for pocket money", "reading a bar chart", "the past perfect tense",
                 "how a rainbow forms", "solving simultaneous equations", "why the Moon has phases",
                 "how to structure a persuasive essay", "what a food web is", "how electric circuits work",
                 "how to calculate the area of a triangle", "the causes of the First World War",
                 "how supply and demand set prices", "how to use a semicolon")
_TUTOR_STYLES = ("friendly", "Socratic", "strict but kind", "funny", "very patient")


@_template("roleplay")
def _tutor(r):
    s = dict(topic=r.choice(_TUTOR_TOPICS), style=r.choice(_TUTOR_STYLES), lev=r.choice(_LEARNERS))
    first = _x(r, r.choice((
        "Act as a patient tutor and help me understand {topic}. Don't just explain it: ask me guiding questions "
        "one at a time.",
        "You're a {style} tutor and I'm a student who is confused about {topic}. Start the lesson.",
        "Be my tutor for today. I'm {lev}, and the topic is {topic}. [Check what I already know first.|Start "
        "simple.]",
    )), **s) + _rp_tail(r)
    own = [_x(r, "I think it just happens by magic. Correct me gently."),
           _x(r, "I still don't get it. Try a completely different analogy."),
           _x(r, "Give me a quick three-question quiz on what we just covered, without the answers.")]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# Extraction: the passage is composed from the slot values, so every fact asked about is in it
# --------------------------------------------------------------------------------------------------

_CO_PRE = ("Brightfield", "Northwind", "Copperleaf", "Bluestone", "Harborview", "Silverpine", "Redwater",
           "Greenhollow", "Ironbridge", "Lakeside", "Starling", "Westmoor", "Quillfeather", "Suncrest", "Oakhaven",
           "Marigold", "Tidewell", "Ashgrove", "Kestrel", "Palisade", "Foxglove", "Meridian", "Cobalt", "Juniper")
_CO_SUF = ("Logistics", "Foods", "Robotics", "Textiles", "Energy", "Software", "Pharmaceuticals", "Motors", "Media",
           "Outdoor Gear", "Analytics", "Ceramics", "Furniture", "Biotech", "Telecom", "Shipping", "Games", "Optics")


def _people(r: random.Random, k: int) -> list[str]:
    firsts = r.sample(_NAMES, k)
    return [f"{f} {r.choice(_SURNAMES)}" for f in firsts]


def _listing(r: random.Random, lines: list[str]) -> str:
    """Records as a lettered, numbered or bulleted list, or one paragraph."""
    style = r.randrange(4)
    if style == 0:
        return "\n".join(f"{'abcdefgh'[i]}) {x}" for i, x in enumerate(lines))
    if style == 1:
        return "\n".join(f"{i + 1}. {x}" for i, x in enumerate(lines))
    if style == 2:
        return "\n".join(f"- {x}" for x in lines)
    return " ".join(lines)


def _frame(r: random.Random, passage: str, ask: str, intro: str) -> str:
    return r.choice((
        f"{intro}\n\n{passage}\n\n{ask}",
        f"{ask} Use the information below.\n\n{passage}",
        f"Read the following and answer the question after it.\n\n{passage}\n\n{ask}",
        f"{intro} {ask}\n\n{passage}",
    ))


@_template("extraction")
def _company_figures(r):
    n = r.randint(3, 5)
    year = r.randint(2016, 2023)
    cur = r.choice(("$", "€", "£"))
    while True:
        revs = r.sample(range(20, 900), n)
        profits = [max(1, round(v * r.uniform(0.02, 0.3))) for v in revs]
        margins = [p / v for p, v in zip(profits, revs)]
        if len(set(profits)) == n and len(set(round(m, 4) for m in margins)) == n:
            break
    names = [f"{p} {s}" for p, s in zip(r.sample(_CO_PRE, n), r.choices(_CO_SUF, k=n))]
    ceos, cities = _people(r, n), r.sample(_CITIES, n)
    recs = [dict(name=a, ceo=b, city=c, revenue=v, profit=p) for a, b, c, v, p in zip(names, ceos, cities, revs, profits)]
    lines = []
    for d in recs:
        rev, prof = f"{cur}{d['revenue']} million", f"{cur}{d['profit']} million"
        lines.append(r.choice((
            f"{d['name']}, run by {d['ceo']} from its headquarters in {d['city']}, reported revenue of {rev} and a "
            f"profit of {prof} in {year}.",
            f"In {year}, {d['name']} (chief executive: {d['ceo']}) took in {rev}, of which {prof} was profit. It is "
            f"based in {d['city']}.",
            f"{d['ceo']}'s company, {d['name']}, based in {d['city']}, brought in {rev} in {year} and kept {prof} "
            f"as profit.",
            f"With {d['ceo']} as CEO, {d['name']} of {d['city']} made a profit of {prof} on revenue of {rev} in {year}.",
        )))
    asks = {
        "top_profit": "Which company made the largest profit, and who leads it?",
        "margin_rank": "Rank the companies by profit margin (profit divided by revenue), highest first.",
        "json": "Return a JSON array with one object per company, using the keys \"name\", \"ceo\", \"revenue\" "
                "and \"profit\" (figures in millions).",
        "csv": "Produce a CSV with the columns company,city,revenue_millions,profit_millions.",
        "low_revenue": "Which company had the smallest revenue? Give its name and city only.",
        "table": "Put the figures in a markdown table and add a column for profit margin, rounded to one decimal "
                 "place as a percentage.",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, _listing(r, lines), asks[key], r.choice((f"Here are some company results for {year}.",
                                                               "Below are short notes on a few companies.",
                                                               "I have these figures from an industry report.")))
    s = dict(records=recs, year=year, ask=key,
             must_show=names + ceos + cities + [f"{cur}{v} million" for v in revs + profits])
    other = r.choice(("city", "chief executive", "profit margin"))
    own = [f"Now also include each company's {other}, and give the result as {r.choice(_F_FMT)}.",
           f"Redo it, leaving out any company with revenue under {cur}{r.choice(sorted(revs)[1:])} million.",
           "Which company turns the largest share of its revenue into profit? Show the calculation.",
           "Output the same information as YAML instead."]
    return first, s, own


_BOOK_ADJ = ("Silent", "Last", "Hidden", "Glass", "Winter", "Paper", "Distant", "Crimson", "Quiet", "Salt", "Iron",
             "Borrowed", "Midnight", "Hollow", "Northern", "Wandering", "Copper", "Forgotten", "Bright", "Secret")
_BOOK_NOUN = ("Orchard", "Harbour", "Cartographer", "Lighthouse", "Garden", "Canal", "Archive", "Clockmaker", "Ferry",
              "Meadow", "Observatory", "Signal", "Tide", "Atlas", "Station", "Kingdom", "Letters", "Weaver", "Compass",
              "Bridge")
_GENRES = ("mystery", "historical novel", "science-fiction novel", "fantasy novel", "family saga", "thriller",
           "comic novel", "coming-of-age story", "adventure story")
_BOOK_ROLES = ("a young surveyor", "a retired judge", "a ferry pilot", "a schoolteacher", "a runaway apprentice",
               "an astronomer", "a widowed baker", "a junior detective", "a ship's doctor", "a street photographer",
               "an exiled prince", "a beekeeper")
_PLOTS = ("tries to reopen a shuttered cinema", "searches for a missing sister across three countries",
          "uncovers a forgery in a provincial museum", "sails a leaking boat to a remote island",
          "inherits a bankrupt circus", "solves a string of thefts at a mountain hotel",
          "maps a city that keeps changing shape", "finds a lottery ticket that nobody believes in",
          "leads a strike at a textile mill", "befriends a stranded whale researcher",
          "decodes a message hidden in a cookbook", "returns home after twenty years at sea",
          "builds a clock that runs backwards", "defends a village against a flood",
          "tracks down a long-lost painting", "struggles to keep a family restaurant open")


def _book_title(r: random.Random) -> str:
    a, n1, n2 = r.choice(_BOOK_ADJ), *r.sample(_BOOK_NOUN, 2)
    return r.choice((f"The {a} {n1}", f"{n1} of {n2}s" if not n2.endswith("s") else f"{n1} of {n2}",
                     f"The {n1}'s {n2}", f"A {a} {n1}"))


@_template("extraction")
def _book_records(r):
    n = r.randint(3, 5)
    titles = []
    while len(titles) < n:
        t = _book_title(r)
        if t not in titles:
            titles.append(t)
    years, pages = r.sample(range(1890, 2023), n), r.sample(range(150, 900), n)
    authors, chars = _people(r, n), r.sample(_NAMES, n)
    recs = []
    for i in range(n):
        recs.append(dict(title=titles[i], author=authors[i], year=years[i], pages=pages[i], character=chars[i],
                         genre=r.choice(_GENRES), role=r.choice(_BOOK_ROLES), plot=r.choice(_PLOTS)))
    lines = []
    for d in recs:
        g = _an(d["genre"])
        lines.append(r.choice((
            f"'{d['title']}' by {d['author']}, published in {d['year']}, is {g} of {d['pages']} pages. Its hero, "
            f"{d['character']}, is {d['role']} who {d['plot']}.",
            f"In {d['author']}'s {d['genre']} '{d['title']}' ({d['year']}), {d['character']}, {d['role']}, "
            f"{d['plot']}. The book runs to {d['pages']} pages.",
            f"{d['author']} published '{d['title']}' in {d['year']}. This {d['pages']}-page {d['genre']} follows "
            f"{d['character']}, {d['role']} who {d['plot']}.",
            f"{d['character']}, {d['role']} who {d['plot']}, is at the centre of '{d['title']}', {g} that "
            f"{d['author']} wrote in {d['year']} ({d['pages']} pages).",
        )))
    ys = sorted(years)
    cut = r.randint(ys[0], ys[-1] - 1)
    asks = {
        "lines": "For each book, give the title, the author, the main character and the year it came out, one book "
                 "per line, in the form: title; author; character; year.",
        "json_after": f"Return a JSON array of the books published after {cut}, with the keys \"title\" and \"author\".",
        "by_year": "List the books from oldest to newest, giving only each title and its year.",
        "csv": "Build a CSV table with the columns title,author,year,genre.",
        "longest": "Which book has the most pages, and who wrote it?",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, _listing(r, lines), asks[key], r.choice(("Here are notes on a few novels.",
                                                               "These are entries from a book club's reading list.",
                                                               "I copied these blurbs from a library newsletter.")))
    s = dict(records=recs, ask=key, cut=cut, must_show=titles + authors + chars + [str(y) for y in years])
    own = [f"Now add the number of pages for each book and present everything as {r.choice(_F_FMT)}.",
           "Group the books by genre.",
           "Which of these would you recommend to a reluctant teenage reader, and why?",
           f"Redo it, but only for books published before {r.choice(ys[1:])}."]
    return first, s, own


_PRODUCT_TYPES = ("blender", "e-reader", "robot vacuum", "electric kettle", "pair of wireless earbuds", "standing desk",
                  "smartwatch", "air fryer", "camping stove", "desk lamp", "backpack", "coffee grinder", "bike lock",
                  "electric toothbrush")
_MODELS = ("X2", "Pro 5", "Lite", "Air 3", "Max", "One", "S7", "Go", "Mini", "Plus 2", "Zen", "Neo 4")
_GOOD = ("It arrived quickly and was easy to set up.", "The build feels solid and well made.",
         "It is quieter than I expected.", "For the price, it's a bargain.", "It looks great in my home.",
         "The instructions were clear.", "Customer service replaced a missing part within a day.",
         "I use it every day and it still works perfectly.", "It does exactly what it promises.")
_BAD = ("It stopped working after three weeks.", "The buttons feel cheap and wobbly.",
        "It is far louder than the listing suggested.", "It's overpriced for what you get.",
        "The instructions were confusing.", "Customer service never answered my emails.",
        "It scratched within a few days.", "The app it depends on crashes constantly.",
        "It's bulkier than it looks in the photos.")


@_template("extraction")
def _product_reviews(r):
    n = r.randint(3, 4)
    brands = r.sample(_CO_PRE, n)
    prods = [f"{b} {r.choice(_MODELS)} {r.choice(_PRODUCT_TYPES)}" for b in brands]
    reviewers = r.sample(_NAMES, n)
    scores, lines = [], []
    for p, who in zip(prods, reviewers):
        sc = r.randint(1, 5)
        npos, nneg = {5: (3, 0), 4: (2, 1), 3: (1, 1), 2: (1, 2), 1: (0, 3)}[sc]
        sents = r.sample(_GOOD, npos) + r.sample(_BAD, nneg)
        r.shuffle(sents)
        close = {5: " I'd buy it again tomorrow.", 4: " Overall I'm happy with it.", 3: " It's fine, nothing special.",
                 2: " I expected more.", 1: " Avoid it."}[sc]
        scores.append(sc)
        lines.append(f"{who}, on the {p}: \"{' '.join(sents)}{close}\"")
    asks = {
        "scores": "Score each review from one to five, where one means the reviewer hated the product and five means "
                  "they loved it. Return only a JSON array of the scores, in the order the reviews appear.",
        "pros_cons": "For each product, list what the reviewer liked and disliked, in a table with the columns "
                     "product, pros and cons.",
        "best": "Which product comes out best in these reviews, and what is the most serious complaint overall?",
        "summaries": "Summarise each review in ten words or fewer, then say which product you would recommend to a "
                     "friend and why.",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, _listing(r, lines), asks[key], r.choice(("Here are some customer reviews.",
                                                               "I collected these reviews from an online shop.",
                                                               "Below are reviews from several buyers.")))
    s = dict(products=prods, reviewers=reviewers, scores=scores, ask=key, must_show=prods + reviewers)
    own = ["Now also give the name of each reviewer next to their product.",
           f"Output that as {r.choice(_F_FMT)} instead.",
           "Write a short reply from each manufacturer to its review."]
    return first, s, own


_STORES = ("Riverside", "Old Town", "Airport", "Harbour", "North Mall", "Station Road", "University", "Hilltop",
           "West End", "Market Square")
_ITEMS = ("bicycles", "umbrellas", "loaves", "tickets", "houseplants", "pairs of shoes", "phone cases",
          "bags of coffee")


@_template("extraction")
def _sales_table(r):
    n, m = r.randint(3, 5), r.randint(3, 6)
    stores = r.sample(_STORES, n)
    start = r.randrange(12 - m + 1)
    months = list(_MONTHS[start:start + m])
    item = r.choice(_ITEMS)
    asks = {
        "totals": f"Work out the total number of {item} each store sold across these months, and say which store "
                  f"sold the most.",
        "monthly_best": f"For each month, name the store that sold the most {item}. Give the result as CSV with the "
                        f"columns month,store,units.",
        "growth": f"Which store grew the most between {months[0]} and {months[-1]}, measured in {item} sold?",
        "averages": "Give each store's monthly average, rounded to one decimal place, as a JSON object that maps "
                    "store names to averages.",
    }
    key = r.choice(sorted(asks))
    while True:
        vals = [[r.randint(40, 400) for _ in months] for _ in stores]
        tot = [sum(v) for v in vals]
        grow = [v[-1] - v[0] for v in vals]
        best = [[vals[i][j] for i in range(n)] for j in range(m)]
        if len(set(tot)) == n and len(set(grow)) == n and all(len(set(b)) == n for b in best):
            break
    style = r.randrange(3)
    if style == 0:
        table = "store," + ",".join(months) + "\n" + "\n".join(f"{s}," + ",".join(map(str, v)) for s, v in zip(stores, vals))
    elif style == 1:
        table = ("| store | " + " | ".join(months) + " |\n|" + "---|" * (m + 1) + "\n"
                 + "\n".join(f"| {s} | " + " | ".join(map(str, v)) + " |" for s, v in zip(stores, vals)))
    else:
        table = "\n".join(f"{mo}: " + "; ".join(f"{s} {vals[i][j]}" for i, s in enumerate(stores))
                          for j, mo in enumerate(months))
    intro = r.choice((f"These are monthly sales of {item} at our shops.",
                      f"Here are the {item} sold per store and month.",
                      f"Our regional manager sent me these numbers ({item} sold)."))
    first = _frame(r, table, asks[key], intro)
    s = dict(stores=stores, months=months, values=vals, item=item, ask=key,
             must_show=stores + months + [str(x) for v in vals for x in v])
    own = ["Now add a row with the totals for each month.",
           f"Present the result as {r.choice(_F_FMT)} instead.",
           "Which month was weakest across all stores, and by how much?",
           "Suggest two possible reasons for the differences between stores, and say what data would confirm them."]
    return first, s, own


_EV_PRE = ("Harbourside", "Riverside", "Old Town", "Northgate", "Hilltop", "Lakeshore", "Market Square", "Greenway",
           "Eastbank", "Cliffside", "Meadowbrook", "Station Hall")
_EV_THEME = ("Jazz", "Book", "Robotics", "Street Food", "Film", "Folk Music", "Science", "Comics", "Antiques", "Chess",
             "Poetry", "Cheese", "Kite", "Vintage Car", "Craft")
_EV_KIND = ("Festival", "Fair", "Weekend", "Expo", "Night", "Market", "Showcase", "Gathering")


@_template("extraction")
def _event_schedule(r):
    n = r.randint(4, 6)
    year = r.randint(2024, 2027)
    names = []
    while len(names) < n:
        nm = f"{r.choice(_EV_PRE)} {r.choice(_EV_THEME)} {r.choice(_EV_KIND)}"
        if nm not in names:
            names.append(nm)
    pool = r.sample(_CITIES, r.randint(2, 4))
    cities = [r.choice(pool) for _ in names]
    days = r.sample(range(1, 366), n)
    dates = [(d, _date_of(year, d)) for d in days]
    recs = [dict(name=nm, city=c, month=md[0], day=md[1]) for nm, c, (_, md) in zip(names, cities, dates)]
    lines = []
    for d in recs:
        mo, dy = _MONTHS[d["month"] - 1], d["day"]
        lines.append(r.choice((
            f"The {d['name']} takes place on {dy} {mo} in {d['city']}.",
            f"{d['city']} hosts the {d['name']} on {mo} {dy}.",
            f"On {dy} {mo}, the {d['name']} opens its doors in {d['city']}.",
            f"Mark {mo} {dy} for the {d['name']}, held in {d['city']}.",
        )))
    city = r.choice(cities)
    asks = {
        "chrono": "List the events in chronological order, one per line, as: date - event - city.",
        "json": f"Return a JSON array of the events with the keys \"event\", \"date\" (as {year}-MM-DD) and \"city\".",
        "city": f"Which of these events take place in {city}? Give their names and dates.",
        "first_last": "Which event comes first in the year and which comes last?",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, _listing(r, lines), asks[key], r.choice((f"Here is a list of events planned for {year}.",
                                                               f"A regional tourism board announced these {year} events.",
                                                               f"My calendar notes for {year} are a mess.")))
    s = dict(records=recs, year=year, city=city, ask=key,
             must_show=names + cities + [str(d["day"]) for d in recs])
    own = [f"Now group the events by month and give the result as {r.choice(_F_FMT)}.",
           "Which two events are closest together in time, and how many days apart are they?",
           "Plan a route that visits as many of these events as possible, assuming travel takes a day between cities."]
    return first, s, own


def _date_of(year: int, day_of_year: int) -> tuple[int, int]:
    lengths = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    d = min(day_of_year, sum(lengths))
    for mo, ln in enumerate(lengths, 1):
        if d <= ln:
            return mo, d
        d -= ln
    raise AssertionError


_TASKS = ("update the supplier contact list", "book the venue for the spring party", "draft the newsletter",
          "fix the broken link on the website", "collect quotes for new chairs", "send the survey to customers",
          "prepare the quarterly budget summary", "order more printer paper", "call the insurance broker",
          "review the new intern's report", "plan the team offsite", "check the fire extinguishers",
          "write up the meeting minutes", "renew the software licences", "clean up the shared drive",
          "organise the leaving card for Sam", "test the new booking form", "contact the caterer",
          "prepare slides for the board", "schedule training on the new till system")
_FILLER = ("We discussed the new coffee machine but decided nothing.", "Everyone agreed the last event went well.",
           "The heating problem is still unresolved.", "There was a long debate about parking.",
           "Someone suggested a team lunch next month.")


@_template("extraction")
def _meeting_notes(r):
    n = r.randint(3, 5)
    people = r.sample(_NAMES, n)
    tasks = r.sample(_TASKS, n + r.randint(0, 2))
    while True:
        owners = people + [r.choice(people) for _ in tasks[n:]]
        counts = [owners.count(p) for p in people]
        if counts.count(max(counts)) == 1 or len(tasks) == n:
            break
    dues = [r.randrange(5) for _ in tasks]
    items = [dict(owner=o, task=t, due=_DAYS[d]) for o, t, d in zip(owners, tasks, dues)]
    lines = []
    for it in items:
        lines.append(r.choice((
            f"{it['owner']} will {it['task']} by {it['due']}.",
            f"{it['owner']} agreed to {it['task']}; it's due on {it['due']}.",
            f"Action for {it['owner']}: {it['task']} (deadline {it['due']}).",
        )))
    lines += r.sample(_FILLER, r.randint(1, 2))
    r.shuffle(lines)
    team = r.choice(("marketing", "operations", "volunteer", "front-desk", "events", "IT"))
    day = _DAYS[r.randint(1, 4)]
    asks = {
        "table": "Pull out the action items as a table with the columns owner, task and deadline.",
        "json": "Return a JSON object that maps each person to the list of tasks they took on.",
        "before": f"Which tasks are due before {day}? List them with their owners.",
        "busiest": "Who took on the most tasks, and what are they?" if len(tasks) > n else
                   "Who has the earliest deadline, and for what task?",
    }
    key = r.choice(sorted(asks))
    notes = f"Notes from the {team} team meeting:\n" + "\n".join(f"- {x}" for x in lines)
    first = _frame(r, notes, asks[key], r.choice(("I took some messy notes in a meeting.",
                                                  "Here are the notes from this morning's meeting.",
                                                  "A colleague sent me these meeting notes.")))
    s = dict(items=items, ask=key, day=day, must_show=people + tasks)
    own = [f"Now sort the action items by deadline and give them as {r.choice(_F_FMT)}.",
           "Draft a short follow-up email to the team listing everyone's actions.",
           "Which of these tasks look likely to slip, and why?"]
    return first, s, own


_STREETS = ("Elm Street", "Canal Road", "Mill Lane", "Station Avenue", "Orchard Close", "Harbour Row", "Chapel Street",
            "Birch Way", "Quarry Road", "Willow Court", "Market Street", "Bridge Street", "Linden Avenue",
            "Foundry Lane")


@_template("extraction")
def _apartment_listings(r):
    n = r.randint(4, 6)
    cur = r.choice(("$", "€", "£"))
    while True:
        rents = r.sample(range(650, 2400, 25), n)
        beds = [r.randint(1, 4) for _ in range(n)]
        pets = [r.random() < 0.5 for _ in range(n)]
        budget = r.randrange(800, 2200, 50)
        fit = [x <= budget and p for x, p in zip(rents, pets)]
        per = [x / b for x, b in zip(rents, beds)]
        if 0 < sum(fit) < n and len(set(round(p, 4) for p in per)) == n:
            break
    addrs = [f"{r.randint(2, 180)} {s}" for s in r.sample(_STREETS, n)]
    mins = [r.randint(3, 30) for _ in range(n)]
    recs = [dict(address=a, rent=x, bedrooms=b, pets=p, minutes=mn) for a, x, b, p, mn in zip(addrs, rents, beds, pets, mins)]
    lines = []
    for d in recs:
        bed = f"{d['bedrooms']}-bedroom" if r.random() < 0.5 else f"{_NUM[d['bedrooms']]}-bedroom"
        pet = r.choice(("pets welcome", "pets allowed")) if d["pets"] else r.choice(("no pets", "pets not allowed"))
        lines.append(r.choice((
            f"{d['address']}: {bed} flat, {cur}{d['rent']} a month, {pet}, {d['minutes']} minutes' walk to the station.",
            f"A {bed} flat at {d['address']} for {cur}{d['rent']} per month ({pet}); the station is {d['minutes']} minutes away on foot.",
            f"{d['address']} - {cur}{d['rent']}/month, {bed}, {pet}. Station: {d['minutes']} min walk.",
        )))
    asks = {
        "filter": f"Which of these cost at most {cur}{budget} a month and allow pets?",
        "table": "Put the listings in a table sorted by rent, cheapest first, with a column for rent per bedroom.",
        "per_bed": "Which listing is cheapest per bedroom? Show the numbers.",
        "csv": "Convert the listings to CSV with the columns address,rent,bedrooms,pets,minutes_to_station.",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, _listing(r, lines), asks[key], r.choice(("I'm flat-hunting and saved these listings.",
                                                               "Here are some rental listings.",
                                                               "My partner and I are comparing these flats.")))
    s = dict(records=recs, budget=budget, ask=key, must_show=addrs + [f"{cur}{x}" for x in rents])
    own = ["Now also rank them by how close they are to the station.",
           f"Present the same information as {r.choice(_F_FMT)}.",
           "Which one would you pick for a family with a dog and one car, and why?"]
    return first, s, own


_WORD_THEMES = {
    "market": ("Every Saturday the market fills the square with stalls.",
    "The baker at the market sells bread until noon.",
               "Children follow the smell of bread to the corner stall.", "A man with a cart sells apples and pears.",
               "By ten the square is so busy that the cart can hardly move.",
               "The cheese stall gives away a free sample to anyone who asks.",
               "Nobody leaves the market without a loaf of bread.",
               "At noon the stall owners pack up and the square goes quiet.",
               "Pigeons wait for crumbs of bread under every stall.",
               "The apple seller shouts his prices across the square."),
    "harbour": ("Fishing boats come back to the harbour before dawn.", "The gulls know exactly when the boats arrive.",
                "On the quay, crates of fish are stacked beside the nets.",
                "An old boat with a red hull has not left the harbour in years.",
                "The harbour master checks every boat against his list.",
                "Tourists photograph the nets drying in the sun.",
                "By midday the fish have been sold and the quay is hosed down.",
                "A ferry leaves the harbour twice a day for the islands.",
                "Children fish from the end of the quay with bits of string.",
                "The gulls circle the ferry until it is out of sight."),
    "garden": ("The garden wakes up slowly in March.", "Bees visit the lavender by the gate first.",
               "The old gardener prunes the roses while the soil is still cold.",
               "A robin follows the spade along every bed.",
               "By June the garden is loud with bees.", "The roses climb the wall faster than anyone can tie them.",
               "A bench under the apple tree is the best seat in the garden.",
               "The gardener leaves a corner wild for the bees.",
               "Rain on the roses fills the garden with scent.",
               "In autumn the robin sings from the top of the spade handle."),
    "library": ("The library opens at nine, and the queue starts at half past eight.",
    "A volunteer shelves returned books before the doors open.",
                "Students claim the desks by the window first.",
                "The children's corner of the library has a reading tent.",
                "Every book in the tent has been read to pieces.",
                "The librarian knows which students need a quiet desk.",
                "At noon the library hosts a story hour for toddlers.", "A printer in the corner jams twice a day.",
                "The volunteer mends torn books with careful tape.",
                "When the library closes, the librarian turns off the lamps one desk at a time."),
    "station": ("The first train leaves the station at five past six.",
    "Commuters wait on the platform with coffee in their hands.",
                "A busker plays the violin by the ticket office.",
                "The departure board flickers whenever a train is late.",
                "A dog waits on the platform every evening for the same train.",
                "The station clock has been five minutes slow for years.",
                "When the train is late, the commuters glance at the clock and sigh.",
                "The busker knows which train brings the most listeners.",
                "Pigeons roost in the roof of the station.",
                "The last train leaves the platform just before midnight."),
}
_THEME_WORDS = {"market": ("market", "bread", "stall", "square", "cart", "apple", "noon"),
                "harbour": ("harbour", "boat", "boats", "gulls", "quay", "nets", "ferry", "fish"),
                "garden": ("garden", "bees", "roses", "robin", "gardener", "spade", "soil"),
                "library": ("library", "desk", "desks", "volunteer", "tent", "librarian", "books"),
                "station": ("station", "train", "platform", "busker", "clock", "commuters", "pigeons")}
_WORD_RE = re.compile(r"[A-Za-z']+")


def count_words(text: str, word: str) -> int:
    """Exact, case-insensitive occurrences of `word` as a whole word."""
    return sum(1 for w in _WORD_RE.findall(text) if w.lower() == word.lower())


@_template("extraction")
def _word_count(r):
    theme = r.choice(sorted(_WORD_THEMES))
    while True:
        sents = r.sample(_WORD_THEMES[theme], r.randint(5, 8))
        para = " ".join(sents)
        present = [w for w in _THEME_WORDS[theme] if count_words(para, w) > 0]
        if len(present) >= 3:
            break
    words = r.sample(present, 3)
    counts = {w: count_words(para, w) for w in words}
    q = ", ".join(f'"{w}"' for w in words[:2]) + f' and "{words[2]}"'
    ask = r.choice((
        f"Count how often each of the words {q} appears in the passage below. Case doesn't matter, and only exact "
        f"matches count (not plurals or other forms). Reply with one line per word in the form word: count, from "
        f"most to least frequent, breaking ties alphabetically.",
        f"How many times do the words {q} occur in this text? Ignore capitalisation and count whole words only. "
        f"Give the answer as a JSON object mapping each word to its count.",
        f"In the paragraph that follows, count the occurrences of {q} (whole words, any case). Present the results "
        f"as a small table, most frequent first.",
    ))
    first = r.choice((f"{ask}\n\n{para}", f"Here is a short paragraph:\n\n{para}\n\n{ask}"))
    s = dict(theme=theme, words=words, counts=counts, passage=para, must_show=words)
    other = r.choice([w for w in _THEME_WORDS[theme] if w not in words] or words)
    own = [f"Do the same for the word \"{other}\".",
           "Now count the words \"the\" and \"a\" as well, and give all the counts as CSV.",
           "Which sentence contains the most of these words? Quote it."]
    return first, s, own


_ORG_KINDS = (("{p} Rowing Club", True), ("{p} Housing Trust", True), ("University of {c}", True),
              ("{p} Community Radio", False), ("{p} Wildlife Fund", True), ("{p} {s}", False),
              ("{c} City Orchestra", True), ("{c} Chamber of Commerce", True), ("{p} Youth Theatre", True))
_PERSON_ROLES = ("director", "chair", "spokesperson", "head of research", "founder", "treasurer", "chief engineer",
                 "coach")


@_template("extraction")
def _news_entities(r):
    k = r.randint(2, 4)
    people = _people(r, k)
    cities = r.sample(_CITIES, r.randint(2, 3))
    norg = r.randint(2, 3)
    orgs, the = [], {}
    while len(orgs) < norg:
        pat, art = r.choice(_ORG_KINDS)
        o = _x(r, pat, p=r.choice(_CO_PRE), c=r.choice(cities), s=r.choice(_CO_SUF))
        if o not in orgs:
            orgs.append(o)
            the[o] = f"the {o}" if art else o
    roles = [r.choice(_PERSON_ROLES) for _ in people]
    links = [r.choice(orgs) for _ in people]
    sents = []
    for p, role, o in zip(people, roles, links):
        c = r.choice(cities)
        sents.append(r.choice((
            f"{p}, {role} of {the[o]}, said on {r.choice(_DAYS)} that the organisation would open a new office in {c}.",
            f"Speaking in {c}, {p}, the {role} of {the[o]}, thanked the volunteers who had made the project possible.",
            f"According to {p}, {role} at {the[o]}, work on the new centre in {c} will start next spring.",
        )))
    cap = lambda t: t[:1].upper() + t[1:]  # noqa: E731
    sents.append(f"{cap(the[orgs[0]])} has also signed an agreement with {the[orgs[1]]} to share a building in "
                 f"{cities[-1]}.")
    for c in cities:
        if not any(c in x for x in sents):
            sents.append(f"A second site in {c} is still under discussion.")
    for o in orgs:
        if not any(o in x for x in sents):
            sents.append(f"{cap(the[o])} declined to comment.")
    r.shuffle(sents)
    passage = " ".join(sents)
    asks = {
        "json": "List the people, organisations and places mentioned in this news item as a JSON object with the "
                "keys \"people\", \"organisations\" and \"places\".",
        "roles": "Who is mentioned in the article, and what is each person's role and organisation? Answer as a table.",
        "places": "List every place mentioned and say what is happening there, according to the text.",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, passage, asks[key], r.choice(("Here is a short local news item.",
                                                    "I'm working on this news story.",
                                                    "This paragraph comes from a regional newspaper.")))
    s = dict(people=people, orgs=orgs, cities=cities, ask=key, must_show=people + orgs + cities)
    own = ["Now shorten each name in your answer to initials, and put everything on one line.",
           f"Give the same result as {r.choice(_F_FMT)}.",
           "Write a headline of under ten words for the article."]
    return first, s, own


_SUBJECTS = ("maths", "history", "biology", "art", "French", "chemistry", "music", "geography")


@_template("extraction")
def _grades(r):
    n, k = r.randint(3, 5), r.randint(3, 4)
    students, subjects = r.sample(_NAMES, n), r.sample(_SUBJECTS, k)
    while True:
        sc = [[r.randint(40, 100) for _ in subjects] for _ in students]
        tot = [sum(x) for x in sc]
        subj_avg = [sum(sc[i][j] for i in range(n)) for j in range(k)]
        if len(set(tot)) == n and len(set(subj_avg)) == k and all(len(set(x)) == k for x in sc):
            break
    if r.random() < 0.5:
        data = ("| student | " + " | ".join(subjects) + " |\n|" + "---|" * (k + 1) + "\n"
                + "\n".join(f"| {s} | " + " | ".join(map(str, x)) + " |" for s, x in zip(students, sc)))
    else:
        data = "\n".join(f"{s} scored " + _join([f"{v} in {sub}" for v, sub in zip(x, subjects)]) + "."
                         for s, x in zip(students, sc))
    asks = {
        "top": "Which student has the highest average score? Show each student's average to one decimal place.",
        "best_subject": "Return a JSON object that maps each student to the subject they scored highest in.",
        "weak_subject": "Which subject has the lowest class average?",
        "rank": "Rank the students by their total score, highest first.",
    }
    key = r.choice(sorted(asks))
    first = _frame(r, data, asks[key], r.choice(("Here are this term's test results.",
                                                 "I'm a teacher with these marks.",
                                                 "These are the exam scores for a small class.")))
    s = dict(students=students, subjects=subjects, scores=sc, ask=key,
             must_show=students + subjects + [str(v) for x in sc for v in x])
    own = ["Now add each student's lowest subject too.", f"Present everything as {r.choice(_F_FMT)}.",
           "Write one encouraging sentence of feedback for each student based on these scores."]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# STEM
# --------------------------------------------------------------------------------------------------

_CONCEPTS = {
    "physics": ("inertia", "friction", "buoyancy", "terminal velocity", "the Doppler effect", "resonance",
                "electromagnetic induction", "heat conduction", "centripetal force", "the refraction of light",
                "conservation of momentum", "pressure in fluids", "static electricity", "nuclear fission",
                "standing waves", "torque", "radioactive half-life", "specific heat capacity", "polarised light",
                "entropy"),
    "chemistry": ("oxidation", "catalysts", "pH", "covalent bonds", "ionic bonds", "diffusion", "osmosis", "isotopes",
                  "emulsions", "polymers", "crystallisation", "chemical equilibrium", "electrolysis",
                  "the ideal gas law",
                  "solubility", "rusting", "fermentation", "combustion", "distillation", "chromatography"),
    "biology": ("natural selection", "the immune response", "enzymes", "cell division", "symbiosis",
    "the nitrogen cycle",
                "homeostasis", "antibiotic resistance", "genetic mutations", "circadian rhythms", "how neurons signal",
                "pollination", "ecological succession", "the gut microbiome", "hormones", "muscle fatigue",
                "camouflage in animals", "bird migration", "plant tropisms", "how vaccines train the body"),
    "computer science": ("recursion", "hash tables", "public-key encryption", "data compression", "caching",
                         "garbage collection", "version control", "binary search", "race conditions",
                         "how a neural network learns", "the difference between memory and storage", "DNS",
                         "packet switching", "process scheduling", "error-correcting codes", "database indexes",
                         "virtual machines", "floating-point rounding", "two-factor authentication", "load balancing"),
    "engineering": ("suspension bridges", "heat pumps", "gear ratios", "feedback control", "load-bearing walls",
                    "hydraulic brakes", "wind turbines", "lithium-ion batteries", "reinforced concrete",
                    "drinking-water treatment", "traffic-light timing", "active noise cancellation", "3D printing",
                    "solar panels", "jet engines", "lift safety brakes", "tidal power", "home insulation",
                    "electric motors", "satellite positioning"),
    "earth science": ("plate tectonics", "the water cycle", "ocean currents", "how clouds form", "river erosion",
                      "volcanic eruptions", "how fossils form", "monsoons", "the ozone layer", "glaciers",
                      "earthquakes and fault lines", "the rock cycle", "tides", "the jet stream", "soil formation",
                      "hurricanes", "sea-level rise", "the northern lights", "sinkholes", "El Niño"),
}
_ALL_CONCEPTS = tuple((f, c) for f, cs in _CONCEPTS.items() for c in cs)


@_template("stem")
def _explain_concept(r):
    fld, c = r.choice(_ALL_CONCEPTS)
    s = dict(field=fld, concept=c, aud=r.choice(_EXPLAIN_AUD), lev=r.choice(_LEARNERS),
             how=r.choice(("step by step", "without equations", "with a simple analogy", "as if to a curious child",
                           "with one worked example")))
    first = _x(r, r.choice((
        "Explain {concept} to {aud}.",
        "How would you describe {concept} to someone with no background in {field}?",
        "What is {concept}, and why does it matter in everyday life?",
        "Give me a clear explanation of {concept}[, with one worked example|, with a diagram described in words| in "
        "three short paragraphs].",
        "I'm {lev} and I keep getting confused about {concept}. Can you explain it {how}?",
        "In {field}, what does {concept} actually mean?",
    )), **s) + _tail(r)
    own = [_x(r, "How is {concept} used in technology or industry today?", concept=c),
           _x(r, "Give me three quick quiz questions to check I understood, with answers at the end.")]
    return first, s, own


_COMPARE_STEM = (("speed", "velocity"), ("mass", "weight"), ("heat", "temperature"), ("alternating", "direct current"),
                 ("nuclear fission", "nuclear fusion"), ("viruses", "bacteria"), ("mitosis", "meiosis"),
                 ("weather", "climate"), ("acids", "bases"), ("elements", "compounds"), ("TCP", "UDP"),
                 ("compilers", "interpreters"), ("stacks", "queues"), ("lossy", "lossless compression"),
                 ("series", "parallel circuits"), ("renewable", "non-renewable energy"), ("weathering", "erosion"),
                 ("innate", "adaptive immunity"), ("DNA", "RNA"), ("conduction", "convection"),
                 ("potential", "kinetic energy"), ("hurricanes", "tornadoes"), ("magma", "lava"),
                 ("threads", "processes"), ("encryption", "hashing"), ("relational", "document databases"),
                 ("steel", "timber as building materials"), ("diesel", "petrol engines"), ("LED", "incandescent bulbs"),
                 ("igneous", "sedimentary rocks"), ("arteries", "veins"), ("genotype", "phenotype"),
                 ("precision", "accuracy"), ("analogue", "digital signals"), ("comets", "asteroids"),
                 ("evaporation", "boiling"), ("bacteria", "fungi as decomposers"), ("latency", "bandwidth"))


@_template("stem")
def _compare_concepts(r):
    a, b = r.choice(_COMPARE_STEM)
    s = dict(a=a, b=b, aud=r.choice(_EXPLAIN_AUD))
    first = _x(r, r.choice((
        "What is the difference between {a} and {b}? [Give an example of each.|Use a table if it helps.|Explain when "
        "the difference actually matters.]",
        "Compare {a} and {b} for {aud}.",
        "People often mix up {a} and {b}. How would you tell them apart?",
        "Contrast {a} with {b}, covering [how each works|where each shows up|their strengths and weaknesses].",
        "Can you explain {a} versus {b}? I never remember which is which.",
    )), **s) + _tail(r)
    own = ["Is there a situation where the two are easy to confuse even for experts?",
           "Give me a memorable way to remember the difference."]
    return first, s, own


_WHYS = ("why a spoon looks bent in a glass of water", "why bread goes stale", "why your ears pop on a plane",
         "why ice cubes crack when you drop them into a drink", "why cutting onions makes you cry",
         "why a microwave heats food unevenly", "why metal feels colder than wood at the same temperature",
         "why the sky turns red at sunset", "why a moving bicycle stays upright", "why soap removes grease",
         "why leaves change colour in autumn", "why phone batteries wear out",
         "why a kettle gets louder just before it boils",
         "why salt melts ice on roads", "why a cut apple turns brown", "why your voice sounds strange on a recording",
         "why popcorn pops", "why some glues set in seconds", "why dogs pant",
         "why washing dries faster on a windy day",
         "why the Moon looks bigger near the horizon", "why spilled coffee dries in a ring",
         "why thunder follows lightning",
         "why you can see your breath on cold days", "why a pressure cooker cooks faster",
         "why wifi is weaker in some rooms", "why a steel ship floats", "why yawns seem contagious",
         "why sea water is salty", "why we get hiccups", "why the back of a fridge is warm",
         "why planes leave white trails", "why cats usually land on their feet", "why a rubber band snaps back",
         "why puddles disappear without boiling", "why a spinning top stays up", "why mirrors swap left and right",
         "why old photographs fade", "why a balloon sticks to a wall after you rub it", "why bubbles are round")
_KIDS = ("daughter", "son", "nephew", "niece", "little brother", "little sister", "student", "grandchild")


@_template("stem")
def _everyday_why(r):
    why = r.choice(_WHYS)
    s = dict(why=why, kid=r.choice(_KIDS), age=r.randint(5, 14))
    first = _x(r, r.choice((
        "Can you explain {why}?",
        "I've always wondered {why}. What's the science behind it?",
        "My {age}-year-old {kid} asked me {why}. How should I explain it [in simple terms|accurately but simply]?",
        "Explain {why}, and name the scientific principle involved.",
        "What's actually going on, physically or chemically, that explains {why}?",
    )), **s) + _tail(r)
    own = ["Suggest a simple way to see this happen at home.",
           "Is there a related everyday effect that works the same way?"]
    return first, s, own


_MYTHS = ("heavier objects always fall faster than light ones", "we only use ten per cent of our brains",
          "lightning never strikes the same place twice", "summer happens because Earth is closer to the Sun",
          "bats are blind", "goldfish have a three-second memory", "old window glass is thicker at the bottom because "
          "glass flows", "humans have only five senses", "cracking your knuckles causes arthritis",
          "the Great Wall of China is easy to see from orbit", "evolution means organisms try to improve themselves",
          "antibiotics help against a cold", "a coin dropped from a skyscraper could kill someone below",
          "more megapixels always means better photos", "deleting a file wipes it from the disk immediately",
          "blood is blue inside the body", "hair and nails keep growing after death",
          "bulls are enraged by the colour red",
          "most body heat escapes through the head", "sinks drain in opposite directions in each hemisphere",
          "diamonds form from coal", "being cold gives you a cold", "charging a phone overnight ruins the battery",
          "private browsing makes you anonymous online", "there is no gravity on the space station")


@_template("stem")
def _misconception(r):
    s = dict(myth=r.choice(_MYTHS), who=r.choice(("A friend", "My uncle", "My manager", "A classmate", "Someone online",
                                                  "My grandmother", "A coworker", "My flatmate", "A podcast host",
                                                  "My teenage son", "My neighbour")))
    first = _x(r, r.choice((
        "{who} insists that {myth}. Are they right? Explain.",
        "Is it true that {myth}? Where does the idea come from?",
        "Debunk or confirm this claim: {myth}.[? Describe the kind of evidence that settles it.]",
        "I keep hearing that {myth}. What does the science say?",
        "True or false: {myth}? Explain the reasoning, not just the verdict.",
    )), **s) + _tail(r, 0.7)
    own = ["How would you explain this politely to the person who believes it?",
           "Why do you think this idea is so persistent?"]
    return first, s, own


_EXPERIMENT_TOPICS = ("friction", "buoyancy", "diffusion", "osmosis", "the refraction of light", "static electricity",
                      "heat conduction", "river erosion", "plant tropisms", "fermentation", "pressure in fluids",
                      "evaporation", "crystallisation", "how the shape of a bridge affects its strength",
                      "home insulation", "how sound travels through different materials", "pendulums",
                      "the density of liquids", "capillary action", "rusting", "surface tension", "how seeds germinate")
_EXP_LIMITS = ("for a class of eleven-year-olds", "with a budget of ten dollars",
               "using only things found in a kitchen",
               "that takes less than an hour", "that could run over a week", "that needs no special equipment",
               "for a science club of teenagers", "that a parent and a six-year-old could do together",
               "suitable for a school open day", "that gives a measurable result")


@_template("stem")
def _home_experiment(r):
    s = dict(topic=r.choice(_EXPERIMENT_TOPICS), lim=r.choice(_EXP_LIMITS))
    first = _x(r, r.choice((
        "Design a simple experiment that [demonstrates|investigates|tests] {topic} {lim}.[? List the materials and "
        "the steps.]",
        "How could I show {topic} at home {lim}? [Include what result to expect.|Explain what each step shows.]",
        "Suggest an experiment about {topic} {lim}, and explain the science behind it.",
    )), **s) + _tail(r, 0.7)
    own = ["What could go wrong, and how would you make the results more reliable?",
           "How would you turn this into a fair test with one variable changed at a time?"]
    return first, s, own


_TECHS = ("heat pumps", "electric buses", "nuclear power", "vertical farming", "home batteries for solar power",
          "lab-grown meat", "desalination", "delivery robots on pavements", "hydrogen-powered lorries", "smart meters",
          "cloud storage", "biodegradable plastics", "high-speed rail", "geothermal heating", "drone deliveries",
          "wearable health trackers", "carbon capture", "green roofs", "e-bikes for commuting", "offshore wind farms",
          "small modular reactors", "facial recognition in shops")
_TECH_CONTEXTS = ("a small island nation", "a rural school", "a mid-sized city", "a family home in a cold climate",
                  "a hospital", "a farm", "a country with an ageing population", "a fast-growing town")


@_template("stem")
def _tech_tradeoffs(r):
    s = dict(tech=r.choice(_TECHS), ctx=r.choice(_TECH_CONTEXTS))
    first = _x(r, r.choice((
        "What are the advantages and drawbacks of {tech}[? for {ctx}]?",
        "Weigh up {tech} for {ctx}. [What are the main engineering challenges?|What would decide whether it's worth it?]",
        "Should {ctx} invest in {tech}? Lay out the technical pros and cons.",
        "Explain the basic engineering behind {tech}, and where the technology still falls short.",
    )), **s) + _tail(r)
    own = ["Give rough numbers for the costs and benefits, and say how confident you are in them.",
           "What would have to change for the drawbacks to disappear?"]
    return first, s, own


_FERMIS = ("how many piano tuners work in a city of two million people",
           "how many litres of water one person uses in a year",
           "how many times a human heart beats in a lifetime", "how many tennis balls would fit in a city bus",
           "how many grains of rice are in a one-kilogram bag", "how many words a person speaks in a year",
           "how many steps it would take to walk around the equator",
           "how many cups of coffee a large city drinks each morning",
           "how many leaves are on a mature oak tree", "how much electricity a fridge uses in ten years",
           "how many bicycles there are in the Netherlands", "how many pages the average person reads in a lifetime",
           "how much a full jumbo jet weighs", "how many hairs are on a human head",
           "how many trees it takes to make a year's supply of newspapers for a city",
           "how many footballs are sold worldwide in a year", "how long it would take to count to a billion out loud",
           "how many people are flying in the air at any given moment",
           "how much rain falls on a city in a year, by weight",
           "how many bricks are in a typical house", "how many meals a school kitchen serves in a decade",
           "how much paint it would take to cover a football pitch", "how many photos are taken worldwide every day",
           "how many letters a postal worker delivers in a career", "how far a person walks in a lifetime")


@_template("stem")
def _estimate(r):
    s = dict(q=r.choice(_FERMIS))
    first = _x(r, r.choice((
        "Roughly estimate {q}. Walk me through your assumptions step by step.",
        "Without looking anything up, how would you estimate {q}? Give a range as well as a single number.",
        "Can you make a back-of-the-envelope estimate of {q}?[? Show each assumption and the arithmetic.]",
        "I'm practising estimation questions. How would you work out {q}?",
    )), **s) + _tail(r, 0.7)
    own = ["Which assumption has the biggest effect on the result? Redo it with a different value.",
           "How could we check the estimate against real data?"]
    return first, s, own


@_template("stem")
def _analogy(r):
    fld, c = r.choice(_ALL_CONCEPTS)
    s = dict(concept=c, field=fld, things=r.choice(("cooking", "sport", "traffic", "a busy restaurant", "gardening",
                                                    "music", "a school", "a post office", "a football match",
                                                    "a library", "a railway station", "a supermarket queue",
                                                    "a kitchen", "a family holiday")))
    first = _x(r, r.choice((
        "Come up with an analogy that explains {concept}, then point out where the analogy breaks down.",
        "Explain {concept} using an analogy from {things}.",
        "What's a good everyday comparison for {concept}? Give me two and say which is more accurate.",
    )), **s) + _tail(r, 0.7)
    own = ["Now explain it again without any analogy, as precisely as you can.",
           "Which part of the analogy might give a beginner the wrong idea?"]
    return first, s, own


@_template("stem")
def _applications(r):
    fld, c = r.choice(_ALL_CONCEPTS)
    s = dict(concept=c, n=r.choice(_NUM[2:6]),
             where=r.choice(("at home", "in a hospital", "on a farm", "in a car", "in a smartphone", "in a kitchen",
                             "in sport", "in a city's infrastructure")))
    first = _x(r, r.choice((
        "Where does {concept} show up {where}? Give {n} examples.",
        "How is {concept} put to practical use? Name {n} applications and explain each briefly.",
        "I'm learning about {concept}. What are {n} real-world situations, preferably {where}, where it matters?",
    )), **s) + _tail(r, 0.4)
    own = ["Pick the most surprising example and explain it in more depth.",
           "Which of these applications might change most in the next twenty years?"]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# Humanities
# --------------------------------------------------------------------------------------------------

_HUM_CONCEPTS = {
    "economics": ("opportunity cost", "comparative advantage", "price elasticity", "the tragedy of the commons",
                  "moral hazard", "economies of scale", "externalities", "sunk costs", "public goods",
                  "compound interest", "tariffs", "the gig economy", "asymmetric information", "scarcity"),
    "philosophy": ("utilitarianism", "the social contract", "free will", "Stoicism", "existentialism",
                   "moral relativism", "the ship of Theseus", "empiricism", "virtue ethics", "the problem of induction",
                   "the veil of ignorance", "determinism", "the mind-body problem", "Occam's razor"),
    "law": ("the presumption of innocence", "precedent in common law", "intellectual property",
            "the separation of powers", "consideration in contract law", "the limits of free speech", "trial by jury",
            "data protection law", "tenants' rights", "statutes of limitations", "international treaties",
            "judicial review"),
    "art": ("Impressionism", "Cubism", "the Bauhaus", "Expressionism", "Surrealism", "Art Nouveau",
            "Renaissance fresco painting", "ukiyo-e woodblock prints", "minimalist architecture", "Abstract "
            "Expressionism", "Pop Art", "Gothic cathedrals", "Pre-Raphaelite painting", "Dutch Golden Age painting",
            "Brutalism"),
    "music and literature": ("Baroque music", "jazz improvisation", "Romantic poetry", "the sonnet form", "the blues",
                             "magical realism", "the epic poem", "minimalist music", "the Harlem Renaissance",
                             "the Gothic novel"),
    "social science": ("confirmation bias", "social norms", "urbanisation", "the bystander effect", "groupthink",
                       "the digital divide", "gentrification", "nudge theory", "social mobility", "echo chambers",
                       "collective memory", "loss aversion", "cultural capital", "the Hawthorne effect"),
}
_ALL_HUM = tuple((f, c) for f, cs in _HUM_CONCEPTS.items() for c in cs)


@_template("humanities")
def _explain_idea(r):
    fld, c = r.choice(_ALL_HUM)
    s = dict(field=fld, concept=c, aud=r.choice(_EXPLAIN_AUD), lev=r.choice(_LEARNERS))
    first = _x(r, r.choice((
        "Explain {concept} [in plain language|with a real-world example|for {aud}].",
        "What does {concept} mean, and where can we see it today?",
        "I'm {lev}. Could you explain {concept} and why people in {field} care about it?",
        "Give me an overview of {concept}: where the idea comes from, what it claims, and its main critics.",
        "How would you introduce {concept} to {aud}?",
    )), **s) + _tail(r)
    own = ["Give a present-day example that illustrates it.",
           "What is the strongest criticism of this idea?"]
    return first, s, own


_EVENTS = ("the invention of the printing press", "the Black Death", "the fall of the Western Roman Empire",
           "the Industrial Revolution in Britain", "the building of the first transcontinental railroad",
           "the Meiji Restoration", "trade along the Silk Road", "the French Revolution",
           "the abolition of the Atlantic slave trade", "the spread of the telegraph", "the Great Depression",
           "the Apollo moon landings", "the fall of the Berlin Wall", "the Columbian exchange",
           "the Renaissance in Florence", "the Dust Bowl", "the opening of the Suez Canal", "the Marshall Plan",
           "the campaign for women's suffrage", "the Protestant Reformation", "the partition of India",
           "the Green Revolution in agriculture", "the rise of the Mongol Empire", "the Hanseatic League",
           "the invention of the steam locomotive", "the spread of paper from China to Europe")
_ASPECTS = ("ordinary people's daily lives", "trade", "the way people thought about government", "cities", "the arts",
            "education", "science", "the status of women", "religion", "the environment")


@_template("humanities")
def _causes_effects(r):
    s = dict(ev=r.choice(_EVENTS), asp=r.choice(_ASPECTS), n=r.choice(_NUM[2:6]))
    first = _x(r, r.choice((
        "What were the main causes and consequences of {ev}?",
        "Discuss how {ev} changed {asp}.",
        "Give {n} causes and {n} effects of {ev}, each with a sentence of explanation.",
        "Why did {ev} happen when it did, and what difference did it make to {asp}?",
        "Summarise {ev} for someone who knows nothing about it, then explain its long-term impact.",
    )), **s) + _tail(r)
    own = ["Which of these effects can still be seen today?",
           "How do historians disagree about this?"]
    return first, s, own


_COMPARE_HUM = (("utilitarianism", "virtue ethics"), ("Impressionism", "Expressionism"),
                ("common law", "civil law systems"), ("Keynesian", "monetarist views of recessions"),
                ("the American Revolution", "the French Revolution"), ("Stoicism", "Epicureanism"),
                ("direct", "representative democracy"), ("shareholder-owned companies", "cooperatives"),
                ("Baroque", "Classical-era music"), ("Romanesque", "Gothic architecture"),
                ("Hobbes's", "Locke's view of the state of nature"), ("a recession", "a depression"),
                ("nationalism", "patriotism"), ("mediation", "arbitration"), ("myths", "folk tales"),
                ("Renaissance", "medieval painting"), ("inflation", "deflation"), ("sociology", "anthropology"),
                ("rationalism", "empiricism"), ("realism", "idealism in international relations"),
                ("free trade", "protectionism"), ("Confucian", "Aristotelian ethics"),
                ("oral history", "written archives as sources"), ("Art Deco", "Art Nouveau"),
                ("presidential", "parliamentary systems"), ("opera", "musical theatre"),
                ("the Enlightenment", "the Romantic movement"), ("federal", "unitary states"),
                ("classical", "behavioural economics"), ("tragedy", "comedy in ancient Greek theatre"))


@_template("humanities")
def _compare_ideas(r):
    a, b = r.choice(_COMPARE_HUM)
    s = dict(a=a, b=b)
    first = _x(r, r.choice((
        "Compare {a} and {b}. [Where do they agree, and where do they clash?|Which do you find more convincing, "
        "and why?|Give one example of each.]",
        "What are the key differences between {a} and {b}?",
        "Explain {a} versus {b} to someone who has never studied either.",
        "How do {a} and {b} differ in their assumptions and in practice?",
        "Set {a} and {b} side by side. What does each get right, and what does each miss?",
    )), **s) + _tail(r, 0.7)
    own = ["Is there a view that combines the best of both?",
           "Which of the two has been more influential in the last fifty years?"]
    return first, s, own


_PHIL_QS = ("Is it ever right to break a promise?", "Can a machine be creative?",
            "Do we have duties to future generations?",
            "Is privacy a right or a privilege?", "Should art be judged separately from the artist?",
            "What makes a life meaningful?", "Is it possible to be truly objective?", "Are people naturally good?",
            "Does technology make us more free or less free?", "Should zoos exist?", "Is luck a fair basis for reward?",
            "Is it wrong to lie to spare someone's feelings?", "What do we owe strangers?",
            "Is beauty only in the eye of the beholder?",
            "Should voting be compulsory?", "Is it better to be a specialist or a generalist?",
            "Do animals have rights?",
            "Is nostalgia helpful or harmful?", "Can you be friends with someone whose values you reject?",
            "Is it fair to inherit wealth?", "Should we always tell the truth to children?",
            "Is it possible to own an idea?", "Are we responsible for what we don't know?",
            "Is forgiveness always a virtue?", "Can a good person work for a bad organisation?",
            "Does the past exist anywhere?", "Is competition good for people?", "What makes a promise binding?",
            "Should we ever obey an unjust law?", "Is it selfish to have no ambition?")
_SCHOOLS = ("a utilitarian", "a Stoic", "a Kantian", "an existentialist", "a pragmatist", "a virtue ethicist")


@_template("humanities")
def _philosophy_question(r):
    q = r.choice(_PHIL_QS)
    s = dict(q=q, school=r.choice(_SCHOOLS), ql=q[0].lower() + q[1:])
    first = _x(r, r.choice((
        "{q} Discuss [both sides|the arguments for and against] and give your own view.",
        "Here's a question I keep thinking about: {q} What would {school} say?",
        "Write a short essay on the question \"{q}\"",
        "{q} Give me the strongest argument on each side.",
        "Let's think carefully: {ql}",
        "Explain how {school} would approach this question: {ql}",
    )), **s) + _tail(r, 0.7)
    own = [_x(r, "How would {sc} answer differently?", sc=r.choice(_SCHOOLS)),
           "Give a real-life situation where this question actually matters."]
    return first, s, own


_SCENARIO_PEOPLE = ("a small bakery", "a student", "a landlord", "a freelance photographer", "a town council",
                    "a start-up", "a musician", "a hospital", "a delivery driver", "a school", "a novelist",
                    "a football club", "a food blogger", "a family-run hotel", "a software developer", "a farmer")


@_template("humanities")
def _law_explained(r):
    c = r.choice(_HUM_CONCEPTS["law"])
    s = dict(concept=c, who=r.choice(_SCENARIO_PEOPLE))
    first = _x(r, r.choice((
        "Explain {concept} using a simple hypothetical example involving {who}.",
        "How does {concept} protect ordinary people? Give a practical scenario.",
        "What is {concept}, and why do legal systems have it?",
        "Walk me through {concept} as it might affect {who}. I'm not a lawyer.",
        "Why does {concept} matter? Illustrate it with a made-up case about {who}.",
    )), **s) + _tail(r, 0.7)
    own = ["How does this differ between countries?", "What's a famous kind of case where this principle was tested?"]
    return first, s, own


@_template("humanities")
def _art_movement(r):
    c = r.choice(_HUM_CONCEPTS["art"])
    s = dict(concept=c, city=r.choice(_CITIES), aud=r.choice(_EXPLAIN_AUD))
    first = _x(r, r.choice((
        "Describe the main features of {concept}. [Name two works or figures associated with it.|How did it "
        "influence what came after?|What was it reacting against?]",
        "I'm visiting a gallery in {city} that has a room on {concept}. What should I know before I go?",
        "Explain {concept} to {aud}, and suggest one work to start with.",
        "If I visit an exhibition on {concept}, what should I look out for?",
        "Why was {concept} so controversial in its time?",
        "Explain {concept} to someone who thinks art history is boring.",
    )), **s) + _tail(r, 0.7)
    own = ["How could a teacher make this interesting for teenagers?",
           "Which modern artists or designers carry on this tradition?"]
    return first, s, own


_POLICIES = ("a sugar tax", "rent control", "a universal basic income", "congestion charging in the city centre",
             "a four-day working week", "free public transport", "a carbon tax", "a higher minimum wage",
             "tuition-free university", "a tax on empty homes", "subsidies for electric cars",
             "a ban on single-use plastics",
             "a tourist tax", "a shorter school summer holiday", "a tax on frequent flying",
             "free school meals for all",
             "a cap on credit card interest", "a ban on cars in the old town", "paid leave for new fathers",
             "a deposit scheme for drinks bottles")
_POLICY_PLACES = ("a large city", "a small country", "a tourist town", "a rural region", "a wealthy suburb",
                  "a port city",
                  "a university town", "an island economy", "a former mining region")


@_template("humanities")
def _policy_effects(r):
    s = dict(pol=r.choice(_POLICIES), place=r.choice(_POLICY_PLACES))
    first = _x(r, r.choice((
        "What are the likely economic effects of introducing {pol} in {place}? Consider [winners and losers|short- "
        "and long-term effects|unintended consequences].",
        "Argue for and against {pol}.",
        "If {place} introduced {pol}, who would benefit and who would pay?",
        "How do economists think about {pol}? Summarise the main arguments.",
    )), **s) + _tail(r)
    own = ["What evidence from places that tried something similar should we look at?",
           "Design a compromise version of the policy."]
    return first, s, own


_SOC_SETTINGS = ("workplaces", "schools", "online communities", "small towns", "families", "sports teams",
                 "political campaigns", "shops")


@_template("humanities")
def _social_phenomenon(r):
    c = r.choice(_HUM_CONCEPTS["social science"])
    s = dict(concept=c, where=r.choice(_SOC_SETTINGS))
    first = _x(r, r.choice((
        "What is {concept}, and how does it show up in {where}?",
        "Give examples of {concept} in {where}, and suggest ways to counter its downsides.",
        "How do social scientists study {concept}? Describe a typical study.",
        "Explain {concept} with an example from {where}.",
    )), **s) + _tail(r)
    own = ["Have you ever seen this work in a positive way?", "How would you measure it in practice?"]
    return first, s, own


_COUNTERFACTUALS = ("the printing press had been invented three hundred years later",
                    "the telephone had never caught on", "the Silk Road had never opened",
                    "the Black Death had never reached Europe",
                    "the steam engine had been developed in ancient Alexandria",
                    "the Library of Alexandria had survived", "the internet had been invented in the 1950s",
                    "the Suez Canal had never been built", "antibiotics had been discovered a century earlier",
                    "paper money had never been invented", "the bicycle had been invented before the car",
                    "the Industrial Revolution had started in China", "the Roman Empire had never split in two",
                    "the Vikings had settled permanently in North America", "radio had been invented before writing "
                    "became widespread", "the potato had never left South America",
                    "the Great Fire of London had never "
                    "happened", "electricity had been harnessed in the Middle Ages", "the compass had never reached "
                    "Europe", "the Panama Canal had been built a century earlier", "the first vaccine had been "
                    "developed in the 1600s", "railways had never been built in Britain")


@_template("humanities")
def _counterfactual(r):
    s = dict(cf=r.choice(_COUNTERFACTUALS), asp=r.choice(_ASPECTS))
    first = _x(r, r.choice((
        "How might history have been different if {cf}?",
        "Imagine that {cf}. What would the world look like today?",
        "Speculate: if {cf}, what would have changed for {asp}?",
        "Suppose {cf}. Walk me through the most likely chain of consequences.",
        "Here's a what-if for you: {cf}. How would {asp} be different today?",
    )), **s) + _tail(r, 0.7)
    own = ["Which of your predictions are you least confident about, and why?",
           "Write a short diary entry by someone living in that alternative world."]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# Reasoning: the facts given determine a single answer, computed here (slots["answer"]), never shown
# --------------------------------------------------------------------------------------------------

# (more, less, question about the top, question about the bottom, the order's phrase, context)
_ORDER_RELS = (
    ("is taller than", "is shorter than", "Who is the tallest?", "Who is the shortest?", "from tallest to shortest",
     "{n} friends stood back to back to compare their heights."),
    ("is older than", "is younger than", "Who is the oldest?", "Who is the youngest?", "from oldest to youngest",
     "{n} cousins are trying to work out who was born first."),
    ("finished ahead of", "finished behind", "Who won?", "Who came last?", "in the order they finished",
     "{n} runners took part in a village fun run, and there were no ties."),
    ("arrived before", "arrived after", "Who arrived first?", "Who arrived last?", "in the order they arrived",
     "{n} colleagues turned up to a meeting at different times."),
    ("owns more books than", "owns fewer books than", "Who owns the most books?", "Who owns the fewest books?",
     "from most books to fewest",
     "{n} neighbours compared the size of their home libraries; no two have the same number."),
    ("lives on a higher floor than", "lives on a lower floor than", "Who lives on the highest floor?",
     "Who lives on the lowest floor?", "from the highest floor to the lowest",
     "{n} people live in the same tower block, each on a different floor."),
    ("scored more points than", "scored fewer points than", "Who scored the most?", "Who scored the least?",
     "from the highest score to the lowest", "{n} players finished a quiz night with different scores."),
)


@_template("reasoning")
def _ordering(r):
    n = r.randint(4, 6)
    order = r.sample(_NAMES, n)
    rel = r.randrange(len(_ORDER_RELS))
    more, less, q_top, q_bot, phrase, ctx = _ORDER_RELS[rel]
    facts = [(order[i], order[i + 1]) for i in range(n - 1)]
    if r.random() < 0.5:
        i = r.randrange(n - 2)
        facts.append((order[i], order[r.randrange(i + 2, n)]))
    r.shuffle(facts)
    said = [f"{a} {more} {b}." if r.random() < 0.6 else f"{b} {less} {a}." for a, b in facts]
    kind = r.choice(("top", "bottom", "kth", "all"))
    k = r.randint(2, n - 1)
    q = {"top": q_top, "bottom": q_bot, "kth": f"Who comes {_ORD[k - 1]} when they are listed {phrase}?",
         "all": f"List all {_NUM[n]} {phrase}."}[kind]
    answer = {"top": order[0], "bottom": order[-1], "kth": order[k - 1], "all": order}[kind]
    first = _x(r, "{ctx} {facts} {q}" + _opt(r, "[Explain how you worked it out.|Show your reasoning.]"),
               ctx=_x(r, ctx, n=_NUM[n].capitalize()), facts=" ".join(said), q=q)
    s = dict(names=order, facts=facts, rel=rel, kind=kind, k=k, answer=answer, statements=said)
    drop = r.choice(said)
    fa, fb = r.choice(facts)
    own = [f"Suppose the statement \"{drop}\" were removed. Could you still answer? Explain.",
           f"What if the clue about {fa} and {fb} were the other way round, so that {fb} {more} {fa}? Is the puzzle "
           f"still consistent, and does your answer change?",
           f"Now a new person, {r.choice([x for x in _NAMES if x not in order])}, joins. What is the least "
           f"information you'd need to place them in the order?"]
    return first, s, own


def _kin(gen: int, female: bool, up: bool) -> str:
    """The relation of someone `gen` generations above (up) or below another person."""
    base = ("mother" if female else "father") if up else ("daughter" if female else "son")
    if gen == 1:
        return base
    return "great-" * (gen - 2) + "grand" + base


@_template("reasoning")
def _family(r):
    L = r.randint(2, 4)
    sexes = [r.random() < 0.5 for _ in range(L + 1)]
    fem, mal = iter(r.sample(_FEMALE, L + 2)), iter(r.sample(_MALE, L + 2))
    people = [next(fem) if f else next(mal) for f in sexes]
    kind = r.choice(("up", "down", "sibling"))
    facts = []
    for i in range(L):
        p, c, pf, cf = people[i], people[i + 1], sexes[i], sexes[i + 1]
        forms = [f"{p} is {c}'s {'mother' if pf else 'father'}.",      # states the parent's sex
                 f"{c} is the {'daughter' if cf else 'son'} of {p}.",  # these two, the child's
                 f"{p}'s {'daughter' if cf else 'son'} is {c}."]
        if kind == "up" and i == 0:          # the sex of the person asked about is always stated
            forms = forms[:1]
        elif kind == "down" and i == L - 1:
            forms = forms[1:]
        facts.append(r.choice(forms))
    if kind == "sibling":
        sf = r.random() < 0.5
        sib = next(fem) if sf else next(mal)
        facts.append(f"{sib} is {people[0]}'s {'sister' if sf else 'brother'}.")
        who, whom = sib, people[-1]
        answer = "great-" * (L - 1) + ("aunt" if sf else "uncle")   # a parent's sibling is an aunt or uncle
    elif kind == "up":
        who, whom, answer = people[0], people[-1], _kin(L, sexes[0], True)
    else:
        who, whom, answer = people[-1], people[0], _kin(L, sexes[-1], False)
    r.shuffle(facts)
    first = _x(r, r.choice((
        "{facts} How is {who} related to {whom}?",
        "Here are some facts about one family: {facts} What is {who}'s relationship to {whom}?",
        "{facts} Based only on this, what relation is {who} to {whom}?[? Explain briefly.]",
    )), facts=" ".join(facts), who=who, whom=whom)
    s = dict(people=people, female=sexes, generations=L, kind=kind, who=who, whom=whom, answer=answer, facts=facts)
    own = [f"What if {people[-1]} had a child named {r.choice([x for x in _NAMES if x not in people])}? How would "
           f"that child be related to {people[0]}?",
           "Draw the family tree as an indented list."]
    return first, s, own


_DIRS = ("north", "east", "south", "west")
_TURNS = (("turn right", "turns right", 1), ("turn left", "turns left", -1), ("turn around", "turns around", 2),
          ("make a quarter turn clockwise", "makes a quarter turn clockwise", 1),
          ("make a quarter turn anticlockwise", "makes a quarter turn anticlockwise", -1),
          ("turn 90 degrees to the left", "turns 90 degrees to the left", -1),
          ("turn 90 degrees to the right", "turns 90 degrees to the right", 1),
          ("spin all the way round once", "spins all the way round once", 0),
          ("turn 180 degrees", "turns 180 degrees", 2))
_STEPS = ("walk {k} steps forward", "walks {k} steps forward"), ("take {k} paces ahead", "takes {k} paces ahead")


@_template("reasoning")
def _compass(r):
    start = r.randrange(4)
    nturn = r.randint(3, 6)
    you = r.random() < 0.5
    subj = "you" if you else r.choice(("the robot", "the hiker", "the scout", "the drone"))
    seq, d, last = [], start, None
    for _ in range(nturn):
        t2, t3, delta = r.choice([t for t in _TURNS if t[0] != last])
        last = t2
        d = (d + delta) % 4
        seq.append(t2 if you else t3)
        if r.random() < 0.4:
            a, b = r.choice(_STEPS)
            seq.append((a if you else b).format(k=r.randint(2, 30)))
    conn = ["First,", "Then", "Next,", "After that,", "Then", "Next,", "After that,", "Then", "Next,", "Then", "Next,",
            "After that,"]
    body = " ".join(f"{conn[i]} {subj} {x}." for i, x in enumerate(seq[:-1])) + f" Finally, {subj} {seq[-1]}."
    if you:
        intro = f"You are standing in an open field, facing {_DIRS[start]}."
        q = r.choice(("Which direction are you facing now?", "Which way are you facing at the end?"))
    else:
        intro = f"{subj.capitalize()} starts out facing {_DIRS[start]}."
        q = f"Which direction is {subj} facing at the end?"
    first = f"{intro} {body} {q}"
    s = dict(start=_DIRS[start], steps=seq, answer=_DIRS[d])
    own = ["What if every left turn had been a right turn instead, and vice versa?",
           "Which of the instructions made no difference to the final direction?"]
    return first, s, own


_DAY_OFFSETS = (("the day after tomorrow", 2), ("tomorrow", 1), ("yesterday", -1), ("the day before yesterday", -2),
                ("three days from now", 3), ("three days ago", -3), ("four days ago", -4), ("five days from now", 5),
                ("a week from tomorrow", 8), ("two days after tomorrow", 3), ("the day before tomorrow", 0),
                ("ten days ago", -10))


@_template("reasoning")
def _weekday(r):
    (a_txt, a), (b_txt, b) = r.sample(_DAY_OFFSETS, 2)
    if a == b:
        b_txt, b = "today", 0
    if b_txt == "the day before tomorrow":
        b_txt = "today"
    day = r.randrange(7)
    ans = _DAYS[(day - a + b) % 7]
    verb = "is it" if b == 0 else ("was it" if b < 0 else "will it be")
    tgt = "" if b_txt == "today" else f" {b_txt}"
    verb = "is it today" if b_txt == "today" else verb
    first = _x(r, r.choice((
        "If {a} is {d}, what day {v}{t}?",
        "Suppose {a} is a {d}. Which day of the week {v}{t}?",
        "Here's a quick one: {a} is {d}. What day {v}{t}?[? Explain your steps.]",
    )), a=a_txt, d=_DAYS[day], v=verb, t=tgt)
    s = dict(anchor=a, anchor_day=_DAYS[day], target=b, answer=ans)
    own = [f"And what day will it be {r.randint(10, 100)} days after that?",
           "Explain a general method for puzzles like this one."]
    return first, s, own


@_template("reasoning")
def _handshakes(r):
    kind = r.choice(("handshakes", "league", "reverse", "cards"))
    n = r.randint(5, 90)
    if kind == "handshakes":
        ans = n * (n - 1) // 2
        first = _x(r, "[At a party|At a reunion|At the start of a workshop], each of the {n} [guests|people] shakes "
                      "hands with every other [guest|person] exactly once. How many handshakes take place?", n=n)
    elif kind == "league":
        ans = n * (n - 1)
        first = _x(r, "A [football|hockey|netball|basketball] league has {n} teams, and every team plays every other "
                      "team twice, once at home and once away. How many matches are played in a season?", n=n)
    elif kind == "cards":
        ans = n * (n - 1)
        first = _x(r, "{n} [friends|colleagues|cousins] each send a [holiday card|postcard|birthday message] to every "
                      "one of the others. How many are sent in total?", n=n)
    else:
        ans = n
        first = _x(r, "At a meeting, everyone shook hands with everyone else exactly once, and there were {h} "
                      "handshakes in total. How many people were at the meeting?", h=n * (n - 1) // 2)
    first += _opt(r, "Explain your reasoning.")
    s = dict(kind=kind, n=n, answer=ans)
    own = [f"What if {r.randint(1, 3)} of the people refused to shake hands with anyone?",
           "Is there a formula for this? Explain why it works."]
    return first, s, own


# Syllogisms: (quantifier, subject, predicate) for two premises and a claim; the answer is fixed by the form
# (all named groups are taken to be non-empty). tests/test_writing_chat.py checks every answer by brute force.
SYLLOGISMS = (
    ((("all", "A", "B"), ("all", "B", "C")), ("all", "A", "C"), "true"),
    ((("all", "A", "B"), ("some", "B", "C")), ("some", "A", "C"), "uncertain"),
    ((("no", "A", "B"), ("all", "C", "A")), ("no", "C", "B"), "true"),
    ((("all", "A", "B"), ("no", "B", "C")), ("no", "A", "C"), "true"),
    ((("some", "A", "B"), ("all", "B", "C")), ("some", "A", "C"), "true"),
    ((("all", "A", "B"), ("some_not", "C", "B")), ("some_not", "C", "A"), "true"),
    ((("all", "A", "B"), ("all", "C", "B")), ("all", "A", "C"), "uncertain"),
    ((("no", "A", "B"), ("no", "B", "C")), ("no", "A", "C"), "uncertain"),
    ((("all", "A", "B"), ("some", "A", "C")), ("some", "B", "C"), "true"),
    ((("some", "A", "B"), ("some", "B", "C")), ("some", "A", "C"), "uncertain"),
    ((("all", "A", "B"), ("no", "C", "B")), ("some", "C", "A"), "false"),
    ((("all", "A", "B"), ("all", "B", "C")), ("some_not", "A", "C"), "false"),
    ((("no", "A", "B"), ("some", "C", "A")), ("some_not", "C", "B"), "true"),
    ((("all", "A", "B"), ("some_not", "B", "C")), ("some_not", "A", "C"), "uncertain"),
    ((("some_not", "A", "B"), ("all", "C", "B")), ("some_not", "A", "C"), "true"),
    ((("no", "A", "B"), ("all", "C", "B")), ("some", "C", "A"), "false"),
)
_NONSENSE = ("glorps", "zindles", "wumpets", "trellicks", "florbs", "snazzles", "quobbits", "mirkins", "brindles",
             "veltons", "skerrits", "dravits", "plonkers", "tuvvles")
_GROUPS = ("members of the rowing club", "tea drinkers", "people who own a bicycle", "night owls", "amateur painters",
           "students in Room 4", "people who speak Italian", "collectors of old maps", "volunteers at the shelter",
           "early risers", "jazz fans", "chess players", "keen gardeners", "people who have visited Oslo")


def _quant(q: str, x: str, y: str) -> str:
    return {"all": f"All {x} are {y}.", "no": f"No {x} are {y}.", "some": f"Some {x} are {y}.",
            "some_not": f"Some {x} are not {y}."}[q]


@_template("reasoning")
def _syllogism(r):
    form = r.randrange(len(SYLLOGISMS))
    prem, concl, ans = SYLLOGISMS[form]
    terms = dict(zip("ABC", r.sample(_NONSENSE if r.random() < 0.5 else _GROUPS, 3)))
    p1, p2 = (_quant(q, terms[a], terms[b]) for q, a, b in prem)
    c = _quant(concl[0], terms[concl[1]], terms[concl[2]])
    first = _x(r, r.choice((
        "Consider two statements. 1) {p1} 2) {p2} Based only on these, is the claim \"{cq}\" true, false, or "
        "impossible to tell? Explain.",
        "{p1} {p2} Does it follow that \"{cq}\"? Answer true, false or uncertain, and say why.",
        "Logic check. Premise one: {p1} Premise two: {p2} Conclusion: {c} Is the conclusion true, false, or "
        "uncertain given the premises?",
    )), p1=p1, p2=p2, c=c, cq=c[:-1])
    s = dict(form=form, terms=terms, answer=ans)
    own = ["Draw this as a Venn diagram described in words.",
           "Change one word in the second statement so that the answer becomes different, and explain the change."]
    return first, s, own


_ODD_GROUPS = {
    "fruits": ("apple", "pear", "plum", "mango", "apricot", "cherry", "peach", "kiwi"),
    "tools": ("hammer", "screwdriver", "chisel", "wrench", "pliers", "spanner"),
    "instruments": ("violin", "trumpet", "flute", "cello", "oboe", "harp", "clarinet"),
    "planets": ("Mars", "Venus", "Jupiter", "Saturn", "Neptune", "Uranus"),
    "metals": ("copper", "iron", "zinc", "tin", "nickel", "aluminium"),
    "birds": ("sparrow", "eagle", "owl", "heron", "robin", "pelican"),
    "mammals": ("otter", "badger", "whale", "fox", "hedgehog", "squirrel"),
    "countries": ("Peru", "Norway", "Kenya", "Vietnam", "Chile", "Poland"),
    "furniture": ("sofa", "wardrobe", "bookcase", "stool", "dresser", "armchair"),
    "gemstones": ("ruby", "emerald", "sapphire", "topaz", "opal", "garnet"),
    "vehicles": ("tram", "lorry", "scooter", "ferry", "bus", "van"),
}


@_template("reasoning")
def _odd_one_out(r):
    g1, g2 = r.sample(sorted(_ODD_GROUPS), 2)
    items = r.sample(_ODD_GROUPS[g1], r.randint(3, 4))
    odd = r.choice(_ODD_GROUPS[g2])
    lst = items + [odd]
    r.shuffle(lst)
    first = _x(r, r.choice((
        "Which of these doesn't fit with the rest: {items}? Explain your choice.",
        "Spot the odd one out and say why: {items}.",
        "One of these is not like the others: {items}. Which one is it?",
        "Here's a list: {items}. Which item is the odd one out, and what do the others have in common?",
    )), items=", ".join(lst))
    s = dict(items=lst, group=g1, odd_group=g2, answer=odd)
    own = ["Suggest a replacement for the odd one that would fit the group, and one more item that would also fit.",
           "Could someone argue for a different answer? Make the best case you can."]
    return first, s, own


@_template("reasoning")
def _queue(r):
    name = r.choice(_NAMES)
    pron = "her" if name in _FEMALE else "his"
    kind = r.choice(("total", "from_back", "behind"))
    thing = r.choice(("a concert", "the bakery", "a museum", "the bus", "a ferry", "the lift", "a food truck"))
    if kind == "total":
        k, m = r.randint(2, 30), r.randint(2, 30)
        ans = k + m - 1
        first = _x(r, "In a queue for {t}, {n} is {k} from the front and {m} from the back. How many people are in "
                      "the queue?", t=thing, n=name, k=_nth(k), m=_nth(m))
        s = dict(kind=kind, front=k, back=m, answer=ans)
    elif kind == "from_back":
        tot, k = r.randint(8, 60), 0
        k = r.randint(2, tot - 1)
        ans = tot - k + 1
        first = _x(r, "{n} is {k} in a line of {tot} people waiting for {t}. What is {p} position counting from the "
                      "back?", n=name, k=_nth(k), tot=tot, t=thing, p=pron)
        s = dict(kind=kind, total=tot, front=k, answer=ans)
    else:
        tot = r.randint(8, 60)
        a = r.randint(1, tot - 2)
        ans = tot - a - 1
        first = _x(r, "There are {tot} people in the queue for {t}, and {n} has {a} people in front of {o}. How many "
                      "people are behind {o}?", tot=tot, t=thing, n=name, a=a, o="her" if name in _FEMALE else "him")
        s = dict(kind=kind, total=tot, ahead=a, answer=ans)
    first += _opt(r, "Explain how you got the answer.")
    own = [f"Now {r.randint(2, 9)} more people join at the back. What changes in your answer, and what stays the same?",
           "Draw the queue as a short diagram to show the answer is right."]
    return first, s, own


_DRAW = (("socks", "a drawer", "in the dark"), ("marbles", "a bag", "without looking"),
         ("sweets", "a jar", "with your eyes closed"), ("balls", "a box", "blindfolded"))
_COLOURS = ("red", "blue", "green", "yellow", "black", "white")


@_template("reasoning")
def _pigeonhole(r):
    obj, box, how = r.choice(_DRAW)
    cols = r.sample(_COLOURS, r.randint(2, 4))
    counts = [r.randint(2, 12) for _ in cols]
    kind = r.choice(("pair", "two_of", "each"))
    content = _join([f"{c} {col}" for c, col in zip(counts, cols)])
    if kind == "pair":
        ans = len(cols) + 1
        goal = "a matching pair (two of the same colour)"
    elif kind == "two_of":
        i = r.randrange(len(cols))
        ans = sum(counts) - counts[i] + 2
        goal = f"two {cols[i]} {obj}"
    else:
        ans = sum(counts) - min(counts) + 1
        goal = "at least one of every colour"
    first = _x(r, "{b} holds {content} {o}, all mixed up. Taking them out {how}, how many {o} do you have to take to "
                  "be certain of getting {goal}?[? Explain why fewer would not be enough.]",
               b=box.capitalize(), content=content, o=obj, how=how, goal=goal)
    s = dict(colours=cols, counts=counts, kind=kind, answer=ans)
    own = ["What if you needed two matching pairs instead?",
           "What is the smallest number that could possibly be enough, "
           "if you were lucky?"]
    return first, s, own


_LEGS = (("chickens", 2, "goats", 4, "heads", "legs", "A farmyard"), ("ducks", 2, "sheep", 4, "heads", "legs",
          "A field"),
         ("bicycles", 2, "tricycles", 3, "vehicles", "wheels", "A bike shed"),
         ("beetles", 6, "spiders", 8, "creatures", "legs", "A collector's display case"),
         ("cars", 4, "motorbikes", 2, "vehicles", "wheels", "A car park"),
         ("three-legged stools", 3, "four-legged chairs", 4, "seats", "legs", "A café"))


@_template("reasoning")
def _heads_legs(r):
    a, la, b, lb, heads, legs, where = r.choice(_LEGS)
    x, y = r.randint(1, 30), r.randint(1, 30)
    ask_b = r.random() < 0.5
    first = _x(r, "{w} holds only {a} and {b}. Together there are {h} {heads} and {l} {legs}. How many {q} are there?"
                  "[? Explain your method.]",
               w=where, a=a, b=b, h=x + y, heads=heads, l=x * la + y * lb, legs=legs, q=b if ask_b else a)
    s = dict(kinds=(a, b), each=(la, lb), counts=(x, y), asked=b if ask_b else a, answer=y if ask_b else x)
    own = [f"If {r.randint(2, 6)} more {b} arrive, how many {legs} are there altogether?",
           "Solve it again without algebra, by reasoning it through in words."]
    return first, s, own


@_template("reasoning")
def _age_riddle(r):
    name = r.choice(_NAMES)
    pro = "she" if name in _FEMALE else "he"
    kind = r.choice(("twice", "sum"))
    if kind == "twice":
        k, m = r.randint(2, 20), r.randint(2, 20)
        age = k + 2 * m
        first = _x(r, "In {k} years, {n} will be twice as old as {p} was {m} years ago. How old is {n} now?",
                   k=_NUM[k] if k <= 20 else k, m=_NUM[m] if m <= 20 else m, n=name, p=pro)
        s = dict(kind=kind, later=k, earlier=m, answer=age)
    else:
        other = r.choice([x for x in _NAMES if x != name])
        b, d, k = r.randint(3, 40), r.randint(1, 15), r.randint(1, 10)
        total = 2 * b + d + 2 * k
        first = _x(r, "{n} is {d} years older than {o}. In {k} years, their ages will add up to {t}. How old is {o} "
                      "now?", n=name, d=d, o=other, k=k, t=total)
        s = dict(kind=kind, gap=d, later=k, total=total, answer=b)
    first += _opt(r, "Show how you set it up.")
    own = ["Check your answer by plugging it back into the puzzle.",
           "Write a similar age puzzle with a different answer."]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# Math and coding, conversational
# --------------------------------------------------------------------------------------------------


@_template("math")
def _bill_split(r):
    n, tip = r.randint(3, 9), r.choice((10, 12, 15, 18, 20))
    cur = r.choice(("$", "€", "£"))
    bill = f"{cur}{r.randint(4500, 48000) / 100:.2f}"
    s = dict(n=n, tip=tip, bill=bill)
    first = _x(r, r.choice((
        "There were {nw} of us at dinner and the bill came to {bill}. We want to add a {tip}% tip and split "
        "everything evenly. How much should each person pay?",
        "Quick help: a {bill} restaurant bill, a {tip}% tip on top, shared equally by {n} people. What does each "
        "of us owe?[? Please show the steps.]",
        "I'm splitting a {bill} bill with [{nm} friends|{nm} colleagues] and we're tipping {tip}%. What's my "
        "share?[? Round to the nearest cent.]",
    )), nw=_NUM[n], nm=_NUM[n - 1], **s)
    own = [f"What if {r.choice(_NUM[1:4])} more people join but the bill stays the same?",
           "One of us only had a salad. How could we split it more fairly? Suggest a method."]
    return first, s, own


_PRICE_ITEMS = ("jacket", "train ticket", "monthly phone plan", "bag of coffee beans", "concert ticket", "bike",
                "gym membership", "box of strawberries")


@_template("math")
def _percent_change(r):
    up, down = r.randint(5, 60), r.randint(5, 60)
    s = dict(item=r.choice(_PRICE_ITEMS), up=up, down=down, cur=r.choice(("$", "€", "£")), p=r.randint(12, 400))
    first = _x(r, r.choice((
        "The price of a {item} went up by {up}% and later came down by {down}%. Is it now cheaper or dearer than "
        "at the start, and by what percentage?",
        "A {item} cost {cur}{p}. The shop raised the price {up}%, then had a {down}% sale. What does it cost now, "
        "and what's the overall change in per cent?",
        "If something rises by {up}% and then falls by {down}%, why isn't the net change just {up} minus {down}? "
        "Use a {item} as the example.",
    )), **s)
    own = ["What single percentage change would bring the price back to where it started?",
           "Explain the difference between a percentage change and a change in percentage points."]
    return first, s, own


@_template("math")
def _trip_time(r):
    d, v = r.randint(40, 900), r.choice((50, 60, 70, 80, 90, 100, 110, 120))
    brk, h, m = r.choice((10, 15, 20, 30, 45)), r.randint(5, 14), r.choice((0, 15, 30, 45))
    s = dict(d=d, v=v, brk=brk, t=f"{h}:{m:02d}")
    first = _x(r, r.choice((
        "I'm driving {d} km at an average of {v} km/h and I'll stop once for {brk} minutes. If I leave at {t}, "
        "when will I arrive?",
        "A train journey of {d} km at an average speed of {v} km/h, plus a {brk}-minute wait at a junction. "
        "Leaving at {t}, what time does it get in?",
        "Help me plan: {d} kilometres, averaging {v} km/h, one {brk}-minute break, departure at {t}. What's my "
        "arrival time?",
    )), **s)
    own = [f"How much earlier would I arrive if I averaged {r.choice((5, 10, 15, 20))} km/h more?",
           "How long would the trip take without the break, in hours and minutes?"]
    return first, s, own


_MATH_CONCEPTS = ("a logarithm", "standard deviation", "compound interest", "prime factorisation", "a derivative",
                  "the probability of two independent events", "the median versus the mean", "a ratio",
                  "percentage points versus per cent", "a zero exponent", "a weighted average",
                  "the area of a circle", "expected value", "a geometric sequence", "modular arithmetic")


@_template("math")
def _math_concept(r):
    s = dict(c=r.choice(_MATH_CONCEPTS), lev=r.choice(_LEARNERS))
    first = _x(r, r.choice((
        "What does {c} actually mean? Walk me through an example with numbers I can check myself.",
        "I'm {lev}. Can you explain {c} with a small worked example?",
        "Explain {c} in plain words, then give me one example from everyday life.",
    )), **s) + _tail(r, 0.4)
    own = ["Give me two practice problems like that, without the answers.",
           "Where does this idea come up outside school?"]
    return first, s, own


@_template("math")
def _savings(r):
    cur = r.choice(("$", "€", "£"))
    s = dict(x=f"{cur}{r.choice(range(25, 1001, 25))}", rate=r.choice((1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6)),
             y=r.randint(2, 30), cur=cur)
    first = _x(r, r.choice((
        "If I put {x} a month into savings at {rate}% interest a year, compounded monthly, roughly how much will I "
        "have after {y} years?",
        "I save {x} every month. With {rate}% annual interest, about how much would I have in {y} years, and how "
        "much of that is interest?",
        "Roughly, what does {x} a month grow to over {y} years at {rate}% a year? Explain how the calculation works.",
    )), **s)
    own = ["How much would I need to save each month to double that amount?",
           "How would inflation of about 2% a year change the picture?"]
    return first, s, own


_CODE_TASKS = ("read a CSV file and print the average of one column", "remove duplicate lines from a text file",
               "send an HTTP GET request and parse the JSON that comes back", "format a date as day-month-year",
               "rename every file in a folder to lowercase", "time how long a function takes to run",
               "read an environment variable with a default value", "sort a list of records by two fields",
               "parse command-line arguments", "split a long list into chunks of ten",
               "retry a flaky network call three times",
               "write a small log file with timestamps", "check whether a port on my machine is free",
               "download a file and show a progress bar", "find the longest line in a text file",
               "convert a JSON file to CSV", "validate an email address roughly", "schedule a job to run every hour",
               "resize all the images in a folder", "read a large file line by line without loading it all")


@_template("coding")
def _coding_howto(r):
    s = dict(task=r.choice(_CODE_TASKS), lang=r.choice(_LANGS))
    first = _x(r, r.choice((
        "How do I {task} in {lang}? A short example would help.",
        "What's the cleanest way to {task} in {lang}?[? I'm fairly new to the language.]",
        "Can you show me how to {task} using {lang}, and explain the key lines?",
        "In {lang}, I need to {task}. What would you recommend?",
    )), **s)
    own = [_x(r, "How would the same thing look in {l2}?", l2=r.choice([x for x in _LANGS if x != s["lang"]])),
           "What could go wrong with this on a very large input?"]
    return first, s, own


_CODE_PAIRS = (("a list", "a tuple in Python"), ("== and ===", "JavaScript"), ("an interface", "an abstract class"),
               ("threads", "async/await"), ("a shallow copy", "a deep copy"), ("a join", "a subquery in SQL"),
               ("unit tests", "integration tests"), ("merging", "rebasing in git"), ("a process", "a thread"),
               ("static typing", "dynamic typing"), ("REST", "GraphQL"), ("a library", "a framework"),
               ("the stack", "the heap"), ("mutable", "immutable data"), ("cookies", "local storage"),
               ("a compiler", "a transpiler"), ("composition", "inheritance"), ("a map", "a set"),
               ("pass by value", "pass by reference"), ("an array", "a linked list"),
               ("a queue", "a priority queue"), ("a process pool", "a thread pool"), ("a primary key", "a foreign key"),
               ("HTTP", "HTTPS"), ("a struct", "a class"), ("synchronous", "asynchronous I/O"),
               ("authentication", "authorisation"), ("a container", "a virtual machine"), ("a fork", "a branch"),
               ("a unit", "an end-to-end test"))


@_template("coding")
def _coding_concept(r):
    a, b = r.choice(_CODE_PAIRS)
    pair = f"{a} in {b}" if b == "JavaScript" else f"{a} and {b}"
    s = dict(pair=pair, lang=r.choice(_LANGS), lev=r.choice(("a beginner", "a data analyst", "a student",
                                                              "a designer learning to code", "a tester")))
    first = _x(r, r.choice((
        "What's the difference between {pair}, and when would I use each?",
        "I'm {lev}. Can you explain {pair} with a tiny example?",
        "Explain {pair} the way you would to a new colleague.",
        "Could you compare {pair} with a short {lang} example of each?",
    )), **s) + _tail(r, 0.7)
    own = ["Give me a small exercise to practise this.", "What's a common bug caused by mixing these up?"]
    return first, s, own


def _snippet(r: random.Random) -> tuple[str, str]:
    """A short Python function with one typical mistake, and the mistake's name."""
    fn = r.choice(("total", "collect", "average", "clean", "scores"))
    v = r.choice(("items", "values", "nums", "data", "rows"))
    k = r.randint(2, 9)
    kind = r.randrange(5)
    if kind == 0:
        return (f"def {fn}({v}):\n    result = 0\n    for i in range(1, len({v})):\n        result += {v}[i]\n"
                f"    return result", "off-by-one")
    if kind == 1:
        return (f"def {fn}(x, seen=[]):\n    seen.append(x)\n    return len(seen) > {k}", "mutable default")
    if kind == 2:
        return (f"def {fn}({v}):\n    for x in {v}:\n        if x % {k} == 0:\n            {v}.remove(x)\n"
                f"    return {v}", "mutating while iterating")
    if kind == 3:
        return (f"def {fn}({v}):\n    if len({v}) == 0:\n        return 0\n    return sum({v}) // len({v})",
                "integer division")
    return (f"def {fn}(name):\n    if name is \"{r.choice(('admin', 'guest', 'root', 'owner'))}\":\n"
            f"        return {k}\n    return 0", "identity comparison")


@_template("coding")
def _code_review(r):
    code, bug = _snippet(r)
    s = dict(code=code, bug=bug)
    first = _x(r, r.choice((
        "What's wrong with this Python function, and how would you fix it?\n\n```python\n{code}\n```",
        "A colleague wrote this and says it works \"most of the time\". Can you spot the problem?\n\n```python\n{code}\n```",
        "Please review this small function:\n\n```python\n{code}\n```\n\n[Is there a bug?|What would you change?]",
    )), **s)
    own = ["Write a test that would have caught the problem.", "Are there other improvements you'd suggest?"]
    return first, s, own


_PROJECTS = ("a command-line to-do app", "a small website for a local bakery",
             "a bot that reminds my team about stand-ups",
             "a tool that renames photos by date", "a budget tracker", "a quiz game for my students",
             "a weather dashboard",
             "a script that backs up my notes", "a habit tracker", "a recipe organiser", "a reading-list app",
             "a tool that checks my website for broken links")


@_template("coding")
def _project_plan(r):
    s = dict(proj=r.choice(_PROJECTS), lang=r.choice(_LANGS),
             hrs=r.choice(("a few evenings", "one weekend", "an hour a day for a month", "two weeks")))
    first = _x(r, r.choice((
        "I want to build {proj} as a side project in {lang}. How should I structure it, and what should I build first?",
        "I have {hrs} to build {proj}. What's a realistic plan, and which {lang} libraries would help?",
        "Help me plan {proj}. I know some {lang}. What are the main pieces and in what order should I tackle them?",
    )), **s)
    own = ["What's the smallest version I could finish this week?", "How should I test it as it grows?"]
    return first, s, own


# --------------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drawn:
    category: str
    template: str
    slots: dict = field(hash=False, compare=False)
    turns: tuple                 # (first user turn, follow-up)
    follow: str                  # where the follow-up came from: "own", "category" or "generic"

    @property
    def text(self) -> str:
        return self.turns[0]


_MAX_CHARS = 2000
_CAT_NAMES = tuple(c for c, _ in CATEGORIES)
_CAT_WEIGHTS = tuple(w for _, w in CATEGORIES)


def _draw(r: random.Random) -> Drawn:
    cat = r.choices(_CAT_NAMES, _CAT_WEIGHTS)[0]
    name, fn = r.choice(_TEMPLATES[cat])
    first, slots, own = fn(r)
    u = r.random()
    if own and u < 0.45:
        kind, follow = "own", r.choice(own)
    elif u < 0.7:
        kind, follow = "category", _x(r, r.choice(_CAT_FOLLOW[cat]), **_follow_slots(r))
    else:
        pool = _GENERIC_FOLLOW + _PROSE_FOLLOW if cat in _PROSE_CATEGORIES else _GENERIC_FOLLOW
        kind, follow = "generic", _x(r, r.choice(pool), **_follow_slots(r))
    return Drawn(cat, name, slots, (first, follow), kind)


def draw_writing_chat(n: int, seed: int) -> list[Drawn]:
    """n prompts with distinct first turns and what made them (category, template, slots)."""
    r = random.Random(f"writing-chat-{seed}")
    out, seen = [], set()
    while len(out) < n:
        d = _draw(r)
        if d.text in seen or any(len(t) > _MAX_CHARS for t in d.turns):   # drawn again: a prefix never depends on n
            continue
        seen.add(d.text)
        out.append(d)
    return out


def generate_writing_chat(n: int, seed: int) -> list[list[str]]:
    """n two-turn chat prompts ([first, follow-up]) with distinct first turns, deterministic for a seed."""
    return [list(d.turns) for d in draw_writing_chat(n, seed)]
