"""What a line of text shown to people may hold: nothing that hides, breaks or reorders what is shown."""

import unicodedata

# Controls (C0 and C1), surrogates, line and paragraph separators, and format characters: bidirectional
# embeddings, overrides, isolates and marks reorder the words around them ("Bescheid\u202efdp.cmd" shows
# as "Bescheiddmc.pdf", an override in a subject reorders the sentence it is shown in, the sender's name
# among its words); zero-width ones hide.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Zero-width non-joiner and joiner: Persian words and emoji sequences need them, and they reorder nothing.
_JOINERS = {"\u200c", "\u200d"}


def hides_or_reorders(text: str, joiners_allowed: bool = True) -> bool:
    """Whether ``text`` holds a character that must not be in a one-line name or subject."""
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES and not (joiners_allowed and ch in _JOINERS)
               for ch in text)
