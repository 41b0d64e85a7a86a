"""The embedded ``preview`` provider: the vidgate preview renderer.

Modules, from the pixels up: ``colour`` (YUV planes and conversion), ``overlay`` (premultiplied
blending), ``text`` (caption, watermark, timecode), ``seed``, ``camera``, ``backdrop`` and
``shapes`` (procedural picture parts), ``scene`` and ``image`` (what one stretch of video shows),
``timeline`` (which scene and lettering each frame gets), ``audio`` (soundtracks), ``encode``
(the streaming MP4 writer), ``pipeline`` (drawing ahead on a helper thread) and ``provider``
(the Provider itself).
"""

from vidgate.providers.preview.provider import PreviewProvider

__all__ = ["PreviewProvider"]
