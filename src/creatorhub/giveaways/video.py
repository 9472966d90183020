"""The replay video of a draw (seed 003 `Draw.video_url`): an H.264 MP4 rendered from the
certificate's bytes alone, so what it shows is what the proof says.

`render_replay(certificate_bytes)` parses the certificate (never the database) and plays it,
720x1280 (portrait, as the posts it is shared with), 30 frames a second:

1. the title card: the draw's id, its post, the certificate's SHA-256;
2. the commitment, published before the draw: the entries' count and Merkle root, the seed's
   SHA-256, the config's hash, the drand round (or "no external beacon"), when;
3. the reveal: the seed (its SHA-256 checked against the commitment, on screen) and the
   beacon's randomness, the eligible and excluded entries;
4. the draw: the DRBG's picks one by one, replayed here from the seed, the commitment hash and
   the beacon over the eligible positions (`proof.drbg`), each "pick n -> entry #i ->
   @username" with what it became: a winner (highlighted), an alternate, or skipped (an entry
   of a user already drawn);
5. the rerolls, if any: who replaced whom, and why;
6. the closing card: the winners, the certificate's SHA-256, the command that verifies it.

The certificate's SHA-256 is also in the MP4's metadata (`comment`; `title` names the draw).
Everything is drawn with Pillow's built-in font (no font file) and its basic layout, so two
renders of one certificate give the same pictures; only the encoder's internals could tell them
apart. A scene is a still picture held for its frames: a render is a few dozen pictures drawn
and converted once, then mostly static frames that x264 encodes cheaply (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final, Literal

import av
from PIL import Image, ImageDraw, ImageFont

from creatorhub.giveaways.proof.draw import commitment_hash
from creatorhub.giveaways.proof.drbg import draw_randomness, shuffled

WIDTH: Final = 720
HEIGHT: Final = 1280
FPS: Final = 30
MARGIN: Final = 44
# x264's constant quality (lower is better) and the longest stretch between two key frames (a
# browser seeks from the one before: decoding 8 s of this is quick, and each key frame of text
# costs some 35 kB): text on a flat background stays sharp in about 200 kB.
CRF: Final = "30"
KEYFRAME_INTERVAL: Final = 8 * FPS

# Seconds each part is on screen.
TITLE_SECONDS: Final = 2.0
COMMITMENT_SECONDS: Final = 3.0
REVEAL_SECONDS: Final = 2.5
DRAW_SECONDS: Final = 5.0  # all the picks shown, however many (each at most PICK_MAX_SECONDS)
PICK_MAX_SECONDS: Final = 0.7
DRAW_HOLD_SECONDS: Final = 0.8
REROLL_SECONDS: Final = 1.1
CLOSING_SECONDS: Final = 3.0
# The most picks, rerolls and final winners listed; the rest is counted ("… and 12 more").
MAX_STEPS_SHOWN: Final = 30
MAX_REROLLS_SHOWN: Final = 3
MAX_WINNERS_SHOWN: Final = 8
VISIBLE_PICK_ROWS: Final = 18

BACKGROUND: Final = (15, 23, 42)
PANEL: Final = (30, 41, 59)
TEXT: Final = (226, 232, 240)
MUTED: Final = (148, 163, 184)
ACCENT: Final = (56, 189, 248)
GOLD: Final = (250, 204, 21)
GOLD_ROW: Final = (66, 56, 18)
VIOLET: Final = (167, 139, 250)
SKIPPED: Final = (100, 116, 139)
GOOD: Final = (74, 222, 128)
BAD: Final = (248, 113, 113)

Color = tuple[int, int, int]
Kind = Literal["winner", "alternate", "skipped"]


@dataclass(frozen=True)
class Replay:
    mp4: bytes
    certificate_hash: str
    frames: int
    width: int = WIDTH
    height: int = HEIGHT
    fps: int = FPS

    @property
    def duration_ms(self) -> int:
        return self.frames * 1000 // self.fps


@dataclass(frozen=True)
class Step:
    """One output of the DRBG's shuffle: the `number`th entry drawn and what it became."""

    number: int
    index: int
    username: str
    kind: Kind
    rank: int = 0  # the winner's or alternate's rank
    repeats: int = 0  # a skipped entry: the number of the pick of the same user


