"""Image-to-music recommendation through the arousal-valence plane.

Reimplements "物体の色や表情情報を利用した画像の印象にあった音楽推薦手法の提案"
(image-to-music recommendation from objects, colours and facial expressions):
extraction (method A: detected objects weighted by area; method B: caption,
facial expression and dominant colours) -> impression words with AV values ->
spherical k-means (k = 4) -> quadrant narrowing -> the nearest songs.

    from jaxvis import music
    rec = music.MusicRecommender(music.load_songs("songs.csv"))
    out = rec.recommend(image, caption="a man sitting on a bench").to_json()
"""

from jaxvis.music.coco import (decode_rle, encode_rle, load_caption_results, load_categories,
                               load_detection_results)
from jaxvis.music.expression import image_expressions
from jaxvis.music.lexicon import AVLexicon, balanced, default_lexicon, load_lexicon
from jaxvis.music.pipeline import (MusicConfig, MusicRecommender, Recommendation,
                                   load_reference_means)
from jaxvis.music.plane import (choose_quadrant, cluster_points, impression_points,
                                nearest_songs, quadrant_counts, quadrant_of)
from jaxvis.music.songs import Songs, load_deam, load_songs, load_songs_csv
from jaxvis.music.wordvec import WordVectors, top_k_similar

__all__ = [
    "balanced", "decode_rle", "encode_rle", "image_expressions", "load_caption_results",
    "load_categories", "load_detection_results", "load_reference_means",
    "AVLexicon", "MusicConfig", "MusicRecommender", "Recommendation", "Songs", "WordVectors",
    "choose_quadrant", "cluster_points", "default_lexicon", "impression_points", "load_deam",
    "load_lexicon", "load_songs", "load_songs_csv", "nearest_songs", "quadrant_counts",
    "quadrant_of", "top_k_similar",
]
