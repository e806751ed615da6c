"""WIDER FACE and CelebA readers on generated trees in exactly the published formats."""

import os

import numpy as np
import pytest

from jaxvis.faces import celeba, fixtures, wider


@pytest.fixture(scope="module")
def wider_tree(tmp_path_factory, mtcnn_params):
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  root = tmp_path_factory.mktemp("wider")
  return fixtures.write_wider(str(root), n_images=3, seed=0)


def test_wider_reader_round_trips_boxes_and_layout(wider_tree):
  text = open(wider_tree).read().splitlines()
  assert text[0] == "0--Scene/0_Scene_0.jpg" and text[1] == "3"
  assert len(text[2].split()) == 10                          # x y w h + 6 attributes
  assert text[-2:] == ["0", "0 0 0 0 0 0 0 0 0 0 "]          # a face-less image, as WIDER writes it
  recs = wider.read_bbx_gt(wider_tree)
  assert [len(r.boxes) for r in recs] == [3, 3, 0]
  assert recs[0].path.endswith(os.path.join("WIDER_train", "images", "0--Scene", "0_Scene_0.jpg"))
  assert all(os.path.isfile(r.path) for r in recs)
  x, y, w, h = (int(v) for v in text[2].split()[:4])
  np.testing.assert_array_equal(recs[0].boxes[0], [x, y, x + w - 1, y + h - 1])
  assert not recs[0].invalid.any()


def test_wider_invalid_flag_and_errors(tmp_path):
  f = tmp_path / "wider_face_val_bbx_gt.txt"
  f.write_text("a/b.jpg\n2\n10 10 20 20 0 0 0 0 0 0 \n5 5 8 8 2 0 0 1 0 0 \n")
  (r,) = wider.read_bbx_gt(str(f), images_dir="/imgs")
  assert r.path == "/imgs/a/b.jpg"
  np.testing.assert_array_equal(r.invalid, [False, True])
  np.testing.assert_array_equal(r.attributes[1], [2, 0, 0, 1, 0, 0])
  assert wider.default_images_dir("/d/wider_face_split/wider_face_val_bbx_gt.txt") == "/d/WIDER_val/images"
  f.write_text("a/b.jpg\ntwo\n")
  with pytest.raises(ValueError, match=r"wider_face_val_bbx_gt.txt:2: expected the face count"):
    wider.read_bbx_gt(str(f))
  f.write_text("a/b.jpg\n3\n10 10 20 20 0 0 0 0 0 0\n")
  with pytest.raises(ValueError, match="announces 3"):
    wider.read_bbx_gt(str(f))
  with pytest.raises(ValueError, match="annotation_file: .* does not exist"):
    wider.read_bbx_gt(str(tmp_path / "nope.txt"))
  for text, message in [("", "holds no image records"),
                        ("a/b.jpg\n1\n10 nan 20 20 0 0 0 0 0 0\n", r":3: expected finite integers"),
                        ("a/b.jpg\n1\n10 10 -20 20 0 0 0 0 0 0\n", r":3: expected finite integers"),
                        ("a/b.jpg\n-1\n", r":2: expected the face count"),
                        ("a/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\na/b.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n",
                         r":4: 'a/b.jpg' is annotated twice \(first at line 1\)")]:
    f.write_text(text)
    with pytest.raises(ValueError, match=message):
      wider.read_bbx_gt(str(f))


def test_celeba_reader_round_trips_boxes_and_landmarks(tmp_path):
  root = fixtures.write_celeba(str(tmp_path), n_images=2, seed=3)
  lines = open(os.path.join(root, "Anno", "list_landmarks_celeba.txt")).read().splitlines()
  assert lines[0] == "2" and lines[1].split()[0] == "lefteye_x" and lines[2].split()[0] == "000001.jpg"
  recs = celeba.read_celeba(root)
  assert [r.name for r in recs] == ["000001.jpg", "000002.jpg"]
  assert all(os.path.isfile(r.path) for r in recs)
  vals = [float(v) for v in lines[2].split()[1:]]
  np.testing.assert_array_equal(recs[0].landmarks, np.reshape(vals, (5, 2)))
  b = recs[0].box
  # landmarks lie inside the face box, eyes above the mouth
  assert (recs[0].landmarks[:, 0] > b[0]).all() and (recs[0].landmarks[:, 0] < b[2]).all()
  assert recs[0].landmarks[0, 1] < recs[0].landmarks[3, 1]


