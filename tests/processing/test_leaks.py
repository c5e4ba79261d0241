"""Leak control (processing/nlp/leaks.py): hand-written cases, independent of evaluation/."""

from __future__ import annotations

import pytest

from processing.nlp.leaks import (
    EDIT_DISTANCE,
    LeakChecker,
    find_leak,
    find_split_leak,
    fold,
    fold_tokens,
    forbidden_terms_for,
    osa_distance,
    readings,
)

TABBY = "tabby, tabby cat"


def leak(text, names=(TABBY,), aliases=(), forbidden=()):
    return find_leak(text, class_names=names, aliases=aliases, forbidden=forbidden)


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ｍｏｐｅｄ", "moped"),  # full-width
        ("gold\ufb01nch", "goldfinch"),  # ligature fi
        ("ⓓⓐⓘⓢⓨ", "daisy"),  # circled
        ("\U0001d41c\U0001d41a\U0001d42d", "cat"),  # mathematical bold
        ("mopе\u0064", "moped"),  # Cyrillic е
        ("dοg", "dog"),  # Greek omicron
        ("chu\u200brch", "church"),  # zero-width space
        ("pi\u00adzza", "pizza"),  # soft hyphen
        ("mopéd", "moped"),
        ("pi\u0301zza", "pizza"),  # combining acute
        ("Straße", "strasse"),
    ],
)
def test_fold(raw, folded):
    assert fold(raw) == folded


def test_fold_tokens_reads_leetspeak_inside_words_only():
    assert fold_tokens("p1zza") == ("pizza",)
    assert fold_tokens("5chool bu5") == ("school", "bus")
    assert fold_tokens("ch@pel") == ("chapel",)
    assert fold_tokens("88 keys") == ("88", "keys")  # digits alone stay digits
    assert fold_tokens("d.a-i_s y") == ("d", "a", "i", "s", "y")


def test_osa_distance_counts_a_swap_as_one_edit():
    assert osa_distance("chruch", "church") == 1
    assert osa_distance("expresso", "espresso") == 1
    assert osa_distance("espressoo", "espresso") == 1
    assert osa_distance("cat", "dog") == 3
    assert osa_distance("abcdef", "uvwxyz", limit=2) == 3  # stops above the limit


def test_edit_distance_grows_with_length():
    allowed = dict(EDIT_DISTANCE)
    assert allowed[3] == 0 and min(k for k in allowed if allowed[k] == 2) > 3


@pytest.mark.parametrize(
    ("text", "names", "aliases", "rule"),
    [
        ("espressoo", ("espresso",), (), "repeated"),
        ("espresso cup", ("espresso",), (), "exact"),
        ("expresso", ("espresso",), (), "edit"),
        ("d a i s y", ("daisy",), (), "exact"),
        ("d.a.i.s.y", ("daisy",), (), "exact"),
        ("daisies", ("daisy",), (), "exact"),
        ("the daisy's petals", ("daisy",), (), "exact"),
        ("daaaisy", ("daisy",), (), "repeated"),
        ("missilе", ("missile",), (), "exact"),  # Cyrillic е
        ("mopedlike shape", ("moped",), (), "compound"),
        ("parachutist", ("parachute",), (), "compound"),
        ("helmeted head", ("football helmet",), ("helmet",), "lemma"),
        ("cathead", (TABBY,), ("cat",), "compound"),
        ("pussycat", (TABBY,), ("cat",), "compound"),
        ("fishtail", ("tench",), ("fish",), "compound"),
        ("doggo", ("English springer",), ("dog",), "compound"),
        ("chainsaws", ("chain saw",), (), "exact"),
        ("chain-saw teeth", ("chain saw",), (), "exact"),
        ("golden retreiver", ("golden retriever",), (), "edit"),
        ("tabbi", (TABBY,), (), "edit"),
        ("tea pit", ("teapot",), (), "edit"),
        ("bsu", ("school bus",), ("bus",), "edit"),  # two letters swapped
        ("mice", ("mouse",), (), "exact"),  # irregular plural
        ("p1zza", ("pizza",), (), "exact"),
        ("cats", (TABBY,), (), "exact"),  # the head word of "tabby cat"
    ],
)
def test_leaks_are_found(text, names, aliases, rule):
    found = find_leak(text, class_names=names, aliases=aliases)
    assert found is not None, text
    assert found.rule == rule


