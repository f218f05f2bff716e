"""Config files, one per model family (`--config=configs/<file>.py:<arg>`);
importable as a package so launchers reuse their PRESETS."""
