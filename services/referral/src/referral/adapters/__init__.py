"""What talks to the outside: the broker's topics of each agency network."""
