"""The embedded ``preview`` provider: the vidgate preview renderer, a procedural renderer (not a
generative model) that makes every request parameter visible in the video it writes.

Modules, from the pixels up: ``colour`` (YUV planes and conversion), ``overlay`` (premultiplied
blending), ``fonts`` (the shipped typefaces) and ``text`` (caption, watermark, timecode),
``seed``, ``camera``, ``backdrop`` and ``shapes`` (procedural picture parts), ``scene``,
``image``, ``compose`` (reference and element cards) and ``character`` with ``motion`` (motion
control) for what one stretch of video shows, ``timeline`` (which scene and lettering each frame
gets), ``audio`` (soundtracks), ``encode`` (the streaming MP4 writer), ``pipeline`` (drawing
ahead on a helper thread) and ``provider`` (the Provider itself).
"""

from vidgate.providers.preview.provider import PreviewProvider

__all__ = ["PreviewProvider"]
