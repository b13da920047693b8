"""What the workflow scripts use of Snakemake's ``snakemake`` object, for running a script in-process."""


class Names(list):
    """The part of Snakemake's named lists the scripts use: positional items, attributes, ``items()``."""

    def __init__(self, **named):
        super().__init__(named.values())
        self._named = named
        for k, v in named.items():
            setattr(self, k, v)

    def items(self):
        return self._named.items()
