#!/usr/bin/env python3
"""manage.py of pysup's test Django project (SQLite at $DJANGO_DB)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_app.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
