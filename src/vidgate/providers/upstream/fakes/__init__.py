"""Fake upstreams that speak Kling's and apimart's contracts, for tests and demos."""

from vidgate.providers.upstream.fakes.apimart import create_fake_apimart_app
from vidgate.providers.upstream.fakes.common import FakeConfig, FakeState, Fault
from vidgate.providers.upstream.fakes.kling import create_fake_kling_app
from vidgate.providers.upstream.fakes.server import serving

__all__ = ["FakeConfig", "FakeState", "Fault", "create_fake_apimart_app", "create_fake_kling_app", "serving"]
