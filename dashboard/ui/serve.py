"""Start the Streamlit server for the console (what `up`, the e2e tests and the image run).

Streamlit decides once per process whether a `pages/` folder means the old multipage mode;
until the entry script has called st.navigation, a first visitor arriving on a deep link
(/trust_kpis) gets the old sidebar and the page without the router's page config. The console
always routes with st.navigation, so that mode is switched off before the server starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli as stcli

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def main(argv: list[str] | None = None) -> None:
    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    stcli.main()


if __name__ == "__main__":
    main()
