"""Group failure texts into themes: one cause seen in many runs and tests becomes one cluster.

Kubernetes triage (go.k8s.io/triage) clusters JUnit failure texts whose edit distance is
under 10% of their length, comparing each text with every cluster key behind a weak n-gram
histogram bound; runtime has been its main problem for nine years (see
shared/reference/peers.md). Here:

1. Only the decisive part of a failure counts: the ``fail [file:line]:`` verdict, else the
   headline or first error line, with the rest of its paragraph, normalised by
   `normalize_line` (timestamps, IDs, addresses, generated names, numbers become
   placeholders) and capped. Per-instance lists, log tails and stack dumps that differ
   between runs of one failure no longer push its copies apart.
2. Identical keys are grouped by a dict before any comparison.
3. Distinct keys are clustered leader-first, most frequent first (so the commonest wording
   names the group): a key joins a similar earlier leader or becomes one. Leaders are
   found through two indexes, never by scanning: the key's rarest word pairs find its
   group's leader almost always; if that fails, an exact q-gram prefix filter (Ed-Join)
   over length bands lists every leader that can be within the edit budget. Candidates get
   a precise Levenshtein check from rapidfuzz. No similar leader is ever missed, and no
   step is quadratic in the number of texts.

Results depend only on the multiset of (key, text) pairs, never on input order.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from sippy.evidence.normalize import normalize_line

DEFAULT_THRESHOLD = 0.9  # triage joins texts whose edit distance is under 10% of their length
SCAN_CHARS = 32_768  # the decisive line is looked for this far into a failure text
SCAN_LINES = 400
KEY_LINES = 8  # the decisive line and its paragraph, up to this many lines
KEY_CHARS = 360  # normalised key cap: enough for a verdict plus its detail
_RAW_CHARS = 3 * KEY_CHARS  # raw text handed to the normaliser (it mostly shortens text)
QUICK_PAIRS = 4  # rarest word pairs per key for the quick look-up of its group's leader
GRAM_SAMPLE = 4000  # keys whose q-grams are counted to order q-grams rarest first
_EPS = 1e-9  # float slack in threshold arithmetic: 0.1 * 30 must allow 3 edits
_SLACK = 1e-5  # slack on rapidfuzz's normalised cutoffs, settled exactly afterwards

# Go/Ginkgo verdict lines: `fail [github.com/openshift/origin/...go:123]: msg`, `[FAILED] msg`.
_VERDICT = re.compile(r"^[ \t]*(?:fail \[[^\]\n]{0,300}\]|\[FAILED\])", re.MULTILINE)
_ERROR = re.compile(
    r"\b(?:errors?|err|fail(?:s|ed|ure|ures|ing)?|panic(?:ked)?|fatal|timed out|timeout|"
    r"deadline exceeded|expected|unexpected|unable|cannot|can't|could not|couldn't|denied|"
    r"refused|forbidden|not found|no such|invalid|exceeded|degraded|unavailable|unreachable|"
    r"crashloop\w*|oomkilled|killed|missing|mismatch|did not|didn't|was not|were not|"
    r"not ready|not available|unhealthy|disruption|issues|violations?|regressed)\b",
    re.IGNORECASE,
)
# Lines that carry no diagnosis of their own: bare verdict words, go test framing, steps,
# and log lines below warning severity.
_NOISE = re.compile(
    r"[ \t]*(?:(?:failed|fail|failure|error)[ \t.:]*$"
    r"|=== (?:RUN|PAUSE|CONT|NAME)\b|--- (?:FAIL|PASS|SKIP):|STEP:|Ginkgo exit error"
    r"|(?:time=\"[^\"]*\"[ \t]+)?level=(?:info|debug|trace|warn|warning)\b"
    r"|(?:INFO|DEBU|TRAC|WARN)\["
    r"|[IW]\d{4} \d{2}:\d{2}:\d{2})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ClusterItem:
    """One failure to cluster: the caller's id for it and its failure text."""

    key: str  # e.g. "<run_id>|<test name>"
    text: str


