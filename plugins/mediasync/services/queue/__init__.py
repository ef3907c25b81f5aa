"""The cleanup queue's parts: the results it reports and the budget-aware deleter
(the engine itself is `mediasync.services.cleanup_queue`)."""
