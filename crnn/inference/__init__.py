"""Using a trained model: loading it (``load_model``, from ``crnn.training.checkpoint``, where the
checkpoint format lives), predicting a stream of files (``stream``: torch or ONNX, one ``Model``
protocol), predicting arrays (``predict``), scoring a split (``evaluate``, ``onnx_eval``) and exporting
(``export``). Pixels become input in ``crnn.data.pixels``; CTC decoding is ``crnn.decode`` (torch) and
``crnn.decode_np`` (numpy)."""
