"""Outfit grading and closet recommendation (Tangseng, Yamaguchi, Okatani 2017).

Modules: `parts` (part labels, clothing terms), `polyvore` (dataset readers,
validity filter, Algorithm 1 split), `negatives`, `encode` (slot / set
layouts), `synthetic` (a generated dataset in the Polyvore Outfits format),
`features` (ResNet-50 pool5 item features, cached), `models` (the paper's
slot grader, DeepSets, self-attention), `metrics`, `training`,
`recommend` (exact top-k over a closet), `closet`, `sheet`.
"""
