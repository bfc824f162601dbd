"""``python -m bench quality|fusion|safety|thresholds|conversation|speed|latency|render [--smoke]``: run one benchmark, or render saved results."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("benchmark", choices=("quality", "fusion", "safety", "thresholds", "conversation", "speed", "latency", "render"))
    p.add_argument("--smoke", action="store_true", help="a quick run on small subsets; results are not saved")
    p.add_argument("--systems", help="comma-separated subset of faqbot,chatterbot,wratio,tfidf,bm25")
    p.add_argument("--line", action="store_true",
                   help="safety --fit: fit the line-only second opinion (without the contrast pairs) instead")
    p.add_argument("--referral", action="store_true",
                   help="safety --fit: fit the referral opinion (the main recipe with more medical questions) instead")
    p.add_argument("--fit", action="store_true", help="quality/fusion: fit faqbot's confidence on val and print it")
    p.add_argument("--model", choices=("mlp+chars+words", "mlp+chars", "mlp", "linear", "linear+chars"), default="",
                   help="safety --fit: the risk classifier's meaning view (one hidden layer, or linear), with or "
                        "without the spelling view (character n-grams, +words: and runs of words); default "
                        "mlp+chars+words, and mlp+chars with --line")
    p.add_argument("--ablation", action="store_true", help="quality: val top-1 of faqbot with one part switched off")
    args = p.parse_args(argv)
    kwargs = {"smoke": args.smoke}
    if args.systems and args.benchmark in ("quality", "speed"):
        kwargs["systems"] = tuple(args.systems.split(","))
    if args.benchmark == "quality":
        from . import quality

        quality.main(fit=args.fit, ablation=args.ablation, **kwargs)
    elif args.benchmark == "fusion":
        from . import fusion

        fusion.main(smoke=args.smoke, do_fit=args.fit)
    elif args.benchmark == "safety":
        from . import safety

        safety.main(smoke=args.smoke, do_fit=args.fit, kind=args.model, line=args.line, referral=args.referral)
    elif args.benchmark == "conversation":
        from . import conversation

        conversation.main(smoke=args.smoke)
    elif args.benchmark == "thresholds":
        from . import thresholds

        thresholds.main(smoke=args.smoke)
    elif args.benchmark == "speed":
        from . import speed

        speed.main(**kwargs)
    elif args.benchmark == "latency":
        from . import latency

        latency.main(**kwargs)
    else:
        from . import render

        render.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
