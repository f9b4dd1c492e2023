"""Labelled duplicate sets for bench/curate_bench.py, built from CIFAR-10 photos (../shared/datasets).

Each set is an ImageFolder tree (train/val, ten classes) of photos upscaled to 128-400 px with a light camera grain
(so that, like a photo, an original holds detail at its own size), one copy of two photos in three made by one
edit of a recipe, every kind of bad file, and valid odd files that must never be removed (flat, white, near-black
16-bit, dark, CMYK, palette, animated). Half of the copies go to the other split (leakage); one in twelve goes to
another class (a label conflict). Nine recipes make the copies in nine different ways, so that a rule chosen on
one set can be confirmed on sets it has never seen.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps
from tqdm import tqdm

SPLITS = ("train", "val")
GRAIN = 3.0  # standard deviation of the grey-level noise added to every original
CROSS_CLASS_EVERY = 12
# Two CIFAR-10 photos are one photo twice when their grey pixels correlate this much (at the best shift of up to
# SAME_PHOTO_REACH pixels): above the largest value, 0.79, among 600 random pairs of embedding neighbours that are
# not copies. Pairs of one car or dog photographed twice, found in the sets, measure 0.72-0.97: some of them stay
# counted as wrong.
SAME_PHOTO = 0.85
SAME_PHOTO_REACH = 3


@dataclass(frozen=True)
class Pair:
    original: str
    copy: str
    kind: str


@dataclass(frozen=True)
class QualitySet:
    name: str
    root: Path
    photos: list[str]  # relative paths of every good photo (originals and copies)
    pairs: list[Pair]
    odd: list[str]  # valid odd files: never to be removed
    bad: dict[str, str]  # bad file path -> expected reason
    sources: dict[str, str]  # photo path -> the CIFAR-10 photo it was made from (subset/class/name), see same_photo
    extracted: Path  # where those CIFAR-10 photos are


def extract_cifar(archive: Path, cache: Path) -> Path:
    """The archive extracted once into the cache; later runs reuse it."""
    target = cache / "cifar10-jpg"
    done = cache / ".cifar-extracted"
    if not done.exists():
        if not archive.is_file():
            raise SystemExit(f"error: {archive} not found; pass --cifar PATH to cifar10-jpg.tar.gz")
        print(f"extracting {archive} into {cache} (once)", file=sys.stderr)
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
        done.touch()
    return target


def cifar_files(extracted: Path, subset: str) -> list[tuple[str, Path]]:
    """(class, path) of every photo of a subset, in a fixed order."""
    return [(folder.name, path) for folder in sorted((extracted / subset).iterdir()) if folder.is_dir()
            for path in sorted(folder.iterdir())]


def upscaled(source: Path, rng: random.Random) -> Image.Image:
    """A CIFAR photo as a crawled picture: 128-400 px on its long side, aspect between 3:4 and 4:3."""
    with Image.open(source) as image:
        image = image.convert("RGB")
    long_side = rng.randint(128, 400)
    short = max(128, round(long_side * rng.uniform(0.75, 1.0)))
    size = (long_side, short) if rng.random() < 0.5 else (short, long_side)
    return image.resize(size, Image.Resampling.BICUBIC)


def grained(image: Image.Image, seed: int, sigma: float = GRAIN, channels: int = 1) -> Image.Image:
    """Gaussian noise added: one value per pixel for all channels (a camera's grain), or one per channel."""
    noise = np.random.default_rng(seed).normal(0, sigma, size=(image.height, image.width, channels))
    return Image.fromarray((np.asarray(image) + noise).clip(0, 255).astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def watermark(image: Image.Image, style: str, rng: random.Random) -> Image.Image:
    """Stock-photo marks: a small corner credit (mild), a translucent band with big text (strong), or big
    translucent text across the middle at an angle (diagonal)."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    width, height = base.size
    if style == "strong":
        top = rng.randint(height // 4, height // 2)
        draw.rectangle((0, top, width, top + height // 5), fill=(255, 255, 255, 110))
        font = ImageFont.load_default(size=max(12, height // 7))
        draw.text((width // 10, top + height // 40), "STOCKPHOTO", font=font, fill=(20, 20, 20, 200))
    elif style == "diagonal":
        font = ImageFont.load_default(size=max(12, height // 6))
        draw.text((width // 8, height // 3), "© example", font=font, fill=(255, 255, 255, 140))
        layer = layer.rotate(rng.choice((-30, 30)), Image.Resampling.BICUBIC)
    else:
        font = ImageFont.load_default(size=max(9, height // 16))
        text = "© photo.example"
        box = draw.textbbox((0, 0), text, font=font)
        x, y = width - (box[2] - box[0]) - 6, height - (box[3] - box[1]) - 8
        draw.text((x, y), text, font=font, fill=(255, 255, 255, 190))
    return Image.alpha_composite(base, layer).convert("RGB")


def crop(image: Image.Image, fraction: float, rng: random.Random, corner: bool = False) -> Image.Image:
    """Remove `fraction` of the width and of the height, split at random between the two sides (or all from one
    side each, `corner`)."""
    width, height = image.size
    cut_w, cut_h = round(width * fraction), round(height * fraction)
    if corner:
        left, top = rng.choice((0, cut_w)), rng.choice((0, cut_h))
    else:
        left, top = rng.randint(0, cut_w), rng.randint(0, cut_h)
    return image.crop((left, top, left + width - cut_w, top + height - cut_h))


def trimmed(image: Image.Image, fraction: float, rng: random.Random) -> Image.Image:
    """Remove `fraction` of the width or of the height, all from one side, as trimming one edge of a photo does."""
    width, height = image.size
    side = rng.choice(("left", "top", "right", "bottom"))
    cut_w, cut_h = (round(width * fraction), 0) if side in ("left", "right") else (0, round(height * fraction))
    left, top = (cut_w, 0) if side == "left" else (0, cut_h) if side == "top" else (0, 0)
    return image.crop((left, top, left + width - cut_w, top + height - cut_h))


def scaled(image: Image.Image, factor: float, method=Image.Resampling.LANCZOS) -> Image.Image:
    return image.resize((round(image.width * factor), round(image.height * factor)), method)


def rotated(image: Image.Image, degrees: float, rng: random.Random, fill=(0, 0, 0)) -> Image.Image:
    return image.rotate(rng.choice((-1, 1)) * degrees, Image.Resampling.BICUBIC, fillcolor=fill)


def bordered(image: Image.Image, rng: random.Random) -> Image.Image:
    """A frame 4-8% of the width wide, white or black, as a re-upload or a print scan adds."""
    return ImageOps.expand(image, round(image.width * rng.uniform(0.04, 0.08)), rng.choice(((255,) * 3, (0,) * 3)))


def captioned(image: Image.Image, rng: random.Random) -> Image.Image:
    """A meme-style caption: a white bar 12-18% of the height above or below the picture, with black text."""
    bar = round(image.height * rng.uniform(0.12, 0.18))
    canvas = Image.new("RGB", (image.width, image.height + bar), (255, 255, 255))
    top = rng.random() < 0.5
    canvas.paste(image, (0, bar if top else 0))
    font = ImageFont.load_default(size=max(10, bar * 2 // 3))
    ImageDraw.Draw(canvas).text((image.width // 12, (0 if top else image.height) + bar // 8), "when the photo is",
                                font=font, fill=(0, 0, 0))
    return canvas


def padded(image: Image.Image, aspect: float, colour: tuple[int, int, int]) -> Image.Image:
    """The picture centred on a canvas of `aspect` (width / height) in `colour`: letterbox or pillarbox bars, or a
    square for a feed that shows only squares."""
    width, height = image.size
    size = (max(width, round(height * aspect)), max(height, round(width / aspect)))
    canvas = Image.new("RGB", size, colour)
    canvas.paste(image, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas


def meme(image: Image.Image, rng: random.Random) -> Image.Image:
    """Black bars 10-14% of the height above and below the picture, each with a line of white text."""
    bar = round(image.height * rng.uniform(0.10, 0.14))
    canvas = Image.new("RGB", (image.width, image.height + 2 * bar), (0, 0, 0))
    canvas.paste(image, (0, bar))
    font = ImageFont.load_default(size=max(10, bar // 2))
    draw = ImageDraw.Draw(canvas)
    draw.text((image.width // 6, bar // 4), "TOP TEXT", font=font, fill=(255, 255, 255))
    draw.text((image.width // 5, image.height + bar + bar // 4), "BOTTOM TEXT", font=font, fill=(255, 255, 255))
    return canvas


def title_bar(image: Image.Image, rng: random.Random) -> Image.Image:
    """A screenshot: a light grey bar 8-12% of the height on top, with a dark title at its left."""
    bar = round(image.height * rng.uniform(0.08, 0.12))
    canvas = Image.new("RGB", (image.width, image.height + bar), (225, 225, 225))
    canvas.paste(image, (0, bar))
    font = ImageFont.load_default(size=max(8, bar // 2))
    ImageDraw.Draw(canvas).text((bar // 2, bar // 4), "photo.jpg - Viewer", font=font, fill=(40, 40, 40))
    return canvas


def hue_shifted(image: Image.Image, rng: random.Random) -> Image.Image:
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + rng.choice((-1, 1)) * 20) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def gamma(image: Image.Image, rng: random.Random) -> Image.Image:
    power = rng.choice((0.7, 1.4))
    return image.point([round(255 * (level / 255) ** power) for level in range(256)] * 3)


def vignette(image: Image.Image, rng: random.Random) -> Image.Image:
    """Corners darkened to 45-60% of their level, falling off with the square of the distance from the centre."""
    width, height = image.size
    y, x = np.ogrid[-1:1:complex(0, height), -1:1:complex(0, width)]
    falloff = 1 - rng.uniform(0.4, 0.55) * (x * x + y * y) / 2
    return Image.fromarray((np.asarray(image) * falloff[..., None]).clip(0, 255).astype(np.uint8), "RGB")


def warm_filter(image: Image.Image, rng: random.Random) -> Image.Image:
    """A phone app's warm look: red up, blue down, a little more contrast."""
    red, green, blue = image.split()
    warmed = Image.merge("RGB", (red.point(lambda v: min(255, round(v * 1.08))), green,
                                 blue.point(lambda v: round(v * 0.85))))
    return ImageEnhance.Contrast(warmed).enhance(rng.uniform(1.1, 1.2))


def stamped(image: Image.Image, rng: random.Random) -> Image.Image:
    """A preview stamp: big, nearly opaque white text across the middle."""
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=max(14, image.width // 6))
    ImageDraw.Draw(layer).text((image.width // 8, image.height * 2 // 5), "SAMPLE", font=font,
                               fill=(255, 255, 255, rng.randint(200, 230)))
    return Image.alpha_composite(base, layer).convert("RGB")


def logo(image: Image.Image, rng: random.Random) -> Image.Image:
    """An opaque badge 14-20% of the width in one corner, as a channel or shop puts on its pictures."""
    side = round(image.width * rng.uniform(0.14, 0.20))
    left = rng.choice((side // 4, image.width - side - side // 4))
    top = rng.choice((side // 4, image.height - side - side // 4))
    marked = image.copy()
    draw = ImageDraw.Draw(marked)
    draw.rounded_rectangle((left, top, left + side, top + side), radius=side // 5, fill=(200, 30, 40))
    draw.text((left + side // 4, top + side // 6), "TV", font=ImageFont.load_default(size=max(8, side // 2)),
              fill=(255, 255, 255))
    return marked


def polaroid(image: Image.Image, rng: random.Random) -> Image.Image:
    """An instant-photo frame: off-white, 4-6% of the width on three sides and 18-24% below."""
    side = round(image.width * rng.uniform(0.04, 0.06))
    below = round(image.height * rng.uniform(0.18, 0.24))
    canvas = Image.new("RGB", (image.width + 2 * side, image.height + side + below), (245, 243, 236))
    canvas.paste(image, (side, side))
    return canvas


def on_blurred_backdrop(image: Image.Image, rng: random.Random) -> Image.Image:
    """The picture centred on a square of its own enlarged, blurred copy, as feeds that show only squares do."""
    side = max(image.size)
    scale = side / min(image.size)
    backdrop = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    left, top = (backdrop.width - side) // 2, (backdrop.height - side) // 2
    backdrop = backdrop.crop((left, top, left + side, top + side))
    backdrop = backdrop.filter(ImageFilter.GaussianBlur(rng.uniform(8, 14)))
    backdrop.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return backdrop


def squashed(image: Image.Image, rng: random.Random) -> Image.Image:
    """Narrowed to 86-90% of its width, as a feed that forces an aspect ratio does."""
    return image.resize((round(image.width * rng.uniform(0.86, 0.90)), image.height), Image.Resampling.BILINEAR)


def colour_cast(image: Image.Image, rng: random.Random) -> Image.Image:
    """A cold or warm white balance: red and blue scaled 8-12% in opposite directions."""
    shift = rng.choice((-1, 1)) * rng.uniform(0.08, 0.12)
    red, green, blue = image.split()
    return Image.merge("RGB", (red.point(lambda v: min(255, round(v * (1 + shift)))), green,
                               blue.point(lambda v: min(255, round(v * (1 - shift))))))


def banner(image: Image.Image, rng: random.Random) -> Image.Image:
    """A coloured sale banner across the bottom 10-14% of the picture itself, with white text."""
    marked = image.copy()
    top = image.height - round(image.height * rng.uniform(0.10, 0.14))
    draw = ImageDraw.Draw(marked)
    draw.rectangle((0, top, image.width, image.height), fill=rng.choice(((200, 20, 30), (20, 90, 200))))
    font = ImageFont.load_default(size=max(8, (image.height - top) * 2 // 3))
    draw.text((image.width // 10, top + (image.height - top) // 8), "NOW 50% OFF", font=font, fill=(255, 255, 255))
    return marked


def on_canvas(image: Image.Image, rng: random.Random) -> Image.Image:
    """A screenshot of a page: the picture off centre on a light canvas 25-40% larger each way."""
    scale = rng.uniform(1.25, 1.40)
    canvas = Image.new("RGB", (round(image.width * scale), round(image.height * scale)), (236, 238, 240))
    canvas.paste(image, (rng.randint(0, canvas.width - image.width), rng.randint(0, canvas.height - image.height)))
    return canvas


def sticker(image: Image.Image, rng: random.Random) -> Image.Image:
    """An opaque yellow disc 18-24% of the width somewhere inside the picture, as a sticker or an emoji."""
    side = round(image.width * rng.uniform(0.18, 0.24))
    left, top = rng.randint(0, image.width - side), rng.randint(0, image.height - side)
    marked = image.copy()
    ImageDraw.Draw(marked).ellipse((left, top, left + side, top + side), fill=(250, 210, 40), outline=(40, 30, 0))
    return marked


def reshaped(image: Image.Image, aspect: float, place: float = 0.5) -> Image.Image:
    """The largest crop of `aspect` (width / height), placed at `place` of the room it leaves (0.5: centred), as a
    feed or a link preview cuts a picture to its own shape."""
    width, height = image.size
    cut_w, cut_h = max(0, width - round(height * aspect)), max(0, height - round(width / aspect))
    left, top = round(cut_w * place), round(cut_h * place)
    return image.crop((left, top, left + width - cut_w, top + height - cut_h))


Edit = Callable[[Image.Image, random.Random], Image.Image]
JPEG90 = {"quality": 90}

# Recipe "graded": the edits the rules were first tuned on, mild and strong. Recipe "other": other makers' copies.
# Recipe "fresh": edits none of the rules were ever looked at on (frames, captions, blur, colour, stretch, WebP,
# mirrors combined with tone, corner crops and WebP). Recipe "unseen": written after the margin rule was chosen on
# "fresh" and before any rule ran on it (bars, padding, meme and title bars, frames with resize or mirror, hue,
# gamma, noise, sharpening, a small corner crop, a 2-degree rotation). Recipe "blind": written after near_pairs'
# packing change and before any rule ran on it (thumbnails, a mirror with crop and resize, a rotation with a white
# fill then a crop, a 10% crop as WebP, phone filters, vignette, sepia, posterize, a median filter, two resizes,
# a stamp, a corner logo, an instant-photo frame, a blurred square backdrop). Recipe "candid": written after the
# whole-picture hash change to inspect and before any rule ran on it (a 15% crop, mirrors with a corner crop or a
# resize at JPEG 60, a small rotation then a crop, a narrowed aspect, a colour cast, lower contrast with more light,
# a coloured banner inside the picture, a page screenshot, a halved and sharpened copy, luminance grain, a mild
# resize at JPEG 75, a sticker). Recipe "feeds": written after the square view's first trial (on square crops of
# the selection set's originals) and before any rule ran on it: pictures cut to a feed's shape (a centred square,
# as is, as a small thumbnail, mirrored, captioned or as WebP; a square off centre; a 4:5 portrait; a 1.91:1 link
# preview) among a resize at JPEG 70, a mirror with a 6% crop, a brightness change and a corner credit. Recipe
# "shapes": written after the feeds set was scored and before any view for a shape other than the centred square was
# built or tried: squares anywhere along the picture, small, mirrored at an edge or brighter; 4:5 portraits resized,
# off centre or mirrored as WebP; 1.91:1 previews from the upper part or small; 16:9, 9:16 and 3:2 cuts; a resize as
# WebP and an 8% corner crop at JPEG 75. Recipe "offsets": written after the shapes set was scored and before any crop
# view besides the centre and the four corners was built or tried: crops of 7-12% anywhere (at JPEG 60, resized,
# sharpened, grey), mirrors cropped anywhere (resized, as WebP, brighter or darker), one side trimmed, a rotation then
# a crop, and a plain resize at JPEG 50. Recipe "bands": written after the offsets set was scored and before any view
# for a shape other than those of the shapes set was built or tried: 3:2 cuts near the centre or smaller at JPEG 70,
# a 2:3 pin, 16:9 frames near the centre as WebP or halved, 1.91:1 previews that keep the upper third or mirrored,
# a 2:1 banner, a 5:4 print, 4:5 portraits near an edge, squares at a third, 9:16 stories near the centre, among a
# resize at JPEG 80 and a mirrored resize. Recipe "places": written after dense cut places were tried on the
# shapes, bands and feeds sets and before any were tried on it: every cut at a place drawn anywhere along the
# picture (a square as is, small at JPEG 75 or brighter, a 4:5 portrait as is or at JPEG 60, a 2:3 pin, a 9:16 story
# as WebP, a 5:4 print, a mirrored 3:2 photo, a halved 16:9 frame, a 1.91:1 preview, a 2:1 banner), among a resize
# at JPEG 85 and a mirror cropped by 8%.
RECIPES: dict[str, dict[str, Edit | None]] = {
    "graded": {
        "exact-bytes": None,
        "resize-mild": lambda im, rng: scaled(im, 0.7),
        "resize-strong": lambda im, rng: scaled(im, 0.35),
        "upscale-2x": lambda im, rng: scaled(im, 2.0, Image.Resampling.BICUBIC),
        "jpeg-50": lambda im, rng: im,
        "jpeg-15": lambda im, rng: im,
        "grayscale": lambda im, rng: im.convert("L"),
        "crop-6": lambda im, rng: crop(im, 0.06, rng),
        "crop-10": lambda im, rng: crop(im, 0.10, rng),
        "brightness-20": lambda im, rng: ImageEnhance.Brightness(im).enhance(1 + rng.choice((-1, 1)) * 0.2),
        "brightness-45": lambda im, rng: ImageEnhance.Brightness(im).enhance(1 + rng.choice((-1, 1)) * 0.45),
        "watermark-mild": lambda im, rng: watermark(im, "mild", rng),
        "watermark-strong": lambda im, rng: watermark(im, "strong", rng),
        "rotate-3": lambda im, rng: rotated(im, 3, rng),
        "rotate-5": lambda im, rng: rotated(im, 5, rng),
        "mirror": lambda im, rng: ImageOps.mirror(im),
    },
    "other": {
        "exact-png": None,
        "resize-0.5": lambda im, rng: scaled(im, 0.5, Image.Resampling.BILINEAR),
        "upscale-1.5x": lambda im, rng: scaled(im, 1.5, Image.Resampling.LANCZOS),
        "jpeg-30": lambda im, rng: im,
        "contrast": lambda im, rng: ImageEnhance.Contrast(im).enhance(rng.choice((0.7, 1.3))),
        "crop-10-corner": lambda im, rng: crop(im, 0.10, rng, corner=True),
        "crop-8-resize": lambda im, rng: scaled(crop(im, 0.08, rng), 0.8),
        "watermark-diagonal": lambda im, rng: watermark(im, "diagonal", rng),
        "rotate-5-white": lambda im, rng: rotated(im, 5, rng, fill=(255, 255, 255)),
        "mirror-resize": lambda im, rng: scaled(ImageOps.mirror(im), 0.6),
        "mirror-jpeg": lambda im, rng: ImageOps.mirror(im),
        "mirror-crop-5": lambda im, rng: crop(ImageOps.mirror(im), 0.05, rng),
    },
    "fresh": {
        "mirror-brightness": lambda im, rng: ImageEnhance.Brightness(ImageOps.mirror(im)).enhance(
            1 + rng.choice((-1, 1)) * 0.15),
        "mirror-crop-8-corner": lambda im, rng: crop(ImageOps.mirror(im), 0.08, rng, corner=True),
        "mirror-webp": lambda im, rng: ImageOps.mirror(im),
        "crop-12": lambda im, rng: crop(im, 0.12, rng),
        "crop-10-resize": lambda im, rng: scaled(crop(im, 0.10, rng), 0.75),
        "border": bordered,
        "caption": captioned,
        "blur": lambda im, rng: im.filter(ImageFilter.GaussianBlur(1.2)),
        "saturation": lambda im, rng: ImageEnhance.Color(im).enhance(rng.choice((0.5, 1.6))),
        "rotate-4-crop": lambda im, rng: crop(rotated(im, 4, rng), 0.08, rng),
        "stretch": lambda im, rng: im.resize((round(im.width * 1.12), im.height), Image.Resampling.BICUBIC),
        "jpeg-20-resize": lambda im, rng: scaled(im, 0.6),
    },
    "unseen": {
        "letterbox": lambda im, rng: padded(im, 16 / 9 if im.width >= im.height else 9 / 16, (0, 0, 0)),
        "pad-square": lambda im, rng: padded(im, 1.0, (255, 255, 255)),
        "meme": meme,
        "title-bar": title_bar,
        "frame-resize": lambda im, rng: scaled(ImageOps.expand(im, round(im.width * rng.uniform(0.03, 0.06)),
                                                               (128, 128, 128)), 0.7),
        "caption-webp": captioned,
        "mirror-frame": lambda im, rng: bordered(ImageOps.mirror(im), rng),
        "crop-7-corner": lambda im, rng: crop(im, 0.07, rng, corner=True),
        "rotate-2": lambda im, rng: rotated(im, 2, rng),
        "gamma": gamma,
        "sharpen": lambda im, rng: im.filter(ImageFilter.UnsharpMask(2, 150, 3)),
        "hue": hue_shifted,
        "noise": lambda im, rng: grained(im, rng.randrange(2**32), sigma=8, channels=3),
        "down-up": lambda im, rng: im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR).resize(
            im.size, Image.Resampling.BICUBIC),
    },
    "blind": {
        "thumbnail": lambda im, rng: scaled(im, 0.4),
        "mirror-crop-resize": lambda im, rng: scaled(crop(ImageOps.mirror(im), 0.09, rng), 0.8),
        "rotate-3-white-crop": lambda im, rng: crop(rotated(im, 3, rng, fill=(255, 255, 255)), 0.04, rng),
        "crop-10-webp": lambda im, rng: crop(im, 0.10, rng),
        "warm-filter": warm_filter,
        "vignette": vignette,
        "sepia": lambda im, rng: ImageOps.colorize(im.convert("L"), (40, 26, 13), (255, 240, 192)),
        "posterize": lambda im, rng: ImageOps.posterize(im, 4),
        "median": lambda im, rng: im.filter(ImageFilter.MedianFilter(3)),
        "double-resize": lambda im, rng: scaled(scaled(im, 0.8), 1.1),
        "stamp": stamped,
        "logo-corner": logo,
        "polaroid": polaroid,
        "blurred-backdrop": on_blurred_backdrop,
    },
    "candid": {
        "crop-15": lambda im, rng: crop(im, 0.15, rng),
        "mirror-crop-10-corner": lambda im, rng: crop(ImageOps.mirror(im), 0.10, rng, corner=True),
        "mirror-resize-jpeg-60": lambda im, rng: scaled(ImageOps.mirror(im), 0.7),
        "rotate-1.5-crop-5": lambda im, rng: crop(rotated(im, 1.5, rng), 0.05, rng),
        "squash": squashed,
        "colour-cast": colour_cast,
        "contrast-down-brighter": lambda im, rng: ImageEnhance.Brightness(ImageEnhance.Contrast(im).enhance(0.8))
        .enhance(1.1),
        "banner": banner,
        "screenshot": on_canvas,
        "half-sharpen": lambda im, rng: scaled(im, 0.5).filter(ImageFilter.UnsharpMask(1, 80, 2)),
        "grain-luma": lambda im, rng: grained(im, rng.randrange(2**32), sigma=5),
        "resize-jpeg-75": lambda im, rng: scaled(im, 0.85, Image.Resampling.BICUBIC),
        "sticker": sticker,
    },
    "feeds": {
        "square-centre": lambda im, rng: reshaped(im, 1.0),
        "square-thumbnail": lambda im, rng: reshaped(im, 1.0).resize((150, 150), Image.Resampling.BICUBIC),
        "mirror-square": lambda im, rng: reshaped(ImageOps.mirror(im), 1.0),
        "square-caption": lambda im, rng: captioned(reshaped(im, 1.0), rng),
        "square-webp": lambda im, rng: scaled(reshaped(im, 1.0), 0.8),
        "square-off-centre": lambda im, rng: reshaped(im, 1.0, rng.choice((0.2, 0.8))),
        "portrait-4-5": lambda im, rng: reshaped(im, 0.8),
        "preview-1.91": lambda im, rng: reshaped(im, 1.91),
        "resize-jpeg-70": lambda im, rng: scaled(im, 0.6),
        "mirror-crop-6": lambda im, rng: crop(ImageOps.mirror(im), 0.06, rng),
        "brightness-15": lambda im, rng: ImageEnhance.Brightness(im).enhance(1 + rng.choice((-1, 1)) * 0.15),
        "credit-corner": lambda im, rng: watermark(im, "mild", rng),
    },
    "shapes": {
        "square-anywhere": lambda im, rng: reshaped(im, 1.0, rng.uniform(0.0, 1.0)),
        "square-small": lambda im, rng: reshaped(im, 1.0, rng.uniform(0.35, 0.65)).resize(
            (100, 100), Image.Resampling.BILINEAR),
        "mirror-square-edge": lambda im, rng: reshaped(ImageOps.mirror(im), 1.0, rng.choice((0.0, 1.0))),
        "square-brighter": lambda im, rng: ImageEnhance.Brightness(reshaped(im, 1.0, rng.uniform(0.3, 0.7))).enhance(
            1.12),
        "portrait-4-5-resize": lambda im, rng: scaled(reshaped(im, 0.8), 0.75),
        "portrait-4-5-off-centre": lambda im, rng: reshaped(im, 0.8, rng.uniform(0.25, 0.75)),
        "mirror-portrait-4-5": lambda im, rng: reshaped(ImageOps.mirror(im), 0.8),
        "preview-1.91-upper": lambda im, rng: reshaped(im, 1.91, rng.uniform(0.2, 0.45)),
        "preview-1.91-small": lambda im, rng: scaled(reshaped(im, 1.91), 0.6),
        "widescreen-16-9": lambda im, rng: reshaped(im, 16 / 9, rng.uniform(0.4, 0.6)),
        "story-9-16": lambda im, rng: reshaped(im, 9 / 16),
        "photo-3-2": lambda im, rng: reshaped(im, 1.5),
        "resize-0.7-webp": lambda im, rng: scaled(im, 0.7),
        "crop-8-corner-jpeg-75": lambda im, rng: crop(im, 0.08, rng, corner=True),
    },
    "offsets": {
        "crop-10": lambda im, rng: crop(im, 0.10, rng),
        "crop-10-jpeg-60": lambda im, rng: crop(im, 0.10, rng),
        "crop-12-resize": lambda im, rng: scaled(crop(im, 0.12, rng), 0.7),
        "crop-10-sharpen": lambda im, rng: crop(im, 0.10, rng).filter(ImageFilter.UnsharpMask(2, 120, 3)),
        "crop-7-grey": lambda im, rng: crop(im, 0.07, rng).convert("L"),
        "mirror-crop-10": lambda im, rng: crop(ImageOps.mirror(im), 0.10, rng),
        "mirror-crop-8-resize": lambda im, rng: scaled(crop(ImageOps.mirror(im), 0.08, rng), 0.6),
        "mirror-crop-12-webp": lambda im, rng: crop(ImageOps.mirror(im), 0.12, rng),
        "mirror-crop-6-tone": lambda im, rng: ImageEnhance.Brightness(crop(ImageOps.mirror(im), 0.06, rng)).enhance(
            1 + rng.choice((-1, 1)) * 0.08),
        "trim-8-one-side": lambda im, rng: trimmed(im, 0.08, rng),
        "rotate-4-crop-9": lambda im, rng: crop(rotated(im, 4, rng), 0.09, rng),
        "resize-0.5-jpeg-50": lambda im, rng: scaled(im, 0.5),
    },
    "bands": {
        "photo-3-2-near-centre": lambda im, rng: reshaped(im, 1.5, rng.uniform(0.4, 0.6)),
        "photo-3-2-small": lambda im, rng: scaled(reshaped(im, 1.5), 0.8),
        "portrait-2-3": lambda im, rng: reshaped(im, 2 / 3),
        "widescreen-16-9-webp": lambda im, rng: reshaped(im, 16 / 9, rng.uniform(0.45, 0.55)),
        "widescreen-16-9-half": lambda im, rng: scaled(reshaped(im, 16 / 9), 0.5),
        "preview-1.91-third": lambda im, rng: reshaped(im, 1.91, rng.uniform(0.28, 0.38)),
        "mirror-preview-1.91": lambda im, rng: reshaped(ImageOps.mirror(im), 1.91),
        "banner-2-1": lambda im, rng: reshaped(im, 2.0),
        "print-5-4": lambda im, rng: reshaped(im, 1.25),
        "portrait-4-5-edge": lambda im, rng: reshaped(im, 0.8, rng.choice((0.1, 0.9))),
        "square-third": lambda im, rng: reshaped(im, 1.0, rng.choice((1 / 3, 2 / 3))),
        "story-9-16-near-centre": lambda im, rng: reshaped(im, 9 / 16, rng.uniform(0.35, 0.65)),
        "resize-0.75-jpeg-80": lambda im, rng: scaled(im, 0.75),
        "mirror-resize-0.6": lambda im, rng: scaled(ImageOps.mirror(im), 0.6),
    },
    "places": {
        "square-anywhere": lambda im, rng: reshaped(im, 1.0, rng.random()),
        "square-anywhere-small": lambda im, rng: reshaped(im, 1.0, rng.random()).resize(
            (120, 120), Image.Resampling.BICUBIC),
        "square-anywhere-brighter": lambda im, rng: ImageEnhance.Brightness(reshaped(im, 1.0, rng.random())).enhance(
            1.1),
        "portrait-4-5-anywhere": lambda im, rng: reshaped(im, 0.8, rng.random()),
        "portrait-4-5-anywhere-jpeg-60": lambda im, rng: reshaped(im, 0.8, rng.random()),
        "pin-2-3-anywhere": lambda im, rng: reshaped(im, 2 / 3, rng.random()),
        "story-9-16-anywhere-webp": lambda im, rng: reshaped(im, 9 / 16, rng.random()),
        "print-5-4-anywhere": lambda im, rng: reshaped(im, 1.25, rng.random()),
        "mirror-photo-3-2-anywhere": lambda im, rng: reshaped(ImageOps.mirror(im), 1.5, rng.random()),
        "video-16-9-anywhere-half": lambda im, rng: scaled(reshaped(im, 16 / 9, rng.random()), 0.5),
        "preview-1.91-anywhere": lambda im, rng: reshaped(im, 1.91, rng.random()),
        "banner-2-1-anywhere": lambda im, rng: reshaped(im, 2.0, rng.random()),
        "resize-0.8-jpeg-85": lambda im, rng: scaled(im, 0.8),
        "mirror-crop-8": lambda im, rng: crop(ImageOps.mirror(im), 0.08, rng),
    },
}
QUALITY_OF = {"jpeg-50": 50, "jpeg-15": 15, "jpeg-30": 30, "mirror-jpeg": 40, "jpeg-20-resize": 20, "thumbnail": 40,
              "double-resize": 60, "mirror-resize-jpeg-60": 60, "resize-jpeg-75": 75, "square-thumbnail": 75,
              "resize-jpeg-70": 70, "square-small": 80, "portrait-4-5-resize": 80, "preview-1.91-small": 75,
              "crop-8-corner-jpeg-75": 75, "crop-10-jpeg-60": 60, "resize-0.5-jpeg-50": 50, "photo-3-2-small": 70,
              "widescreen-16-9-half": 80, "resize-0.75-jpeg-80": 80, "square-anywhere-small": 75,
              "portrait-4-5-anywhere-jpeg-60": 60, "video-16-9-anywhere-half": 80, "resize-0.8-jpeg-85": 85}
# Saved as lossy WebP (quality 70) instead of JPEG.
WEBP_KINDS = frozenset({"mirror-webp", "caption-webp", "crop-10-webp", "square-webp", "mirror-portrait-4-5",
                        "resize-0.7-webp", "mirror-crop-12-webp", "widescreen-16-9-webp",
                        "story-9-16-anywhere-webp"})
EXACT_KINDS = frozenset({"exact-bytes", "exact-png"})


def make_copy(kind: str, edit: Edit | None, image: Image.Image, original: bytes, rng: random.Random
              ) -> tuple[bytes, str]:
    """(bytes, extension) of one copy of `image` (whose file holds `original`)."""
    if kind == "exact-bytes":
        return original, "jpg"
    if kind == "exact-png":
        with Image.open(io.BytesIO(original)) as decoded:
            return encode(decoded.convert("RGB"), "PNG"), "png"
    assert edit is not None
    if kind in WEBP_KINDS:
        return encode(edit(image, rng), "WEBP", quality=70), "webp"
    return encode(edit(image, rng), quality=QUALITY_OF.get(kind, 90)), "jpg"


def odd_files(photos: list[Image.Image], rng: random.Random) -> list[tuple[str, bytes]]:
    """(name, bytes) of valid files that look nothing like a typical photo; each is distinct (no two share pixels),
    (sizes differ between calls), and the flat ones are near each other on any perceptual hash."""
    grey = rng.randint(100, 150)
    near_black = np.asarray(photos[0].convert("L"), np.uint16) * 239 // 255 + 16  # 16-bit values 16-254
    cmyk, palette, animated = photos[1].convert("CMYK"), photos[2].quantize(64), io.BytesIO()
    frames = [photos[3], ImageEnhance.Brightness(photos[3]).enhance(0.8)]
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    white = np.full((rng.randint(150, 250), rng.randint(150, 250), 3), 250, np.uint8)
    white[::7, ::5] = 249  # a blank scan: paper with faint dust
    return [
        ("flat-grey.jpg", encode(Image.new("RGB", (rng.randint(150, 300), 200), (grey,) * 3), quality=90)),
        ("flat-grey2.png", encode(Image.new("RGB", (180, rng.randint(150, 300)), (grey + 3,) * 3), "PNG")),
        ("white.jpg", encode(Image.new("RGB", (rng.randint(200, 400), 300), (252, 252, 252)), quality=90)),
        ("blank-scan.png", encode(Image.fromarray(white), "PNG")),
        ("black.png", encode(Image.new("L", (rng.randint(100, 300), 120), 0), "PNG")),
        ("near-black-16bit.png", encode(Image.fromarray(near_black.astype(np.uint16)), "PNG")),
        ("dark-frame.jpg", encode(ImageEnhance.Brightness(photos[4]).enhance(0.12), quality=90)),
        ("cmyk.jpg", encode(cmyk, quality=90)),
        ("palette.png", encode(palette, "PNG")),
        ("animated.gif", animated.getvalue()),
    ]


def bad_files(photo: Image.Image, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(name, expected reason, bytes) of one file of every kind curate must reject, built from a real photo."""
    jpeg = encode(photo, quality=90)
    png = encode(photo, "PNG")
    huffman = jpeg.find(b"\xff\xc4")
    noise = rng.randbytes(rng.randint(500, 20_000))
    words = " ".join(rng.choice(("cat", "dog", "photo", "image", "lorem", "ipsum")) for _ in range(200))
    return [
        ("empty.jpg", "empty", b""),
        ("page.jpg", "not-image", b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body>" +
         words.encode() + b"</body></html>"),
        ("drawing.svg", "not-image", (b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
                                      b'<rect width="200" height="200" fill="teal"/></svg>')),
        ("notes.jpg", "not-image", words.encode()),
        ("noise.jpg", "not-image", b"\x00" + noise),
        ("half.jpg", "truncated", jpeg[: len(jpeg) // 2]),
        ("most.jpg", "truncated", jpeg[: int(len(jpeg) * 0.9)]),
        ("half.png", "truncated", png[: len(png) // 2]),
        ("corrupt.jpg", "undecodable", jpeg[: huffman + 5] + b"\xff" * 16 + jpeg[huffman + 21:]),
        ("bomb.png", "too-many-pixels", encode(Image.new("1", (9000, 9000)), "PNG")),
        ("tiny.jpg", "too-small", encode(photo.resize((24, 24)), quality=90)),
        ("banner.jpg", "extreme-aspect", encode(photo.resize((600, 60)), quality=90)),
    ]


def build_quality_set(extracted: Path, cache: Path, recipe: str, originals: int, odd_sets: int, seed: int
                      ) -> QualitySet:
    """Generate (once per recipe, size and seed) the labelled tree; labels in labels.json beside it."""
    name = f"{recipe}-{originals}-seed{seed}"
    folder = cache / f"set-{name}"
    labels = folder / "labels.json"
    saved = json.loads(labels.read_text()) if labels.is_file() else {}
    if "sources" in saved:
        return QualitySet(name, folder / "data", saved["photos"], [Pair(*p) for p in saved["pairs"]], saved["odd"],
                          saved["bad"], saved["sources"], extracted)
    rng = random.Random(f"{recipe}/{seed}")
    pool = cifar_files(extracted, "train") + cifar_files(extracted, "test")
    chosen = rng.sample(pool, originals + 5 * odd_sets)
    classes = sorted({label for label, _ in pool})
    root = folder / "data"
    shutil.rmtree(folder, ignore_errors=True)
    photos: list[str] = []
    pairs: list[Pair] = []
    made_from: dict[str, str] = {}
    edits = RECIPES[recipe]
    kinds = list(edits)
    for number, (label, source) in enumerate(tqdm(chosen[:originals], desc=f"set {name}", unit="img",
                                                  file=sys.stderr)):
        image = grained(upscaled(source, rng), rng.randrange(2**32))
        split = "train" if rng.random() < 0.8 else "val"
        original_path = f"{split}/{label}/q{number:05d}.jpg"
        original = encode(image, **JPEG90)
        write(root / original_path, original)
        photos.append(original_path)
        made_from[original_path] = source.relative_to(extracted).as_posix()
        if number % 3 == 2:
            continue
        copies_made = number - number // 3
        kind = kinds[copies_made % len(kinds)]
        data, extension = make_copy(kind, edits[kind], image, original, rng)
        copy_split = split if rng.random() < 0.5 else SPLITS[1 - SPLITS.index(split)]
        other_class = rng.random() < 1 / CROSS_CLASS_EVERY
        copy_label = rng.choice([c for c in classes if c != label]) if other_class else label
        copy_path = f"{copy_split}/{copy_label}/q{number:05d}c.{extension}"
        write(root / copy_path, data)
        photos.append(copy_path)
        made_from[copy_path] = made_from[original_path]
        pairs.append(Pair(original_path, copy_path, kind))
    odd: list[str] = []
    rest = chosen[originals:]
    for number in range(odd_sets):
        pictures = [grained(upscaled(source, rng), rng.randrange(2**32))
                    for _, source in rest[5 * number:5 * number + 5]]
        for file_name, data in odd_files(pictures, rng):
            path = f"{rng.choice(SPLITS)}/{rng.choice(classes)}/odd{number:03d}_{file_name}"
            write(root / path, data)
            odd.append(path)
    bad: dict[str, str] = {}
    for number in range(odd_sets):
        label, source = rng.choice(pool)
        for file_name, reason, data in bad_files(upscaled(source, rng), rng):
            path = f"{rng.choice(SPLITS)}/{label}/bad{number:03d}_{file_name}"
            write(root / path, data)
            bad[path] = reason
    labels.write_text(json.dumps({"photos": photos, "pairs": [[p.original, p.copy, p.kind] for p in pairs],
                                  "odd": odd, "bad": bad, "sources": made_from}))
    return QualitySet(name, root, photos, pairs, odd, bad, made_from, extracted)


def grey_source(extracted: Path, source: str) -> np.ndarray:
    with Image.open(extracted / source) as image:
        return np.asarray(image.convert("L"), dtype=np.float64)


def same_photo(extracted: Path, first: str, second: str) -> bool:
    """Whether two CIFAR-10 photos are one photo twice (CIFAR-10 holds such near-duplicates: the same car or dog,
    cropped or tinted differently): their grey pixels, at their own 32 px, correlate at least SAME_PHOTO at the
    best shift of up to SAME_PHOTO_REACH pixels either way, mirrored or not."""
    if not first or not second:
        return False
    a, b = grey_source(extracted, first), grey_source(extracted, second)
    side, reach, best = len(a), SAME_PHOTO_REACH, -1.0
    for other in (b, b[:, ::-1]):
        for dy in range(-reach, reach + 1):
            for dx in range(-reach, reach + 1):
                x = a[max(dy, 0) : side + min(dy, 0), max(dx, 0) : side + min(dx, 0)].ravel()
                y = other[max(-dy, 0) : side + min(-dy, 0), max(-dx, 0) : side + min(-dx, 0)].ravel()
                x, y = x - x.mean(), y - y.mean()
                best = max(best, float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-9)))
    return best >= SAME_PHOTO


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def speed_photo(job: tuple[Path, Path, int]) -> None:
    source, target, seed = job
    write(target, encode(grained(upscaled(source, random.Random(seed)), seed), **JPEG90))


def speed_jobs(extracted: Path, cache: Path, size: int) -> list[tuple[Path, Path, int]]:
    """`size` distinct photos (the whole archive holds 60,000) as (source, target, seed) jobs for `speed_photo`."""
    folder = cache / "speed"
    pool = cifar_files(extracted, "train") + cifar_files(extracted, "test")
    if size > len(pool):
        raise SystemExit(f"error: --speed-size {size} is over the {len(pool)} photos in the archive")
    return [(source, folder / label / f"s{number:05d}.jpg", number) for number, (label, source) in
            enumerate(pool[:size])]
