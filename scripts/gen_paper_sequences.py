#!/usr/bin/env python3
"""Writes mocks/data/paper_sequences.tsv: the named paper outcome sequences that an
address can ask for (`@OK_AR`, `@FAIL-Irreperibile_AR`, ...), in the mock's own format
(name, tab, sequence), from PagoPA's External Channels mock configuration.

Usage: python3 scripts/gen_paper_sequences.py PATH/TO/mocksequences.json > mocks/data/paper_sequences.tsv
"""
import json
import sys


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        items = json.load(f)
    print("# name\tsequence (durations in real time; see mocks/src/channels/sequence.rs)")
    for item in items:
        name, seq = item["sequenceName"], item["sequence"]
        if "\t" in name or "\t" in seq or not seq.startswith("@sequence."):
            sys.exit(f"unexpected sequence {name!r}")
        print(f"{name}\t{seq[len('@sequence.'):]}")


if __name__ == "__main__":
    main()
