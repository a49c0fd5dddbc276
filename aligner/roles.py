"""Mic roles from track names: which drum a close mic belongs to, and which mics are overheads or rooms.

Names are matched case-insensitively on their words ("Snare Bottom", "SN_btm", "OHL", "KdrumR", "Tom 2"). A name that
matches nothing is ``other`` (with a warning): such mics are edited like every other but never place a hit, unless
no mic of the session is a close mic or an overhead (then the neural detector places strokes on any mic).
``--mic-role "Mic 3=snare"`` overrides the guess.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace
from functools import lru_cache

from nbd_errors import NbdError
from session_io.session import Session

__all__ = ["CLOSE_ROLES", "DISTANT_ROLES", "ROLES", "ANCHOR_PRIORITY", "places_hits", "role_from_name", "is_trigger",
           "parse_role_overrides", "assign_roles", "gm_drum_note"]

log = logging.getLogger("nbd")

#: Roles of close mics: each names the drum class whose hits the mic owns.
CLOSE_ROLES = ("kick", "snare", "tom", "hihat", "ride", "crash")
#: Roles of mics that hear the whole kit; they never decide a cut unless no close mic has the event.
DISTANT_ROLES = ("overhead", "room")
ROLES = CLOSE_ROLES + DISTANT_ROLES + ("other",)

#: Which stroke of an event an editor lines up: lower first (kick and snare equal, then toms, hats, cymbals).
ANCHOR_PRIORITY = {"kick": 0, "snare": 0, "tom": 1, "hihat": 2, "ride": 3, "crash": 3, "cymbal": 3, "other": 4}


def places_hits(role: str) -> bool:
    """Whether the classic detector places hits from a mic of ``role``: close mics and overheads; rooms and unknown
    mics never do."""
    return role in CLOSE_ROLES or role == "overhead"


def _words(name: str) -> list[str]:
    # split "KdrumL" / "SnareTop" camel case and any separators into lower-case words
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return re.findall(r"[a-z]+", spaced.lower())


def role_from_name(name: str) -> str:
    """Guess a mic's role from its track or file name; ``"other"`` when nothing matches.

    Examples
    --------
    >>> [role_from_name(n) for n in ["Kick In", "SN btm", "OHL", "Floor Tom", "AmbR", "Hihat", "Mic 3"]]
    ['kick', 'snare', 'overhead', 'tom', 'room', 'hihat', 'other']
    """
    words = _words(name)
    joined = "".join(words)

    def has(*prefixes: str) -> bool:
        return any(w.startswith(p) for w in words for p in prefixes)

    def word(*exact: str) -> bool:
        return any(w in exact for w in words)

    if has("overhead") or word("oh", "ohl", "ohr", "ovh", "ovhd"):
        return "overhead"
    if has("room", "amb"):
        return "room"
    if "hat" in joined or word("hh", "hhc", "hho"):
        return "hihat"
    if has("ride"):
        return "ride"
    if has("crash", "china", "splash"):
        return "crash"
    if has("snare") or word("sn", "snr", "sd"):
        return "snare"
    if has("tom") or word("rack", "floor", "ft", "rt"):
        return "tom"
    if has("kick", "kik", "kdrum", "bassdrum") or word("bd", "kd", "sub", "trig", "trigger"):
        return "kick"
    return "other"


@lru_cache(maxsize=1024)  # the planner asks for every mic at every event
def is_trigger(name: str) -> bool:
    """Whether a track is a drum trigger ("Trig", "Kick Trigger"): it hears its drum cleanly, but its pulse comes
    from a pickup and module with their own latency (MuldjordKit's kick trigger fires 5.6-8.2 ms after the kick
    mic's attack), so it may find a stroke but should not place it where an acoustic mic of the drum hears it."""
    return any(w in ("trig", "trigger", "trg") for w in _words(name))


def parse_role_overrides(texts: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["Mic 3=snare", ...]`` → ``{"mic 3": "snare"}`` (names compared case-insensitively).

    Raises
    ------
    ValueError
        An entry without ``=`` or with an unknown role.
    """
    overrides = {}
    for text in texts:
        name, sep, role = text.rpartition("=")
        role = role.strip().lower()
        if not sep or not name.strip():
            raise ValueError(f"--mic-role {text!r} must look like \"Mic 3=snare\"")
        if role not in ROLES:
            raise ValueError(f"--mic-role {text!r}: unknown role {role!r}; choose one of {', '.join(ROLES)}")
        overrides[name.strip().lower()] = role
    return overrides


def assign_roles(session: Session, overrides: dict[str, str] | None = None) -> Session:
    """The session with every track's ``role`` set: from ``overrides`` (by track name) or guessed from its name.

    Raises
    ------
    NbdError
        An override naming no track of the session.
    """
    overrides = dict(overrides or {})
    names = {t.name.lower() for t in session.tracks}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise NbdError(f"--mic-role names no track of this session: {', '.join(unknown)} "
                       f"(tracks: {', '.join(t.name for t in session.tracks)})", session.path)
    tracks = [replace(t, role=overrides.get(t.name.lower()) or role_from_name(t.name)) for t in session.tracks]
    unnamed = [t.name for t in tracks if t.role == "other" and t.name.lower() not in overrides]
    if tracks and not any(places_hits(t.role) for t in tracks):
        # one warning for the whole session: a folder of "Audio 1" … "Audio 12" is a likely export
        log.warning("%s: no mic is named as a drum's close mic or an overhead (%s): the classic detector finds no "
                    "hits, and the neural detector places strokes on whichever mic hears them first but may take "
                    "one drum for another (use --mic-role \"%s=kick\" etc.)",
                    session.path, ", ".join(t.name for t in tracks), tracks[0].name)
    else:
        for name in unnamed:
            log.warning("%s: mic %r has no recognised role; it is edited but never places a hit "
                        "(use --mic-role \"%s=snare\" etc.)", session.path, name, name)
    return replace(session, tracks=tuple(tracks))


_GM_NOTES = {"kick": 36, "snare": 38, "hihat": 42, "ride": 51, "crash": 49, "cymbal": 49, "other": 37}


def gm_drum_note(drum: str, mic_name: str = "") -> int:
    """General MIDI drum note for a hit: kick 36, snare 38, hat 42, ride 51, crash 49; toms 43 on a floor tom mic,
    48 otherwise; 37 (side stick) for anything else."""
    if drum == "tom":
        return 43 if {"floor", "ft"} & set(_words(mic_name)) else 48
    return _GM_NOTES.get(drum, 37)
