"""Referral service: a France Travail counsellor refers a job seeker to an agence d'emploi, the
agency answers over Kafka, and the referral's timeline records every step."""
