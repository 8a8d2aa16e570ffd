"""Service definitions: from the files users write to s6 service directories.

- :mod:`.formats`: one reader per definition format (66 frontend files in
  both dialects, anopa service directories, s6-rc source definitions), each
  turning files into the one model;
- :mod:`.model`: that model (:class:`~ovis.service.model.Service`);
- :mod:`.repository`: the search path, which format an entry is, closures;
- :mod:`.sources`: the one safe, bounded way a definition file is read;
- :mod:`.values`: value checks the formats share;
- :mod:`.check`: ``ovis check`` as a library (errors and warnings);
- :mod:`.compiler`: the model into a real s6 servicedir under LIVE, with
  :mod:`.execline`, :mod:`.envsubst` (66's environment), :mod:`.runas` and
  :mod:`.stdio` (66's standard streams).
"""
