#!/usr/bin/python3
"""An independent BERT tokenizer, written from transformers' BertTokenizer (BasicTokenizer +
WordpieceTokenizer) with the Rust `tokenizers` BertNormalizer's character classes, used only to
generate the expected ids in tokenizer-expected.json. The TypeScript tests read that file and need
no Python. Regenerate with:

  /usr/bin/python3 trainer/src/data/testdata/bert_tokenizer_reference.py \
      /work/shared/data > trainer/src/data/testdata/tokenizer-expected.json
"""
import json
import os
import sys
import unicodedata


def is_whitespace(ch):
    # Rust char::is_whitespace (the White_Space property), as the tokenizers crate uses.
    return ch in " \t\n\r" or ch.isspace()


def is_control(ch):
    if ch in "\t\n\r":
        return False
    # Rust's char::is_other: Cc, Cf, Cs, Co, Cn.
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_chinese(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def normalize(text, lower):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    text = "".join(out)
    text = "".join(f" {ch} " if is_chinese(ord(ch)) else ch for ch in text)
    if lower:
        text = text.lower()
        text = "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")
    return text


def pre_tokenize(text):
    words, current = [], []
    for ch in text:
        if is_whitespace(ch):
            if current:
                words.append("".join(current))
                current = []
        elif is_punctuation(ch):
            if current:
                words.append("".join(current))
                current = []
            words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                found = sub
                break
            end -= 1
        if found is None:
            return [unk]
        pieces.append(found)
        start = end
    return pieces


SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tokenize(text, vocab, lower=True):
    # Special tokens written in the text stay whole (tokenizer.json's added_tokens, normalized: false).
    tokens, rest = [], text
    while rest:
        hits = [(rest.find(s), s) for s in SPECIALS if s in vocab and rest.find(s) >= 0]
        if not hits:
            break
        pos, special = min(hits)
        tokens += [p for w in pre_tokenize(normalize(rest[:pos], lower)) for p in wordpiece(w, vocab)]
        tokens.append(special)
        rest = rest[pos + len(special):]
    tokens += [p for w in pre_tokenize(normalize(rest, lower)) for p in wordpiece(w, vocab)]
    return [vocab[t] for t in tokens]


# Texts that exercise the normaliser and WordPiece beyond what GLUE's files hold.
HANDMADE = [
    "Hello, World!",
    "Café naïve résumé Ångström façade",
    "ÉCOLE Über Øresund Straße",
    "東京 is in 日本 and 서울 is in 한국",
    "Привет, мир! Γειά σου κόσμε",
    "I ❤️ NLP 😀👍🏽 !!!",
    "unaffable antidisestablishmentarianism",
    "x" * 101,
    "a" * 100,
    "tab\tseparated\u00a0non-breaking\u200bzero-width\u2003em-space",
    "control\u0007chars\u0000and\ufffdreplacement",
    "price: $12.50 (approx.) — 50% off; email@example.com #hashtag",
    "don't can't won't it's",
    "[CLS] literal [SEP] tokens [MASK] and [cls] lowercase",
    "   leading and trailing spaces   ",
    "",
    "Ligatures ﬁne ﬂow and full-width ＡＢＣ",
    "İstanbul",
]

# (file, 1-based line, 0-based column) of real GLUE texts with accents, symbols and punctuation.
REAL = [
    ("glue/RTE/dev.tsv", 65, 1),    # João Bernardo Vieira
    ("glue/RTE/dev.tsv", 92, 1),    # Hugo Chávez
    ("glue/RTE/dev.tsv", 240, 1),   # mojibake: Iraqâs
    ("glue/RTE/dev.tsv", 246, 1),   # £6.7 billion ($12 billion)
    ("glue/RTE/train.tsv", 492, 1), # em dashes
    ("glue/RTE/train.tsv", 412, 1), # pied-à-terre
    ("glue/RTE/train.tsv", 2, 2),
    ("glue/MRPC/dev.tsv", 2, 3),
    ("glue/MRPC/dev.tsv", 3, 4),
    ("glue/CoLA/dev.tsv", 1, 3),
    ("glue/STS-B/dev.tsv", 2, 7),
    ("glue/SST-2/dev.tsv", 2, 0),
]


def main():
    data = sys.argv[1]
    vocab_list = open(os.path.join(data, "vocab-bert-base-uncased/vocab.txt"), encoding="utf-8").read().split("\n")
    if vocab_list and vocab_list[-1] == "":
        vocab_list.pop()
    vocab = {}
    for i, t in enumerate(vocab_list):
        vocab.setdefault(t, i)
    out = {"handmade": [], "real": []}
    for text in HANDMADE:
        out["handmade"].append({"text": text, "ids": tokenize(text, vocab)})
    for path, line, column in REAL:
        with open(os.path.join(data, path), encoding="utf-8-sig") as f:
            row = f.read().split("\n")[line - 1].split("\t")
        out["real"].append({"file": path, "line": line, "column": column, "ids": tokenize(row[column], vocab)})
    json.dump(out, sys.stdout, ensure_ascii=False, indent=None)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
