"""The image search engines the collector can query, by name, in the order `--engine all` uses them."""

from ..candidate import ImageHit
from . import baidu, bing, duckduckgo, openverse, wikimedia
from .base import Engine, EngineFormatError, Page, PageRequest

ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (bing.ENGINE, baidu.ENGINE, duckduckgo.ENGINE, wikimedia.ENGINE, openverse.ENGINE)
}
DEFAULT_ENGINE = "bing"

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Engine", "EngineFormatError", "ImageHit", "Page", "PageRequest"]
