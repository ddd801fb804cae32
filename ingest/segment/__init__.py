"""Twilio Segment: warehouse dumps and the raw S3 archive, both into raw.segment_events."""