def render_replay(certificate_bytes: bytes) -> bytes:
    """The draw's replay as an H.264 MP4 (yuv420p), from its certificate's bytes."""
    return render(certificate_bytes).mp4


def render(certificate_bytes: bytes) -> Replay:
    certificate = json.loads(certificate_bytes)
    digest = hashlib.sha256(certificate_bytes).hexdigest()
    scenes = list(storyboard(certificate, digest))
    frames = sum(count for _, count in scenes)
    return Replay(encode(scenes, certificate, digest), certificate_hash=digest, frames=frames)


# --- the draw's order ---------------------------------------------------------------------------


def draw_steps(certificate: dict[str, Any]) -> tuple[list[Step], bool]:
    """The picks in the DRBG's order, and whether that order was replayed (True) or, when the
    certificate does not replay (it would not verify), taken as the certificate lists them."""
    winners = {p["index"]: p for p in certificate["winners"]}
    alternates = {p["index"]: p for p in certificate["alternates"]}
    skips: dict[int, int] = dict(certificate["skipped"])
    claimed = len(winners) + len(alternates)
    steps: list[Step] = []
    number_of: dict[int, int] = {}
    try:
        excluded = {index for index, _ in certificate["excluded"]}
        eligible = [i for i in range(certificate["counts"]["entries"]) if i not in excluded]
        beacon = certificate["beacon"]
        randomness = draw_randomness(
            bytes.fromhex(certificate["reveal"]["seed"]),
            bytes.fromhex(commitment_hash(certificate["commitment"])),
            None if beacon is None else bytes.fromhex(beacon["randomness"]),
        )
        picked = 0
        for position in shuffled(eligible, randomness):
            if picked == claimed and len(steps) - picked == len(skips):
                break
            number = len(steps) + 1
            if position in winners or position in alternates:
                pick = winners.get(position) or alternates[position]
                kind: Kind = "winner" if position in winners else "alternate"
                steps.append(Step(number, position, pick["username"], kind, rank=pick["rank"]))
                number_of[position] = number
                picked += 1
            elif position in skips and skips[position] in number_of:
                earlier = steps[number_of[skips[position]] - 1]
                steps.append(
                    Step(number, position, earlier.username, "skipped", repeats=earlier.number)
                )
            else:
                raise ValueError(f"entry {position} is drawn where the certificate has another")
        if picked != claimed or len(steps) - picked != len(skips):
            raise ValueError("the certificate's picks are not the draw's")
        return steps, True
    except (ValueError, KeyError, TypeError):
        return _listed_steps(certificate), False


def _listed_steps(certificate: dict[str, Any]) -> list[Step]:
    steps: list[Step] = []
    listed: tuple[tuple[Kind, list[dict[str, Any]]], ...] = (
        ("winner", certificate["winners"]),
        ("alternate", certificate["alternates"]),
    )
    for kind, picks in listed:
        for pick in picks:
            steps.append(
                Step(len(steps) + 1, pick["index"], pick["username"], kind, rank=pick["rank"])
            )
    return steps


def final_winners(certificate: dict[str, Any]) -> list[tuple[int, str]]:
    """(rank, username) of each winner after the rerolls."""
    by_index = {
        p["index"]: p["username"] for p in certificate["winners"] + certificate["alternates"]
    }
    holders = {p["rank"]: p["username"] for p in certificate["winners"]}
    for change in certificate["rerolls"]:
        holders[change["rank"]] = by_index.get(change["alternate_index"], "?")
    return sorted(holders.items())


# --- drawing ------------------------------------------------------------------------------------


@functools.cache
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@functools.cache
def _missing_glyph(size: int) -> bytes:
    return bytes(font(size).getmask("\U0010fffd"))


@functools.cache
def _has_glyph(char: str, size: int) -> bool:
    return char == " " or bytes(font(size).getmask(char)) != _missing_glyph(size)


