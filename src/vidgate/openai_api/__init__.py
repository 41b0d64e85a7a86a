"""OpenAI's video API (``/v1/videos``) over vidgate's tasks: the same tasks, money, limits,
webhooks and storage as apimart's API, in the shapes the official ``openai`` SDK sends and reads.

- ``sizes``: ``WIDTHxHEIGHT`` to and from a model's aspect ratio and mode or resolution
- ``form``: a ``multipart/form-data`` body (what the SDK sends) as typed JSON values
- ``request``: an OpenAI create request as the model's own request (``catalog`` validates it)
- ``reference``: ``input_reference``, an uploaded image or a URL, as the first frame
- ``video``: a task as OpenAI's video object; ids; the error envelope
- ``variants``: the thumbnail and spritesheet of a result, made once and stored beside it
- ``service``: create, read, list, delete, remix and content over the task service
"""
