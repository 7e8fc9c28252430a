"""The ``pizzabus`` command. Each subcommand lives in its own module and is imported only when
it runs, so ``pizzabus --help`` stays fast and the AWS tooling loads only for ``deploy``."""
