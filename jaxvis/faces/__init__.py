"""MTCNN face detection (P/R/O/L-Net cascade) with the pretrained weights of the `mtcnn` package."""
