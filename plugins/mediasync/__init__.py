"""mediasync: keep a media library, its Cloudinary assets and the media_files table in sync."""

__version__ = "0.1.0"
