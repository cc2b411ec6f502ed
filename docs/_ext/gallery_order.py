"""Order of the examples in the gallery (sphinx-gallery sort key)."""

from sphinx_gallery.sorting import FileNameSortKey

#: Examples shown after all others, in this order: scaling out comes last.
LAST = ("plot_dask_scaling.py",)


class ScalingOutLast(FileNameSortKey):
    """File-name order, except that the examples in :data:`LAST` close it."""

    def __call__(self, filename) -> str:
        name = str(filename)
        if name in LAST:
            return f"~{LAST.index(name):03d}{name}"  # "~" sorts after letters
        return name