@pytest.mark.parametrize(
    ("text", "names", "aliases"),
    [
        # real words that merely share letters with a name
        ("cattle in the background", (TABBY,), ()),
        ("scattered toys", (TABBY,), ()),
        ("catchlight in the eye", (TABBY,), ()),
        ("thick coat", (TABBY,), ()),
        ("car seat", (TABBY,), ()),
        ("tubby belly", (TABBY,), ()),
        ("wooden bench", ("tench",), ()),
        ("sandy beach", ("beacon",), ()),
        ("busy street", ("school bus",), ("bus",)),
        ("bushes", ("school bus",), ("bus",)),
        ("toffee biscuit", ("espresso",), ("coffee",)),
        ("concatenate", (TABBY,), ()),
        ("catsup", (TABBY,), ()),
        ("sprocket", ("space shuttle",), ("rocket",)),
        # one word of a multi-word name that is not itself a name or alias
        ("golden fur", ("golden retriever",), ()),
        ("chain links", ("chain saw",), ()),
        ("sawdust", ("chain saw",), ()),  # the head "saw" is a whole-word term only
        ("cathead", (TABBY,), ()),  # so is "cat" when it is no alias
        ("school bag", ("school bus",), ()),  # a different real word beside "school"
        ("fire hydrant", ("fire engine",), ()),
    ],
)
def test_words_that_merely_share_letters_pass(text, names, aliases):
    assert find_leak(text, class_names=names, aliases=aliases) is None


def test_forbidden_terms_are_terms_of_their_class():
    assert leak("a moggy", forbidden=["moggy"]).forbidden
    assert leak("Stativ", names=("tripod",), forbidden=["Stativ"]) is not None
    found = leak("casco de fútbol", names=("football helmet",), forbidden=["casco de fútbol"])
    assert found is not None and found.forbidden
    assert leak("casco de futbol rojo", names=("football helmet",), forbidden=["casco de fútbol"])
    assert leak("a moggy") is None  # not forbidden: passes


def test_the_guess_is_checked_like_the_answer():
    checker = LeakChecker(["tabby, tabby cat", "goldfinch"], aliases=["finch"])
    assert checker.find("goldfnch") is not None
    assert checker.find("finches") is not None
    assert checker.find("striped fur") is None


def test_the_matched_words_are_the_players_own():
    found = leak("fluffy d a i s y", names=("daisy",))
    assert found.matched == "d a i s y" and found.term == "daisy"


def test_forbidden_terms_for_reads_every_language_of_the_named_classes():
    setting = {"tripod": {"de": ["Stativ"], "fr": ["trépied"]}, "moped": {"de": ["Mofa"]}}
    assert forbidden_terms_for(setting, ["tripod"]) == ("Stativ", "trépied")
    assert forbidden_terms_for(setting, ["tripod", "moped"]) == ("Stativ", "trépied", "Mofa")
    assert forbidden_terms_for(None, ["tripod"]) == ()


# --- second attacker review: Latin letter forms, upside-down text, head words -------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ᴇsᴘʀᴇssᴏ", "espresso"),  # LATIN LETTER SMALL CAPITAL E, P, R, O
        ("ᴅᴀɪꜱʏ", "daisy"),  # small capital S is U+A731
        ("ɘspʀɘsso", "espresso"),  # LATIN SMALL LETTER REVERSED E
        ("ǝspɹǝsso", "espresso"),  # TURNED E, TURNED R in place
        ("ɡolf ɓall", "golf ball"),  # SCRIPT G, B WITH HOOK
        ("ᵉˢᵖʳᵉˢˢᵒ", "espresso"),  # modifier letters (NFKC)
    ],
)
def test_fold_reads_latin_letter_forms_by_their_names(raw, folded):
    assert fold(raw) == folded


def test_fold_keeps_latin_letters_not_named_after_a_plain_one():
    assert fold("ə") == "ə" and fold("ʒ") == "ʒ"  # schwa, ezh


