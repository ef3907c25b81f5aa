"""Provider metadata for Airflow (entry point `apache_airflow_provider`): registers the
`cloudinary` and `mediasync_postgres` connection types with their forms, declared here as Airflow
3.2+ expects (no wtforms)."""

from __future__ import annotations

from mediasync import __version__

CLOUDINARY_CONNECTION = {
    "hook-class-name": "mediasync.hooks.cloudinary.CloudinaryHook",
    "connection-type": "cloudinary",
    "hook-name": "Cloudinary",
    "conn-fields": {
        "cloud_name": {
            "label": "Cloud name",
            "description": "Your Cloudinary cloud name (Dashboard → Product environment).",
            "schema": {"type": ["string", "null"]},
        },
        "api_base_url": {
            "label": "API base URL",
            "description": "Optional. Leave empty for https://api.cloudinary.com; set the emulator's address "
                           "(e.g. http://127.0.0.1:9444) to use the local Cloudinary emulator.",
            "schema": {"type": ["string", "null"]},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": ["schema", "port", "host"],
        "relabeling": {"login": "API Key", "password": "API Secret"},
        "placeholders": {"login": "123456789012345", "cloud_name": "my-cloud",
                         "api_base_url": "https://api.cloudinary.com"},
    },
}


# Which Supabase connection each part of mediasync needs, where people fill the form in (the
# sslmode field's description is the one place a form can carry a paragraph).
CONNECTION_GUIDE = (
    "Supabase: the direct connection or the session pooler (port 5432) serve every part of mediasync. The "
    "transaction pooler (port 6543) serves the API, uploads, deletes, the cleanup queue, retention, "
    "notifications, reconciliation and `db upgrade`, but not live updates or the cleanup queue's event trigger: "
    "LISTEN needs a session (the trigger then polls every 30 s). Test shows which one this is."
)

DATABASE_CONNECTION = {
    "hook-class-name": "mediasync.hooks.postgres.MediasyncDatabaseHook",
    "connection-type": "mediasync_postgres",
    "hook-name": "mediasync database (PostgreSQL / Supabase)",
    "conn-fields": {
        "sslmode": {
            "label": "SSL mode",
            "description": f"require for Supabase. {CONNECTION_GUIDE}",
            "schema": {"type": ["string", "null"]},
        },
    },
    "ui-field-behaviour": {
        "hidden-fields": [],
        "relabeling": {"host": "Host (direct or session pooler)", "schema": "Database"},
        "placeholders": {"host": "db.<project-ref>.supabase.co or aws-0-<region>.pooler.supabase.com",
                         "port": "5432 (direct or session pooler: everything); 6543: transaction pooler",
                         "login": "postgres (poolers: postgres.<project-ref>)", "schema": "postgres",
                         "sslmode": "require"},
    },
}


def get_provider_info() -> dict:
    return {
        "package-name": "mediasync",
        "name": "mediasync",
        "description": "Keeps media_files, Cloudinary and the media library in sync.",
        "versions": [__version__],
        "connection-types": [CLOUDINARY_CONNECTION, DATABASE_CONNECTION],
    }
