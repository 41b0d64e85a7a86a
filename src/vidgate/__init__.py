"""vidgate: a self-hosted video-generation API platform speaking apimart's video API."""

__version__ = "0.1.0"