def test_readings_turn_upside_down_text_the_right_way_up():
    assert readings("ossǝɹdsǝ") == (("osserdse",), ("espresso",))
    assert readings("yellow eyes") == (("yellow", "eyes"),)  # no turned letter: one reading


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("ᴛᴀʙʙʏ ᴄᴀᴛ", (TABBY,)),
        ("ʜᴇʟᴍᴇᴛ", ("football helmet",)),
        ("ossǝɹdsǝ", ("espresso",)),  # upside down
        ("ʞɔnɹʇ", ("fire engine, fire truck",)),  # upside down, a head word
        ("osserpse", ("espresso",)),  # written backwards, five letters or more
        ("reveirter nedlog", ("golden retriever",)),
    ],
)
def test_letter_forms_and_turned_text_leak(text, names):
    assert find_leak(text, class_names=names) is not None, text


def test_backwards_reading_skips_short_terms():
    assert find_leak("it was there", class_names=("chain saw",)) is None  # saw
    assert find_leak("sub sandwich", class_names=("school bus",)) is None


@pytest.mark.parametrize(
    ("text", "names", "rule"),
    [
        ("c a t", (TABBY,), "exact"),
        ("hel met", ("football helmet",), "exact"),
        ("hel-met", ("football helmet",), "exact"),
        ("caaat", (TABBY,), "repeated"),
        ("catlike", (TABBY,), "compound"),
        ("catish", (TABBY,), "compound"),
        ("helmetlike", ("football helmet",), "compound"),
        ("springerlike", ("English springer",), "compound"),
        ("spanielish", ("English springer, English springer spaniel",), "compound"),
        ("helmit", ("football helmet",), "edit"),
        ("spanyel", ("English springer, English springer spaniel",), "edit"),
    ],
)
def test_head_words_are_read_spaced_repeated_suffixed_and_misspelt(text, names, rule):
    found = find_leak(text, class_names=names)
    assert found is not None, text
    assert found.rule == rule


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("cattle", (TABBY,)),
        ("catalog", (TABBY,)),
        ("scatter", (TABBY,)),
        ("caterpillar", (TABBY,)),
        ("helm", ("football helmet",)),
        ("helmsman", ("football helmet",)),
        ("springtime", ("English springer",)),
        ("ʙʀᴏᴡɴ ꜰᴜʀ", (TABBY,)),
        ("bobcat", (TABBY,)),  # word + head: another thing (decision in METHOD_NOTES)
        ("football", ("golf ball",)),
        ("sawl", ("chain saw",)),  # heads under five letters get no edit
    ],
)
def test_head_rules_let_other_words_pass(text, names):
    assert find_leak(text, class_names=names) is None, text


def test_a_name_split_across_two_texts_of_a_round():
    names = ("goldfinch, Carduelis carduelis",)
    assert find_split_leak(["gold", "finch"], class_names=names)[:2] == (0, 1)
    assert find_split_leak(["finch", "red", "gold"], class_names=names)[:2] == (2, 0)
    assert find_split_leak(["gold wings", "black cap"], class_names=names) is None


def test_find_across_reads_only_the_words_across_the_cut():
    """The leak of the join of two texts that pass alone (tests/processing/
    test_split_leak_equivalence.py compares it with ``find`` on many pairs)."""
    checker = LeakChecker(["goldfinch, Carduelis carduelis"])
    for a, b, matched, rule in [
        ("red gold", "finch wings", "gold finch", "exact"),
        ("gold", "finsh", "gold finsh", "edit"),
        ("hcnif", "dlog", "hcnif dlog", "backwards"),
    ]:
        found = checker.find_across(a, b)
        assert found == checker.find(f"{a} {b}")
        assert (found.matched, found.rule) == (matched, rule)
    assert checker.find_across("gold wings", "black cap") is None
    assert checker.find_across("finch", "gold") is None  # "finch gold" is no leak


def test_a_split_name_upside_down_or_beside_a_turned_text():
    names = ("espresso",)
    assert find_split_leak(["warm", "ossǝ", "ɹdsǝ"], class_names=names)[:2] == (1, 2)
    # "snq" (bus upside down, no turned letter) passes alone; beside a turned letter the
    # join is read upside down as find does, so the pair is refused
    found = find_split_leak(["snq", "ʇɐl"], class_names=["school bus"], aliases=["bus"])
    assert found[:2] == (0, 1) and found[2].matched == "bus"
