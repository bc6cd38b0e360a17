//! DST regression tests.
