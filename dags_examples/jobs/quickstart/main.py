"""Count the words of a text file; write the totals and the most common words as JSON.

Reads the input a line at a time, so memory stays bounded by the number of distinct words.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def count_words(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            counts.update(word.lower() for word in WORD.findall(line))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", type=Path, required=True, help="text file to read")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--top", type=int, default=10, help="how many of the most common words to list")
    args = parser.parse_args()

    counts = count_words(args.input)
    result = {
        "words": sum(counts.values()),
        "distinct": len(counts),
        "top": [{"word": word, "count": n} for word, n in counts.most_common(args.top)],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{result['words']} words, {result['distinct']} distinct; wrote {args.out}")


if __name__ == "__main__":
    main()
