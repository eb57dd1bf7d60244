"""Dates as the pages show them in Spanish: day/month/year, 24-hour clock, with the time zone
(Django's other Spanish formats, numbers included, stay)."""

DATETIME_FORMAT = "d/m/Y H:i:s T"
SHORT_DATETIME_FORMAT = "d/m/Y H:i:s"
