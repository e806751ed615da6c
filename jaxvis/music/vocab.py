"""Word lists used by the music pipeline: detector classes, person words, expressions.

Content words of a caption (the paper keeps nouns, verbs, adjectives and
adverbs) are found by dropping English function words: no part-of-speech tagger
ships offline here, and every function-word class is closed, so a stop list
removes exactly the non-content words of a plain caption.
"""

from __future__ import annotations

import re

# The 80 COCO detection classes (what SSD / Mask R-CNN models trained on COCO emit).
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush")

# Words that denote people: the expression word is inserted before them (paper 4.1.2 b-3).
PERSON_WORDS = frozenset((
    "person", "people", "man", "men", "woman", "women", "boy", "boys", "girl", "girls",
    "child", "children", "kid", "kids", "baby", "babies", "guy", "guys", "lady", "ladies",
    "gentleman", "player", "players", "astronaut", "astronauts", "worker", "workers",
    "student", "students", "couple", "family", "friends", "crowd", "team", "adult",
    "adults", "teenager", "teenagers", "toddler", "father", "mother", "son", "daughter",
    "brother", "sister", "skier", "surfer", "skateboarder", "rider", "chef", "soldier",
    "doctor", "nurse", "police", "officer", "athlete", "dancer", "singer", "tourist",
    "tourists", "pedestrian", "pedestrians", "bride", "groom", "he", "she"))

# FER2013 label order (0..6) and the adjective inserted into the caption.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EXPRESSION_ADJECTIVES = {
    "angry": "angry", "anger": "angry", "disgust": "disgusted", "fear": "fearful",
    "happy": "happy", "happiness": "happy", "sad": "sad", "sadness": "sad",
    "surprise": "surprised", "neutral": "neutral", "contempt": "contemptuous"}

STOPWORDS = frozenset("""
a an the this that these those there here some any each every either neither no nor not
of in on at by for with without within from to into onto upon over under above below
between among through during before after behind beside besides near around about
against along across toward towards off out up down past via than as like
and or but so yet if then else while when where whereas because since although though
i me my mine we us our ours you your yours he him his she her hers it its they them
their theirs who whom whose which what myself yourself himself herself itself ourselves
themselves one ones
is am are was were be been being has have had having do does did doing will would
shall should can could may might must
very too also just only still even much many more most other another such own same
""".split())

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*")


def tokenize(text: str) -> list[str]:
  """Lower-case word tokens of `text` (letters, inner hyphens and apostrophes)."""
  return [t.lower().strip("'-") for t in _TOKEN.findall(text)]


def content_words(tokens: list[str]) -> list[str]:
  """The tokens that are not function words."""
  return [t for t in tokens if t and t not in STOPWORDS]
