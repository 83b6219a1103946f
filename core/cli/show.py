"""``reelpick show``: a contact sheet of a title and its similar movies, one row per plugin."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from PIL import Image

from ..app import Reelpick
from ..config import Config
from ..render.contact_sheet import MAX_K, contact_sheet_png
from .conventions import EXIT_ERROR, EXIT_NO_MATCH, EXIT_USAGE
from .fitting import fit_plugins, report_failures
from .info import resolve


def cmd_show(config: Config, args: argparse.Namespace) -> int:
    """``reelpick show "TITLE" [-k 5] -o out.png [--plugin NAME]``."""
    as_json = getattr(args, "json", False)
    if not 1 <= args.k <= MAX_K:  # the parser checks too; this guards direct calls
        print(f"reelpick: -k must be between 1 and {MAX_K}, got {args.k}", file=sys.stderr)
        return EXIT_USAGE
    output = Path(args.output)
    if not output.parent.is_dir():
        print(f"reelpick: {output.parent} is not a folder", file=sys.stderr)
        return EXIT_ERROR
    app = Reelpick.open(config, fit=False)
    app.registry.enabled(args.plugin)  # an unknown --plugin is refused before anything else
    # Dataset and catalogue titles, and TMDB's when a key is set (as `similar` resolves them).
    movie_id = resolve(app, args.title, as_json=as_json)
    if movie_id is None:
        return EXIT_NO_MATCH  # before any fit: a typo costs a second, not the fits
    report_failures(fit_plugins(app, args.plugin, quiet=getattr(args, "quiet", False)))
    data = contact_sheet_png(app, movie_id, args.k, args.plugin)
    try:
        output.write_bytes(data)
    except OSError as exc:
        print(f"reelpick: cannot write {output}: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    with Image.open(io.BytesIO(data)) as image:
        size = image.size
    if as_json:
        summary = {
            "output": str(output),
            "movie": {"movie_id": movie_id, "label": app.movie_title(movie_id)},
            "width": size[0],
            "height": size[1],
        }
        print(json.dumps(summary))
    else:
        print(f"{output}: {app.movie_title(movie_id)}, {size[0]}x{size[1]} px")
    return 0
