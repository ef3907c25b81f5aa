"""The plugin API's routers, one room per resource; `mediasync.api.app` mounts them."""