@dataclass(frozen=True, slots=True)
class Cluster:
    """A theme: items whose decisive failure text is (nearly) the same."""

    id: str  # sha1 of the representative: same content -> same id, whatever the input order
    representative: str  # normalised decisive text of the commonest member wording
    keys: tuple[str, ...]  # member keys, sorted
    size: int


def cluster_failures(
    items: Sequence[ClusterItem], *, threshold: float = DEFAULT_THRESHOLD
) -> list[Cluster]:
    """Clusters of `items`, largest first then by id; every item is in exactly one.

    Items are grouped by `failure_key`; two keys are similar when their Levenshtein
    similarity, 1 - distance / longer length, is at least `threshold`. Keys are visited
    most frequent first, then alphabetically; each joins a similar earlier leader (see
    `assign_leaders`) or leads a cluster of its own, which it names and identifies.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    members: dict[str, list[str]] = {}
    for item in items:
        members.setdefault(failure_key(item.text), []).append(item.key)
    keys = sorted(members, key=lambda k: (-len(members[k]), k))
    leader = assign_leaders(keys, threshold)
    grouped: dict[int, list[str]] = {}
    for index, head in enumerate(leader):
        grouped.setdefault(head, []).extend(members[keys[index]])
    clusters = [_cluster(keys[head], found) for head, found in grouped.items()]
    clusters.sort(key=lambda c: (-c.size, c.id))
    return clusters


def failure_key(text: str) -> str:
    """The normalised, capped decisive part of a failure text ("" for no text)."""
    raw = decisive_text(text)
    if not raw:
        return ""
    key = normalize_line(raw[:_RAW_CHARS])
    if len(key) > KEY_CHARS:
        cut = key[:KEY_CHARS]
        space = cut.rfind(" ")
        key = cut[:space] if space > KEY_CHARS // 2 else cut  # no half placeholders
    return key


def decisive_text(text: str) -> str:
    """The raw lines that say why the test failed.

    A Go/Ginkgo verdict line wins. Otherwise the headline (first line that is not framing
    or low-severity logging) is taken when it names an error or stands alone as a summary
    paragraph (monitor tests: "3 container starts had issues", blank line, examples);
    else the first error line further down (go test output logs progress before failing).
    From there the paragraph is kept: details such as Gomega's expected/actual follow
    without a blank line, while per-instance examples come after one.
    """
    if not isinstance(text, str) or not text:
        return ""
    head = text[:SCAN_CHARS]
    if "\n" not in head and "\r" not in head:  # one line: it is the decisive one
        return head if head.strip() else ""
    verdict = _VERDICT.search(head) if "fail [" in head or "[FAILED]" in head else None
    if verdict is not None:
        return _paragraph(head[verdict.start() :].splitlines())
    lines = head.splitlines()[:SCAN_LINES]
    headline = next(
        (i for i, line in enumerate(lines) if line.strip() and not _NOISE.match(line)), -1
    )
    if headline < 0:
        return _paragraph(lines)  # nothing but framing: still better than an empty key
    alone = headline + 1 >= len(lines) or not lines[headline + 1].strip()
    if alone or _ERROR.search(lines[headline]):
        return _paragraph(lines[headline:])
    for index in range(headline + 1, len(lines)):
        line = lines[index]
        if line.strip() and not _NOISE.match(line) and _ERROR.search(line):
            return _paragraph(lines[index:])
    return _paragraph(lines[headline:])


def _paragraph(lines: Iterable[str]) -> str:
    """The first non-blank line and those after it up to a blank line, framing skipped."""
    kept: list[str] = []
    size = 0
    for line in lines:
        if not line.strip():
            if kept:
                break
            continue
        if kept and _NOISE.match(line):
            continue
        kept.append(line)
        size += len(line) + 1
        if len(kept) >= KEY_LINES or size >= _RAW_CHARS:
            break
    return "\n".join(kept)


def assign_leaders(keys: Sequence[str], threshold: float) -> list[int]:
    """For each key, the index of the leader it joins (itself if it leads).

    Keys are visited in the given order. A key leads exactly when no earlier leader is
    similar (similarity >= threshold), as if it had been compared with every leader.
    Otherwise it joins the most similar leader among those sharing one of its rarest word
    pairs (the quick look-up, which finds almost every match) or, when none of those is
    similar, the most similar of all; ties go to the earlier leader.
    """
    count = len(keys)
    if threshold >= 1.0 or count < 2:
        return list(range(count))
    q = 3 if threshold >= 0.8 else 2 if threshold >= 0.7 else 0  # 0: the filter cannot help
    slack = (1.0 - threshold) / threshold  # tau <= slack * len(key) for any partner in reach
    pairs = _word_pairs(keys)
    order = _GramOrder(keys, q) if q else None
    ratio = math.log(max(1.0 / threshold, 1.01))  # one band per factor 1/threshold of length

    def bucket(length: int) -> int:
        return int(math.log1p(length) / ratio)

    by_pair: dict[str, list[int]] = {}
    by_gram: dict[int, list[int]] = {}
    loose: list[int] = []  # leaders the filter cannot vouch for: checked by every loose key
    leader = list(range(count))
    for position, key in enumerate(keys):
        signature = pairs[position]
        quick = set().union(*[by_pair.get(pair, ()) for pair in signature])
        best = _most_similar(key, quick, keys, threshold)
        if best >= 0:
            leader[position] = best
            continue
        length = len(key)
        tau = int(slack * length + 1e-6)  # >= _allowed(partner length) for any partner
        prefix, is_loose = _prefix(key, q, tau, order) if order else ([], True)
        # Postings are split by length band: only bands a similar leader can be in are read.
        low = bucket(max(0, int(threshold * length - 1e-6)))
        high = bucket(int(length / threshold + 1e-6) + 1) + 1
        found = set().union(
            *[by_gram.get(gram << 16 | band, ()) for gram in prefix for band in range(low, high)]
        )
        if is_loose:
            found.update(loose)
        best = _most_similar(key, found - quick, keys, threshold)
        if best >= 0:
            leader[position] = best
            continue
        for pair in signature:
            by_pair.setdefault(pair, []).append(position)
        band = bucket(length)
        for gram in prefix:
            by_gram.setdefault(gram << 16 | band, []).append(position)
        if is_loose:
            loose.append(position)
    return leader


def _word_pairs(keys: Sequence[str]) -> list[list[str]]:
    """Per key, its QUICK_PAIRS rarest adjacent word pairs found in other keys too.

    A word pair is far more specific than a character q-gram (it pins the message's own
    wording), and a near-duplicate shares nearly all of them, so a few suffice to find the
    leader of a key's own group among thousands. (Pairs are made twice rather than kept:
    memory stays at one signature per key.)
    """
    frequency: Counter[str] = Counter()
    for key in keys:
        frequency.update(_pairs_of(key))
    signatures = []
    for key in keys:
        shared = sorted((frequency[pair], pair) for pair in _pairs_of(key) if frequency[pair] > 1)
        signatures.append([pair for _df, pair in shared[:QUICK_PAIRS]])
    return signatures


def _pairs_of(key: str) -> set[str]:
    words = key.split(" ")
    return set(map(" ".join, zip(words, words[1:], strict=False))) if len(words) > 1 else {key}


def _most_similar(key: str, candidates: set[int], keys: Sequence[str], threshold: float) -> int:
    """The most similar candidate with similarity >= threshold, earliest on ties; -1 if none.

    rapidfuzz does the bulk in C++: it skips candidates whose length difference alone
    exceeds the cutoff and tightens the cutoff as closer ones turn up. Its normalised
    cutoffs are not exact at the boundary (~1e-9), so it runs with a little slack and the
    few finalists are settled in integers; the large candidate sets need no sorting.
    """
    if not candidates:
        return -1
    ordered = list(candidates)
    choices = itemgetter(*ordered)(keys) if len(ordered) > 1 else (keys[ordered[0]],)
    scorer = Levenshtein.normalized_distance
    match = process.extractOne(key, choices, scorer=scorer, score_cutoff=1.0 - threshold + _SLACK)
    if match is None:
        return -1
    finalists = process.extract(
        key, choices, scorer=scorer, score_cutoff=match[1] + _SLACK, limit=None
    )
    best, best_distance, best_length = -1, 1, 0  # the closest so far, as distance / length
    for other, _score, at in finalists:
        longest = max(len(key), len(other))
        distance = Levenshtein.distance(key, other)
        if distance > _allowed(longest, threshold):
            continue
        closer = distance * best_length - best_distance * longest
        if best < 0 or closer < 0 or (closer == 0 and ordered[at] < best):
            best, best_distance, best_length = ordered[at], distance, longest
    return best


def _allowed(length: int, threshold: float) -> int:
    """Edits allowed between texts whose longer one has `length` characters."""
    return int((1.0 - threshold) * length + _EPS)


class _GramOrder:
    """A fixed order of q-grams, rarest first, for the prefix filter.

    Document frequencies come from at most GRAM_SAMPLE keys (evenly spaced, so the order is
    a function of the keys alone); grams the sample never saw rank before all others, in
    order of first encounter. Any fixed order keeps the filter exact: a gram's rank never
    changes once given. Rare-first keeps prefixes and posting lists short.
    """

    def __init__(self, keys: Sequence[str], q: int) -> None:
        step = max(1, -(-len(keys) // GRAM_SAMPLE))
        frequency: Counter[str] = Counter()
        for key in keys[::step]:
            frequency.update({key[i : i + q] for i in range(len(key) - q + 1)})
        ordered = sorted(frequency.items(), key=lambda gram_df: (gram_df[1], gram_df[0]))
        self.grams = [gram for gram, _df in ordered]
        self.rank = {gram: number for number, gram in enumerate(self.grams)}
        self.unseen: list[str] = []  # ranks -1, -2, ...: rarer than any sampled gram
        # With every key counted, grams found in one key only can never be shared.
        self.unique = sum(1 for _gram, df in ordered if df == 1) if step == 1 else 0

    def numbers(self, grams: Iterable[str]) -> list[int]:
        """The ranks of `grams`, giving new ones theirs."""
        grams = list(grams)
        numbers = list(map(self.rank.get, grams))
        if None in numbers:
            for index, number in enumerate(numbers):
                if number is None:
                    gram = grams[index]
                    number = self.rank.get(gram)  # a repeat within this call
                    if number is None:
                        self.unseen.append(gram)
                        number = self.rank[gram] = -len(self.unseen)
                    numbers[index] = number
        return numbers  # type: ignore[return-value]

    def gram(self, number: int) -> str:
        return self.grams[number] if number >= 0 else self.unseen[-number - 1]

    def shared(self, number: int) -> bool:
        """Whether the gram may occur in another key (else looking it up is pointless)."""
        return not 0 <= number < self.unique


def _prefix(key: str, q: int, tau: int, order: _GramOrder) -> tuple[list[int], bool]:
    """The q-grams of `key` to look up, and whether the key is "loose".

    Ed-Join's location-based prefix: distinct grams are taken rarest first until tau + 1
    of them occupy pairwise disjoint spans, so no tau edits can destroy them all. If two
    keys within tau edits shared no prefix gram, the one whose prefix ends earlier in the
    global order would have had its whole prefix destroyed: impossible. So every similar
    leader shares a prefix gram with the key. "Loose": even all grams of the key fall short
    (a short or repetitive key), so the filter cannot vouch for it.
    """
    first = {key[i : i + q]: i for i in range(len(key) - q, -1, -1)}  # first occurrences
    used = bytearray(len(key))
    free, taken = bytes(q), b"\x01" * q
    prefix: list[int] = []
    spans = 0
    for number in sorted(order.numbers(first)):
        at = first[order.gram(number)]
        if used[at : at + q] == free:
            used[at : at + q] = taken
            spans += 1
        if order.shared(number):
            prefix.append(number)
        if spans > tau:
            return prefix, False
    return prefix, True


def _cluster(representative: str, keys: list[str]) -> Cluster:
    data = representative.encode("utf-8", "surrogatepass")
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()  # an id, not a secret
    ordered = tuple(sorted(keys))
    return Cluster(id=digest[:16], representative=representative, keys=ordered, size=len(ordered))
