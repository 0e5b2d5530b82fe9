"""The keys every labeling widget shares, and the help line that shows them.

The tagger and the canvas take the same navigation keys; classes are chosen
with the digits 1-9 in the order given, unless a widget is told otherwise.
"""

from __future__ import annotations

from typing import Mapping, Sequence

NAVIGATION_KEYS = {
    "next": "ArrowRight",
    "previous": "ArrowLeft",
    "skip": "s",
    "undo": "z",
    "redo": "y",
    "first_unlabeled": "u",
    "review": "r",
}
REVIEW_KEYS = {"accept": "a", "needs_improvement": "x"}
# a model's class for the image shown: take it as the label, or say it is wrong
PREDICTION_KEYS = {"accept_prediction": "g", "reject_prediction": "n"}
KEY_NAMES = {"ArrowRight": "→", "ArrowLeft": "←", " ": "space", "Backspace": "⌫",
             "Escape": "esc", "Enter": "⏎"}


def class_keys(classes: Sequence[str], keys: Mapping[str, str] | None = None) -> dict[str, str]:
    """Class -> key: the digits 1-9 in order, or the given mapping (checked)."""
    if keys is None:
        if len(classes) > 9:
            raise ValueError("more than nine classes need an explicit class_keys mapping")
        return {cls: str(k + 1) for k, cls in enumerate(classes)}
    missing = [cls for cls in classes if cls not in keys]
    if missing:
        raise ValueError(f"class_keys has no key for {missing}")
    return {cls: keys[cls] for cls in classes}


def key_map(classes: Sequence[str], class_key_map: Mapping[str, str] | None = None,
            navigation: Mapping[str, str] | None = None,
            actions: Mapping[str, str] | None = None) -> dict[str, dict[str, str]]:
    """Every key a widget answers to, refusing two actions on one key.

    ``actions`` are the widget's own (default: the tagger's navigation, review and
    prediction keys); ``navigation`` overrides some of them.
    """
    actions = ({**NAVIGATION_KEYS, **REVIEW_KEYS, **PREDICTION_KEYS} if actions is None
               else dict(actions))
    unknown = set(navigation or {}) - set(actions)
    if unknown:
        raise ValueError(f"no such action: {sorted(unknown)}; actions are {sorted(actions)}")
    result = {"classes": class_keys(classes, class_key_map),
              "actions": {**actions, **(navigation or {})}}
    used: dict[str, str] = {}
    for group in result.values():
        for action, key in group.items():
            if key in used:
                raise ValueError(f"key {key!r} is given to both {used[key]!r} and {action!r}")
            used[key] = action
    return result


def key_name(key: str) -> str:
    """How a key is written for people: → rather than ArrowRight."""
    return KEY_NAMES.get(key, key)


def help_line(keys: Mapping[str, Mapping[str, str]]) -> str:
    name = key_name
    parts = [f"{name(k)} {cls}" for cls, k in keys["classes"].items()]
    parts += [f"{name(k)} {action.replace('_', ' ')}" for action, k in keys["actions"].items()]
    return " · ".join(parts)
