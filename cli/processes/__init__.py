"""The production processes (`imgproc api|process|project|relay|janitor`), one role each."""
