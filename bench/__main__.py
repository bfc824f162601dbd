"""``python -m bench quality|speed|latency|render [--smoke]``: run one benchmark, or render saved results."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("benchmark", choices=("quality", "speed", "latency", "render"))
    p.add_argument("--smoke", action="store_true", help="a quick run on small subsets; results are not saved")
    p.add_argument("--systems", help="comma-separated subset of faqbot,chatterbot,wratio,tfidf,bm25")
    p.add_argument("--fit", action="store_true", help="quality: fit faqbot's confidence curve on val and print it")
    p.add_argument("--ablation", action="store_true", help="quality: val top-1 of faqbot with one part switched off")
    args = p.parse_args(argv)
    kwargs = {"smoke": args.smoke}
    if args.systems and args.benchmark in ("quality", "speed"):
        kwargs["systems"] = tuple(args.systems.split(","))
    if args.benchmark == "quality":
        from . import quality

        quality.main(fit=args.fit, ablation=args.ablation, **kwargs)
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
