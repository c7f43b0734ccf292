"""`python -m card_reader.serve IMAGE [READER]`: serve a TEST card image to vpcd until stopped."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from card_reader.virtual_card import JPKIApplet, VpcdCard


def main() -> None:
    image, reader = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0
    card = VpcdCard(JPKIApplet.from_file(image), reader=reader)

    def stop(*_: object) -> None:
        card.remove()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    card.serve_forever()


if __name__ == "__main__":
    main()
