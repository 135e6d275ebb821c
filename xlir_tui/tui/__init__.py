"""The explorer (Textual). Only this package imports textual; it calls the core from workers."""
