"""The pattern for datasets that need a manual download, as a tfds builder.

A builder reads the published on-disk layout from a local folder (`manual_dir`),
writes `array_record` shards, and is read back with `tfds.data_source` / the
builder's `as_data_source()` — random access, no TensorFlow needed (so the
records feed a grain pipeline directly).

Worked example: the class-per-folder layout (`<root>/<class_name>/*.jpg|png`)
used by ImageNet's train split and by the Visual Sentiment Ontology's
`bi_concepts1553/<adjective_noun>/`. Images are stored as encoded PNG/JPEG
bytes (tfds encodes PIL images without TF only if given bytes or paths).

    builder = image_folder_builder(data_dir="~/tfds", manual_dir="/data/my_folders")
    builder.download_and_prepare()
    source = builder.as_data_source()["train"]      # source[i] -> {"image": uint8 HWC, "label": int, ...}
    source = read("~/tfds")                         # later, from the files alone
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

_EXTENSIONS = (".jpg", ".jpeg", ".png")


def list_image_folder(root: str) -> tuple[list[str], list[tuple[str, int]]]:
  """Class names (sorted folder names) and (path, label) pairs of `<root>/<class>/<image>`."""
  if not os.path.isdir(root):
    raise FileNotFoundError(f"manual_dir: {root} is not a folder")
  classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
  if not classes:
    raise ValueError(f"manual_dir: {root} has no class sub-folders (<root>/<class>/<image>)")
  items = []
  for label, name in enumerate(classes):
    folder = os.path.join(root, name)
    for f in sorted(os.listdir(folder)):
      if f.lower().endswith(_EXTENSIONS):
        items.append((os.path.join(folder, f), label))
  if not items:
    raise ValueError(f"manual_dir: no {_EXTENSIONS} images under {root}/<class>/")
  return classes, items


class ImageFolder(tfds.core.GeneratorBasedBuilder):
  """A class-per-folder image dataset read from `manual_dir` into array_record files."""

  VERSION = tfds.core.Version("1.0.0")
  MANUAL_DOWNLOAD_INSTRUCTIONS = "Place images as <manual_dir>/<class_name>/<image>.{jpg,png}."

  def __init__(self, *, class_names: list[str], **kwargs):
    self._class_names = list(class_names)
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(None, None, 3)),
            "label": tfds.features.ClassLabel(names=self._class_names),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager):
    _, items = list_image_folder(str(dl_manager.manual_dir))
    return {"train": self._generate_examples(items)}

  def _generate_examples(self, items):
    from PIL import Image
    from jaxvis.data.images import load_image
    for path, label in items:
      # The shared loader's EXIF / 16-bit / alpha rules; a PIL image, since tfds
      # needs TensorFlow to encode numpy arrays.
      rgb = Image.fromarray(load_image(path))
      yield path, {"image": rgb, "label": label, "filename": os.path.basename(path)}


def image_folder_builder(data_dir: str, manual_dir: str) -> ImageFolder:
  """An `ImageFolder` builder writing array_record under `data_dir`."""
  classes, _ = list_image_folder(manual_dir)
  config = tfds.download.DownloadConfig(manual_dir=manual_dir)
  builder = ImageFolder(class_names=classes, data_dir=os.path.expanduser(data_dir),
                        file_format="array_record")
  builder._download_config_for_prepare = config  # used by prepare() below
  return builder


def prepare(builder: ImageFolder) -> ImageFolder:
  """Writes the array_record files (once; later calls reuse them)."""
  builder.download_and_prepare(download_config=builder._download_config_for_prepare)
  return builder


def read(data_dir: str, split: str = "train"):
  """Reopens prepared array_record files as a random-access source (no builder code needed)."""
  folder = os.path.join(os.path.expanduser(data_dir), "image_folder", str(ImageFolder.VERSION))
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"data_dir: no prepared image_folder dataset at {folder}")
  return tfds.builder_from_directory(folder).as_data_source()[split]


def decode(record: dict) -> dict:
  """Ensures the image is a uint8 HWC numpy array (data sources return decoded numpy already)."""
  record = dict(record)
  record["image"] = np.asarray(record["image"], np.uint8)
  return record
