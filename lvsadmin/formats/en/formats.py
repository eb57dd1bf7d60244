"""Dates as the pages show them in English: ISO order, 24-hour clock, with the time zone
(templates use |date:"DATETIME_FORMAT" and "SHORT_DATETIME_FORMAT"; Django's other English
formats stay)."""

DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
