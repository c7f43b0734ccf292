"""The window's look: normal or high contrast, normal or large text (Qt style sheets)."""

from __future__ import annotations

BODY_PX = 26
"""Body text; large text multiplies every size by :data:`LARGE`."""
LARGE = 1.35
TOUCH_PX = 64
"""The smallest touch target, in both directions."""
FONT_FAMILY = "Noto Sans CJK JP"


def stylesheet(*, large: bool, contrast: bool) -> str:
    k = LARGE if large else 1.0

    def px(n: float) -> str:
        return f"{round(n * k)}px"

    if contrast:
        bg, fg, panel, border = "#000000", "#ffffff", "#000000", "#ffffff"
        primary_bg, primary_fg, focus = "#ffff00", "#000000", "#00ffff"
        warn_bg, warn_fg, warn_border = "#000000", "#ffff00", "#ffff00"
        err_bg, err_fg = "#000000", "#ffff00"
        checked_bg, checked_fg = "#ffff00", "#000000"
        muted = "#ffffff"
    else:
        bg, fg, panel, border = "#f5f5f0", "#1a1a1a", "#ffffff", "#6b7280"
        primary_bg, primary_fg, focus = "#0b5cad", "#ffffff", "#d97706"
        warn_bg, warn_fg, warn_border = "#fff4d6", "#5c2a00", "#b45309"
        err_bg, err_fg = "#fde8e8", "#8b0000"
        checked_bg, checked_fg = "#0b5cad", "#ffffff"
        muted = "#374151"
    return f"""
QWidget {{ font-family: "{FONT_FAMILY}"; font-size: {px(BODY_PX)}; color: {fg};
          background: {bg}; }}
QLabel#title {{ font-size: {px(36)}; font-weight: bold; }}
QLabel#election {{ font-size: {px(24)}; color: {muted}; }}
QLabel#code {{ font-family: "DejaVu Sans Mono", monospace; font-size: {px(34)};
              font-weight: bold; background: {panel}; border: 2px solid {border};
              padding: 12px; }}
QLabel#big {{ font-size: {px(34)}; font-weight: bold; }}
QLabel#warning {{ background: {warn_bg}; color: {warn_fg}; border: 3px solid {warn_border};
                 padding: 8px 12px; font-weight: bold; }}
QLabel#error {{ background: {err_bg}; color: {err_fg}; border: 3px solid {err_fg};
               padding: 8px 12px; font-weight: bold; }}
QLabel#small {{ font-size: {px(24)}; color: {muted}; }}
QFrame#contest {{ background: {panel}; border: 2px solid {border}; border-radius: 12px; }}
QFrame#contest QLabel {{ background: {panel}; }}
QPushButton {{ min-height: {px(64)}; min-width: {px(64)}; padding: 6px 22px;
              background: {panel}; color: {fg}; border: 3px solid {border};
              border-radius: 12px; }}
QPushButton#primary {{ background: {primary_bg}; color: {primary_fg};
                      border-color: {primary_bg}; font-weight: bold; }}
QPushButton:checked {{ background: {checked_bg}; color: {checked_fg};
                      border-color: {checked_bg}; }}
QPushButton:focus {{ border: 5px solid {focus}; }}
QPushButton:disabled {{ color: {muted}; border-style: dashed; }}
QPushButton#key {{ padding: 0px; font-family: "DejaVu Sans Mono", monospace;
                  font-size: {px(30)}; font-weight: bold;
                  min-width: {px(64)}; max-width: {px(64)};
                  min-height: {px(64)}; max-height: {px(64)}; }}
QLineEdit {{ min-height: {px(64)}; font-size: {px(36)}; border: 3px solid {border};
            background: {panel}; padding: 4px 12px; letter-spacing: 6px; }}
QLineEdit:focus {{ border: 5px solid {focus}; }}
QProgressBar {{ min-height: {px(24)}; border: 2px solid {border}; background: {panel}; }}
QProgressBar::chunk {{ background: {primary_bg}; }}
QScrollArea {{ border: none; }}
"""
