"""Small full-text search over product names and descriptions, ranked in Python."""

import re
import unicodedata

STOP_WORDS = {"a", "an", "and", "the", "of", "for", "with", "in", "on"}


def normalize(text):
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.lower()


def tokens(text):
    return [t for t in re.findall(r"[a-z0-9]+", normalize(text)) if t not in STOP_WORDS]


def score(query_tokens, name, description=""):
    """Name matches weigh three times description matches; prefixes count half."""
    name_tokens, desc_tokens = tokens(name), tokens(description)
    total = 0.0
    for q in query_tokens:
        for weight, words in ((3.0, name_tokens), (1.0, desc_tokens)):
            if q in words:
                total += weight
            elif any(w.startswith(q) for w in words):
                total += weight / 2
    return total


def rank(query, products):
    query_tokens = tokens(query)
    if not query_tokens:
        return []
    scored = [(score(query_tokens, p.name, p.description), p.sku, p) for p in products]
    return [p for s, _, p in sorted(scored, key=lambda t: (-t[0], t[1])) if s > 0]
