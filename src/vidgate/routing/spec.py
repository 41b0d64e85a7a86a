"""What an operator writes to define a channel: in the channels file or through the admin API."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vidgate.catalog import MODELS
from vidgate.config import Settings
from vidgate.providers.local.settings import INSTALL_HINT, LocalSettings, missing_packages
from vidgate.providers.upstream.kling import DEFAULT_BASE_URL as KLING_BASE_URL
from vidgate.secretbox import SecretBox
from vidgate.store import Store

PROVIDER_MODELS = {
    "kling": {"kling-v2-6", "kling-v3", "kling-v2-6-motion-control", "kling-v3-motion-control"},
    "apimart": set(MODELS),
    "local": set(MODELS),  # what a local engine refuses of a model is its family's to say (providers.local)
}
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ChannelsFileError(ValueError):
    """The channels file cannot be used; the message says where and what, quoting no value."""


class LocalEngineUnavailable(ChannelsFileError):
    """A local engine is configured, and this process cannot run one (the extra is not installed)."""


class ChannelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    provider: Literal["kling", "apimart", "local"]
    base_url: str = Field(default="", pattern=r"^(https?://.*)?$", description="kling: defaults to Kling's global API")
    models: list[str] = Field(min_length=1)
    priority: int = 0
    weight: int = Field(default=1, ge=1, le=1000)
    max_concurrent: int = Field(default=10, ge=1, le=100_000)
    enabled: bool = True
    api_key: str | None = Field(default=None, description="apimart-compatible: the bearer key")
    access_key: str | None = Field(default=None, description="kling: access key (JWT issuer)")
    secret_key: str | None = Field(default=None, description="kling: secret key (JWT signing key)")
    local: LocalSettings | None = Field(default=None, description="local: the pipeline it runs (providers.local)")

    @field_validator("base_url")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> ChannelSpec:
        unknown = sorted(set(self.models) - PROVIDER_MODELS[self.provider])
        if unknown:
            raise ValueError(f"provider {self.provider!r} does not serve {', '.join(unknown)}")
        if self.provider == "local":
            return self._local()
        if self.local is not None:
            raise ValueError("only a channel of provider 'local' takes a local settings block")
        if not self.base_url:
            if self.provider != "kling":
                raise ValueError("an apimart channel needs base_url (the endpoint's address)")
            self.base_url = KLING_BASE_URL
        if self.provider == "kling" and not (self.access_key and self.secret_key):
            raise ValueError("a kling channel needs access_key and secret_key")
        if self.provider == "apimart" and not self.api_key:
            raise ValueError("an apimart channel needs api_key")
        return self

    def _local(self) -> ChannelSpec:
        if self.local is None:
            raise ValueError("a local channel needs its local settings block (family, folder, device, ...)")
        if self.api_key or self.access_key or self.secret_key:
            raise ValueError("a local channel takes no credentials")
        if "max_concurrent" not in self.model_fields_set:
            self.max_concurrent = 1
        elif self.max_concurrent != 1:
            raise ValueError("a local engine runs one task at a time on its device: max_concurrent must be 1")
        self.base_url = ""
        return self

    def sealed(self, box: SecretBox) -> dict[str, Any]:
        """The fields the store keeps, credentials sealed."""
        secrets = {k: getattr(self, k) for k in ("api_key", "access_key", "secret_key") if getattr(self, k)}
        fields = self.model_dump(exclude={"api_key", "access_key", "secret_key", "local"})
        settings = self.local.model_dump() if self.local is not None else None
        return {**fields, "settings": settings, "credentials": box.seal(secrets)}


def open_channels(settings: Settings, store: Store) -> SecretBox:
    """Once per process start: the box channel credentials are sealed with, after syncing the
    channels file (if any) into the store."""
    box = SecretBox(settings.signing_key())
    if settings.channels_file:
        sync_channels(store, box, load_channels_file(settings.channels_file))
    return box


def check_local_engines(store: Store) -> None:
    """At the start of a process that runs tasks: a configured (enabled) local engine needs the
    ``local`` extra, and its folder as it was checked when configured. Raises ChannelsFileError
    saying what to install or what is missing; nothing is imported."""
    local = [r for r in store.channels.list() if r.provider == "local" and r.enabled]
    if not local:
        return
    missing = missing_packages()
    if missing:
        names = ", ".join(r.name for r in local)
        raise LocalEngineUnavailable(
            f"the local engine {names} needs {', '.join(missing)}, which is not installed: {INSTALL_HINT} "
            "(with the torch build for this machine's GPUs first; see the README)"
        )
    for record in local:
        try:
            LocalSettings.model_validate(record.settings or {})
        except (ValidationError, ValueError) as exc:
            problems = (
                "; ".join(str(e["msg"]) for e in exc.errors(include_input=False))
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            raise ChannelsFileError(f"local engine {record.name!r}: {problems}") from None


def sync_channels(store: Store, box: SecretBox, specs: list[ChannelSpec]) -> None:
    """Create or update (by name) every channel the file defines; others are left alone."""
    for spec in specs:
        store.channels.upsert(spec.sealed(box))


def load_channels_file(path: Path) -> list[ChannelSpec]:
    """``[[channels]]`` tables; ``${VAR}`` in any string is taken from the environment, so
    secrets need not be written in the file. A mistake is reported by where it is and what is
    wrong, never with the values written there (they may be credentials)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ChannelsFileError(f"{path} is not a valid channels file: {exc}") from None
    specs = []
    for n, entry in enumerate(data.get("channels", [])):
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"{path}: channel {n + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
        try:
            specs.append(ChannelSpec.model_validate(_expand(entry)))
        except ValidationError as exc:  # its own text would quote the input, credentials too
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'channel'}: {e['msg']}" for e in exc.errors(include_input=False)
            )
            raise ChannelsFileError(f"{where}: {problems}") from None
        except ValueError as exc:
            raise ChannelsFileError(f"{where}: {exc}") from None
    return specs


def _env(name: str) -> str:
    if name not in os.environ:
        raise ValueError(f"it refers to ${{{name}}}, and that environment variable is not set")
    return os.environ[name]


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return ENV_REF.sub(lambda m: _env(m.group(1)), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value
