"""``local``: open video models run on the operator's own GPUs through Hugging Face diffusers.

A local engine is a channel of provider ``local`` (configured like the upstream channels, in the
channels file or through the admin API) with a settings block: the pipeline family, the folder
``save_pretrained`` wrote, the device, dtype, CPU offload, steps and guidance. Routing treats it
as one more place a task can go (``vidgate.routing.local``).

- :mod:`.settings`: the settings block and what a folder must hold (no torch: the API process
  and start-up read it);
- :mod:`.capabilities`: which request parameters a family honours and which it refuses (no
  torch: submits are refused with it);
- :mod:`.frames`: frame counts and sizes by the family's rules, and the timing of the output;
- :mod:`.engine`: the loaded pipeline and a render (imports torch and diffusers, lazily);
- :mod:`.pool`: one engine per device, kept loaded between tasks.

Vendor details (diffusers, torch) stay inside this package.
"""

from __future__ import annotations

from vidgate.providers.local.capabilities import refusal
from vidgate.providers.local.settings import FAMILIES, LocalSettings, check_folder, missing_packages

__all__ = ["FAMILIES", "LocalSettings", "check_folder", "missing_packages", "refusal"]