def test_celeba_errors(tmp_path):
  anno = tmp_path / "Anno"
  anno.mkdir()
  (anno / "list_bbox_celeba.txt").write_text("2\nimage_id x_1 y_1 width height\n000001.jpg 1 2 3 4\n")
  (anno / "list_landmarks_celeba.txt").write_text("1\nh\n000001.jpg 1 2 3 4 5 6 7 8 9 10\n")
  with pytest.raises(ValueError, match=r"list_bbox_celeba.txt:1: announces 2"):
    celeba.read_celeba(str(tmp_path))
  (anno / "list_bbox_celeba.txt").write_text("1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 3\n")
  with pytest.raises(ValueError, match=r"list_bbox_celeba.txt:3: expected an image name"):
    celeba.read_celeba(str(tmp_path))
  (anno / "list_bbox_celeba.txt").write_text("1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 3 4\n")
  with pytest.raises(ValueError, match="landmarks_file: .* does not exist"):
    celeba.read_celeba(str(tmp_path), landmarks_file=str(tmp_path / "none.txt"))
  (anno / "list_landmarks_celeba.txt").write_text("1\nh\n000001.jpg 1 2 3 nan 5 6 7 8 9 10\n")
  with pytest.raises(ValueError, match=r"list_landmarks_celeba.txt:3: NaN"):
    celeba.read_celeba(str(tmp_path))
  (anno / "list_landmarks_celeba.txt").write_text("2\nh\n000001.jpg 1 2 3 4 5 6 7 8 9 10\n"
                                                  "000001.jpg 1 2 3 4 5 6 7 8 9 10\n")
  with pytest.raises(ValueError, match=r"list_landmarks_celeba.txt:4: 000001.jpg is listed twice"):
    celeba.read_celeba(str(tmp_path))
  (anno / "list_landmarks_celeba.txt").write_text("0\nh\n")
  with pytest.raises(ValueError, match=r"list_landmarks_celeba.txt: holds no image rows"):
    celeba.read_celeba(str(tmp_path))
  (anno / "list_landmarks_celeba.txt").write_text("1\nh\n000001.jpg 1 2 3 4 5 6 7 8 9 10\n")
  (anno / "list_bbox_celeba.txt").write_text("1\nimage_id x_1 y_1 width height\n000001.jpg 1 2 -3 4\n")
  with pytest.raises(ValueError, match=r"000001.jpg: box width and height must be > 0"):
    celeba.read_celeba(str(tmp_path))


def test_celeba_aligned_layout_reads_with_boxes_from_the_five_points(tmp_path, mtcnn_params):
  from jaxvis.faces import mining
  fixtures.lfw_landmarks(mtcnn_params["onet"])
  wild = fixtures.write_celeba(str(tmp_path / "wild"), n_images=3, seed=5)
  aligned = fixtures.write_celeba(str(tmp_path / "aligned"), n_images=3, seed=5, aligned=True)
  assert celeba.celeba_layout(wild) == "wild" and celeba.celeba_layout(aligned) == "aligned"
  assert os.path.isfile(os.path.join(aligned, "img_align_celeba", "000001.jpg"))
  truth, recs = celeba.read_celeba(wild), celeba.read_celeba(aligned)
  for t, r in zip(truth, recs):
    np.testing.assert_array_equal(r.landmarks, t.landmarks)
    assert os.path.isfile(r.path)
    # the derived box covers the pasted face (the same scene as the wild layout's box)
    assert mining.iou_matrix(r.box, t.box)[0, 0] > 0.6
    assert (r.landmarks[:, 0] > r.box[0]).all() and (r.landmarks[:, 0] < r.box[2]).all()
    assert (r.landmarks[:, 1] > r.box[1]).all() and (r.landmarks[:, 1] < r.box[3]).all()
  with pytest.raises(ValueError, match="neither CelebA layout"):
    celeba.read_celeba(str(tmp_path))
  lm = tmp_path / "aligned" / "Anno" / "list_landmarks_align_celeba.txt"
  lm.write_text("1\nh\n000001.jpg 90 109 60 113 77 142 73 152 108 154\n")
  with pytest.raises(ValueError, match="right eye"):
    celeba.read_celeba(aligned)