def printable(text: str, size: int) -> str:
    """`text` with the characters the built-in font cannot draw as their code point, so a
    name outside its alphabet still reads exactly (U+00E9) instead of as empty boxes."""
    return "".join(c if _has_glyph(c, size) else f"<U+{ord(c):04X}>" for c in text)


class Card:
    """One picture of the video, with the text helpers its layout needs."""

    def __init__(self, title: str, part: str, progress: float) -> None:
        self.image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.y = 150
        self.text((MARGIN, 48), "CREATORHUB  ·  VERIFIABLE DRAW", 22, ACCENT)
        if part:
            self.text((WIDTH - MARGIN, 48), part, 22, MUTED, anchor="ra")
        self.draw.rectangle((MARGIN, 88, WIDTH - MARGIN, 90), fill=PANEL)
        self.draw.rectangle(
            (MARGIN, 88, MARGIN + round((WIDTH - 2 * MARGIN) * progress), 90), fill=ACCENT
        )
        if title:
            self.line(title, 44, TEXT, gap=18)

    def text(
        self, at: tuple[int, int], text: str, size: int, color: Color, anchor: str = "la"
    ) -> None:
        self.draw.text(at, printable(text, size), font=font(size), fill=color, anchor=anchor)

    def width_of(self, text: str, size: int) -> float:
        return font(size).getlength(printable(text, size))

    def fit(self, text: str, size: int, width: float) -> str:
        """`text`, cut with an ellipsis to fit `width` pixels."""
        text = printable(text, size)
        if font(size).getlength(text) <= width:
            return text
        while text and font(size).getlength(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def line(self, text: str, size: int, color: Color, *, gap: int = 10, x: int = MARGIN) -> None:
        self.draw.text(
            (x, self.y), self.fit(text, size, WIDTH - MARGIN - x), font=font(size), fill=color
        )
        self.y += size + gap

    def paragraph(self, text: str, size: int, color: Color, *, gap: int = 10) -> None:
        words, row = text.split(), ""
        for word in words:
            candidate = f"{row} {word}".strip()
            if row and self.width_of(candidate, size) > WIDTH - 2 * MARGIN:
                self.line(row, size, color, gap=6)
                row = word
            else:
                row = candidate
        if row:
            self.line(row, size, color, gap=6)
        self.y += gap

    def field(self, label: str, value: str, *, color: Color = TEXT, size: int = 27) -> None:
        """A label over its value; a hex value of 64 digits is split in two lines of 32."""
        self.line(label.upper(), 19, MUTED, gap=6)
        chunks = (
            [value[i : i + 32] for i in range(0, len(value), 32)] if _is_hex(value) else [value]
        )
        for chunk in chunks[:4]:
            self.line(chunk, size, color, gap=4)
        self.y += 18

    def arrow(self, x: int, y: int, color: Color, length: int = 22) -> None:
        """A right arrow (the built-in font has none) centred on height `y`."""
        self.draw.line((x, y, x + length - 6, y), fill=color, width=3)
        self.draw.polygon(
            ((x + length - 8, y - 6), (x + length, y), (x + length - 8, y + 6)), color
        )

    def badge(self, right: int, y: int, text: str, color: Color, *, filled: bool) -> int:
        """A rounded label ending at `right`, its top at `y`; returns its left edge."""
        size = 19
        width = round(self.width_of(text, size)) + 22
        box = (right - width, y, right, y + 32)
        if filled:
            self.draw.rounded_rectangle(box, radius=8, fill=color)
            self.text((right - width // 2, y + 16), text, size, BACKGROUND, anchor="mm")
        else:
            self.draw.rounded_rectangle(box, radius=8, outline=color, width=2)
            self.text((right - width // 2, y + 16), text, size, color, anchor="mm")
        return right - width

    def footer(self, text: str) -> None:
        self.text((WIDTH // 2, HEIGHT - 60), text, 20, MUTED, anchor="mm")


def _is_hex(value: str) -> bool:
    return len(value) >= 40 and all(c in "0123456789abcdef" for c in value)


def _frames(seconds: float) -> int:
    return max(1, round(seconds * FPS))


def storyboard(certificate: dict[str, Any], digest: str) -> Iterator[tuple[Image.Image, int]]:
    """The video's pictures in order, each with how many frames it is held."""
    c = certificate
    steps, replayed = draw_steps(c)
    shown = min(len(steps), MAX_STEPS_SHOWN)
    pick_seconds = min(PICK_MAX_SECONDS, DRAW_SECONDS / max(1, shown))
    rerolls = min(len(c["rerolls"]), MAX_REROLLS_SHOWN)
    parts = 5 if rerolls else 4
    # (the picture's maker, given its part's label and the progress bar at its end; seconds)
    plan: list[tuple[Callable[[str, float], Card], str, float]] = [
        (lambda part, done: _title(c, digest, done), "", TITLE_SECONDS),
        (lambda part, done: _commitment(c, part, done), f"1/{parts}", COMMITMENT_SECONDS),
        (lambda part, done: _reveal(c, part, done), f"2/{parts}", REVEAL_SECONDS),
    ]
    for count in range(1, shown + 1):
        plan.append(
            (
                functools.partial(_draw, c, steps, count, replayed, last=False),
                f"3/{parts}",
                pick_seconds,
            )
        )
    plan.append(
        (
            functools.partial(_draw, c, steps, shown, replayed, last=True),
            f"3/{parts}",
            DRAW_HOLD_SECONDS,
        )
    )
    for count in range(1, rerolls + 1):
        plan.append((functools.partial(_rerolls, c, count), f"4/{parts}", REROLL_SECONDS))
    plan.append(
        (lambda part, done: _closing(c, digest, part, done), f"{parts}/{parts}", CLOSING_SECONDS)
    )
    frames = [_frames(seconds) for _, _, seconds in plan]
    total, elapsed = sum(frames), 0
    for (make, part, _), count in zip(plan, frames, strict=True):
        elapsed += count
        yield make(part, elapsed / total).image, count


def _title(c: dict[str, Any], digest: str, progress: float) -> Card:
    commitment = c["commitment"]
    card = Card("", "", progress)
    card.y = 260
    card.line("Verifiable", 72, TEXT, gap=6)
    card.line("draw", 72, ACCENT, gap=40)
    card.field("Draw", commitment["draw_id"])
    card.field("Post", f"{commitment['platform']}  ·  {commitment['post_ref']}")
    card.field("Host", "@" + commitment["host_username"])
    card.field("Certificate SHA-256", digest, color=ACCENT)
    card.field("Issued", c["issued_at"])
    card.footer("a replay of the signed certificate, step by step")
    return card


def _commitment(c: dict[str, Any], part: str, progress: float) -> Card:
    commitment = c["commitment"]
    card = Card("The commitment", part, progress)
    card.paragraph("Published before the draw: none of it can change afterwards.", 24, MUTED)
    card.field("Committed at", commitment["committed_at"])
    card.field("Entries", f"{commitment['entries_count']:,}")
    card.field("Entries Merkle root", commitment["entries_root"])
    card.field("Seed SHA-256 (the seed stays secret)", commitment["seed_sha256"])
    card.field("Config and blacklist SHA-256", commitment["config_sha256"])
    beacon = commitment["beacon"]
    if beacon is None:
        card.field("Beacon", "no external beacon")
    else:
        card.field("Beacon", f"drand round {beacon['round']:,}", color=ACCENT)
    card.field("Commitment SHA-256", c["commitment_hash"])
    return card


def _reveal(c: dict[str, Any], part: str, progress: float) -> Card:
    commitment = c["commitment"]
    card = Card("The reveal", part, progress)
    seed = c["reveal"]["seed"]
    card.field("Seed", seed)
    matches = hashlib.sha256(bytes.fromhex(seed)).hexdigest() == commitment["seed_sha256"]
    card.y -= 12
    card.line(
        "SHA-256(seed) matches the commitment"
        if matches
        else "SHA-256(seed) does NOT match the commitment",
        22,
        GOOD if matches else BAD,
        gap=28,
    )
    beacon = c["beacon"]
    if beacon is None:
        card.field("Beacon", "no external beacon")
    else:
        card.field(f"drand round {beacon['round']:,}: randomness", beacon["randomness"])
    counts = c["counts"]
    card.field("Eligible entries", f"{counts['eligible']:,} of {counts['entries']:,}")
    excluded = [
        f"{reason.replace('_', ' ')} {n:,}" for reason, n in counts["excluded"].items() if n
    ]
    if excluded:
        card.paragraph("Excluded: " + ", ".join(excluded), 22, MUTED)
    card.paragraph(
        "The draw's randomness: HMAC-SHA256 keyed by the seed, over the commitment's hash"
        + ("" if beacon is None else " and the beacon's randomness")
        + ".",
        22,
        MUTED,
    )
    return card


def _draw(
    c: dict[str, Any],
    steps: Sequence[Step],
    count: int,
    replayed: bool,
    part: str,
    progress: float,
    *,
    last: bool = False,
) -> Card:
    config = c["config"]
    card = Card("The draw", part, progress)
    card.paragraph(
        f"The DRBG shuffles the {c['counts']['eligible']:,} eligible entries: the first"
        f" {config['winners_count']} user(s) drawn win, the next"
        f" {config['alternates_count']} are alternates."
        + ("" if replayed else " (Order as the certificate lists it: it does not replay.)"),
        22,
        MUTED,
        gap=18,
    )
    shown = steps[:count]
    first = max(0, len(shown) - VISIBLE_PICK_ROWS)
    row_height = 46
    for step in shown[first:]:
        newest = step is shown[-1] and not last
        _pick_row(card, step, card.y, newest=newest)
        card.y += row_height
    more = len(steps) - count
    if last and more > 0:
        card.y += 8
        card.line(f"… and {more:,} more pick(s): every one is in the certificate", 22, MUTED)
    return card


def _pick_row(card: Card, step: Step, y: int, *, newest: bool) -> None:
    if step.kind == "winner":
        card.draw.rounded_rectangle(
            (MARGIN - 10, y - 4, WIDTH - MARGIN + 10, y + 38), radius=10, fill=GOLD_ROW
        )
    if newest:
        card.draw.rounded_rectangle(
            (MARGIN - 10, y - 4, WIDTH - MARGIN + 10, y + 38), radius=10, outline=ACCENT, width=2
        )
    color = {"winner": GOLD, "alternate": VIOLET, "skipped": SKIPPED}[step.kind]
    name_color = TEXT if step.kind != "skipped" else SKIPPED
    if step.kind == "winner":
        left = card.badge(WIDTH - MARGIN, y + 1, f"WINNER {step.rank}", GOLD, filled=True)
    elif step.kind == "alternate":
        left = card.badge(WIDTH - MARGIN, y + 1, f"ALTERNATE {step.rank}", VIOLET, filled=False)
    else:
        left = card.badge(
            WIDTH - MARGIN, y + 1, f"SKIPPED: AS PICK {step.repeats}", SKIPPED, filled=False
        )
    middle = y + 17
    card.text((MARGIN, middle), f"pick {step.number}", 23, MUTED, anchor="lm")
    x = MARGIN + 92
    card.arrow(x, middle, color)
    x += 32
    entry = f"entry #{step.index}"
    card.text((x, middle), entry, 23, TEXT if step.kind != "skipped" else SKIPPED, anchor="lm")
    x += round(card.width_of(entry, 23)) + 10
    card.arrow(x, middle, color)
    x += 32
    name = card.fit("@" + step.username, 24, left - 12 - x)
    card.draw.text((x, middle), name, font=font(24), fill=name_color, anchor="lm")


def _rerolls(c: dict[str, Any], count: int, part: str, progress: float) -> Card:
    by_index = {p["index"]: p for p in c["winners"] + c["alternates"]}
    card = Card("The rerolls", part, progress)
    card.paragraph(
        "A winner who could not be reached is replaced by the next alternate, in rank order:"
        " recorded, never redrawn.",
        22,
        MUTED,
        gap=22,
    )
    rerolls = c["rerolls"]
    for change in rerolls[:count]:
        replaced = by_index.get(change["replaced_index"], {}).get("username", "?")
        alternate = by_index.get(change["alternate_index"], {})
        top = card.y
        card.draw.rounded_rectangle(
            (MARGIN - 10, top - 10, WIDTH - MARGIN + 10, top + 140), radius=12, fill=PANEL
        )
        card.line(f"Winner {change['rank']}", 22, GOLD, gap=8)
        card.line(f"@{replaced}  (entry #{change['replaced_index']})", 26, SKIPPED, gap=8)
        card.arrow(MARGIN, card.y + 16, VIOLET)
        card.line(
            f"@{alternate.get('username', '?')}  (alternate {alternate.get('rank', '?')},"
            f" entry #{change['alternate_index']})",
            26,
            TEXT,
            gap=8,
            x=MARGIN + 34,
        )
        card.line(f"“{change['reason']}”  ·  {change['at']}", 21, MUTED, gap=8)
        card.y = top + 166
    if count == min(len(rerolls), MAX_REROLLS_SHOWN) and len(rerolls) > count:
        card.line(f"… and {len(rerolls) - count} more: every one is in the certificate", 22, MUTED)
    return card


def _closing(c: dict[str, Any], digest: str, part: str, progress: float) -> Card:
    card = Card("The winners", part, progress)
    winners = final_winners(c)
    for rank, username in winners[:MAX_WINNERS_SHOWN]:
        top = card.y
        card.draw.rounded_rectangle(
            (MARGIN - 10, top - 4, WIDTH - MARGIN + 10, top + 40), radius=10, fill=GOLD_ROW
        )
        card.text((MARGIN + 4, top + 18), f"{rank}", 26, GOLD, anchor="lm")
        name = card.fit("@" + username, 28, WIDTH - 2 * MARGIN - 60)
        card.draw.text((MARGIN + 60, top + 18), name, font=font(28), fill=TEXT, anchor="lm")
        card.y += 54
    if len(winners) > MAX_WINNERS_SHOWN:
        card.line(f"… and {len(winners) - MAX_WINNERS_SHOWN:,} more", 22, MUTED)
    card.y += 20
    card.field("Certificate SHA-256", digest, color=ACCENT)
    signature = c["signature"]
    card.field("Signed", f"{signature['alg']}  ·  key {signature['key_id']}")
    card.line("VERIFY IT YOURSELF", 19, MUTED, gap=6)
    card.line("creatorhub draw verify", 30, GOOD, gap=6)
    card.line("certificate.json [entries.jsonl]", 22, MUTED, gap=6)
    card.footer("every frame of this video comes from the certificate")
    return card


# --- encoding -----------------------------------------------------------------------------------


def encode(
    scenes: Sequence[tuple[Image.Image, int]], certificate: dict[str, Any], digest: str
) -> bytes:
    """The pictures as H.264 in MP4 (moov first, so a browser plays it while it loads)."""
    # The muxer moves the index to the front by reading back what it wrote: a file, not a
    # stream in memory.
    with tempfile.TemporaryDirectory(prefix="creatorhub-replay-") as folder:
        path = Path(folder) / "replay.mp4"
        _encode_to(path, scenes, certificate, digest)
        return path.read_bytes()


def _encode_to(
    path: Path, scenes: Sequence[tuple[Image.Image, int]], certificate: dict[str, Any], digest: str
) -> None:
    with av.open(
        str(path), mode="w", format="mp4", options={"movflags": "+faststart"}
    ) as container:
        container.metadata["title"] = f"Verifiable draw {certificate['commitment']['draw_id']}"
        container.metadata["comment"] = f"certificate sha256:{digest}"
        stream = container.add_stream(
            "libx264",
            rate=FPS,
            options={
                "crf": CRF,
                "preset": "veryfast",
                "g": str(KEYFRAME_INTERVAL),
                # Most frames repeat the one before: long runs of B-frames cost x264 the least
                # (a third less CPU than its adaptive choice), and a new picture needs no I-frame.
                "x264-params": "bframes=16:b-adapt=0:scenecut=0",
            },
        )
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        pts = 0
        for image, frames in scenes:
            # PyAV copies the picture row by row (its rows are padded): no numpy needed.
            picture = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame = picture.reformat(format="yuv420p")
            for _ in range(frames):
                frame.pts = pts
                pts += 1
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
