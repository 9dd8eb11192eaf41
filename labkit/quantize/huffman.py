"""Huffman coding: frequent symbols get short codes (Deep Compression, stage 3).

After weight sharing a layer is a list of small integers (cluster indices, and the gaps between
surviving weights). Their distribution is far from uniform (most weights sit in a few clusters near
0), so a fixed b bits per symbol wastes space. Huffman's code (Huffman 1952) is the optimal prefix code:

    repeat: merge the two least frequent nodes into one whose count is their sum
    code(symbol) = the path from the root to its leaf (0 = left, 1 = right)

Its mean length L satisfies H <= L < H + 1, where H = -sum p log2 p is the entropy (Shannon). The
decoder needs the code table too: a canonical Huffman code is fixed by the code *length* of each
symbol, so we count ``length_bits`` per alphabet symbol for it. Han et al. 2016 report Huffman saving
20-30 % of storage on top of pruning and sharing. Used by :mod:`labkit.quantize.deep_compression`.
"""
from __future__ import annotations

import heapq
import math
from collections import Counter

from ..errors import check_int, fail


def huffman_code(counts: dict) -> dict:
    """Optimal prefix code for ``{symbol: count}``: ``{symbol: "0101"}``.

    >>> sorted(huffman_code({"a": 5, "b": 2, "c": 1}).items())
    [('a', '1'), ('b', '01'), ('c', '00')]
    """
    counts = {s: c for s, c in counts.items() if c > 0}
    if not counts:
        raise fail("counts", "huffman_code", "a dict with at least one positive count", counts)
    if len(counts) == 1:                       # one symbol still needs one bit per occurrence
        return {next(iter(counts)): "0"}
    # heap items: (count, tie-breaker, {symbol: code so far}); the tie-breaker keeps codes deterministic
    heap = [(c, i, {s: ""}) for i, (s, c) in enumerate(sorted(counts.items(), key=lambda sc: repr(sc[0])))]
    heapq.heapify(heap)
    order = len(heap)
    while len(heap) > 1:
        c0, _, left = heapq.heappop(heap)      # the two least frequent nodes ...
        c1, _, right = heapq.heappop(heap)
        merged = {s: "0" + code for s, code in left.items()}
        merged.update({s: "1" + code for s, code in right.items()})
        heapq.heappush(heap, (c0 + c1, order, merged))   # ... become one node with their summed count
        order += 1
    return heap[0][2]


def encode(symbols, code: dict) -> str:
    """The bit string of ``symbols`` under ``code``.

    >>> encode(["a", "b", "a"], {"a": "1", "b": "01"})
    '1011'
    """
    try:
        return "".join(code[s] for s in symbols)
    except KeyError as e:
        raise fail("symbols", "encode", "symbols that all appear in the code", e.args[0]) from None


def decode(bits: str, code: dict) -> list:
    """Read ``bits`` back into symbols (a prefix code needs no separators).

    >>> decode("1011", {"a": "1", "b": "01"})
    ['a', 'b', 'a']
    """
    inverse = {c: s for s, c in code.items()}
    out, word = [], ""
    for bit in bits:
        word += bit
        if word in inverse:
            out.append(inverse[word])
            word = ""
    if word:
        raise fail("bits", "decode", "a bit string that ends at a code word", bits[-len(word):])
    return out


def coded_bits(symbols, length_bits: int = 5) -> dict[str, int]:
    """Storage of ``symbols`` Huffman-coded: ``{"data": payload bits, "table": code-table bits}``.

    The table is a canonical code: one ``length_bits``-wide code length per symbol of the alphabet
    (0 .. max symbol), enough for codes up to 2^length_bits - 1 bits long.

    >>> coded_bits([0, 0, 0, 1], length_bits=5)
    {'data': 4, 'table': 10}
    """
    check_int(length_bits, "length_bits", "coded_bits", low=1, high=16)
    counts = Counter(int(s) for s in symbols)
    if not counts:
        return {"data": 0, "table": 0}
    code = huffman_code(counts)
    longest = max(len(c) for c in code.values())
    if longest > 2 ** length_bits - 1:
        raise fail("length_bits", "coded_bits", f"wide enough for a {longest}-bit code", length_bits)
    data = sum(counts[s] * len(code[s]) for s in counts)
    return {"data": data, "table": (max(counts) + 1) * length_bits}


def entropy_bits(symbols) -> float:
    """Shannon's bound: n H = -sum_s count_s log2(count_s / n), the fewest bits any code can average.

    >>> entropy_bits([0, 1, 0, 1])
    4.0
    """
    counts = Counter(symbols)
    n = sum(counts.values())
    return -sum(c * math.log2(c / n) for c in counts.values())
