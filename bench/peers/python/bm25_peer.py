"""The knowledge benchmark's peer: the demo shop's passages searched by rank_bm25's
BM25Okapi (what LangChain's BM25Retriever uses), tokenized as BM25Retriever's default
does (lower-cased words), for the same questions as ours.

Input: a JSON file {"passages": [{"path", "text"}], "questions": [{"question", "page"}]}.
Output (stdout): {"recall5", "mrr", "p50"}: the share of questions whose answering page is
among the top 5 passages' pages, the mean reciprocal rank of its first passage, and the
median milliseconds of one question (scoring every passage and taking the top 5).
"""

import json
import re
import statistics
import sys
import time

from rank_bm25 import BM25Okapi

WORD = re.compile(r"\w+")


def tokens(text):
    return WORD.findall(text.lower())


def main(path):
    data = json.load(open(path))
    passages = data["passages"]
    bm25 = BM25Okapi([tokens(p["text"]) for p in passages])

    def top5(question):
        scores = bm25.get_scores(tokens(question))
        return sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)[:5]

    questions = data["questions"]
    found = 0
    reciprocal = 0.0
    for q in questions:
        gold = q["page"]
        pages = [passages[i]["path"] for i in top5(q["question"])]
        hits = [r for r, page in enumerate(pages) if page == gold or (gold == "/index.html" and page == "/")]
        if hits:
            found += 1
            reciprocal += 1.0 / (hits[0] + 1)
    timings = []
    for _ in range(20):
        for q in questions:
            start = time.perf_counter()
            top5(q["question"])
            timings.append((time.perf_counter() - start) * 1e3)
    n = max(len(questions), 1)
    print(json.dumps({"recall5": found / n, "mrr": reciprocal / n, "p50": statistics.median(timings)}))


if __name__ == "__main__":
    main(sys.argv[1])
