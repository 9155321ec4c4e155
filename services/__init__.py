"""Test-collection package marker: gives each service's tests a unique module path."""
