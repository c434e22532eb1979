"""Biosignal windows -> 3 x S x S uint8 images (one module per representation), and their shards."""

from biomoe.imaging.gallery import save_gallery, select_gallery
from biomoe.imaging.grid import save_representation_grid
from biomoe.imaging.render import REPRESENTATIONS, RenderFn, render_all, render_batch
from biomoe.imaging.shards import load_images, read_image_index, write_image_shards

__all__ = [
    "REPRESENTATIONS",
    "RenderFn",
    "load_images",
    "read_image_index",
    "render_all",
    "render_batch",
    "save_gallery",
    "save_representation_grid",
    "select_gallery",
    "write_image_shards",
]
