"""What every service's domain shares: the errors a use case raises and the transition tables.

Plain Python, no I/O: the HTTP edge (``shared.http.domain_problems``) and the consumer loop
(``shared.messaging.consumer``) map these errors once, for every service.
"""
