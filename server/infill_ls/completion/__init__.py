"""The completion pipeline: context -> policy -> prompt -> engine -> postprocess, one way."""
