"""A correct BPE in another style: words are tuples, keys of a dict that is rebuilt for the touched
words only; pair counts are a Counter updated by subtracting and adding whole words; the best pair
is found by a scan (max count, then min over the tied pairs) instead of a heap. Encoding replays the
merge list literally (no ranks), with a cache per chunk; decode_bytes expands ids through a table
built as it goes."""

import re
from collections import Counter, defaultdict

_CHUNK = re.compile(r"\s+|\S+")


def _rewrite(word, pair, symbol):
    out = []
    i = 0
    while i < len(word):
        if word[i : i + 2] == pair:
            out.append(symbol)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def _pairs(word):
    return Counter(zip(word, word[1:]))


def _learn(table, num_merges, symbol_for):
    vocab = Counter()  # word (tuple of symbols) -> frequency
    for word, freq in table:
        vocab[word] += freq
    counts = Counter()
    holders = defaultdict(set)
    for word, freq in vocab.items():
        for pair, n in _pairs(word).items():
            counts[pair] += n * freq
            holders[pair].add(word)
    merges = []
    for index in range(num_merges):
        if not counts:
            break
        top = max(counts.values())
        pair = min(p for p, c in counts.items() if c == top)
        merges.append(pair)
        symbol = symbol_for(index, pair)
        for word in list(holders.pop(pair, ())):
            if word not in vocab:
                continue
            new = _rewrite(word, pair, symbol)
            if new == word:
                continue
            freq = vocab.pop(word)
            for p, n in _pairs(word).items():
                counts[p] -= n * freq
                if not counts[p]:
                    del counts[p]
            vocab[new] += freq
            for p, n in _pairs(new).items():
                counts[p] += n * freq
                holders[p].add(new)
    return merges


def train(word_freqs, num_merges):
    return _learn(
        ((tuple(w), f) for w, f in word_freqs.items()), num_merges, lambda i, p: p[0] + p[1]
    )


def _replay(symbols, merges, symbol_for):
    for index, pair in enumerate(merges):
        if len(symbols) < 2:
            break
        symbols = _rewrite(symbols, pair, symbol_for(index, pair))
    return list(symbols)


def encode(text, merges):
    merges = [tuple(p) for p in merges]
    done = {}
    out = []
    for chunk in _CHUNK.findall(text):
        if chunk not in done:
            done[chunk] = _replay(tuple(chunk), merges, lambda i, p: p[0] + p[1])
        out += done[chunk]
    return out


def decode(tokens):
    return "".join(tokens)


def train_bytes(word_freqs, num_merges):
    return _learn(
        ((tuple(w.encode("utf-8")), f) for w, f in word_freqs.items()),
        num_merges,
        lambda i, p: 256 + i,
    )


def encode_bytes(text, merges):
    merges = [tuple(p) for p in merges]
    done = {}
    out = []
    for chunk in _CHUNK.findall(text):
        if chunk not in done:
            done[chunk] = _replay(tuple(chunk.encode("utf-8")), merges, lambda i, p: 256 + i)
        out += done[chunk]
    return out


def decode_bytes(ids, merges):
    table = {i: bytes([i]) for i in range(256)}
    for index, (a, b) in enumerate(merges):
        table[256 + index] = table[a] + table[b]
    data = bytearray()
    for i in ids:
        data += table[i]
    return bytes(data).decode("utf-8", "replace")
