"""What Apply would change, for a person to read: the changed lines of two lvs.cf texts grouped by
the block they belong to (the global settings, each virtual server, each failover service), with
counts, and only the first screenful of lines kept.

Django-free: two texts in, plain data out (stored as JSON beside the draft's generation, so
CONTROL/MONITORING does not render the draft on every load). A whole-file diff of lvs.cf is one
hunk when every virtual server changes (a bulk deactivation: 10,002 `active` lines among 75,000);
diffing block by block keeps each hunk beside its virtual server, and costs what the blocks cost.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

CONTEXT = 3
SCREENFUL = 60  # changed and context lines kept for the page; the rest are counted
GROUPS_SHOWN = 50  # blocks named on the page; past them only their number
# Above this many line pairs in one block, difflib's matcher (quadratic on lvs.cf's repeated
# lines) is skipped for one plain hunk.
MAX_PAIRS = 4_000_000
GLOBAL = ""  # the label of the lines before the first block
_BLOCK = re.compile(r"^(virtual|failover)\s+(\S+?)\s*\{")


@dataclass
class Group:
    """One block's changes: its label ("virtual www"), the lines added and removed, and the
    first lines of its hunks (`lines`, unified-diff lines; `hidden` more were not kept)."""

    label: str
    added: int = 0
    removed: int = 0
    lines: list[str] = field(default_factory=list)
    hidden: int = 0


@dataclass
class PendingChanges:
    added: int = 0
    removed: int = 0
    groups: list[Group] = field(default_factory=list)  # the first GROUPS_SHOWN changed blocks
    more_groups: int = 0  # changed blocks past those
    more_added: int = 0  # their lines
    more_removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    @property
    def folded(self) -> bool:
        return bool(self.more_groups or any(g.hidden for g in self.groups))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PendingChanges:
        groups = [Group(**g) for g in data.get("groups", [])]
        return cls(**{**data, "groups": groups})


def file_lines(text: str) -> list[str]:
    """Lines split on LF only, as the daemons read lvs.cf (a value may hold VT, FF, U+2028...)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def blocks(lines: list[str]) -> dict[str, tuple[int, list[str]]]:
    """label -> (index of its first line, its lines). A block runs from its `virtual NAME {` or
    `failover NAME {` line to the next block; the lines before the first are GLOBAL."""
    found: dict[str, tuple[int, list[str]]] = {}
    label, start = GLOBAL, 0
    for index, line in enumerate(lines):
        match = _BLOCK.match(line)
        if match:
            found[label] = (start, found.get(label, (start, []))[1] + lines[start:index])
            label, start = f"{match.group(1)} {match.group(2)}", index
    found[label] = (start, found.get(label, (start, []))[1] + lines[start:])
    return found


class _Aligned(difflib.SequenceMatcher):
    """Given opcodes, so get_grouped_opcodes() folds them with context like difflib's own."""

    def __init__(self, opcodes: list[tuple[str, int, int, int, int]]) -> None:
        super().__init__(None, [], [])
        self._given = opcodes

    def get_opcodes(self) -> list[tuple[str, int, int, int, int]]:
        return self._given


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes over the whole of a and b; only the middle that differs is matched."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    a_stop, b_stop = len(a) - tail, len(b) - tail
    middle_a, middle_b = a[head:a_stop], b[head:b_stop]
    codes: list[tuple[str, int, int, int, int]] = []
    if len(middle_a) == len(middle_b):
        # Same length: line i against line i is a correct diff, and the one a person expects
        # when values changed in place (`active = 1` -> `active = 0`), at the cost of a loop.
        for offset, (old, new) in enumerate(zip(middle_a, middle_b, strict=True)):
            i = head + offset
            tag = "equal" if old == new else "replace"
            if codes and codes[-1][0] == tag:
                codes[-1] = (tag, codes[-1][1], i + 1, codes[-1][3], i + 1)
            else:
                codes.append((tag, i, i + 1, i, i + 1))
    elif len(middle_a) * len(middle_b) <= MAX_PAIRS:
        matcher = difflib.SequenceMatcher(None, middle_a, middle_b)
        codes = [
            (tag, i1 + head, i2 + head, j1 + head, j2 + head)
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
    else:
        codes = [("replace", head, a_stop, head, b_stop)]
    if head:
        codes.insert(0, ("equal", 0, head, 0, head))
    if tail:
        codes.append(("equal", a_stop, len(a), b_stop, len(b)))
    return codes


def unified_range(start: int, stop: int) -> str:
    """A unified-diff range, as difflib writes it (1-based; an empty range names the line
    before it)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def hunks(a: list[str], b: list[str], a_first: int = 0, b_first: int = 0) -> Iterator[str]:
    """The unified diff's hunks of a and b (no file header); a_first and b_first are the lines'
    numbers in their files, so that the headers name the whole file's lines."""
    if a == b:
        return
    for group in _Aligned(_opcodes(a, b)).get_grouped_opcodes(CONTEXT):
        first, last = group[0], group[-1]
        yield (
            f"@@ -{unified_range(first[1] + a_first, last[2] + a_first)}"
            f" +{unified_range(first[3] + b_first, last[4] + b_first)} @@"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            yield from ("-" + line for line in a[i1:i2])
            yield from ("+" + line for line in b[j1:j2])


def grouped(old: str, new: str) -> Iterator[tuple[str, Iterator[str]]]:
    """(label, hunk lines) of each block that differs: the new file's order, then the blocks
    only the old file had."""
    old_blocks, new_blocks = blocks(file_lines(old)), blocks(file_lines(new))
    labels = list(new_blocks) + [label for label in old_blocks if label not in new_blocks]
    for label in labels:
        a_first, a = old_blocks.get(label, (0, []))
        b_first, b = new_blocks.get(label, (0, []))
        if a != b:
            yield label, hunks(a, b, a_first, b_first)


def pending(old: str, new: str, screenful: int = SCREENFUL) -> PendingChanges:
    """The changes from `old` to `new` with at most `screenful` lines kept in all."""
    result = PendingChanges()
    room = screenful
    for label, lines in grouped(old, new):
        group = Group(label)
        for line in lines:
            if line.startswith("+"):
                group.added += 1
            elif line.startswith("-"):
                group.removed += 1
            if room > 0 and len(result.groups) < GROUPS_SHOWN:
                group.lines.append(line)
                room -= 1
            else:
                group.hidden += 1
        result.added += group.added
        result.removed += group.removed
        if len(result.groups) < GROUPS_SHOWN:
            result.groups.append(group)
        else:
            result.more_groups += 1
            result.more_added += group.added
            result.more_removed += group.removed
    return result


def whole(old: str, new: str, old_label: str, new_label: str) -> Iterator[str]:
    """Every changed line, block by block, as unified-diff hunks under one file header (each
    hunk names its lines in both files; blocks that moved make the hunks' order the new file's)."""
    first = True
    for _label, lines in grouped(old, new):
        if first:
            yield f"--- {old_label}"
            yield f"+++ {new_label}"
            first = False
        yield from lines
