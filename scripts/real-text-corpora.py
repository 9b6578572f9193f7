#!/usr/bin/env python3
"""Real English text in TinyStories' format, from what Debian and CPython ship on this machine.

Writes, into OUT_DIR (default data/real/, git-ignored; nothing here is committed as data):
  fortunes.txt  one document per fortune of Debian's `fortunes` package (short, varied English;
                installed with apt-get if missing)
  pydoc.txt     CPython's own reference prose (pydoc_data.topics), split into paragraphs and
                grouped into documents of about 150 words (long, technical English)
Documents are separated by lines holding only <|endoftext|>, as in TinyStories, so that
`collapse lm --data text:OUT_DIR/fortunes.txt` reads them.

Usage: python3 scripts/real-text-corpora.py [OUT_DIR]
"""
import os
import re
import shutil
import subprocess
import sys

SEPARATOR = "<|endoftext|>"
FORTUNE_DIR = "/usr/share/games/fortunes"
# The files of English prose and quotations (not the ASCII-art, the Debian-specific or the
# offensive sets, which the package keeps apart).
FORTUNE_FILES = ["fortunes", "literature", "wisdom", "people", "humorists", "love", "men-women", "work", "education", "food", "pets", "miscellaneous", "platitudes", "politics", "science", "songs-poems", "sports", "startrek", "law", "medicine", "magic", "riddles", "kids", "goedel", "computers"]


def clean(text: str) -> str:
    # Collapse layout whitespace; keep punctuation and case as written.
    return re.sub(r"[ \t]+", " ", re.sub(r"\n[ \t]+", "\n", text)).strip()


def write(path: str, docs: list) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(d + "\n" + SEPARATOR + "\n")
    os.replace(tmp, path)
    words = sum(len(d.split()) for d in docs)
    print(f"{path}: {len(docs)} documents, {words} words, {os.path.getsize(path)} bytes")


def fortunes(out_dir: str) -> None:
    if not os.path.isdir(FORTUNE_DIR):
        if shutil.which("apt-get") is None:
            sys.exit(f"{FORTUNE_DIR} is missing and apt-get is not available: install Debian's `fortunes` package")
        subprocess.run(["apt-get", "install", "-y", "-qq", "fortunes"], check=True)
    docs = []
    for name in FORTUNE_FILES:
        p = os.path.join(FORTUNE_DIR, name)
        if not os.path.isfile(p):
            continue
        with open(p, encoding="utf-8", errors="replace") as f:
            for item in f.read().split("\n%\n"):
                d = clean(item.replace("\ufffd", ""))
                # Skip one-liners and ASCII layouts: a document should be a few sentences of prose.
                if len(d.split()) >= 12 and sum(c.isalpha() for c in d) > 0.6 * len(d):
                    docs.append(d)
    write(os.path.join(out_dir, "fortunes.txt"), docs)


def pydoc(out_dir: str) -> None:
    from pydoc_data.topics import topics

    docs, current = [], []
    for key in sorted(topics):
        for para in re.split(r"\n\s*\n", topics[key]):
            p = " ".join(para.split())
            # Prose paragraphs only: code samples and grammar rules are mostly symbols.
            if len(p.split()) < 8 or sum(c.isalpha() or c == " " for c in p) < 0.85 * len(p):
                continue
            current.append(p)
            if sum(len(x.split()) for x in current) >= 150:
                docs.append("\n".join(current))
                current = []
    if current:
        docs.append("\n".join(current))
    write(os.path.join(out_dir, "pydoc.txt"), docs)


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "real")
    os.makedirs(out_dir, exist_ok=True)
    fortunes(out_dir)
    pydoc(out_dir)


if __name__ == "__main__":
    main()
