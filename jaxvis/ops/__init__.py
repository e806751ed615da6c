"""Pure, jittable array ops shared by every family (boxes, image, cluster, color)."""
