"""``python -m pizzabus`` is the ``pizzabus`` command."""

from pizzabus.cli.main import main

main()
