"""Text edits for rewritten questions: spans replaced, Korean particles kept in agreement.

A Korean particle takes one of two forms by how the word before it ends: 은/는, 이/가,
을/를, 과/와, 으로/로 (after a final consonant, a vowel; 로 also after ㄹ). When a rewrite puts
"LG전자" where "삼성" was, "삼성은" must become "LG전자는". Digits are read the Sino-Korean
way (2022 ends in 이: "2022는"); other ends (Latin letters) leave the particle as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Edit", "agreeing", "applied", "final_consonant"]

Edit = tuple[int, int, str]  # start, end, replacement

_PARTICLES = (("으로", "로"), ("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"))
_RIEUL = 8  # the final consonant ㄹ, which takes 로 like a vowel
_DIGIT_FINALS = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8,
                 "9": 0}


def applied(text: str, edits: Sequence[Edit], korean: bool) -> str:
    """`text` with each (start, end, replacement) made (the spans must not overlap), a
    Korean particle after a replaced word agreeing with it."""
    for start, end, new in sorted(edits, reverse=True):
        after = agreeing(new, text[end:]) if korean else text[end:]
        text = text[:start] + new + after
    return text


def agreeing(word: str, after: str) -> str:
    """`after` with its leading particle in the form that follows `word`: 삼성은, LG전자는."""
    final = final_consonant(word)
    if final is None:
        return after
    for with_consonant, with_vowel in _PARTICLES:
        for form in (with_consonant, with_vowel):
            if after.startswith(form) and _particle_ends(after, len(form)):
                consonant = final != 0 and not (with_vowel == "로" and final == _RIEUL)
                return (with_consonant if consonant else with_vowel) + after[len(form):]
    return after


def _particle_ends(after: str, length: int) -> bool:
    """The particle is a word's end (not 이 of 이에요): what follows is no syllable, or 요."""
    rest = after[length:]
    return not rest or not ("\uac00" <= rest[0] <= "\ud7a3") or rest.startswith("요")


def final_consonant(word: str) -> int | None:
    """The final consonant (jongseong index, 0 for none) of how `word` ends when read
    aloud: a Hangul syllable's own, a digit's Sino-Korean reading; None for other ends."""
    word = word.rstrip()
    if not word:
        return None
    last = word[-1]
    if "\uac00" <= last <= "\ud7a3":
        return (ord(last) - 0xAC00) % 28
    return _DIGIT_FINALS.get(last)
