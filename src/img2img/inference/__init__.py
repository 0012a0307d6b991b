"""Running a packaged generator on new images (plain Python, no Kedro): the served model and its
any-size translation (:mod:`.model`), the fastest path that passes parity (:mod:`.runtime`), and
translating files and folders (:mod:`.files`)."""
