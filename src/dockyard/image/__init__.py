"""Images as values: the small ``Image`` / ``Layer`` / ``ImageIndex`` protocols every place yields, the one
platform selection (``select_platform``), the one blob-transfer loop every destination is written through
(``transfer.put_image``: reuse a blob before putting it), validation, and builders of synthetic and sample
images."""
